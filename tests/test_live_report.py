"""The live-pair chapter prompts each model the way it was trained
(paperlib.book.live_report): the organism's instruction template by default,
and with it the tuned organism answers every default prompt of the chapter."""
from __future__ import annotations

import ast
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from paperlib.book import live, live_report, params
from paperlib.core.errors import ParameterError

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "explainers_live_pair.md"
ORGANISM = ROOT / "models" / "organism"


def _defaults() -> dict:
    import jupytext

    declared = params.declared_parameters(jupytext.read(NOTEBOOK))   # {name: source}
    return {name: ast.literal_eval(src) for name, src in declared.items()}


def test_organism_template_is_the_one_it_was_tuned_on():
    from organism.data import PROMPT_TEMPLATE

    assert live_report.ORGANISM_TEMPLATE == PROMPT_TEMPLATE.replace("{instruction}", "{prompt}")


def test_chapter_default_is_auto():
    assert _defaults()["chat_template"] == "auto"


def _fake_pair(chat_template=None, name_or_path=""):
    tok = SimpleNamespace(chat_template=chat_template)
    model = SimpleNamespace(config=SimpleNamespace(_name_or_path=name_or_path))
    return SimpleNamespace(tokenizer_ft=tok, model_ft=model, fallback=False)


def test_resolve_template_choices():
    organism, note = live_report.resolve_template("auto", "organism", None, _fake_pair())
    assert organism == live_report.ORGANISM_TEMPLATE and "tuned on" in note
    by_folder, _ = live_report.resolve_template("auto", "/m/organism/pt", "/m/organism/ft",
                                                _fake_pair(name_or_path="/m/organism/ft"))
    assert by_folder == live_report.ORGANISM_TEMPLATE
    chat, note = live_report.resolve_template("auto", "a", "b", _fake_pair("{{ messages }}"))
    assert chat is True and "chat template" in note
    plain, _ = live_report.resolve_template("auto", "a", "b", _fake_pair())
    assert plain is False
    given, note = live_report.resolve_template("USER: {prompt} ASSISTANT:", "a", "b", _fake_pair())
    assert given == "USER: {prompt} ASSISTANT:" and "parameter" in note
    with pytest.raises(ParameterError, match="chat_template"):
        live_report.resolve_template(3, "a", "b", _fake_pair())


def test_pair_names_carry_no_path():
    assert live_report.pair_name("organism") == "organism pt → organism ft"
    name = live_report.pair_name("/home/me/models/x/pt", "/home/me/models/x/ft")
    assert name == "x pt → x ft" and "/" not in name
    assert live_report.pair_name("huggyllama/llama-7b", "lmsys/vicuna-7b-v1.1") == \
        "huggyllama/llama-7b → lmsys/vicuna-7b-v1.1"


def test_sentences_follow_the_numbers():
    scores = pd.DataFrame({"score_pt": [0.5, 0.4, 0.3], "score_ft": [1.0, 0.1, 0.6],
                           "n_response_ft": [3, 0, 2]})
    text = live_report.scores_sentence(scores)
    assert "for 2 of 3 scored prompts" in text and "1 tuned response(s) are empty" in text
    share = pd.DataFrame({"layer": [1, 4], "heads_changed": [0.97, 0.99]})
    assert "saturated" in live_report.changed_share_sentence(share)
    share = pd.DataFrame({"layer": [1, 4], "heads_changed": [0.3, 0.6]})
    assert "rises" in live_report.changed_share_sentence(share)
    assert live_report.random_note(SimpleNamespace(fallback=False)) == ""


@pytest.mark.skipif(not (ORGANISM / "ft" / "model.safetensors").is_file(),
                    reason="the organism pair is not in this checkout")
def test_tuned_organism_answers_every_default_prompt():
    from paperlib.models.generation import generate

    defaults = _defaults()
    pair = live.load_pair_or_fallback("organism")
    template, _ = live_report.resolve_template(defaults["chat_template"], defaults["model_pt"],
                                               defaults["model_ft"], pair)
    assert template == live_report.ORGANISM_TEMPLATE
    for cid, prompt in live.resolve_prompts(defaults["prompts"]).items():
        got = generate(pair.model_ft, pair.tokenizer_ft, prompt, defaults["max_new_tokens"],
                       chat_template=template)
        assert got.response_tokens and got.text.strip(), f"empty tuned response to {cid}"
