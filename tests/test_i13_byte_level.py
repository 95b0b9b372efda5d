"""Byte-level BPE (GPT-2 style) models end to end: scheme detection, readable labels,
instruction masks, chat-template rows and the three explainers, on tiny local
models with tied embeddings and a byte-level tokenizer trained here."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from paperlib.measures import align
from paperlib.models.tiny import tiny_model
from paperlib.models.tokenizers import train_bytelevel_tokenizer

torch.set_num_threads(1)

PROMPT = "Write a short poem about the sea.\nInput: Résumé of the day."
WORDS = ["write", "short", "poem", "about", "the", "sea", "day", "cat", "mat", "sat",
         "Résumé", "input", "café", "naïve", "water", "people", "time", "word"]
CORPUS = ([PROMPT, "The cat sat on the mat. Write about water, people and time.",
           "Un café naïve: résumé, Résumé, café.", " ".join(WORDS),
           "You are a helpful AI assistant named Tiny, trained by paperlib"] * 8)


@pytest.fixture(scope="module")
def tok():
    return train_bytelevel_tokenizer(CORPUS, vocab_size=360)


def _model(family: str, tok, seed: int = 0):
    kw = dict(vocab_size=len(tok), tie_word_embeddings=True, seed=seed)
    if family == "gpt2":
        kw.update(bos_token_id=0, eos_token_id=0, pad_token_id=0)
    return tiny_model(family, **kw)


def _pieces(tok, text: str) -> list[str]:
    return tok.convert_ids_to_tokens(tok(text, add_special_tokens=False)["input_ids"])


# --- scheme, decoding, labels ---------------------------------------------------------

def test_the_scheme_comes_from_the_tokenizer_pipeline(tok):
    from paperlib.book.standin import fallback_tokenizer
    from paperlib.models.tiny import tiny_tokenizer

    assert align.tokenizer_scheme(tok) == "bytelevel"
    assert align.tokenizer_scheme(fallback_tokenizer()) == "sentencepiece"
    assert align.tokenizer_scheme(tiny_tokenizer()) is None  # word level: undecided


def test_a_one_word_non_ascii_prompt_decodes_without_mojibake(tok):
    pieces = _pieces(tok, "Résumé")
    assert not any("Ġ" in p or "Ċ" in p for p in pieces)  # nothing for the old heuristic
    assert align.detect_scheme(pieces, tok) == "bytelevel"
    assert align.detect_scheme(pieces) == "bytelevel"      # from the pieces alone, too
    assert align.pieces_to_text(pieces, tokenizer=tok)[0] == "Résumé"
    assert align.pieces_to_text(pieces)[0] == "Résumé"
    # sentencepiece pieces of the same word stay sentencepiece
    assert align.pieces_to_text(["▁R", "é", "sum", "é"])[0] == "Résumé"
    assert align.detect_scheme(["R", "é", "sum", "é"]) == "sentencepiece"  # é alone: no UTF-8


def test_piece_labels_are_readable_for_both_conventions(tok):
    pieces = _pieces(tok, "Write about\nRésumé\tday")
    labels = align.piece_labels(pieces, tokenizer=tok)
    assert not any(c in "".join(labels) for c in "ĠĊĉÃ")
    assert "\\n" in labels and "\\t" in labels
    assert "".join(l for l in labels if l not in ("\\n", "\\t")) == "WriteaboutRésumé" + "day"
    sp = align.piece_labels(["▁Write", "▁about", "<0x0A>", "▁R", "é", "sum", "é"])
    assert sp == ["Write", "about", "\\n", "R", "é", "sum", "é"]


def test_instruction_mask_on_byte_level_pieces(tok):
    pieces = _pieces(tok, PROMPT)
    mask = align.instruction_mask(pieces, PROMPT, "Write a short poem about the sea.")
    ids = tok(PROMPT, add_special_tokens=False)["input_ids"]
    assert tok.decode([i for i, m in zip(ids, mask) if m]).strip() == \
        "Write a short poem about the sea."
    mask2 = align.instruction_mask(pieces, PROMPT, "Résumé of the day.")
    assert tok.decode([i for i, m in zip(ids, mask2) if m]).strip() == "Résumé of the day."


# --- chat template: the user's rows ---------------------------------------------------

def test_message_rows_exclude_the_system_prompt_and_role_markers(tok):
    from paperlib.models.generation import encode_prompt, format_prompt

    text = format_prompt(tok, PROMPT, chat_template=True)
    ids, n_prefix = encode_prompt(tok, text)
    pieces = tok.convert_ids_to_tokens(ids[n_prefix:])
    rows = align.message_rows(pieces, PROMPT, tok)
    assert tok.decode([i for i, r in zip(ids[n_prefix:], rows) if r]) == PROMPT
    assert rows.sum() < len(pieces) - 20  # the system prompt is ~25 tokens here
    with pytest.raises(Exception, match="cannot be located"):
        align.message_rows(pieces, "not in the prompt", tok)


def test_density_is_restricted_to_the_user_rows_with_a_chat_template(tok, tmp_path,
                                                                       monkeypatch):
    from paperlib.explainers.attribution import explain_prompt
    from paperlib.measures.density import density, normalise

    monkeypatch.setenv("PAPERLIB_CACHE", str(tmp_path))
    model = _model("gpt2", tok)
    res, _ = explain_prompt(model, tok, PROMPT, max_new_tokens=6, chat_template=True)
    assert res.user_rows is not None and 0 < res.user_rows.sum() < len(res.prompt_tokens)
    S = res.S
    assert not S[~res.user_rows].any()                     # template rows are 0
    np.testing.assert_array_equal(S[res.user_rows], normalise(res.I[res.user_rows], 10, 0))
    a = density(S, 4)
    assert not a[~res.user_rows].any()                     # they never rank
    every, _ = explain_prompt(model, tok, PROMPT, max_new_tokens=6, chat_template=True,
                              density_rows="all")
    assert every.user_rows is None and every.S[~res.user_rows].any()
    np.testing.assert_array_equal(every.I, res.I)          # same cached attribution
    plain, _ = explain_prompt(model, tok, PROMPT, max_new_tokens=6)
    assert plain.user_rows is None                         # no template: every row


# --- the three explainers on tied byte-level models ------------------------------------

@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_attribution_fast_equals_reference_on_a_tied_byte_level_model(family, tok):
    from paperlib.explainers.attribution import attribution_reference
    from paperlib.explainers.attribution_fast import attribution_fast
    from paperlib.models import canonical_view

    model = _model(family, tok).double()
    assert canonical_view(model).tied
    prompt = tok(PROMPT, add_special_tokens=False)["input_ids"]
    response = tok(" Résumé of the sea", add_special_tokens=False)["input_ids"]
    ref = attribution_reference(model, prompt, response).numpy()
    for mode in ("reverse", "forward"):  # float32 output; HF keeps LLaMA's norms in float32
        fast = attribution_fast(model, prompt, response, mode=mode).numpy()
        assert np.abs(fast - ref).max() <= 1e-5 * np.abs(ref).max(), mode


@pytest.fixture(scope="module")
def word_table():
    from paperlib.words.similarity import DictSimilarity

    g = torch.Generator().manual_seed(0)
    sim = DictSimilarity({w: torch.randn(8, generator=g).numpy() for w in WORDS})
    return sim.table(WORDS, reference=WORDS, z=0.0, use_cache=False)


def _brute_word_emb(emb: torch.Tensor, tok, words) -> torch.Tensor:
    """Mean embedding of each word's after-a-space byte-level pieces ("Ġword")."""
    rows = []
    for w in words:
        ids = tok(" " + w, add_special_tokens=False)["input_ids"]
        assert tok.convert_ids_to_tokens(ids)[0].startswith("Ġ")
        rows.append(emb[ids].mean(0))
    return torch.stack(rows)


def test_word_index_uses_the_byte_level_after_space_form(tok):
    from paperlib.words.vocab import word_token_index

    index = word_token_index(tok, WORDS)
    assert index.words == tuple(WORDS) and not index.dropped
    for i, w in enumerate(WORDS):
        assert index.tokens_of(i) == tok(" " + w, add_special_tokens=False)["input_ids"]
    assert any(len(index.tokens_of(i)) > 1 for i in range(len(WORDS)))  # multi-piece words


@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_attention_pairs_on_a_tied_byte_level_model(family, tok, word_table):
    from paperlib.explainers.attention_pairs import explain_attention_layer, reference_head_pairs
    from paperlib.models import canonical_view

    view = canonical_view(_model(family, tok))
    res = explain_attention_layer(view, 1, tok, WORDS, word_table, K=8, max_pairs=20)
    emb = _brute_word_emb(view.embed_in, tok, WORDS)
    lay, pos = view.layer(1), {w: i for i, w in enumerate(WORDS)}
    n_pairs = 0
    for h in range(view.n_heads):
        _, heads = reference_head_pairs(lay.W_q[h], lay.W_k[h], emb, word_table, K=8,
                                        max_pairs=20)
        assert [(pos[a], pos[b]) for a, b in res.head_pairs(h)] == [(a, b) for a, b, _ in heads]
        n_pairs += len(heads)
    assert n_pairs > 0


@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_ffn_concepts_on_a_tied_byte_level_model(family, tok):
    from paperlib.explainers.ffn_concepts import explain_ffn_layer, ffn_concepts
    from paperlib.models import canonical_view

    view = canonical_view(_model(family, tok))
    assert torch.equal(view.embed_out, view.embed_in)  # tied
    res = explain_ffn_layer(view, 1, tok, WORDS, R=6, K=4)
    ref = ffn_concepts(view.layer(1).W_down, _brute_word_emb(view.embed_out, tok, WORDS),
                       WORDS, R=6, K=4)
    assert torch.equal(res.word_idx, ref.word_idx)
    assert all(w in WORDS for r in range(6) for w in res.words_of(r))
