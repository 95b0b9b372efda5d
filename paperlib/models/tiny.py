"""Tiny random-weight causal LMs and a tiny tokenizer, for tests (no download).

Every supported family (see :data:`FAMILIES`) can be built from a config in a
few milliseconds::

    model = tiny_model("llama")                  # eval mode, eager attention
    model = tiny_model("qwen2", dtype=torch.float64, seed=3)
    tok = tiny_tokenizer()                       # WordLevel, vocab < TINY_VOCAB

Shapes (defaults): vocab V = 96, width D = 32, L = 2 layers, H = 4 query heads of
size D' = 8, intermediate I = 64. LLaMA / Mistral / Qwen2 use grouped-query
attention with 2 key/value heads (so the canonical view must repeat k heads);
GPT-NeoX rotates 1/4 of each head's dims. Norm gains, norm biases and attention
biases are randomised (HF initialises them to 1 / 0, which would hide folding
bugs). The API (``FAMILIES``, ``tiny_config``, ``tiny_model``,
``tiny_tokenizer``, ``TINY_VOCAB``) is stable: other modules' tests rely on it.
"""
from __future__ import annotations

import torch

from paperlib.core.errors import ParameterError

FAMILIES: tuple[str, ...] = ("llama", "mistral", "qwen2", "gpt2", "gpt_neox")
TINY_VOCAB = 96
_D, _L, _H, _KV, _I = 32, 2, 4, 2, 64

_WORDS = (
    "the a an of to and in is it you that he she was for on are with as his they "
    "be at one have this from or had by word but what some we can out other were "
    "all there when up use your how said each which do their time if will way about "
    "many then them write would like so these her long make thing see him two has "
    "look more day could go come did number sound no most people my over know water "
    "than call first who may down side been now find"
).split()


def _llama_like(family: str, overrides: dict):
    import transformers as tf

    common = dict(vocab_size=TINY_VOCAB, hidden_size=_D, intermediate_size=_I,
                  num_hidden_layers=_L, num_attention_heads=_H, num_key_value_heads=_KV,
                  max_position_embeddings=512, initializer_range=0.2,
                  bos_token_id=1, eos_token_id=2, pad_token_id=0,
                  tie_word_embeddings=False)
    cls = {"llama": tf.LlamaConfig, "mistral": tf.MistralConfig, "qwen2": tf.Qwen2Config}[family]
    if family == "mistral":
        common["sliding_window"] = None
    common.update(overrides)
    return cls(**common)


def tiny_config(family: str, **overrides):
    """Return a small ``transformers`` config of ``family``; ``overrides`` win.

    Raises ParameterError for a family outside :data:`FAMILIES`.
    """
    import transformers as tf

    if family in ("llama", "mistral", "qwen2"):
        return _llama_like(family, overrides)
    if family == "gpt2":
        kw = dict(vocab_size=TINY_VOCAB, n_embd=_D, n_layer=_L, n_head=_H, n_inner=_I,
                  n_positions=512, initializer_range=0.2, resid_pdrop=0.0,
                  embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=1, eos_token_id=2,
                  pad_token_id=0)
        kw.update(overrides)
        return tf.GPT2Config(**kw)
    if family == "gpt_neox":
        kw = dict(vocab_size=TINY_VOCAB, hidden_size=_D, num_hidden_layers=_L,
                  num_attention_heads=_H, intermediate_size=_I,
                  max_position_embeddings=512, initializer_range=0.2,
                  bos_token_id=1, eos_token_id=2, pad_token_id=0,
                  rope_parameters={"rope_type": "default", "rope_theta": 10000.0,
                                   "partial_rotary_factor": 0.25})
        kw.update(overrides)
        return tf.GPTNeoXConfig(**kw)
    raise ParameterError(f"unknown tiny model family {family!r}; choose one of {FAMILIES}")


@torch.no_grad()
def _randomise_norms_and_biases(model: torch.nn.Module, gen: torch.Generator) -> None:
    """Give every norm gain 1 + U(-0.5, 0.5), every bias N(0, 0.1^2)."""
    for name, p in model.named_parameters():
        is_norm = "norm" in name or ".ln_" in name or name.endswith("ln_f.weight")
        if name.endswith("bias"):
            p.copy_(0.1 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
        elif is_norm and p.ndim == 1:
            p.copy_(1.0 + torch.rand(p.shape, generator=gen, dtype=p.dtype) - 0.5)


def tiny_model(family: str, *, seed: int = 0, dtype: torch.dtype = torch.float32,
               randomise: bool = True, config=None, **overrides):
    """A randomly initialised causal LM of ``family`` (eval mode, eager attention).

    ``config`` (optional) replaces :func:`tiny_config`; ``overrides`` go to it.
    With ``randomise`` the norm gains / biases are randomised (see module doc).
    """
    import transformers as tf

    cfg = config if config is not None else tiny_config(family, **overrides)
    cfg._attn_implementation = "eager"
    torch.manual_seed(seed)
    model = tf.AutoModelForCausalLM.from_config(cfg, attn_implementation="eager")
    if randomise:
        _randomise_norms_and_biases(model, torch.Generator().manual_seed(seed + 1))
    return model.to(dtype).eval()


def tiny_tokenizer(vocab_size: int = TINY_VOCAB):
    """A WordLevel ``PreTrainedTokenizerFast`` (specials <pad>=0 <s>=1 </s>=2 <unk>=3).

    Adds ``<s>`` in front of every encoded text (like LLaMA's tokenizer). Its
    vocabulary (< ``vocab_size`` entries) fits the tiny models above.
    """
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "<s>", "</s>", "<unk>"]
    words = specials + [w for w in dict.fromkeys(list(".,:!?") + _WORDS)]
    words = words[:vocab_size]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(),
                                                 pre_tokenizers.Punctuation()])
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", special_tokens=[("<s>", 1)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>",
                                   unk_token="<unk>", pad_token="<pad>")
