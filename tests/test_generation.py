"""Greedy generation: determinism, max_new_tokens, EOS, pieces, BOS handling."""
from __future__ import annotations

import pytest
import torch

from paperlib.core.errors import ParameterError
from paperlib.explainers.registry import available_explainers, get_explainer, register
from paperlib.models.generation import encode_prompt, format_prompt, generate
from paperlib.models.tiny import FAMILIES, tiny_model, tiny_tokenizer

torch.set_num_threads(1)
PROMPT = "the long day of people"


@pytest.mark.parametrize("family", FAMILIES)
def test_generation_is_deterministic_and_stops_at_max_new_tokens(family):
    model, tok = tiny_model(family), tiny_tokenizer()
    eos = tok.eos_token_id
    with torch.no_grad():  # make EOS unreachable so the length limit is what stops it
        model.get_output_embeddings().weight[eos] = 0
        if model.get_output_embeddings().bias is not None:
            model.get_output_embeddings().bias[eos] = -1e4
    a = generate(model, tok, PROMPT, max_new_tokens=7)
    b = generate(model, tok, PROMPT, max_new_tokens=7)
    assert a == b
    assert len(a.response_ids) == 7 and not a.stopped_at_eos
    assert a.prompt_ids[0] == tok.bos_token_id and a.n_prefix == 1
    assert a.prompt_tokens == ["the", "long", "day", "of", "people"]
    assert a.response_tokens == tok.convert_ids_to_tokens(a.response_ids)


def test_generation_stops_at_eos_and_drops_it():
    model, tok = tiny_model("llama"), tiny_tokenizer()
    with torch.no_grad():  # the output head always prefers EOS after the first token
        model.lm_head.weight.zero_()
        model.lm_head.weight[tok.eos_token_id] = 0.0
        model.model.norm.weight.zero_()
        model.lm_head.bias = torch.nn.Parameter(torch.zeros(model.lm_head.out_features))
        model.lm_head.bias.data[tok.eos_token_id] = 5.0
    r = generate(model, tok, PROMPT, max_new_tokens=10)
    assert r.stopped_at_eos and r.response_ids == [] and r.response_tokens == []


def test_templates_and_no_double_bos():
    tok = tiny_tokenizer()
    assert format_prompt(tok, "hi", "USER: {prompt} ASSISTANT:") == "USER: hi ASSISTANT:"
    assert format_prompt(tok, "hi") == "hi"
    with pytest.raises(ParameterError, match="prompt"):
        format_prompt(tok, "hi", "no field")
    ids, n_prefix = encode_prompt(tok, "<s> the day")
    assert ids == [1, tok.convert_tokens_to_ids("the"), tok.convert_tokens_to_ids("day")]
    assert n_prefix == 1
    with pytest.raises(ParameterError, match="max_new_tokens"):
        generate(tiny_model("gpt2"), tok, PROMPT, max_new_tokens=0)


def test_explainer_registry():
    assert "attribution" in available_explainers()
    fn = get_explainer("attribution")
    res = fn(tiny_model("gpt2"), tiny_tokenizer(), PROMPT, max_new_tokens=3, cache=False)
    assert res.I.shape == (5, 3)
    with pytest.raises(ParameterError, match="unknown explainer 'nope'"):
        get_explainer("nope")
    with pytest.raises(ParameterError, match="already registered"):
        register("attribution")(lambda: None)
