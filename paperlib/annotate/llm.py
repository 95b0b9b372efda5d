"""LLM machine annotator over any OpenAI-compatible chat-completions endpoint.

Follows the paper's App D: three separate requests per word list and seed
(:mod:`paperlib.annotate.prompts`), nucleus sampling with top-p = 0.9, and the
temperature schedule "temperature 0 for the first of the 5 repetitions, 1 for
the later ones, and always 0 when naming tasks and levels" -- implemented as
:func:`concept_temperature` (seed 0 -> 0.0, any other seed -> 1.0) for the
concept request and 0.0 for the task and level requests. The seed also goes
into each request's ``seed`` field (best-effort determinism on servers that
support it) and into the cache key.

A list described as "Cannot Tell" is not asked the task/level questions (paper
App D.2 counts it as not interpreted): tasks = {}, level = None.

Configuration: ``base_url`` (e.g. ``https://api.openai.com/v1``; requests go to
``<base_url>/chat/completions``), ``model`` (the paper: ``gpt-3.5-turbo-0613``)
and ``api_key`` (optional for local servers), from the arguments or the
environment variables ``PAPERLIB_LLM_BASE_URL``, ``PAPERLIB_LLM_MODEL`` and
``PAPERLIB_LLM_API_KEY``. HTTP uses only the standard library (urllib).
Retries: HTTP 429 and 5xx, connection errors and timeouts are retried up to
``max_retries`` times with exponential back-off ``backoff * 2**i`` seconds,
capped at ``max_backoff`` (a numeric Retry-After header is honoured, capped
too); other HTTP errors fail at once. Every answer is cached on disk
(:class:`paperlib.core.io.ResultCache`, namespace ``annotate_llm``) keyed by
(endpoint, model, messages, seed, temperature, top_p): re-runs cost nothing.
The API key is never part of the key, the cache or an error message.
"""
from __future__ import annotations

import json
import os
import re
import socket
import time
import urllib.error
import urllib.request
from typing import Sequence

from paperlib.annotate import prompts
from paperlib.annotate.base import (CANNOT_TELL, Annotation, AnnotationParseError, Annotator,
                                    check_seed, check_words)
from paperlib.core.errors import ParameterError, PaperlibError, check_range
from paperlib.core.io import ResultCache

PAPER_MODEL = "gpt-3.5-turbo-0613"
PAPER_TOP_P = 0.9
ENV_BASE_URL, ENV_MODEL, ENV_API_KEY = ("PAPERLIB_LLM_BASE_URL", "PAPERLIB_LLM_MODEL",
                                        "PAPERLIB_LLM_API_KEY")
CACHE_NAMESPACE = "annotate_llm"
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


class LLMRequestError(PaperlibError, OSError):
    """The endpoint could not be reached or gave no usable chat-completions answer."""


def concept_temperature(seed: int) -> float:
    """Temperature of the concept request: 0 for the first repetition (seed 0), else 1."""
    return 0.0 if check_seed(seed) == 0 else 1.0


def chat_url(base_url: str) -> str:
    """``<base_url>/chat/completions`` (``base_url`` may already end with it)."""
    url = base_url.strip().rstrip("/")
    if not re.match(r"^https?://[^/\s]+", url):
        raise ParameterError(f"LLM base URL must start with http:// or https://, got {base_url!r}")
    return url if url.endswith("/chat/completions") else url + "/chat/completions"


class LLMAnnotator(Annotator):
    """The paper's three-question annotator over an OpenAI-compatible endpoint."""

    name = "llm"

    def __init__(self, base_url: str | None = None, model: str | None = None,
                 api_key: str | None = None, *, top_p: float = PAPER_TOP_P,
                 timeout: float = 60.0, max_retries: int = 5, backoff: float = 1.0,
                 max_backoff: float = 30.0, cache: bool = True,
                 cache_dir: str | os.PathLike | None = None):
        base_url = base_url or os.environ.get(ENV_BASE_URL)
        model = model or os.environ.get(ENV_MODEL)
        if not base_url:
            raise ParameterError(f"no LLM endpoint: pass base_url= or set {ENV_BASE_URL} "
                                 "(e.g. https://api.openai.com/v1)")
        if not model:
            raise ParameterError(f"no LLM model: pass model= or set {ENV_MODEL} "
                                 f"(the paper used {PAPER_MODEL})")
        self.url = chat_url(base_url)
        self.model = model
        self._api_key = api_key or os.environ.get(ENV_API_KEY) or None
        self.top_p = check_range("top_p", top_p, 0.0, 1.0)
        self.timeout = check_range("timeout", timeout, 1e-3, 3600)
        if isinstance(max_retries, bool) or not isinstance(max_retries, int):
            raise ParameterError(f"max_retries must be an int, got {max_retries!r}")
        self.max_retries = check_range("max_retries", max_retries, 0, 20)
        self.backoff = check_range("backoff", backoff, 0.0, 600)
        self.max_backoff = check_range("max_backoff", max_backoff, 0.0, 3600)
        self.cache = ResultCache(CACHE_NAMESPACE, root=cache_dir) if cache else None
        self.requests_sent = 0

    def __repr__(self) -> str:
        return f"LLMAnnotator(url={self.url!r}, model={self.model!r})"

    # -- HTTP ---------------------------------------------------------------
    def _request(self, payload: dict) -> urllib.request.Request:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return urllib.request.Request(self.url, data=json.dumps(payload).encode("utf-8"),
                                      headers=headers, method="POST")

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        delay = self.backoff * 2 ** attempt
        if retry_after and re.fullmatch(r"\d+(\.\d+)?", retry_after.strip()):
            delay = max(delay, float(retry_after))
        return min(delay, self.max_backoff)

    def _post(self, payload: dict) -> dict:
        """POST ``payload``; return the decoded JSON answer (retrying as documented)."""
        last = ""
        for attempt in range(self.max_retries + 1):
            retry_after = None
            try:
                self.requests_sent += 1
                with urllib.request.urlopen(self._request(payload), timeout=self.timeout) as r:
                    body = r.read()
                break
            except urllib.error.HTTPError as e:
                detail = e.read(300).decode("utf-8", "replace")
                last = f"HTTP {e.code}: {detail}"
                if e.code not in RETRY_STATUS:
                    raise LLMRequestError(f"{self.url} refused the request ({last})") from None
                retry_after = e.headers.get("Retry-After") if e.headers else None
            except (urllib.error.URLError, TimeoutError, socket.timeout, ConnectionError) as e:
                last = f"{type(e).__name__}: {getattr(e, 'reason', e)}"
            if attempt < self.max_retries:
                time.sleep(self._delay(attempt, retry_after))
        else:
            raise LLMRequestError(f"{self.url}: no answer after {self.max_retries + 1} "
                                  f"attempts; last error {last}")
        try:
            return json.loads(body)
        except ValueError:
            raise LLMRequestError(f"{self.url} answered with non-JSON: {body[:200]!r}") from None

    def complete(self, messages: list[dict], seed: int, temperature: float) -> str:
        """Reply text of one chat completion (from the cache when already asked)."""
        payload = {"model": self.model, "messages": messages, "temperature": temperature,
                   "top_p": self.top_p, "seed": seed}

        def ask() -> str:
            return extract_content(self._post(payload), self.url)

        if self.cache is None:
            return ask()
        params = {"endpoint": self.url, **payload}
        return self.cache.get_or_compute(
            params, ask, lambda text, p: p.write_text(json.dumps({"content": text}),
                                                      encoding="utf-8"),
            lambda p: json.loads(p.read_text(encoding="utf-8"))["content"], ext="json")

    # -- the three questions --------------------------------------------------
    def annotate(self, words: Sequence[str], seed: int = 0) -> Annotation:
        seed = check_seed(seed)
        words = check_words(words)
        t = concept_temperature(seed)
        raw = self.complete(prompts.concept_messages(words), seed, t)
        concept, describable = parse_concept(raw)
        evidence = {"concept": f"{self.model} (temperature {t:g}, seed {seed}): {raw!r}"}
        if not describable:
            return Annotation(CANNOT_TELL, False, frozenset(), None, evidence, seed, self.name)
        raw_tasks = self.complete(prompts.task_messages(concept), seed, 0.0)
        tasks = parse_tasks(raw_tasks)
        raw_level = self.complete(prompts.level_messages(concept), seed, 0.0)
        level = parse_level(raw_level)
        for task, why in tasks.items():
            evidence[f"task:{task}"] = f"{self.model} answered {raw_tasks!r} ({why})"
        evidence[f"level:{level}"] = f"{self.model} answered {raw_level!r}"
        return Annotation(concept, True, frozenset(tasks), level, evidence, seed, self.name)


def extract_content(answer, url: str = "endpoint") -> str:
    """``answer["choices"][0]["message"]["content"]`` or LLMRequestError."""
    try:
        content = answer["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise LLMRequestError(f"{url} gave no choices[0].message.content: "
                              f"{json.dumps(answer)[:200]}") from None
    if not isinstance(content, str):
        raise LLMRequestError(f"{url} gave a non-text message content: {content!r}"[:300])
    return content


_CANNOT = re.compile(r"can\s*(?:not|'t|’t)\s+tell", re.IGNORECASE)


def parse_concept(raw: str) -> tuple[str, bool]:
    """(concept, describable) from a reply to question 1."""
    lines = [ln.strip() for ln in raw.strip().splitlines() if ln.strip()]
    if not lines:
        raise AnnotationParseError("empty reply to the concept question")
    if _CANNOT.search(raw):
        return CANNOT_TELL, False
    text = re.sub(r"^(concept|answer|agent|assistant)\s*:\s*", "", lines[0], flags=re.I)
    text = re.sub(r"^words are\s+", "", text, flags=re.I).strip().strip("\"'`").rstrip(".").strip()
    if not re.search(r"\w", text):
        raise AnnotationParseError(f"no concept in the reply {raw[:200]!r}")
    return text, True


_TASK_WORDS = (("writing", "writing"), ("math", "math"), ("coding", "coding"),
               ("programming", "coding"), ("code", "coding"), ("translat", "translation"))


def parse_tasks(raw: str) -> dict[str, str]:
    """Tasks named in a reply to question 2: task -> the phrase that named it.

    "None" (alone) -> {}; items are split on ';', ',', newlines and "and".
    Raises AnnotationParseError when no known task and no "None" is found.
    """
    text = re.sub(r"^\s*(tasks?|answer)\s*:\s*", "", raw.strip(), flags=re.I)
    items = [s.strip(" .'\"`*-") for s in re.split(r"[;,\n]|\band\b", text)]
    items = [s for s in items if s]
    found: dict[str, str] = {}
    for item in items:
        low = item.lower()
        for key, task in _TASK_WORDS:
            if key in low:
                found.setdefault(task, item)
                break
    if found:
        return found
    if items and all(re.match(r"(none|n/a|no tasks?)\b", s, re.I) for s in items):
        return {}
    raise AnnotationParseError(f"no task (writing, math, coding, translation or None) in "
                               f"the reply {raw[:200]!r}")


_LEVEL_RE = re.compile(r"phonolog\w*|morpholog\w*|synta\w*|semantic\w*", re.IGNORECASE)
_LEVEL_OF = {"phon": "phonology", "morp": "morphology", "synt": "syntax", "sema": "semantic"}


def parse_level(raw: str) -> str:
    """The first linguistic level named in a reply to question 3."""
    m = _LEVEL_RE.search(raw)
    if m is None:
        raise AnnotationParseError(f"no level (phonology, morphology, syntax, semantic) in "
                                   f"the reply {raw[:200]!r}")
    return _LEVEL_OF[m.group(0)[:4].lower()]
