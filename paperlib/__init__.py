"""paperlib: reproduce Wu et al. (arXiv 2310.00492) and run its explainers on any model pair.

Flat public API. Names are resolved lazily so that ``import paperlib`` stays
cheap (torch and transformers load only when a model-facing name is used).
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> submodule that defines it (the toolbox and the paper's tables; the
# book's figures and widgets are imported from paperlib.book.* by the chapters).
_EXPORTS: dict[str, str | tuple[str, str]] = {
    # errors
    "PaperlibError": "core.errors", "DataError": "core.errors", "ParameterError": "core.errors",
    "UnknownCaseError": "core.errors", "ModelLoadError": "core.errors",
    "UnsupportedArchitectureError": "core.errors",
    # case sets (the authors' released-data schema)
    "CaseSet": "core.caseset", "RawCase": "core.caseset", "read_case_set": "core.caseset",
    "write_case_set": "core.caseset",
    # models: loading any HF causal LM, the canonical weight view, greedy generation
    "load_model": "models", "load_pair": "models", "register_model_alias": "models",
    "model_fingerprint": "models", "canonical_view": "models", "CanonicalView": "models",
    "supported_architectures": "models", "generate": "models.generation",
    # the three explainers, also by name
    "get_explainer": "explainers.registry", "available_explainers": "explainers.registry",
    "register": "explainers.registry",
    "attribute": "explainers.attribution", "AttributionResult": "explainers.attribution",
    "attribution_leave_one_out": "explainers.attribution",
    "explain_prompt": "explainers.attribution", "explain_cases": "explainers.attribution",
    "explain_attention_layer": "explainers.attention_pairs",
    "AttentionPairsExplainer": "explainers.attention_pairs",
    "explain_ffn_layer": "explainers.ffn_concepts",
    "FFNConceptsExplainer": "explainers.ffn_concepts",
    # measures: normalisation, importance density, alignment, statistics
    "normalise": "measures.density", "apply_cutoff": "measures.density",
    "importance_density": ("measures.density", "density"),
    "instruction_score": "measures.density", "segment_profile": "measures.density",
    "instruction_mask": "measures.align", "welch_test": "measures.stats",
    "compare_groups": "measures.stats", "changed_share": "measures.attention_stats",
    # words and annotators
    "load_vocab_words": "words.vocab", "word_token_index": "words.vocab",
    "MiniLMSimilarity": "words.similarity", "GloveSimilarity": "words.similarity",
    "OfflineAnnotator": "annotate", "LLMAnnotator": "annotate",
    # the paper: released data, published numbers, Finding 1-3 tables
    "load_case": "paper.data", "case_ids": "paper.data", "load_prompts": "paper.data",
    "load_ratings": "paper.data", "DATASETS": "paper.data",
    "table1": "paper.finding1", "table2": "paper.finding1", "fig6": "paper.finding1",
    "sensitivity": "paper.finding1", "PAPER_TABLE1": "paper.finding1",
    "PAPER_TABLE2": "paper.finding1", "PAPER_FIG6": "paper.finding1",
    "fig2_table": "paper.finding2", "table3": "paper.finding2", "PAPER_TABLE3": "paper.finding2",
    "table5": "paper.finding3",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'paperlib' has no attribute {name!r}") from None
    module, attr = module if isinstance(module, tuple) else (module, name)
    value = getattr(importlib.import_module(f"paperlib.{module}"), attr)
    globals()[name] = value
    return value


def __dir__():
    return __all__
