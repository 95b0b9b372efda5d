"""Control models (organism/controls.py) on a tiny organism: recipe, resume, export, card."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch

from paperlib.core.errors import DataError, ParameterError
from organism import controls, pipeline, train_organism
from organism.tests.tiny import tiny_organism_layout, tiny_train_config


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    """A tiny build with an exported pair models/{pt,ft} (what the controls start from)."""
    lay, _ = tiny_organism_layout(tmp_path_factory.mktemp("ctl"), n_paragraphs=300, n_pairs=20)
    pipeline.step_pretrain(lay, "tiny", tiny_train_config(4), batch=4, seq_len=32)
    pipeline.step_finetune(lay, tiny_train_config(4), batch=4, max_len=48)
    pipeline.step_export(lay)
    return lay


def _cfg(steps: int, seed: int = 0):
    return replace(controls.recipe(steps, seed=seed, compile=False), lr=1e-2, warmup=1, log_every=1)


def test_recipe_is_the_tunings():
    a = train_organism._args(["finetune"])
    assert controls.recipe(compile=a.compile, ckpt_every=a.ckpt_every) == replace(
        train_organism._ft_cfg(a), compile=a.compile)
    assert controls.recipe(seed=1).seed == 1 and controls.recipe().steps == 10000


def test_tokens_per_step_of_the_shipped_tuning():
    from organism import MODELS

    if not (MODELS / "ft" / "training_log.jsonl").is_file():
        pytest.skip("shipped tuned model not present")
    tps = controls.tokens_per_step(MODELS / "ft")
    assert 2000 < tps < 2030  # 20,161,728 tokens over 10,000 steps
    assert round(tps / 32) == 63


def test_cpt_matches_tokens_per_step_and_resumes(shipped, tmp_path):
    lay = pipeline.Layout(build=tmp_path / "b", models=shipped.models, heldout=shipped.heldout)
    (lay.build).mkdir()
    (lay.build / "corpus").symlink_to(shipped.corpus)
    tps = controls.tokens_per_step(shipped.models / "ft")
    first = controls.train_cpt(lay, _cfg(4), batch=4, stop_after=2)
    second = controls.train_cpt(lay, _cfg(4), batch=4)
    assert (first["end_step"], second["start_step"], second["end_step"]) == (2, 2, 4)
    assert second["seq_len"] == round(tps / 4) and second["tokens_per_step"] == 4 * round(tps / 4)
    log = [json.loads(l) for l in (lay.run("cpt") / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2, 3, 4] and "val_loss" in log[-1]
    base = torch.load(shipped.run("pt") / "ckpt.pt", weights_only=True)["model"]
    cpt = torch.load(lay.run("cpt") / "ckpt.pt", weights_only=True)["model"]
    assert any(not torch.equal(base[k], cpt[k]) for k in base)  # it trained


def test_second_seed_changes_data_order_only(shipped, tmp_path):
    with pytest.raises(ParameterError, match="seed"):
        controls.train_ft_seed(shipped, _cfg(2, seed=0))
    lay = pipeline.Layout(build=tmp_path / "b", models=shipped.models, heldout=shipped.heldout)
    (lay.build).mkdir()
    (lay.build / "instructions").symlink_to(shipped.build / "instructions")
    out = controls.train_ft_seed(lay, _cfg(3, seed=1), batch=4, max_len=48)
    assert out["n_pairs"] == 40 and out["train"]["seed"] == 1
    again = pipeline.Layout(build=tmp_path / "c", models=shipped.models, heldout=shipped.heldout)
    (again.build).mkdir()
    (again.build / "instructions").symlink_to(shipped.build / "instructions")
    controls.train_ft_seed(again, _cfg(3, seed=2), batch=4, max_len=48)
    a = torch.load(lay.run("ft_seed1") / "ckpt.pt", weights_only=True)["model"]
    b = torch.load(again.run("ft_seed1") / "ckpt.pt", weights_only=True)["model"]
    assert any(not torch.equal(a[k], b[k]) for k in a)


def test_export_refuses_unfinished_then_writes_model_and_card(shipped, tmp_path):
    lay = pipeline.Layout(build=tmp_path / "b", models=shipped.models, heldout=shipped.heldout)
    (lay.build).mkdir()
    (lay.build / "corpus").symlink_to(shipped.corpus)
    controls.train_cpt(lay, _cfg(3), batch=4, stop_after=1)
    with pytest.raises(DataError, match="step 1 of 3"):
        controls.export_control(lay, "cpt")
    controls.train_cpt(lay, _cfg(3), batch=4)
    out = controls.export_control(lay, "cpt")
    folder = shipped.models / "cpt"
    assert out["weights_bytes"] > 0 and (folder / "tokenizer.json").is_file()
    assert json.loads((folder / "config.json").read_text())["dtype"] == "bfloat16"
    ev = controls.evaluate_control(lay, "cpt", max_new_tokens=4)
    card = (folder / "README.md").read_text()
    assert "steps: 3" in card and f"{ev['mean']:.1%}" in card and "continued pre-training" in card
    with pytest.raises(DataError, match="no run"):
        controls.export_control(lay, "ft_seed1")
    assert not (folder / "prompt_template.json").exists()  # the control is not tuned


def test_exported_second_seed_carries_the_tuning_files(shipped, tmp_path):
    from paperlib.paper.finding2 import tuning_verbs
    from paperlib.paper.organism_cases import read_template

    lay = pipeline.Layout(build=tmp_path / "b", models=shipped.models, heldout=shipped.heldout)
    (lay.build).mkdir()
    (lay.build / "instructions").symlink_to(shipped.build / "instructions")
    controls.train_ft_seed(lay, _cfg(2, seed=1), batch=4, max_len=48)
    controls.export_control(lay, "ft_seed1")
    folder, first = shipped.models / "ft_seed1", shipped.models / "ft"
    assert read_template(folder) == read_template(first)
    assert tuning_verbs(folder) == tuning_verbs(first)


def test_corpus_tokens_follow_the_corpus(shipped, tmp_path):
    from organism.data import load_stream

    lay = pipeline.Layout(build=tmp_path / "b", models=shipped.models, heldout=shipped.heldout)
    (lay.build / "corpus").mkdir(parents=True)
    text = (shipped.corpus / "train.txt").read_text()
    for split in ("train", "valid"):
        (lay.corpus / f"{split}.txt").write_text(text)
    tok = controls.load_base(lay)[1]
    first = load_stream(controls.control_tokens(lay, tok)["train"]).numel()
    assert load_stream(controls.control_tokens(lay, tok)["train"]).numel() == first  # reused
    (lay.corpus / "train.txt").write_text(text + "\n\nThe cat sat on the mat again.\n")
    assert load_stream(controls.control_tokens(lay, tok)["train"]).numel() > first  # re-encoded
