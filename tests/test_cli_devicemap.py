"""Models bigger than one device: ``--device-map`` / ``--max-memory`` /
``--offload-folder`` reach transformers, and generation + attribution of a model
whose weights are partly offloaded (CPU + disk, Accelerate hooks) equal those of
the same model in memory. GPU splits are not testable here (no GPU)."""
from __future__ import annotations

import json

import pytest
import torch

from cli_support import save_tiny_pair, write_prompts
from paperlib.cli import main
from paperlib.cli.common import load_placed
from paperlib.core.errors import ParameterError
from paperlib.explainers.attribution_fast import attribution_fast
from paperlib.models.generation import generate, input_device, is_offloaded
from paperlib.models.tiny import tiny_tokenizer

torch.set_num_threads(1)
SPLIT = {"model.embed_tokens": "cpu", "model.rotary_emb": "cpu", "model.layers.0": "cpu",
         "model.layers.1": "disk", "model.norm": "cpu", "lm_head": "disk"}


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    return save_tiny_pair(tmp_path_factory.mktemp("pair"))


def test_offloaded_model_generates_and_attributes_the_same(pair, tmp_path):
    plain, _ = load_placed(str(pair["ft"]))
    split, _ = load_placed(str(pair["ft"]), device_map=SPLIT, offload_folder=str(tmp_path))
    assert is_offloaded(split) and not is_offloaded(plain)
    assert split.hf_device_map["lm_head"] == "disk" and input_device(split).type == "cpu"
    tok = tiny_tokenizer()
    a, b = (generate(m, tok, "the long day of people", 10) for m in (plain, split))
    assert a == b and a.response_ids
    ref = attribution_fast(plain, a.prompt_ids, a.response_ids, mode="reverse")
    got = attribution_fast(split, a.prompt_ids, a.response_ids)  # auto -> reverse
    assert torch.allclose(got, ref, rtol=0, atol=1e-6 * ref.abs().max().item())
    with pytest.raises(ParameterError, match="offloaded"):
        attribution_fast(split, a.prompt_ids, a.response_ids, mode="forward")


def test_cli_device_map_and_max_memory_pass_through(pair, tmp_path, monkeypatch):
    """--device-map JSON with disk offload, and --device-map auto with a --max-memory
    too small for the model (Accelerate then offloads to disk): the same case set."""
    monkeypatch.setenv("PAPERLIB_CACHE", str(tmp_path / "cache"))
    prompts = write_prompts(tmp_path / "p.jsonl", 3)
    base = ["explain", "--model", f"ft={pair['ft']}", "--prompts", str(prompts),
            "--max-new-tokens", "6", "--threads", "1", "--no-progress"]
    assert main(base + ["--out", str(tmp_path / "plain")]) == 0
    assert main(base + ["--out", str(tmp_path / "split"), "--device-map", json.dumps(SPLIT),
                        "--offload-folder", str(tmp_path / "off1")]) == 0
    assert main(base + ["--out", str(tmp_path / "auto"), "--device-map", "auto",
                        "--max-memory", "cpu=40KB", "--offload-folder",
                        str(tmp_path / "off2")]) == 0
    small, _ = load_placed(str(pair["ft"]), device_map="auto", max_memory={"cpu": "40KB"},
                           offload_folder=str(tmp_path / "off3"))
    assert is_offloaded(small) and set(small.hf_device_map.values()) == {"disk"}
    want = (tmp_path / "plain" / "cases_ft.npz").read_bytes()
    assert (tmp_path / "split" / "cases_ft.npz").read_bytes() == want
    assert (tmp_path / "auto" / "cases_ft.npz").read_bytes() == want
