"""The kernel-free explorer widgets (paperlib.book.explorer), Python side: the binary
container, the packed Finding 1 data against the released cases, the Finding 2/3
packs against their sources, the widget classes and the chapter.

The front-ends' arithmetic is tested in node (tests/test_explorer_js.py) and in a
real browser (make browser-check, tools/browser_widgets.py)."""
from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from fakes import FakePairs
from nbrun import check_source, output_text, run_notebook

from paperlib.book import widgets
from paperlib.book.explorer import ConceptBrowser, Finding1Explorer, PairBrowser, esm_source
from paperlib.book.explorer import binpack
from paperlib.book.explorer.finding1_data import packed
from paperlib.book.explorer.finding23_data import concepts_arrays, pairs_arrays
from paperlib.book.explorer.widgets import BUNDLES
from paperlib.core.errors import DataError, ParameterError, UnknownCaseError

ROOT = Path(__file__).resolve().parent.parent
CHAPTER = ROOT / "notebooks" / "finding1_explorer.md"


# --- the container --------------------------------------------------------------------

def test_pack_round_trip_keeps_every_dtype_and_the_header():
    rng = np.random.default_rng(0)
    arrays = {code: (rng.normal(size=(3, 5)) * 100).astype(dtype)
              for code, dtype in binpack.DTYPES.items()}
    arrays["empty"] = np.zeros(0, np.uint8)
    meta = {"ids": ["a", "é", "→"], "x": 1.5, "nested": {"k": [1, 2]}}
    got_meta, got = binpack.unpack(binpack.pack(meta, arrays))
    assert got_meta == meta and list(got) == list(arrays)
    for k, a in arrays.items():
        assert got[k].dtype == a.dtype and np.array_equal(got[k], a)


def test_pack_layout_is_aligned_for_typed_array_views():
    import json
    import struct
    import zlib

    raw = zlib.decompress(binpack.pack({"m": "x" * 13}, {"a": np.arange(3, dtype=np.uint8),
                                                          "b": np.arange(3, dtype=np.float64)}))
    (length,) = struct.unpack("<I", raw[4:8])
    table = json.loads(raw[8:8 + length])["arrays"]
    assert all(row["offset"] % 8 == 0 for row in table)
    assert np.frombuffer(raw, np.float64, 3, table[1]["offset"]).tolist() == [0.0, 1.0, 2.0]


def test_pack_refuses_bad_input_and_unpack_damaged_blobs():
    with pytest.raises(ParameterError, match="int64"):
        binpack.pack({}, {"x": np.arange(3)})
    big = np.arange(3, dtype=">u2")                      # any byte order in, little-endian out
    assert binpack.unpack(binpack.pack({}, {"x": big}))[1]["x"].tolist() == [0, 1, 2]
    blob = binpack.pack({}, {"x": np.arange(100, dtype=np.uint32)})
    with pytest.raises(DataError):
        binpack.unpack(blob[:-10])
    with pytest.raises(DataError, match="magic"):
        import zlib
        binpack.unpack(zlib.compress(b"NOPE" + bytes(20)))


def test_nibbles_round_trip_and_range():
    v = np.array([0, 15, 7, 3, 10])
    packed_v = binpack.nibbles(v)
    assert packed_v.tolist() == [0 | 15 << 4, 7 | 3 << 4, 10]
    assert binpack.unnibble(packed_v, 5).tolist() == v.tolist()
    with pytest.raises(ParameterError):
        binpack.nibbles([16])


# --- the Finding 1 pack against the released data --------------------------------------

@pytest.fixture(scope="module")
def f1():
    return binpack.unpack(packed())


@pytest.mark.parametrize("case_id", ["lima_author_144", "user_oriented_task_93",
                                     "mtbench_stem_144"])
def test_finding1_pack_holds_the_released_cases(f1, case_id):
    from paperlib.book.plots import instruction_rows, token_labels
    from paperlib.measures.align import sentence_token_spans
    from paperlib.paper.data import load_case, load_ratings

    meta, A = f1
    c = meta["ids"].index(case_id)
    r0, r1 = A["row_start"][c], A["row_start"][c + 1]
    K = meta["map_columns"]
    vic = load_case("vicuna", case_id)
    assert [meta["labels"][i] for i in A["prompt_label"][r0:r1]] == token_labels(vic.prompt_tokens)
    assert A["mask"][r0:r1].astype(bool).tolist() == instruction_rows(vic).tolist()
    spans = list(zip(A["span_a"][A["span_start"][c]:A["span_start"][c + 1]].tolist(),
                     A["span_b"][A["span_start"][c]:A["span_start"][c + 1]].tolist()))
    assert spans == sentence_token_spans(vic.prompt_tokens)
    rating = load_ratings().query("model == 'vicuna' and id == @case_id").rating.iloc[0]
    assert A["rating"][c] == rating
    for m in ("llama", "vicuna"):
        case = load_case(m, case_id)
        S = case.S.astype(int)
        assert A[f"{m}_m"][c] == S.shape[1]
        lo, hi = A[f"{m}_hist_lo"][:, r0:r1], A[f"{m}_hist_hi"][:, r0:r1]
        hist = lo.astype(int) + 256 * hi.astype(int)
        for v in range(1, 11):
            assert hist[v - 1].tolist() == (S == v).sum(axis=1).tolist()
        start, end = A[f"{m}_map_start"][c], A[f"{m}_map_start"][c + 1]
        cells = binpack.unnibble(A[f"{m}_map"], end)[start:end]
        assert cells.reshape(S.shape[0], -1).tolist() == S[:, :K].tolist()
        labels = A[f"{m}_resp_label"][A[f"{m}_resp_start"][c]:A[f"{m}_resp_start"][c + 1]]
        assert [meta["labels"][i] for i in labels] == token_labels(case.response_tokens[:K])


def test_finding1_pack_is_compact_and_carries_the_paper_numbers(f1):
    from paperlib.paper import finding1

    meta, A = f1
    assert len(packed()) < 3_000_000                      # ~2.5 MB for 632 cases x 2 models
    assert len(meta["ids"]) == 632 and meta["paper"]["table1"] == finding1.PAPER_TABLE1
    assert (meta["paper"]["b"], meta["paper"]["p"]) == (7, 4)
    assert meta["map_columns"] == 120 and meta["min_response"] == 5


# --- Finding 2 / 3 packs ------------------------------------------------------------------

W, P, E, G, Y, T, X = (("write", "a"), ("write", "b"), ("explain", "a"), ("go", "see"),
                       ("you", "me"), ("write", "c"), ("explain", "b"))


def hand_att():
    return {"pt": {0: FakePairs({0: [W], 1: [P, E], 2: [G]}), 3: FakePairs({0: [Y], 1: [], 2: []})},
            "ft": {0: FakePairs({0: [W, T], 1: [E, X], 2: []}),
                   3: FakePairs({0: [Y], 1: [], 2: [G]})}}


def test_pairs_pack_keeps_every_head_in_order():
    meta, A = pairs_arrays(hand_att())
    assert meta["layers"] == [0, 3] and meta["heads"] == 3
    att = hand_att()
    for n in ("pt", "ft"):
        for li, layer in enumerate(meta["layers"]):
            for h in range(3):
                i = li * 3 + h
                s, e = A[f"{n}_start"][i], A[f"{n}_start"][i + 1]
                got = [(meta["words"][q], meta["words"][k])
                       for q, k in zip(A[f"{n}_q"][s:e], A[f"{n}_k"][s:e])]
                assert got == att[n][layer].head_pairs(h)


def test_pairs_pack_refuses_mismatched_models():
    att = hand_att()
    del att["ft"][3]
    with pytest.raises(ParameterError, match="layers differ"):
        pairs_arrays(att)
    with pytest.raises(ParameterError, match="missing"):
        pairs_arrays({"pt": {}})
    with pytest.raises(ParameterError, match="layer 7"):
        PairBrowser(hand_att(), layer=7)


def make_concepts(lists, layer):
    from paperlib.explainers.ffn_concepts import FFNConcepts

    vocab = sorted({w for l in lists for w in l})
    idx = torch.tensor([[vocab.index(w) for w in l] for l in lists])
    return FFNConcepts(tuple(vocab), torch.eye(4)[:len(lists)],
                       torch.tensor([.4, .3, .2, .1], dtype=torch.float64), idx,
                       torch.ones(idx.shape), layer)


@pytest.fixture()
def concepts_ann():
    from paperlib.annotate.base import CANNOT_TELL, Annotation
    from paperlib.paper import finding3

    class Rules:
        name, deterministic = "rules", True

        def annotate(self, words, seed=0):
            if words[0] == "code":
                return Annotation("programming", True, {"coding", "math"}, "semantic",
                                  {"concept": "rule code", "level:semantic": "lexicon",
                                   "task:coding": "code words"}, seed, self.name)
            return Annotation(CANNOT_TELL, False, frozenset(), None, {"concept": "no rule"}, seed,
                              self.name)

        def annotate_many(self, lists, seeds, progress=False):
            return [[self.annotate(w, s) for s in seeds] for w in lists]

    concepts = {"pt": {2: make_concepts([["code", "a"], ["zzz", "b"]], 2)},
                "ft": {2: make_concepts([["zzz", "c"], ["code", "d"]], 2)}}
    return concepts, finding3.annotate_concepts(concepts, Rules(), [0, 1])


def test_concepts_pack_holds_variance_words_labels_and_rules(concepts_ann):
    concepts, ann = concepts_ann
    meta, A = concepts_arrays(concepts, ann)
    assert meta["layers"] == [2] and meta["K"] == 2 and meta["seed"] == 0
    assert A["pt_var"].tolist() == pytest.approx([.4, .3])
    assert A["pt_cum"].tolist() == pytest.approx([.4, .7])
    words = [meta["words"][i] for i in A["pt_words"]]
    assert words == ["code", "a", "zzz", "b"]
    assert meta["text"][A["pt_concept"][0]] == "programming"
    assert A["pt_describable"].tolist() == [1, 0]
    tasks = [t for k, t in enumerate(meta["tasks"]) if A["pt_tasks"][0] & (1 << k)]
    assert sorted(tasks) == ["coding", "math"] and meta["levels"][A["pt_level"][0]] == "semantic"
    assert A["pt_level"][1] == -1
    assert meta["text"][A["pt_rule"][0]] == "rule code"
    assert meta["text"][A["pt_rule_tasks"][0]] == "coding: code words"
    assert meta["text"][A["ft_concept"][1]] == "programming"


def test_concept_browser_checks_its_input(concepts_ann):
    concepts, ann = concepts_ann
    with pytest.raises(ParameterError, match="annotation table"):
        ConceptBrowser(concepts, ann.iloc[0:0])
    with pytest.raises(ParameterError, match="layer 5"):
        ConceptBrowser(concepts, ann, layer=5)
    box = ConceptBrowser(concepts, ann, top=10)
    assert box.layer == 2 and box.top == 10 and box._esm == esm_source("concepts")


# --- widget classes --------------------------------------------------------------------------

def test_bundles_are_single_modules_without_relative_imports():
    for name in BUNDLES:
        text = esm_source(name)
        assert not re.search(r"^\s*import\b", text, re.MULTILINE)
        assert text.count("export default") == 1
        assert "http://" not in text and "https://" not in text   # nothing fetched


def test_finding1_explorer_traits_and_validation():
    w = Finding1Explorer(case_id="lima_author_144", b=5, p="inf", columns=120)
    assert (w.case_id, w.b, w.p, w.columns) == ("lima_author_144", 5, "inf", 120)
    assert w.data == packed() and w.sections == ["maps", "tables", "profile", "grid"]
    w.p = 8.0
    assert w.p == "8"
    with pytest.raises(ParameterError):
        w.b = 11
    with pytest.raises(ParameterError, match="norms"):
        Finding1Explorer(p=3)
    with pytest.raises(ParameterError, match="sections"):
        Finding1Explorer(sections=("maps", "pictures"))
    with pytest.raises(UnknownCaseError, match="lima_author_144"):
        Finding1Explorer(case_id="lima_author_1444")
    with pytest.raises(ParameterError, match="columns"):
        Finding1Explorer(columns=121)


def test_case_explorer_is_the_maps_section():
    w = widgets.case_explorer("user_oriented_task_1", b=3, max_response_tokens=None)
    assert w.sections == ["maps"] and w.columns == 120 and w.b == 3
    assert widgets.case_explorer(max_response_tokens=40).columns == 40


def test_display_is_a_plain_widget_view_and_the_book_maps_anywidget():
    """A widget displays as any ipywidget (no page-specific HTML before it); the book's
    widget-support.js, loaded before RequireJS on every page with widgets, tells
    RequireJS where the vendored AMD build of anywidget is (vendor/anywidget/index.js,
    written by tools/vendor_assets.sh)."""
    from IPython.core.formatters import DisplayFormatter

    w = PairBrowser(hand_att(), head=2)
    data, _ = DisplayFormatter().format(w)
    assert data["application/vnd.jupyter.widget-view+json"]["model_id"] == w.model_id
    assert "text/html" not in data and not hasattr(PairBrowser, "_ipython_display_")
    support = (ROOT / "book" / "_static" / "widget-support.js").read_text()
    assert re.search(r'"anywidget": anywidget', support)
    assert 'new URL("vendor/anywidget/index", here)' in support
    assert '"$stage/anywidget"' in (ROOT / "tools" / "vendor_assets.sh").read_text()
    config = (ROOT / "_config.yml").read_text()
    assert config.index('"widget-support.js"') < config.index('"vendor/requirejs/require.js"')


def test_vendor_pin_is_the_installed_anywidget_front_end():
    """tools/vendor_assets.sh copies anywidget's AMD build from the venv; its pin must
    match the installed package (pyproject pins the same version)."""
    import anywidget
    from importlib.metadata import version

    script = (ROOT / "tools" / "vendor_assets.sh").read_text()
    name, pinned_version, integrity = re.search(r'PIN_ANYWIDGET="([^"]+)"', script).group(1).split()
    front = Path(anywidget.__file__).parent / "nbextension" / "index.js"
    digest = "sha512-" + base64.b64encode(hashlib.sha512(front.read_bytes()).digest()).decode()
    assert (name, pinned_version, integrity) == ("anywidget", version("anywidget"), digest)
    assert f'"anywidget=={pinned_version}"' in (ROOT / "pyproject.toml").read_text()


# --- the chapter --------------------------------------------------------------------------

def test_chapter_source_is_clean():
    check_source(CHAPTER, ["case_id", "b", "p", "columns"])


@pytest.mark.notebook
def test_chapter_embeds_the_explorer_state(tmp_path):
    nb = run_notebook(CHAPTER, tmp_path, b=5, p="inf")
    state = nb["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    models = [m for m in state.values() if m["model_name"] == "AnyModel"]
    assert len(models) == 1
    m = models[0]
    assert m["model_module"] == "anywidget" and m["state"]["_esm"] == esm_source("finding1")
    got = (m["state"]["b"], m["state"]["p"], m["state"]["case_id"])
    assert got == (5, "inf", "lima_author_144")
    data = next(b for b in m["buffers"] if b["path"] == ["data"])
    assert base64.b64decode(data["data"]) == packed()
    assert output_text(nb, "explorer", mimes=("text/html",), streams=False) == ""
