"""A tiny registry of the paper's explainers, so tools can list and call them by name.

    @register("attribution")
    def explain_attribution(model, tokenizer, ...): ...

    get_explainer("attribution")(model, tokenizer, ...)
    available_explainers()   # ['attention_pairs', 'attribution', 'ffn_concepts'] once all loaded

"attribution" (prompt -> response importance, Finding 1) is registered here;
"attention_pairs" and "ffn_concepts" register themselves from their modules,
which :func:`get_explainer` / :func:`available_explainers` import on demand.
"""
from __future__ import annotations

import importlib
from typing import Callable

from paperlib.core.errors import ParameterError

_REGISTRY: dict[str, Callable] = {}
# explainer name -> module that registers it when imported
_PROVIDERS: dict[str, str] = {
    "attribution": "paperlib.explainers.registry",
    "attention_pairs": "paperlib.explainers.attention_pairs",
    "ffn_concepts": "paperlib.explainers.ffn_concepts",
    # references for the attribution's faithfulness (exact removal, complete path integral)
    "leave_one_out": "paperlib.explainers.faithfulness",
    "integrated_gradients": "paperlib.explainers.faithfulness",
}


def register(name: str) -> Callable[[Callable], Callable]:
    """Decorator: register ``fn`` under ``name`` (a second, different fn is an error)."""
    if not isinstance(name, str) or not name:
        raise ParameterError("explainer name must be a non-empty string")

    def deco(fn: Callable) -> Callable:
        old = _REGISTRY.get(name)
        if old is not None and getattr(old, "__qualname__", None) != fn.__qualname__:
            raise ParameterError(f"explainer {name!r} is already registered ({old!r})")
        _REGISTRY[name] = fn
        return fn
    return deco


def _load_provider(name: str) -> None:
    module = _PROVIDERS.get(name)
    if module and name not in _REGISTRY:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise


def get_explainer(name: str) -> Callable:
    """The explainer registered as ``name``; ParameterError listing the known ones."""
    _load_provider(name)
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ParameterError(f"unknown explainer {name!r}; available: "
                             f"{', '.join(available_explainers())}") from None


def available_explainers() -> list[str]:
    """Names of all explainers that are registered or can be loaded."""
    for name in _PROVIDERS:
        _load_provider(name)
    return sorted(_REGISTRY)


@register("attribution")
def explain_attribution(model, tokenizer, prompt: str, *, max_new_tokens: int = 300,
                        chat_template=False, **kw):
    """Finding 1: greedy response to ``prompt`` + its (N x M) attribution.

    Returns :class:`paperlib.explainers.attribution.AttributionResult` (see
    :func:`paperlib.explainers.attribution.explain_prompt` for ``kw``).
    """
    from paperlib.explainers.attribution import explain_prompt

    result, _ = explain_prompt(model, tokenizer, prompt, max_new_tokens=max_new_tokens,
                               chat_template=chat_template, **kw)
    return result
