"""Tokenizer-free alignment of annotated sentences to prompt tokens."""
import numpy as np
import pytest

from paperlib.measures.align import (instruction_mask, instruction_sentences, pieces_to_text,
                            sentence_token_spans, sentences, tokens_in_range)
from paperlib.paper.data import load_case, load_prompts
from paperlib.core.errors import DataError


def test_pieces_to_text_sentencepiece_bytes_and_newlines():
    pieces = ["▁It", "<0xE2>", "<0x80>", "<0x99>", "s", "<0x0A>", "▁ok", "▁▁", "x"]
    text, spans = pieces_to_text(pieces)
    assert text == "It\u2019s\n ok  x"
    # the three byte pieces of the apostrophe share its one-character span
    np.testing.assert_array_equal(spans, [[0, 2], [2, 3], [2, 3], [2, 3], [3, 4], [4, 5],
                                          [5, 8], [8, 10], [10, 11]])


def test_pieces_to_text_broken_byte_sequence_and_bytelevel():
    text, spans = pieces_to_text(["▁a", "<0xE2>", "b"])
    assert text == "a\ufffdb" and spans.tolist() == [[0, 1], [1, 2], [2, 3]]
    text, spans = pieces_to_text(["ĠHello", "Ċ", "Ġw", "Ã¶", "rld"])
    assert text == " Hello\n wörld" and spans[3].tolist() == [9, 10]


def test_sentence_splitting_follows_authors_rule():
    text = "Do this. Then that!\nInput: x y\n\nWhy? e.g.no split"
    assert sentences(text) == ["Do this.", "Then that!", "Input:", "x y", "", "Why?",
                               "e.g.no split"]


def test_instruction_sentences_whole_sentence_input_and_output():
    prompt = "Rewrite the text. Keep it short.\nInput:Hello there.\nOutput:"
    # a fragment selects the whole sentence; "Input:" stripped; bare "Output:" dropped
    ann = "Rewrite|||Input:Hello&&&ctx"
    assert instruction_sentences(prompt, ann) == ["Rewrite the text.", "Hello there."]
    assert instruction_sentences(prompt, "Output:") == []
    # authors' quirk: an empty fragment selects the first sentence
    assert instruction_sentences(prompt, "Keep it short.|||") == ["Keep it short.",
                                                                  "Rewrite the text."]
    with pytest.raises(DataError, match="in no sentence"):
        instruction_sentences(prompt, "Translate this")


def test_instruction_mask_on_hand_made_pieces():
    pieces = ["▁Say", "▁hi", ".", "<0x0A>", "<0x0A>", "▁\"", "Now", "▁go", ".", "▁Bye", "."]
    prompt = 'Say hi.\n\n "Now go. Bye.'
    mask = instruction_mask(pieces, prompt, 'Say hi.|||"Now go.&&&')
    # newline pieces are never inside; the lone quote piece at an edge is left out
    assert mask.tolist() == [1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0]
    with pytest.raises(DataError, match="cannot be located"):
        instruction_mask(pieces, prompt + " Extra words.", "Extra words.")


def test_tokens_in_range_trims_blank_edges():
    text, spans = pieces_to_text(["▁a", "<0x0A>", "▁b"])
    assert tokens_in_range(text, spans, 0, len(text)).tolist() == [0, 1, 2]
    assert tokens_in_range(text, spans, 1, 2).tolist() == []  # only the newline
    assert tokens_in_range(text, spans, 0, 2).tolist() == [0]


def test_real_case_user_oriented_task_1():
    case = load_case("vicuna", "user_oriented_task_1")
    row = load_prompts().set_index("id").loc["user_oriented_task_1"]
    mask = instruction_mask(case.prompt_tokens, row.prompt, row.annotation)
    # the three instruction sentences are exactly tokens 0..112 ("...and Excited.")
    assert np.nonzero(mask)[0].tolist() == list(range(113))
    assert case.prompt_tokens[112] == "." and case.prompt_tokens[113] == "<0x0A>"
    spans = sentence_token_spans(case.prompt_tokens)
    assert spans[:3] == [(0, 22), (22, 34), (34, 113)]
    text, tok_spans = pieces_to_text(case.prompt_tokens)
    assert text == row.prompt


def test_every_released_prompt_decodes_and_aligns():
    prompts = load_prompts().set_index("id")
    for model in ("llama", "vicuna"):
        for cid in ("user_oriented_task_0", "lima_author_144", "mtbench_writing_81"):
            case = load_case(model, cid)
            assert pieces_to_text(case.prompt_tokens)[0] == prompts.at[cid, "prompt"]
            mask = instruction_mask(case.prompt_tokens, prompts.at[cid, "prompt"],
                                    prompts.at[cid, "annotation"], cid)
            assert 0 < mask.sum() < len(mask) or cid != "user_oriented_task_0"
