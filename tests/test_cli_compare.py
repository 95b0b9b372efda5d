"""``paperlib compare`` on hand-made cases and on two organism runs (float32 vs the
opt-in bfloat16 attribution); the Finding-1 code reads the organism case sets."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from paperlib.cli import main
from paperlib.cli.compare import compare_case, compare_sets, summary
from paperlib.core.caseset import RawCase, read_case_set

torch.set_num_threads(1)


def test_compare_case_by_hand():
    S = np.array([[10, 3, 0], [2, 10, 10]])
    a = RawCase("x", ["p1", "p2"], ["a", "b", "c"], "", S)
    b = RawCase("x", ["p1", "p2"], ["a", "b", "d", "e"], "", S[:, [0, 1, 2, 2]] * [1, 0.5, 1, 1])
    row = compare_case(a, b)
    assert row["token_agreement"] == 2 / 4 and row["first_difference"] == 2
    assert not row["identical_response"] and row["cells"] == 4
    assert row["same_bin"] == 2 / 4  # columns 0-1 compared: 3 vs 1.5 and 10 vs 5 differ
    want = np.corrcoef([10, 3, 2, 10], [10, 1.5, 2, 5])[0, 1]
    assert row["s_corr"] == pytest.approx(want)
    same = compare_case(a, a)
    assert same["token_agreement"] == 1 and same["s_corr"] == pytest.approx(1)
    assert same["first_difference"] == -1 and same["same_bin"] == 1
    other_prompt = RawCase("x", ["q"], ["a", "b", "c"], "", S[:1])
    assert np.isnan(compare_case(a, other_prompt)["s_corr"])


@pytest.fixture(scope="module")
def organism_runs(tmp_path_factory):
    """Two runs of the organism pair on 3 paper prompts: float32 and bfloat16."""
    from paperlib.models.loading import resolve_alias

    root = tmp_path_factory.mktemp("organism")
    base = ["explain", "--model", f"pt={resolve_alias('organism', 'pt')}",
            "--model", f"ft={resolve_alias('organism', 'ft')}", "--prompts", "paper",
            "--dataset", "lima", "--limit", "3", "--max-new-tokens", "16", "--threads", "1",
            "--chat-template", "### Instruction:\\n{prompt}\\n\\n### Response:\\n",
            "--no-progress"]
    assert main(base + ["--out", str(root / "fp32")]) == 0
    assert main(base + ["--out", str(root / "bf16"), "--precision", "bfloat16"]) == 0
    return root


def test_compare_two_organism_runs(organism_runs, capsys, tmp_path):
    fp32, bf16 = organism_runs / "fp32", organism_runs / "bf16"
    assert main(["compare", str(fp32), str(bf16), "--out", str(tmp_path / "c.csv")]) == 0
    text = capsys.readouterr().out
    assert "ft vs ft" in text and "pt vs pt" in text
    table = pd.read_csv(tmp_path / "c.csv")
    assert len(table) == 6 and table["identical_response"].all()  # generation is float32
    assert (table["s_corr"] > 0.9).all() and (table["same_bin"] > 0.7).all()
    assert (table["same_bin"] < 1).any()  # bfloat16 does move some cells
    a, b = read_case_set(fp32 / "cases_ft.npz"), read_case_set(fp32 / "cases_pt.npz")
    itself = summary(compare_sets(a, a), len(a), len(a))
    assert itself["token_agreement"] == 1 and itself["same_bin_cells"] == 1
    assert itself["s_corr_median"] == pytest.approx(1)
    pair = summary(compare_sets(b, a), len(b), len(a))
    assert pair["identical_responses"] < 1  # the tuned model answers differently


def test_finding1_code_reads_the_organism_case_sets(organism_runs):
    from paperlib.paper import finding1

    source = organism_runs / "fp32"
    sc = finding1.scores("ft", source=source)
    assert list(sc["dataset"]) == ["lima"] * 3 and (sc["n_instruction"] > 0).all()
    f6 = finding1.fig6(models={"tuned": "ft", "base": "pt"}, source=source, min_response=1)
    assert set(f6["model"]) == {"ft", "pt"}
