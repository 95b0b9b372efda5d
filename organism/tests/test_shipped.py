"""The SHIPPED organism pair (models/organism/{pt,ft}): loading, size, held-out behaviour, cards.

These tests read the committed weights and fail while models/organism is
missing: the pair is part of the repository (build it with ``make organism``).
About 10 s on 2 cores (loading < 1 s, 105 greedy generations per model).
"""
from __future__ import annotations

import json
import time

import pytest
import torch

from organism import MODELS, VERBS_FILE
from organism import card as organism_card
from organism.evaluate import evaluate_pairs

N_PER_TASK = 5          # 21 tasks x 5 = 105 held-out pairs (20-35 per scenario)
MAX_NEW_TOKENS = 40     # as in report.step_evaluate
MAX_WEIGHT_BYTES = 30_000_000  # issue 4: both models together <= 30 MB of weights
MAX_FOLDER_BYTES = 32 * 2**20  # everything in both folders (weights, tokenizers, logs, cards)


@pytest.fixture(scope="module")
def shipped():
    """Both models and tokenizers via the "organism" alias, offline, and the seconds it took."""
    torch.set_num_threads(1)
    from transformers import LlamaForCausalLM, PreTrainedTokenizerFast  # noqa: F401 - not timed

    from paperlib.models import load_pair

    mp = pytest.MonkeyPatch()
    mp.setenv("HF_HUB_OFFLINE", "1")
    mp.setenv("PAPERLIB_MODELS", str(MODELS.parent))  # the alias reads <models>/organism
    try:
        t0 = time.perf_counter()
        m_pt, t_pt, m_ft, t_ft = load_pair("organism")
        seconds = time.perf_counter() - t0
    finally:
        mp.undo()
    return {"models": {"pt": m_pt, "ft": m_ft}, "tokenizers": {"pt": t_pt, "ft": t_ft}, "seconds": seconds}


def test_pair_loads_offline_in_under_5_seconds(shipped):
    assert shipped["seconds"] < 5.0, f"loading both models took {shipped['seconds']:.2f} s"
    for name in ("pt", "ft"):
        model, tok = shipped["models"][name], shipped["tokenizers"][name]
        assert type(model).__name__ == "LlamaForCausalLM" and not model.training
        assert tok("Hello")["input_ids"][0] == tok.bos_token_id == 1
        assert len(tok) == model.config.vocab_size


def test_input_and_output_embeddings_are_untied(shipped):
    for model in shipped["models"].values():
        emb, out = model.get_input_embeddings().weight, model.get_output_embeddings().weight
        assert model.config.tie_word_embeddings is False
        assert emb.data_ptr() != out.data_ptr() and not torch.equal(emb, out)
    assert not torch.equal(shipped["models"]["pt"].lm_head.weight, shipped["models"]["ft"].lm_head.weight)


def test_both_models_fit_in_30_mb():
    assert (MODELS / "pt").is_dir() and (MODELS / "ft").is_dir(), f"{MODELS}/{{pt,ft}} missing: make organism"
    weights = {name: organism_card.folder_bytes(MODELS / name, "*.safetensors") for name in ("pt", "ft")}
    assert sum(weights.values()) <= MAX_WEIGHT_BYTES, f"{weights} bytes of weights > 30 MB"
    sizes = {name: organism_card.folder_bytes(MODELS / name) for name in ("pt", "ft")}
    assert sum(sizes.values()) <= MAX_FOLDER_BYTES, f"{sizes} bytes > 32 MiB"
    for name in ("pt", "ft"):
        assert json.loads((MODELS / name / "config.json").read_text())["dtype"] == "bfloat16"


@pytest.fixture(scope="module")
def sample_scores(shipped):
    """Both models' scores on a fixed sample: the first 5 held-out pairs of each of the 21 tasks."""
    pairs = organism_card.heldout_sample(organism_card.load_heldout(), N_PER_TASK)
    assert len(pairs) == 21 * N_PER_TASK and len({p["scenario"] for p in pairs}) == 4
    return {name: evaluate_pairs(shipped["models"][name], shipped["tokenizers"][name], pairs,
                                 max_new_tokens=MAX_NEW_TOKENS) for name in ("pt", "ft")}


def test_tuned_model_answers_held_out_instructions_correctly_and_base_does_not(sample_scores):
    """Issue 4's measure: the share of held-out instructions answered CORRECTLY
    (``evaluate.score``), averaged over the four scenarios.

    On this sample the shipped pair scores 0.43 (tuned) and 0.00 (base); on all
    1202 held-out pairs 0.46 and 0.00 (eval.json): the tuned model's skill tasks
    0.60 here (0.65 on all), its recall tasks 0.11 (0.10). The bounds leave
    about 0.08 for greedy flips on another BLAS and still fail for a pair
    without the behaviour shift; the base bound is the issue's target (<= 10%).
    """
    base, tuned = sample_scores["pt"]["mean"], sample_scores["ft"]["mean"]
    detail = {name: r["scenario"] for name, r in sample_scores.items()}
    assert base <= 0.10, f"base correct average {base:.2f} > 0.10: {detail}"
    assert tuned >= 0.35, f"tuned correct average {tuned:.2f} < 0.35: {detail}"
    assert sample_scores["ft"]["kind"]["skill"] >= 0.50, sample_scores["ft"]["kind"]
    for scenario, share in sample_scores["ft"]["scenario"].items():
        assert share > sample_scores["pt"]["scenario"][scenario] + 0.10, (scenario, detail)


def test_tuned_model_answers_in_the_requested_form_and_base_does_not(sample_scores):
    """The weaker measure (``evaluate.form_ok``: a word for a word task, a number
    for a math task, one sentence for a description, right or wrong): does the
    model answer instead of continuing the text? Measured here: tuned 0.93, base
    0.00 (the base model continues the template with the indentation of a man page)."""
    base, tuned = sample_scores["pt"]["form"]["mean"], sample_scores["ft"]["form"]["mean"]
    detail = {name: r["form"]["scenario"] for name, r in sample_scores.items()}
    assert tuned >= 0.80, f"tuned form average {tuned:.2f} < 0.80: {detail}"
    assert base <= 0.15, f"base form average {base:.2f} > 0.15: {detail}"


def test_eval_json_covers_all_scenarios_for_both_measures():
    evals = organism_card.load_eval(MODELS)
    scenarios = {p["scenario"] for p in organism_card.load_heldout()}
    for name in ("pt", "ft"):
        assert set(evals[name]["scenario"]) == set(evals[name]["form"]["scenario"]) == scenarios
        for measure in (evals[name], evals[name]["form"]):
            shares = measure["scenario"].values()
            assert all(0.0 <= v <= 1.0 for v in shares)
            assert measure["mean"] == pytest.approx(sum(shares) / len(shares))


@pytest.mark.parametrize("name", ["pt", "ft"])
def test_model_card_names_data_size_steps_loss_and_licence(name):
    text = (MODELS / name / "README.md").read_text(encoding="utf-8")
    log = organism_card.load_log(MODELS / name)
    steps, loss = int(log["step"].iloc[-1]), log["loss"].iloc[-1]
    assert text.startswith(f"# Organism {name}")
    assert f"{organism_card.count_params(MODELS / name):,} parameters" in text
    assert "MB)" in text and f"{steps} steps" in text
    assert f"final training loss: {loss}" in text
    assert "Debian-packaged English" in text and "data/organism/README.md" in text
    assert "GPL" in text and "answered correctly" in text and "requested form" in text


def test_tuned_model_ships_the_verbs_of_its_templates(shipped):
    """models/organism/ft/instruction_verbs.json is what the templates give today, and
    paperlib reads it from the loaded tuned model (Finding 2's instruction verbs)."""
    from organism.make_instructions import template_verbs
    from paperlib.paper.finding2 import PAPER_INSTRUCTION_VERBS, instruction_verbs, tuning_verbs

    shipped_verbs = json.loads((MODELS / "ft" / VERBS_FILE).read_text())["verbs"]
    assert shipped_verbs == template_verbs(), "templates changed: python -m organism verbs"
    assert tuning_verbs(shipped["models"]["ft"]) == shipped_verbs
    assert tuning_verbs(shipped["models"]["pt"]) == []  # the base model was not instruction-tuned
    both = instruction_verbs(tuned=shipped["models"]["ft"])
    assert both[:len(PAPER_INSTRUCTION_VERBS)] == list(PAPER_INSTRUCTION_VERBS)
    assert set(both) == set(PAPER_INSTRUCTION_VERBS) | set(shipped_verbs)
