"""The Finding 1 explorer's data: every case of both models, packed for the page.

What the page needs to redo Tables 1-2, Fig 6 and the sensitivity grid at any
cutoff b (threshold mode, L = 10) and norm p is, per prompt token (row) and
model, the **histogram of its S values** over all response tokens: for the
threshold mode the density of row n is a function of the counts c_v of the
values v = 1..10 alone (||S_n||_1 = sum_{v>b} v c_v, ||S_n||_p^p = sum_{v>b}
v^p c_v, ||S_n||_inf = the largest v > b with c_v > 0). The heat maps need the
matrices themselves: the first ``map_columns`` response tokens of each case
(4 bits per cell). Besides: token labels (a string table), instruction masks,
sentence spans (Fig 6), Vicuna ratings (Table 1), the response lengths (the
``min_response`` filter) and the paper's published numbers.

Arrays (C cases, R = sum of prompt lengths; ``<m>`` = llama / vicuna)::

    dataset (C,) u1, rating (C,) i1, n (C,) u2, row_start (C+1,) u4
    prompt_label (R,) u2|u4       index into meta["labels"]
    span_start (C+1,) u4, span_a / span_b (S,) u2   sentence [a, b) per case
    <m>_m (C,) u2                 response length M
    mask (R,) u1                  instruction token (the prompt is the same for both)
    <m>_hist_lo / <m>_hist_hi (10, R) u1   count of value v+1 = lo + 256 hi
    <m>_map (…,) u1               nibbles of S[:, :min(M, K)] row-major, per case
    <m>_map_start (C+1,) u4       cell offset of each case in the nibble stream
    <m>_resp_label (…,) u2|u4, <m>_resp_start (C+1,) u4   labels of the shown columns
"""
from __future__ import annotations

import functools

import numpy as np

from paperlib.book.explorer.binpack import nibbles, pack, string_table
from paperlib.core.errors import ParameterError
from paperlib.core.errors import check_count

MODELS = ("llama", "vicuna")
L = 10
SNIPPET_CHARS = 300


def _checked_S(S: np.ndarray, case_id: str, model: str) -> np.ndarray:
    """S as integers 0..L, or ParameterError (the explorer reads the released scale)."""
    if S.size and (S.min() < 0 or S.max() > L or not np.array_equal(S, np.round(S))):
        raise ParameterError(f"case {case_id} ({model}): the explorer needs S as integers "
                             f"0..{L} (normalised with L={L}, b=0)")
    return S.astype(np.uint8)


def _histogram(S: np.ndarray) -> np.ndarray:
    """(10, N) counts of the values 1..10 in each row of S (N, M)."""
    counts = np.zeros((L, S.shape[0]), np.int64)
    for v in range(1, L + 1):
        counts[v - 1] = (S == v).sum(axis=1)
    return counts


def _cases(source):
    """{model: [RawCase, ...]} in the same case order, checked to share prompts."""
    from paperlib.paper.data import load_case_set

    sets = {m: load_case_set(m, source) for m in MODELS}
    ids = list(sets["vicuna"].ids)
    if list(sets["llama"].ids) != ids:
        raise ParameterError("the explorer needs the same case ids, in the same order, "
                             "for both models")
    cases = {m: [sets[m].get(i) for i in range(len(ids))] for m in MODELS}
    for a, b in zip(*cases.values()):
        if list(a.prompt_tokens) != list(b.prompt_tokens):
            raise ParameterError(f"case {a.id}: the two models' prompt tokens differ; the "
                                 "explorer shows one prompt for both models")
    return ids, cases


def _case_texts(ids) -> tuple[list[str], list[int]]:
    """Prompt snippets (search and captions) and Vicuna ratings (-1: none)."""
    from paperlib.paper.data import load_prompts, load_ratings

    prompts = load_prompts().set_index("id")["prompt"]
    ratings = load_ratings()
    ratings = ratings[ratings.model == "vicuna"].drop_duplicates("id").set_index("id")["rating"]
    snippets = [" ".join(str(prompts.get(c, "")).split())[:SNIPPET_CHARS] for c in ids]
    return snippets, [int(ratings.get(c, -1)) for c in ids]


def _masks_and_spans(ids, prompt_cases) -> tuple[np.ndarray, list]:
    """Instruction mask (R,) and sentence spans per case, as paperlib.paper.finding1."""
    from paperlib.measures.align import instruction_mask, sentence_token_spans
    from paperlib.paper.data import load_prompts

    prompts = load_prompts().set_index("id")
    masks, spans = [], []
    for cid, raw in zip(ids, prompt_cases):
        if cid not in prompts.index:
            raise ParameterError(f"case {cid} has no annotated prompt (FinalDataset); the "
                                 "explorer cannot mark its instruction tokens")
        masks.append(instruction_mask(raw.prompt_tokens, prompts.at[cid, "prompt"],
                                      prompts.at[cid, "annotation"], cid))
        spans.append(sentence_token_spans(raw.prompt_tokens))
    return np.concatenate(masks).astype(np.uint8), spans


def _index_dtype(n: int):
    return np.uint16 if n < 1 << 16 else np.uint32


def _offsets(lengths) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(lengths)]).astype(np.uint32)


def _model_arrays(model: str, cases, labels: dict, map_columns: int) -> dict:
    """The per-model arrays of the module docstring (labels: string -> index, grown)."""
    from paperlib.book.plots import token_labels

    hists, maps, map_len, resp = [], [], [], []
    for raw in cases:
        S = _checked_S(np.asarray(raw.S), raw.id, model)
        hists.append(_histogram(S))
        shown = S[:, :map_columns]
        maps.append(shown.ravel())
        map_len.append(shown.size)
        cols = token_labels(list(raw.response_tokens)[:map_columns]) if shown.shape[1] else []
        resp.append([labels.setdefault(t, len(labels)) for t in cols])
    hist = np.concatenate(hists, axis=1)
    if hist.max(initial=0) >= 1 << 16:
        raise ParameterError(f"{model}: a response longer than 65535 tokens cannot be packed")
    return {f"{model}_m": np.array([r.S.shape[1] for r in cases], np.uint16),
            f"{model}_hist_lo": (hist & 255).astype(np.uint8),
            f"{model}_hist_hi": (hist >> 8).astype(np.uint8),
            f"{model}_map": nibbles(np.concatenate(maps) if maps else np.zeros(0, np.uint8)),
            f"{model}_map_start": _offsets(map_len),
            f"{model}_resp_label": np.concatenate([np.asarray(r, np.int64) for r in resp]),
            f"{model}_resp_start": _offsets([len(r) for r in resp])}


def _paper_numbers() -> dict:
    from paperlib.paper import finding1

    return {"table1": finding1.PAPER_TABLE1, "table2": finding1.PAPER_TABLE2,
            "b": 7, "p": 4, "fig6": "U shape (high at the start and end of a sentence, low in "
                                    "the middle), sharper for the pre-trained model"}


def build_arrays(source=None, map_columns: int = 120) -> tuple[dict, dict]:
    """(meta, arrays) of the explorer for the case sets of ``source`` (None: the
    frozen paper data)."""
    from paperlib.book.plots import token_labels
    from paperlib.paper.data import DATASETS, dataset_of

    check_count("map_columns", map_columns, 1, 300)
    ids, cases = _cases(source)
    labels: dict[str, int] = {}
    prompt_label = [labels.setdefault(t, len(labels)) for raw in cases["vicuna"]
                    for t in token_labels(list(raw.prompt_tokens))]
    n = [len(raw.prompt_tokens) for raw in cases["vicuna"]]
    mask, spans = _masks_and_spans(ids, cases["vicuna"])
    snippets, ratings = _case_texts(ids)
    arrays = {"dataset": np.array([DATASETS.index(dataset_of(c)) for c in ids], np.uint8),
              "rating": np.array(ratings, np.int8), "n": np.array(n, np.uint16),
              "row_start": _offsets(n),
              "span_start": _offsets([len(s) for s in spans]),
              "span_a": np.array([a for s in spans for a, _ in s], np.uint16),
              "span_b": np.array([b for s in spans for _, b in s], np.uint16)}
    for model in MODELS:
        arrays.update(_model_arrays(model, cases[model], labels, map_columns))
    arrays["mask"] = mask
    kind = _index_dtype(len(labels))
    arrays["prompt_label"] = np.asarray(prompt_label, kind)
    for model in MODELS:
        arrays[f"{model}_resp_label"] = arrays[f"{model}_resp_label"].astype(kind)
    meta = {"kind": "finding1", "ids": ids, "datasets": list(DATASETS), "models": list(MODELS),
            "snippets": snippets, "labels": string_table(labels)[0], "L": L,
            "map_columns": map_columns, "min_response": 5, "n_segments": 4,
            "paper": _paper_numbers() if source is None else None,
            "source": "paper" if source is None else "live"}
    return meta, arrays


@functools.lru_cache(maxsize=2)
def _paper_blob(map_columns: int) -> bytes:
    return pack(*build_arrays(None, map_columns))


def packed(source=None, map_columns: int = 120) -> bytes:
    """The compressed blob of :func:`build_arrays` (the frozen data's is cached in memory)."""
    if source is None:
        return _paper_blob(map_columns)
    return pack(*build_arrays(source, map_columns))
