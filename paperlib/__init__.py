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
    "PaperlibError": "errors", "DataError": "errors", "UnknownCaseError": "errors",
    "ParameterError": "errors", "UnsupportedArchitectureError": "errors",
    "ModelLoadError": "errors",
    # io / cache
    "ResultCache": "io", "atomic_write_text": "io", "results_dir": "io",
    # frozen paper data and case sets
    "DATASETS": "data", "MODELS": "data", "Case": "data", "dataset_of": "data",
    "load_case": "data", "iter_cases": "data", "case_ids": "data",
    "load_case_set": "data", "load_prompts": "data", "load_ratings": "data",
    "load_vocab": "data", "data_dir": "data", "decode_field": "data",
    "RawCase": "caseset", "CaseSet": "caseset", "write_case_set": "caseset",
    "read_case_set": "caseset",
    # alignment of annotations to token pieces
    "pieces_to_text": "align", "sentences": "align", "split_sentences": "align",
    "instruction_sentences": "align", "instruction_mask": "align",
    "sentence_token_spans": "align",
    # normalisation, importance density, statistics
    "normalise": "density", "apply_cutoff": "density", "instruction_score": "density",
    "segment_shares": "density", "segment_profile": "density",
    "importance_density": ("density", "density"),
    "welch_test": "stats", "mean_std": "stats", "bootstrap_diff_ci": "stats",
    "cohens_d": "stats", "hedges_g": "stats", "compare_groups": "stats",
    # Finding 1 tables and figures
    "PAPER_TABLE1": "finding1", "PAPER_TABLE2": "finding1", "PAPER_FIG6": "finding1",
    "scores": "finding1", "table1": "finding1", "table2": "finding1",
    "table1_groups": "finding1", "table2_groups": "finding1", "fig6": "finding1",
    "sensitivity": "finding1", "write_csv": "finding1",
    # figures and widgets
    "salient_map": "plots", "salient_pair": "plots", "case_figure": "plots",
    "case_gallery": "plots", "instruction_rows": "plots", "rescale": "plots",
    "book_style": "plots", "token_label": "plots",
    "table_figure": "summary_plots", "comparison_table": "summary_plots",
    "sensitivity_figure": "summary_plots", "fig6_figure": "summary_plots",
    "case_browser": "widgets", "static_picker": "widgets",
    "static_case_picker": "widgets", "static_threshold_picker": "widgets",
    "case_picker": "widgets", "threshold_picker": "widgets",
    "figure_to_html": "widgets", "case_instruction_score": "widgets",
    "case_scores": "widgets", "CSV_COLUMNS": "finding1",
    # model access, canonical weights, generation
    "load_model": "models", "load_pair": "models", "register_model_alias": "models",
    "resolve_alias": "models", "model_aliases": "models", "model_fingerprint": "models",
    "canonical_view": "models", "CanonicalView": "models", "CanonicalLayer": "models",
    "supported_architectures": "models",
    "generate": "generation", "GenerationResult": "generation",
    # explainer 1: prompt -> response attribution
    "attribute": "attribution", "AttributionResult": "attribution",
    "attribution_reference": "attribution", "attribution_leave_one_out": "attribution",
    "explain_prompt": "attribution", "explain_cases": "attribution",
    "fast_attribution": ("attribution_fast", "attribution_fast"),
    # explainer registry (inseq style)
    "register": "explainers", "get_explainer": "explainers",
    "available_explainers": "explainers",
    # explainer 2: attention word pairs; word similarity; vocabulary
    "load_vocab_words": "vocab", "word_token_index": "vocab", "word_embeddings": "vocab",
    "WordIndex": "vocab", "SimilarityTable": "similarity", "WordSimilarity": "similarity",
    "MiniLMSimilarity": "similarity", "GloveSimilarity": "similarity",
    "DictSimilarity": "similarity", "frequent_words": "similarity",
    "head_word_pairs": "attention_pairs", "AttentionPairs": "attention_pairs",
    "AttentionPairsExplainer": "attention_pairs",
    "explain_attention_layer": "attention_pairs",
    "head_explanations_by_layer": "attention_pairs",
    "neuron_explanations_by_layer": "attention_pairs",
    "changed_share": "attention_stats", "changed_share_by_group": "attention_stats",
    "verb_pair_counts": "attention_stats", "verb_increase_share": "attention_stats",
    "verb_shift_table": "attention_stats",
    # explainer 3: FFN PCA concepts
    "compute_ffn_concepts": ("ffn_concepts", "ffn_concepts"), "pca_rows": "ffn_concepts",
    "FFNConcepts": "ffn_concepts", "FFNConceptsExplainer": "ffn_concepts",
    "explain_ffn_layer": "ffn_concepts",
    # machine annotators of concept word lists (App D)
    "OfflineAnnotator": "annotate", "LLMAnnotator": "annotate", "Annotation": "annotate",
    "AnnotationParseError": "annotate", "LLMRequestError": "annotate",
    "ensure_wordnet": "annotate", "CANNOT_TELL": "annotate",
    # Findings 2 and 3 on a live pair
    "instruction_verbs": "finding2", "general_verbs": "finding2", "fig2_table": "finding2",
    "table3": "finding2", "table3_comparison": "finding2", "PAPER_TABLE3": "finding2",
    "annotate_concepts": "finding3", "table5": "finding3", "table5_comparison": "finding3",
    "make_annotator": "finding3", "level_by_group": "finding3_groups",
    "describable_by_group": "finding3_groups", "variance_table": "finding3_groups",
    "word_shift": "finding3_groups",
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
