"""Batched, left-padded greedy generation gives the tokens of one-by-one generation."""
from __future__ import annotations

import pytest
import torch

from paperlib.core.errors import ParameterError
from paperlib.models.generation import generate, generate_batch, input_device, is_offloaded
from paperlib.models.tiny import FAMILIES, tiny_model, tiny_tokenizer

torch.set_num_threads(1)
# different lengths, so that every batch is padded
PROMPTS = ["the long day", "what is water ?", "write about the people of the first day",
           "how", "you and your number", "the water was long, and the day was long too"]


@pytest.mark.parametrize("family", FAMILIES)
def test_batched_equals_one_by_one_tiny(family):
    model, tok = tiny_model(family, seed=3), tiny_tokenizer()
    single = [generate(model, tok, p, max_new_tokens=12) for p in PROMPTS]
    for batch_size in (2, 4, len(PROMPTS)):
        batched = generate_batch(model, tok, PROMPTS, max_new_tokens=12, batch_size=batch_size)
        assert batched == single, (family, batch_size)


def test_batched_equals_one_by_one_organism():
    """The shipped pair, a real tokenizer and template: 6 prompts, batches of 3."""
    from paperlib.models import load_model, resolve_alias

    model, tok = load_model(resolve_alias("organism", "ft"))
    template = "### Instruction:\n{prompt}\n\n### Response:\n"
    prompts = ["Give the plural of mouse.", "What is 12 plus 30?",
               "Write a Python function that returns the square of x.",
               "Translate 'cat' into French.", "Spell the word house backwards.",
               "Count the letters in the word banana."]
    single = [generate(model, tok, p, 40, chat_template=template) for p in prompts]
    batched = generate_batch(model, tok, prompts, 40, chat_template=template, batch_size=3)
    assert [b.response_ids for b in batched] == [s.response_ids for s in single]
    assert batched == single
    assert any(s.response_ids for s in single)


def test_eos_inside_a_batch_is_cut_per_row():
    """A row that stops at EOS early keeps only its own tokens (no padding leaks)."""
    model, tok = tiny_model("llama", seed=5), tiny_tokenizer()  # seed 5: 3 of 6 stop early
    eos = tok.eos_token_id
    single = [generate(model, tok, p, max_new_tokens=30) for p in PROMPTS]
    stopped = [s.stopped_at_eos for s in single]
    assert 0 < sum(stopped) < len(stopped)
    batched = generate_batch(model, tok, PROMPTS, max_new_tokens=30, batch_size=3)
    assert [b.stopped_at_eos for b in batched] == stopped
    assert all(eos not in b.response_ids for b in batched)
    assert batched == single


def test_bad_inputs_and_devices():
    model, tok = tiny_model("gpt2"), tiny_tokenizer()
    with pytest.raises(ParameterError, match="batch_size"):
        generate_batch(model, tok, PROMPTS, batch_size=0)
    with pytest.raises(ParameterError, match="list of strings"):
        generate_batch(model, tok, "the day")
    assert input_device(model) == torch.device("cpu") and not is_offloaded(model)
