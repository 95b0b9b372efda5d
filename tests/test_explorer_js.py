"""The explorer front-ends' arithmetic, run in node on the shipped bundles
(paperlib.book.explorer.esm_source), against scipy and paperlib.

Welch's one-sided p (incomplete beta in JS) against scipy; Tables 1-2, Fig 6,
the instruction scores and the sensitivity grid against paperlib.paper.finding1
at two (b, p) settings (the browser check covers four, in Chromium); the
chapter's narrative statements; the Finding 2 changed share and the Finding 3
decoding. Skipped without node."""
from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps

from paperlib.book.explorer import esm_source
from paperlib.book.explorer.binpack import pack
from paperlib.book.explorer.finding1_data import packed

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
CASES = ("lima_author_144", "user_oriented_task_1", "mtbench_stem_144")


def run_js(tmp_path: Path, bundle: str, driver: str, **inputs):
    """Run ``driver`` (ES module code; ``m`` = the bundle's exports, ``input`` = inputs)."""
    module = tmp_path / f"{bundle}.mjs"
    module.write_text(esm_source(bundle), encoding="utf-8")
    script = tmp_path / f"driver_{bundle}.mjs"
    script.write_text(f'import * as m from "{module.as_uri()}";\n'
                      "const input = JSON.parse(process.argv[2]);\n"
                      "const clean = (k, v) =>\n"
                      "  (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v);\n"
                      f"{driver}\n", encoding="utf-8")
    proc = subprocess.run(["node", str(script), json.dumps(inputs)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def num(x) -> float:
    return float(x) if not isinstance(x, str) else {"NaN": math.nan, "Infinity": math.inf}[x]


def close(a, b, rel) -> bool:
    a, b = num(a), float(b)
    return (math.isnan(a) and math.isnan(b)) or abs(a - b) <= rel * abs(b) + 1e-300


# --- Welch ------------------------------------------------------------------------------------

def test_student_cdf_and_welch_match_scipy(tmp_path):
    rng = np.random.default_rng(1)
    grid = [(-40.0, 3.5), (-12.3, 150.2), (-5.0, 2.1), (-1.0, 1.01), (0.0, 7.0), (0.3, 7.0),
            (3.0, 50.0), (-7.5, 98765.4), (-100.0, 5.0), (2.5, 1.0)]
    samples = []
    for n1, n2, shift in ((5, 7, 0.0), (44, 194, 0.4), (300, 300, 0.3), (19, 60, 1.5), (2, 2, 0.1),
                          (50, 249, 0.0), (80, 80, 3.0)):
        samples.append((rng.normal(0, 1, n1).tolist(), (rng.normal(shift, 2, n2)).tolist()))
    out = run_js(tmp_path, "finding1", """
      const cdf = input.grid.map(([t, df]) => m.studentCdf(t, df));
      const welch = input.samples.map(([x, y]) => [m.welchLess(x, y), m.meanStd(x), m.meanStd(y)]);
      console.log(JSON.stringify({cdf, welch}, clean));""", grid=grid, samples=samples)
    for (t, df), got in zip(grid, out["cdf"]):
        assert close(got, sps.t.cdf(t, df), 1e-9), (t, df)
    for (x, y), (w, mx, my) in zip(samples, out["welch"]):
        ref = sps.ttest_ind(x, y, equal_var=False, alternative="less")
        assert close(w["p"], ref.pvalue, 1e-9) and close(w["t"], ref.statistic, 1e-12)
        assert close(w["df"], ref.df, 1e-12)
        assert close(mx["mean"], np.mean(x), 1e-12) and close(mx["std"], np.std(x), 1e-12)
        assert close(my["std"], np.std(y), 1e-12)


# --- Finding 1 against paperlib -----------------------------------------------------------------

F1_DRIVER = """
  import {readFileSync} from "fs";
  const F = m.prepare(m.unpackRaw(new Uint8Array(await m.inflate(readFileSync(input.blob)))));
  const out = {};
  for (const [b, p] of input.settings) {
    const r = m.compute(F, b, m.parseP(p));
    const cases = {};
    for (const id of input.cases) {
      const c = F.meta.ids.indexOf(id);
      cases[id] = {llama: r.sc.llama[c], vicuna: r.sc.vicuna[c]};
    }
    out[`${b}/${p}`] = {table1: r.table1, table2: r.table2, fig6: r.fig6, cases};
  }
  out.grid = input.grid ? m.grid(F) : null;
  console.log(JSON.stringify(out, clean));
"""


@pytest.fixture(scope="module")
def blob(tmp_path_factory):
    path = tmp_path_factory.mktemp("blob") / "finding1.bin"
    path.write_bytes(packed())
    return path


def _check_table(ours: list, ref, groups: tuple[str, str]) -> None:
    for row, r in zip(ours, ref.to_dict("records")):
        for side, g in zip(("y", "x"), groups):
            assert close(row[side]["mean"], r[f"{g}_mean"], 1e-9), (r["dataset"], g)
            assert close(row[side]["std"], r[f"{g}_std"], 1e-9)
            assert row[side]["n"] == r[f"n_{g}"]
        assert close(row["test"]["p"], r["p_value"], 1e-6), r["dataset"]


@pytest.mark.parametrize("b, p", [(5, "2"), (9, "inf")])
def test_finding1_in_node_equals_paperlib(tmp_path, blob, b, p):
    from paperlib.paper import finding1

    pf = math.inf if p == "inf" else float(p)
    out = run_js(tmp_path, "finding1", F1_DRIVER, blob=str(blob), settings=[[b, p]],
                 cases=list(CASES))
    got = out[f"{b}/{p}"]
    _check_table(got["table1"], finding1.table1(b, pf, n_boot=100), ("followed", "unfollowed"))
    _check_table(got["table2"], finding1.table2(b, pf, n_boot=100), ("vicuna", "llama"))
    f6 = finding1.fig6(b, pf)
    for row in f6.to_dict("records"):
        i = ["self-instruct", "lima", "mt-bench"].index(row["dataset"])
        mine = got["fig6"][row["model"]][i]
        assert close(mine["share"][row["segment"] - 1], row["share"], 1e-9)
        assert mine["n"] == row["n_sentences"]
    for m in ("llama", "vicuna"):
        ref = finding1.scores(m, b, pf).set_index("id")
        for cid in CASES:
            assert close(got["cases"][cid][m], ref.at[cid, "score"], 1e-9), (cid, m)


def test_sensitivity_grid_in_node_equals_paperlib(tmp_path, blob):
    from paperlib.paper import finding1

    out = run_js(tmp_path, "finding1", F1_DRIVER, blob=str(blob), settings=[], cases=[], grid=True)
    ref = finding1.sensitivity([3], [8]).to_dict("records")
    cell = next(c for c in out["grid"] if c["b"] == 3 and c["p"] == 8)
    for r in ref:
        i = ["self-instruct", "lima", "mt-bench"].index(r["dataset"])
        assert close(cell[r["table"]][i]["p"], r["p_value"], 1e-6)
        assert close(cell[r["table"]][i]["separation"], r["separation"], 1e-9)
    assert len(out["grid"]) == 10 * 5


def test_the_chapters_reading_notes_hold(tmp_path, blob):
    """The statements of notebooks/finding1_explorer.md ("Reading the explorer")."""
    settings = [[b, p] for b in range(10) for p in ("1", "2", "4", "8", "inf")]
    out = run_js(tmp_path, "finding1", F1_DRIVER, blob=str(blob), settings=settings,
                 cases=["lima_author_144"])
    for p in ("1", "2", "4", "8", "inf"):
        t1 = out[f"0/{p}"]["table1"]
        assert num(t1[2]["test"]["p"]) > 0.3 and num(t1[1]["test"]["p"]) < 0.05   # MT-Bench, LIMA
    for b in range(10):
        assert all(num(row["test"]["p"]) > 0.25 for row in out[f"{b}/1"]["table2"])
    for b, p in settings:
        r = out[f"{b}/{p}"]
        assert r["cases"]["lima_author_144"]["vicuna"] > r["table1"][1]["y"]["mean"]


# --- Finding 2 / 3 browsers -----------------------------------------------------------------------

def test_changed_share_in_node_equals_paperlib(tmp_path):
    from paperlib.measures.attention_stats import changed_share

    rng = np.random.default_rng(2)
    words = ["write", "explain", "a", "b", "c", "go"]
    cases = [([], []), ([("a", "b")], []), ([("a", "b")], [("b", "a")])]
    for _ in range(20):
        cases.append(tuple([(str(rng.choice(words)), str(rng.choice(words)))
                            for _ in range(int(rng.integers(0, 8)))] for _ in range(2)))
    out = run_js(tmp_path, "pairs", "console.log(JSON.stringify(input.cases.map(([a, b]) => "
                 "m.changedShare(a, b)), clean));", cases=cases)
    for (a, b), got in zip(cases, out):
        assert close(got, changed_share(a, b), 1e-12)


def test_concept_components_decode_in_node(tmp_path):
    from test_explorer import make_concepts  # noqa: F401  (the hand-made FFNConcepts)
    from paperlib.annotate.base import Annotation
    from paperlib.book.explorer.finding23_data import concepts_arrays
    from paperlib.paper import finding3

    class One:
        name, deterministic = "one", True

        def annotate_many(self, lists, seeds, progress=False):
            return [[Annotation("letters", True, {"writing"}, "morphology",
                                {"concept": f"rule {w[0]}"}, s, self.name) for s in seeds]
                    for w in lists]

    concepts = {n: {0: make_concepts([["x", "y"], ["y", "z"]], 0)} for n in ("pt", "ft")}
    meta, arrays = concepts_arrays(concepts, finding3.annotate_concepts(concepts, One(), [0]))
    path = tmp_path / "c.bin"
    path.write_bytes(pack(meta, arrays))
    out = run_js(tmp_path, "concepts", """
      import {readFileSync} from "fs";
      const raw = await m.inflate(readFileSync(input.blob));
      const C = m.prepareConcepts(m.unpackRaw(new Uint8Array(raw)));
      console.log(JSON.stringify([0, 1].map((r) => m.component(C, "ft", 0, r))));""",
                 blob=str(path))
    assert [x["words"] for x in out] == [["x", "y"], ["y", "z"]]
    assert [x["rule"] for x in out] == ["rule x", "rule y"]
    assert out[1]["cum"] == pytest.approx(0.7) and out[0]["tasks"] == ["writing"]
    assert out[0]["level"] == "morphology" and out[0]["describable"] is True
