"""Machine annotators of FFN concept word lists (paper App D).

``OfflineAnnotator`` (default; deterministic, packaged resources only) and
``LLMAnnotator`` (any OpenAI-compatible chat-completions endpoint) share the
interface of :class:`~paperlib.annotate.base.Annotator`.
"""
from paperlib.annotate.base import (CANNOT_TELL, DEFAULT_SEEDS, LEVELS, TASKS, Annotation,
                                    AnnotationParseError, Annotator)
from paperlib.annotate.offline import OfflineAnnotator
from paperlib.annotate.resources import ensure_wordnet

__all__ = ["Annotation", "AnnotationParseError", "Annotator", "CANNOT_TELL", "DEFAULT_SEEDS",
           "LEVELS", "TASKS", "OfflineAnnotator", "ensure_wordnet", "LLMAnnotator",
           "LLMRequestError"]


def __getattr__(name):  # the LLM client is imported only when used
    if name in ("LLMAnnotator", "LLMRequestError"):
        from paperlib.annotate import llm
        return getattr(llm, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
