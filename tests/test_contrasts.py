"""Three-contrast tables (paperlib.paper.contrasts) where the answer is known: identical
models change nothing, a model differing in one layer changes only that layer's
entries, hand-built annotation tables give hand-computed Table 5 changes."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from paperlib.annotate import CANNOT_TELL, Annotation, Annotator
from paperlib.core.errors import ParameterError
from paperlib.explainers.ffn_concepts import FFNConcepts
from paperlib.paper import contrasts as C
from paperlib.paper import finding2 as f2
from paperlib.paper import finding3 as f3
from paperlib.paper import verdicts as V
from paperlib.paper.finding3_groups import groups_of

torch.set_num_threads(1)
INSTRUCT = ["write", "use", "make", "find", "look"]
GENERAL = ["go", "see", "come", "call", "know", "do", "have", "say"]


@pytest.fixture(scope="module")
def tiny():
    """Attention pairs of a tiny random LLaMA (2 layers, 4 heads), of an identical
    copy, and of a copy whose layer 2 attention weights got noise."""
    from paperlib.explainers.attention_pairs import AttentionPairsExplainer
    from paperlib.models import canonical_view
    from paperlib.models.tiny import _WORDS, tiny_model, tiny_tokenizer
    from paperlib.words.similarity import DictSimilarity

    words = list(dict.fromkeys(_WORDS))[:80]
    g = torch.Generator().manual_seed(0)
    table = DictSimilarity({w: torch.randn(8, generator=g).numpy() for w in words}).table(
        words, reference=words, z=0.0, use_cache=False)
    tok = tiny_tokenizer()
    base = tiny_model("llama", seed=0)
    layer2 = copy.deepcopy(base)
    with torch.no_grad():
        for p in layer2.model.layers[1].self_attn.parameters():
            p.add_(0.5 * p.std() * torch.randn(p.shape, generator=g))

    def run(model):
        return AttentionPairsExplainer(canonical_view(model), tok, words, table, K=12, max_pairs=30)()

    return {"base": run(base), "same": run(copy.deepcopy(base)), "layer2": run(layer2),
            "models": {"base": base, "layer2": layer2}, "tok": tok, "words": words, "table": table}


GROUPS = [("1-1", (0,)), ("2-2", (1,))]


def _att(tiny, pt, ft, cpt, ft2):
    return {"pt": tiny[pt], "ft": tiny[ft], "cpt": tiny[cpt], "ft2": tiny[ft2]}


def test_contrasts_and_roles():
    assert C.contrasts_for(["pt", "ft"]) == [C.TUNING]
    assert C.contrasts_for(["pt", "ft", "cpt", "ft2"]) == list(C.CONTRASTS)
    assert C.contrasts_for(["pt", "ft", "ft2"]) == [C.TUNING, C.RESEED]
    with pytest.raises(ParameterError):
        C.contrasts_for(["pt", "cpt"])
    with pytest.raises(ParameterError):
        C.contrasts_for(["pt", "ft", "other"])
    assert C.as_pair({"ft": 1, "ft2": 2}, C.RESEED) == {"pt": 1, "ft": 2}


def test_resolve_controls(tmp_path, monkeypatch):
    monkeypatch.setenv("PAPERLIB_MODELS", str(tmp_path))
    assert C.resolve_controls("organism") == {"cpt": None, "ft2": None}  # not built
    (tmp_path / "organism" / "cpt").mkdir(parents=True)
    assert C.resolve_controls("organism")["cpt"] == str(tmp_path / "organism" / "cpt")
    assert C.resolve_controls("/some/base") == {"cpt": None, "ft2": None}  # auto: organism only
    assert C.resolve_controls("x", "/a", None) == {"cpt": "/a", "ft2": None}
    with pytest.raises(ParameterError):
        C.resolve_controls("x", "", None)
    models, note = C.load_controls({"cpt": None, "ft2": None})
    assert models == {} and note == C.NO_CONTROL_NOTE
    (tmp_path / "organism" / "cpt").rmdir()
    models, note = C.controls_of("organism")
    assert models == {} and "make organism-controls" in note and "second seed" in note
    assert "random stand-in" in C.controls_of("organism", fallback=True)[1]


def test_bootstrap_p_known_cases():
    x = np.array([1.0, 2.0, 3.0])
    m, p = C.bootstrap_p(lambda i: x[i[0]].mean(), [3], n_boot=99)
    assert m == 2.0 and p == pytest.approx(1 / 100)  # every resample positive
    m, p = C.bootstrap_p(lambda i: -x[i[0]].mean(), [3], n_boot=99)
    assert p == 1.0
    assert np.isnan(C.bootstrap_p(lambda i: 1.0, [0])[1])
    with pytest.raises(ParameterError):
        C.bootstrap_p(lambda i: 1.0, [3], n_boot=0)
    with pytest.raises(ParameterError):
        f3.table5_parts(None, alpha=2.0)
    z = np.array([-1.0, 1.0])
    _, p = C.bootstrap_p(lambda i: z[i[0]].mean(), [2], n_boot=999)
    assert 0.6 < p < 0.9  # margin 0: about 3/4 of resamples are <= 0


def test_identical_models_change_nothing(tiny):
    att = _att(tiny, "base", "same", "same", "same")
    units = C.unit_changes(att, C.CONTRASTS)
    assert set(units.contrast) == {"tuning", "cpt", "reseed"} and len(units) == 3 * 2 * 4
    assert (units[C.measures_of(units)].to_numpy() == 0).all()
    fig2c = C.fig2_contrasts(units, GROUPS)
    assert (fig2c[["changed", "rbo_change"]].to_numpy() == 0).all()
    measure, saturated = f2.verdict_measure(fig2c)
    assert (measure, saturated) == ("changed", False)
    parts = f2.fig2_parts(units, fig2c, GROUPS, measure, saturated)
    assert [v.label for v in parts] == [V.NO_CHANGE, V.NO_CHANGE]
    t3c, _ = C.table3_contrasts(att, C.CONTRASTS, INSTRUCT, GENERAL, GROUPS, n_boot=50)
    assert (t3c[[f"{c.label}: Δ pp" for c in C.CONTRASTS]].to_numpy() == 0).all()
    assert all(v.label == V.NO_CHANGE for v in f2.table3_parts(t3c, 2))
    assert V.combine(parts + f2.table3_parts(t3c, 2), "Finding 2").label == V.NO_CHANGE


def test_one_layer_changed_moves_only_that_layers_entries(tiny):
    att = _att(tiny, "base", "layer2", "same", "layer2")  # cpt = base, seed 2 = tuned
    units = C.unit_changes(att, C.CONTRASTS)
    tuning = units[units.contrast == "tuning"]
    assert (tuning[tuning.layer == 0][C.measures_of(units)].to_numpy() == 0).all()
    assert (tuning[tuning.layer == 1]["changed"] > 0).all()
    assert (units[units.contrast != "tuning"][C.measures_of(units)].to_numpy() == 0).all()
    tests = C.fig2_tests(units, GROUPS, "rbo_change", n_boot=200)
    assert tests["margin vs cpt"].iloc[0] == 0 and tests["p vs cpt"].iloc[0] == 1.0
    assert tests["margin vs cpt"].iloc[1] > 0 and tests["p vs cpt"].iloc[1] < 0.05
    assert tests["p vs reseed"].iloc[1] < 0.05  # seed 2 = tuned: the floor is zero
    # Table 3 (paired by verb): nothing changes in layer 1, so every contrast has 0 there
    t3c, shares = C.table3_contrasts(att, C.CONTRASTS, INSTRUCT, GENERAL, GROUPS, n_boot=50)
    assert (t3c.loc[0, [f"{c.label}: Δ pp" for c in C.CONTRASTS]] == 0).all()
    assert np.isnan(shares["tuning"][0][:, 0]).all() and np.isnan(shares["cpt"][1]).all()


def test_verb_shares_match_the_single_pair_table3(tiny):
    att = {"pt": tiny["base"], "ft": tiny["layer2"]}
    t3 = f2.table3(att, INSTRUCT, GENERAL, 2, 1)
    t3c, _ = C.table3_contrasts({"pt": tiny["base"], "ft": tiny["layer2"]}, [C.TUNING],
                                INSTRUCT, GENERAL, GROUPS, n_boot=10)
    diff = (t3["instruct_mean"] - t3["general_mean"]).to_numpy()
    ours = t3c[f"{C.TUNING.label}: Δ pp"].to_numpy()
    ok = np.isfinite(diff)
    assert np.allclose(diff[ok], ours[ok])
    assert np.allclose(t3["p_value"].to_numpy()[ok], t3c[f"{C.TUNING.label}: p"].to_numpy()[ok],
                       equal_nan=True)


def test_attention_of_models_reuses_given_tables(tiny, monkeypatch):
    import paperlib.words.vocab as vocab

    index = vocab.resolve_word_index(tiny["tok"], tiny["words"])
    monkeypatch.setattr(vocab, "word_index", lambda tok, n: index)
    out = f2.attention_of_models({"cpt": (tiny["models"]["layer2"], tiny["tok"])}, [1], K=12,
                                 max_pairs=30, vocab_size=None, similarity=None,
                                 tables={index.words: tiny["table"]})
    assert list(out) == ["cpt"] and list(out["cpt"]) == [1]
    assert out["cpt"][1].head_pairs(0) == tiny["layer2"][1].head_pairs(0)


# ---- Table 5 ----------------------------------------------------------------------------

class FirstWord(Annotator):
    """"w" -> writing / semantic; "m" -> math / syntax; anything else: Cannot Tell."""

    name = "firstword"

    def annotate(self, words, seed=0):
        tag = {"w": ({"writing"}, "semantic"), "m": ({"math"}, "syntax")}.get(words[0])
        if tag is None:
            return Annotation(CANNOT_TELL, False, frozenset(), None, {}, seed, self.name)
        return Annotation(words[0], True, tag[0], tag[1], {}, seed, self.name)


def _concepts(lists_by_layer):
    out = {}
    for layer, lists in lists_by_layer.items():
        vocab = sorted({w for l in lists for w in l})
        idx = torch.tensor([[vocab.index(w) for w in l] for l in lists])
        R = len(lists)
        out[layer] = FFNConcepts(tuple(vocab), torch.eye(R), torch.full((R,), 1.0 / R, dtype=torch.float64),
                                 idx, torch.ones(idx.shape), layer)
    return out


def _lists(n_writing, n_math, n=10, tag=""):
    return ([["w", f"a{i}{tag}"] for i in range(n_writing)] + [["m", f"b{i}{tag}"] for i in range(n_math)]
            + [["m", f"c{i}{tag}"] for i in range(n - n_writing - n_math)])


def _ann(spec):
    """spec: {role: {layer: lists}} -> annotation table with roles as models."""
    return f3.annotate_concepts({r: _concepts(v) for r, v in spec.items()}, FirstWord(), [0])


def test_table5_identical_models_no_change():
    same = {0: _lists(3, 2), 1: _lists(1, 1)}
    ann = _ann({"pt": same, "ft": same, "cpt": same, "ft2": same})
    t5c = C.table5_contrasts(ann, C.CONTRASTS, n_boot=50)
    assert (t5c[[f"{c.label}: Δ pp" for c in C.CONTRASTS]].to_numpy() == 0).all()
    assert [v.label for v in f3.table5_parts(t5c)] == [V.NO_CHANGE] * (3 + 4)  # tasks, then levels
    lists = C.concept_list_change(ann, C.CONTRASTS)
    assert (lists["changed"] == 0).all() and len(lists) == 3 * 2


def test_table5_hand_counts_and_controls():
    pt = {0: _lists(6, 24, n=30)}                     # writing 20%
    ft = {0: _lists(24, 6, n=30, tag="t")}            # writing 80%: +60 pp
    cpt_flat, cpt_same = {0: _lists(6, 24, n=30, tag="c")}, {0: _lists(24, 6, n=30, tag="c")}
    t5c = C.table5_contrasts(_ann({"pt": pt, "ft": ft, "cpt": cpt_flat, "ft2": ft}), C.CONTRASTS, n_boot=400)
    w = t5c.set_index("item").loc["writing"]
    assert w["base %"] == 20 and w["tuned %"] == 80 and w["continued pre-training %"] == 20
    assert w[f"{C.TUNING.label}: Δ pp"] == 60 and w[f"{C.CPT.label}: Δ pp"] == 0
    assert w["margin vs cpt"] == pytest.approx(60) and w["p vs cpt"] < 0.01
    assert w["margin vs reseed"] == pytest.approx(60) and w["p vs reseed"] < 0.01
    writing = f3.table5_parts(t5c)[0]
    assert writing.label == V.DIRECTION and V.SPECIFIC in writing.sentence
    # the same change also after continued pre-training: not specific to instruction tuning
    t5c = C.table5_contrasts(_ann({"pt": pt, "ft": ft, "cpt": cpt_same, "ft2": ft}), C.CONTRASTS, n_boot=400)
    assert t5c.set_index("item").loc["writing", "p vs cpt"] > 0.4
    assert f3.table5_parts(t5c)[0].label == V.NOT_SEEN
    # two models only: the paper's single contrast, and the verdict says no control was given
    t5c = C.table5_contrasts(_ann({"pt": pt, "ft": ft}), [C.TUNING], n_boot=10)
    assert "margin vs cpt" not in t5c and "no control was given" in f3.table5_parts(t5c)[0].sentence


def test_concept_lists_change_only_in_the_changed_layer():
    base = {0: _lists(3, 2), 1: _lists(1, 1)}
    tuned = {0: _lists(3, 2), 1: _lists(1, 1, tag="x")}
    lists = C.concept_list_change(_ann({"pt": base, "ft": tuned}), [C.TUNING])
    assert lists["exact_changed"].tolist() == [0.0, 1.0] and lists["layer"].tolist() == [1, 2]
    # graded: each of layer 2's lists keeps one of its two words ("w"/"m") -> best overlap 1/3
    assert lists["changed"].tolist() == pytest.approx([0.0, 2 / 3])


def test_table5_levels_that_move_go_against_the_paper():
    """The paper's levels stay; a level share that moves significantly is 'not seen'."""
    import pandas as pd

    t5c = pd.DataFrame([
        {"category": "scenario", "item": t, f"{C.TUNING.label}: Δ pp": 0.0, "tuning: two-proportion p": 1.0}
        for t in ("writing", "coding", "math")] + [
        {"category": "level", "item": "semantic", f"{C.TUNING.label}: Δ pp": 18.1, "tuning: two-proportion p": 0.002},
        {"category": "level", "item": "syntax", f"{C.TUNING.label}: Δ pp": -2.0, "tuning: two-proportion p": 0.5}])
    levels = f3.level_parts(t5c)
    assert [v.label for v in levels] == [V.NOT_SEEN, V.DIRECTION]
    assert "semantic" in levels[0].sentence and "+0.04 pp" in levels[0].sentence  # the paper's 74.70 - 74.66


def test_table5_verdict_needs_the_task_half():
    """Levels that merely show no significant change cannot carry Finding 3 alone."""
    D, N, Z = (V.Verdict(V.DIRECTION, "d"), V.Verdict(V.NOT_SEEN, "n"), V.Verdict(V.NO_CHANGE, "z"))
    assert f3.table5_verdict([N, N, N, D, N, D, N]).label == V.NOT_SEEN      # the organism's pattern
    assert f3.table5_verdict([D, N, D, D, D, D, D]).label == V.PARTIAL
    assert f3.table5_verdict([D, D, D, D, D, D, D]).label == V.DIRECTION
    assert f3.table5_verdict([N, N, N, D, D, D, D]).label == V.PARTIAL       # levels stay, no task shift
    assert f3.table5_verdict([Z] * 7).label == V.NO_CHANGE                   # a model with itself
