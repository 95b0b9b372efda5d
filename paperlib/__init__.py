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
