"""paperlib: reproduce Wu et al. (arXiv 2310.00492) and run its explainers on any model pair.

Flat public API. Names are resolved lazily so that ``import paperlib`` stays
cheap (torch and transformers load only when a model-facing name is used).
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> submodule that defines it
_EXPORTS: dict[str, str | tuple[str, str]] = {
    # errors
    "PaperlibError": "core.errors", "DataError": "core.errors", "UnknownCaseError": "core.errors",
    "ParameterError": "core.errors", "UnsupportedArchitectureError": "core.errors",
    "ModelLoadError": "core.errors",
    # io / cache
    "ResultCache": "core.io", "atomic_write_text": "core.io", "results_dir": "core.io",
    # frozen paper data and case sets
    "DATASETS": "paper.data", "MODELS": "paper.data", "Case": "paper.data", "dataset_of": "paper.data",
    "load_case": "paper.data", "iter_cases": "paper.data", "case_ids": "paper.data",
    "load_case_set": "paper.data", "load_prompts": "paper.data", "load_ratings": "paper.data",
    "load_vocab": "paper.data", "data_dir": "paper.data", "decode_field": "paper.data",
    "RawCase": "core.caseset", "CaseSet": "core.caseset", "write_case_set": "core.caseset",
    "read_case_set": "core.caseset",
    # alignment of annotations to token pieces
    "pieces_to_text": "measures.align", "sentences": "measures.align", "split_sentences": "measures.align",
    "instruction_sentences": "measures.align", "instruction_mask": "measures.align",
    "sentence_token_spans": "measures.align",
    # normalisation, importance density, statistics
    "normalise": "measures.density", "apply_cutoff": "measures.density", "instruction_score": "measures.density",
    "segment_shares": "measures.density", "segment_profile": "measures.density",
    "importance_density": ("measures.density", "density"),
    "welch_test": "measures.stats", "mean_std": "measures.stats", "bootstrap_diff_ci": "measures.stats",
    "cohens_d": "measures.stats", "hedges_g": "measures.stats", "compare_groups": "measures.stats",
    # Finding 1 tables and figures
    "PAPER_TABLE1": "paper.finding1", "PAPER_TABLE2": "paper.finding1", "PAPER_FIG6": "paper.finding1",
    "scores": "paper.finding1", "table1": "paper.finding1", "table2": "paper.finding1",
    "table1_groups": "paper.finding1", "table2_groups": "paper.finding1", "fig6": "paper.finding1",
    "sensitivity": "paper.finding1", "write_csv": "paper.finding1",
    # figures and widgets
    "salient_map": "book.plots", "salient_pair": "book.plots", "case_figure": "book.plots",
    "case_gallery": "book.plots", "instruction_rows": "book.plots", "rescale": "book.plots",
    "book_style": "book.plots", "token_label": "book.plots",
    "table_figure": "book.summary_plots", "comparison_table": "book.summary_plots",
    "sensitivity_figure": "book.summary_plots", "fig6_figure": "book.summary_plots",
    "case_browser": "book.widgets", "static_picker": "book.widgets",
    "static_case_picker": "book.widgets", "static_threshold_picker": "book.widgets",
    "case_picker": "book.widgets", "threshold_picker": "book.widgets",
    "figure_to_html": "book.widgets", "case_instruction_score": "book.widgets",
    "case_scores": "book.widgets", "CSV_COLUMNS": "paper.finding1",
    # model access, canonical weights, generation
    "load_model": "models", "load_pair": "models", "register_model_alias": "models",
    "resolve_alias": "models", "model_aliases": "models", "model_fingerprint": "models",
    "canonical_view": "models", "CanonicalView": "models", "CanonicalLayer": "models",
    "supported_architectures": "models",
    "generate": "models.generation", "GenerationResult": "models.generation",
    # explainer 1: prompt -> response attribution
    "attribute": "explainers.attribution", "AttributionResult": "explainers.attribution",
    "attribution_reference": "explainers.attribution", "attribution_leave_one_out": "explainers.attribution",
    "explain_prompt": "explainers.attribution", "explain_cases": "explainers.attribution",
    "fast_attribution": ("explainers.attribution_fast", "attribution_fast"),
    # explainer registry (inseq style)
    "register": "explainers.registry", "get_explainer": "explainers.registry",
    "available_explainers": "explainers.registry",
    # explainer 2: attention word pairs; word similarity; vocabulary
    "load_vocab_words": "words.vocab", "word_token_index": "words.vocab", "word_embeddings": "words.vocab",
    "WordIndex": "words.vocab", "SimilarityTable": "words.similarity", "WordSimilarity": "words.similarity",
    "MiniLMSimilarity": "words.similarity", "GloveSimilarity": "words.similarity",
    "DictSimilarity": "words.similarity", "frequent_words": "words.similarity",
    "head_word_pairs": "explainers.attention_pairs", "AttentionPairs": "explainers.attention_pairs",
    "AttentionPairsExplainer": "explainers.attention_pairs",
    "explain_attention_layer": "explainers.attention_pairs",
    "head_explanations_by_layer": "explainers.attention_pairs",
    "neuron_explanations_by_layer": "explainers.attention_pairs",
    "changed_share": "measures.attention_stats", "changed_share_by_group": "measures.attention_stats",
    "verb_pair_counts": "measures.attention_stats", "verb_increase_share": "measures.attention_stats",
    "verb_shift_table": "measures.attention_stats",
    # explainer 3: FFN PCA concepts
    "compute_ffn_concepts": ("explainers.ffn_concepts", "ffn_concepts"), "pca_rows": "explainers.ffn_concepts",
    "FFNConcepts": "explainers.ffn_concepts", "FFNConceptsExplainer": "explainers.ffn_concepts",
    "explain_ffn_layer": "explainers.ffn_concepts",
    # machine annotators of concept word lists (App D)
    "OfflineAnnotator": "annotate", "LLMAnnotator": "annotate", "Annotation": "annotate",
    "AnnotationParseError": "annotate", "LLMRequestError": "annotate",
    "ensure_wordnet": "annotate", "CANNOT_TELL": "annotate",
    # Findings 2 and 3 on a live pair
    "instruction_verbs": "paper.finding2", "general_verbs": "paper.finding2", "fig2_table": "paper.finding2",
    "table3": "paper.finding2", "table3_comparison": "paper.finding2", "PAPER_TABLE3": "paper.finding2",
    "annotate_concepts": "paper.finding3", "table5": "paper.finding3", "table5_comparison": "paper.finding3",
    "make_annotator": "paper.finding3", "level_by_group": "paper.finding3_groups",
    "describable_by_group": "paper.finding3_groups", "variance_table": "paper.finding3_groups",
    "word_shift": "paper.finding3_groups",
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
