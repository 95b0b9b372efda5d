"""Data-parallel: two CPU processes (torchrun, gloo) write their own cases; the merged
case sets are byte-identical to a single-process run."""
from __future__ import annotations

import json

import pytest

from cli_support import cli, save_tiny_pair, torchrun, write_prompts

pytestmark = pytest.mark.slow  # three interpreter starts with torch: ~30 s on 2 cores


def test_two_processes_equal_one(tmp_path):
    pair = save_tiny_pair(tmp_path / "pair")
    prompts = write_prompts(tmp_path / "prompts.jsonl")  # 8 prompts: 4 batches of 2
    common = ["explain", "--model", f"pt={pair['pt']}", "--model", f"ft={pair['ft']}",
              "--prompts", prompts, "--max-new-tokens", 8, "--batch-size", 2, "--threads", 1,
              "--no-progress"]
    one = cli(tmp_path, *common, "--out", tmp_path / "one")
    assert one.returncode == 0, one.stderr
    two = torchrun(tmp_path, 2, *common, "--out", tmp_path / "two")
    assert two.returncode == 0, two.stderr
    assert "on 2 process(es)" in two.stderr
    for name in ("pt", "ft"):
        a = (tmp_path / "one" / f"cases_{name}.npz").read_bytes()
        b = (tmp_path / "two" / f"cases_{name}.npz").read_bytes()
        assert a == b, name
    # each process wrote its own cases: batches 0, 2 -> rank 0; 1, 3 -> rank 1
    t0 = json.loads((tmp_path / "two" / "timings-rank0.json").read_text())
    t1 = json.loads((tmp_path / "two" / "timings-rank1.json").read_text())
    assert t0["pt"]["computed"] == t1["pt"]["computed"] == 4
    from paperlib.core.io import load_npz

    ranks = sorted(load_npz(p)["meta"]["rank"] for p in (tmp_path / "two" / "parts" / "pt").glob("*.npz"))
    assert ranks == [0] * 4 + [1] * 4
