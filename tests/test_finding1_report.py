"""Finding 1 tables, sentences and verdicts (paperlib.book.finding1_report, fig6_report) on the
frozen paper data and on hand-made cases."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from paperlib.book import fig6_report as f6r
from paperlib.book import finding1_report as f1r
from paperlib.book import figures
from paperlib.paper import finding1, verdicts

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def t1():
    return finding1.table1(n_boot=200)


@pytest.fixture(scope="module")
def t2():
    return finding1.table2(n_boot=200)


def test_compact_table_paper_ours_delta_and_p(t1):
    table = f1r.compact_table(t1, "table1")
    assert list(table.columns) == ["data set", "mean of", "paper", "ours", "Δ", "p paper", "p ours"]
    assert len(table) == 6 and list(table["mean of"][:2]) == ["followed", "unfollowed"]
    first = table.iloc[0]
    assert first["paper"] == "1.2283" == first["ours"] and first["p paper"] == "0.00014"
    assert table.iloc[1]["data set"] == "" and table.iloc[1]["p ours"] == ""   # p once per data set
    html = figures.table_html(table, "Table D1", "cap")
    header = re.findall(r"<th[^>]*>([^<]*)</th>", html)
    assert header[0] == "data set" and "" not in header                     # no index column


def test_secondary_table_holds_ci_effect_size_and_n(t2):
    sec = f1r.secondary_table(t2, "table2")
    assert list(sec.columns)[:4] == ["data set", "difference", "95% CI", "Hedges' g"]
    assert sec.set_index("data set").loc["mt-bench", "n Vicuna"] == "80"
    assert sec.set_index("data set").loc["mt-bench", "95% CI"].startswith("[-0.0")  # CI spans 0


def test_implied_p_from_the_papers_printed_statistics(t1, t2):
    imp1 = f1r.implied_p(t1, "table1").set_index("dataset")
    # hand check, Self-Instruct: Welch from 1.2283 ± 0.52 (n 194) and 0.8917 ± 0.48 (n 44)
    sx, sy = 0.48 * np.sqrt(44 / 43), 0.52 * np.sqrt(194 / 193)
    ref = stats.ttest_ind_from_stats(0.8917, sx, 44, 1.2283, sy, 194, equal_var=False,
                                     alternative="less").pvalue
    assert imp1.loc["self-instruct", "p_implied"] == pytest.approx(ref)
    assert imp1.loc["self-instruct", "p_implied_low"] < ref < imp1.loc["self-instruct", "p_implied_high"]
    assert list(imp1["reading"]) == ["neither"] * 3
    assert all(imp1["p_implied_low"] <= imp1["p_ours"]) and all(imp1["p_ours"] <= imp1["p_implied_high"])
    imp2 = f1r.implied_p(t2, "table2").set_index("dataset")
    assert imp2.loc["mt-bench", "reading"] == "two-sided"
    assert imp2.loc["mt-bench", "p_implied"] == pytest.approx(0.041, abs=0.001)
    assert list(imp2["reading"][:2]) == ["one-sided", "one-sided"]


def test_methods_page_quotes_the_measured_numbers(t1, t2):
    text = (ROOT / "book" / "methods.md").read_text(encoding="utf-8")
    imp1 = f1r.implied_p(t1, "table1")
    printed = " / ".join(f"{p:.1e}".replace("e-0", "e-") for p in imp1["p_implied"])
    assert printed in text                                   # 5.8e-5 / 3.4e-6 / 4.5e-4
    imp2 = f1r.implied_p(t2, "table2").set_index("dataset")
    assert f"{imp2.loc['mt-bench', 'p_implied_two_sided']:.3f}" in text
    assert f"{imp2.loc['mt-bench', 'p_implied']:.3f}" in text


def test_table_verdicts_follow_the_rules(t1, t2):
    assert f1r.table_verdict(t1, "table1").label == verdicts.EXACT
    v2 = f1r.table_verdict(t2, "table2")
    assert v2.label == verdicts.DIRECTION and "mt-bench" in v2.sentence and "0.0382" in v2.sentence
    same = finding1.table2(n_boot=200, models={"tuned": "vicuna", "base": "vicuna"})
    assert f1r.table_verdict(same, "table2").label == verdicts.NO_CHANGE   # a model vs itself
    flipped = finding1.table2(n_boot=200, models={"tuned": "llama", "base": "vicuna"})
    assert f1r.table_verdict(flipped, "table2").label == verdicts.NOT_SEEN


def test_table_sentences_say_what_matched_and_what_did_not(t1, t2):
    s1 = f1r.table_sentence(t1, "table1", f1r.implied_p(t1, "table1"))
    assert "agree to the paper's four printed decimals" in s1
    assert "1/2.5 of the paper's" in s1 and "2.1× the paper's" in s1       # the p-value gaps
    assert "inside that range in 3 of 3" in s1
    s2 = f1r.table_sentence(t2, "table2", f1r.implied_p(t2, "table2"))
    assert "significant here, not in the paper" in s2 and "0.0129" in s2
    assert "two-sided value" in s2 and "for mt-bench it is the two-sided value" in s2
    assert "for self-instruct, lima it is what the stated one-sided test gives" in s2
    assert "for self-instruct, lima, mt-bench it follows from neither test" in s1


def test_effects_summary_names_the_data_sets(t1):
    paper, ours = f1r.effects_summary(t1, "table1")
    assert paper.startswith("SI +0.337 (p 0.00014)") and "MT +0.529" in ours


def test_record_writes_a_claim_and_returns_nothing(tmp_path, monkeypatch, t1):
    monkeypatch.setenv("PAPERLIB_RESULTS", str(tmp_path))
    assert f1r.record("finding1a", f1r.table_verdict(t1, "table1"), claim="c", paper="p",
                      ours="o", page="notebooks/x") is None
    row = json.loads((tmp_path / "claims" / "finding1a.json").read_text())
    assert row["verdict"] == verdicts.EXACT and row["pair"] == f1r.PAIR_PAPER



def test_p_gap_note_is_the_largest_ratio_and_reaches_the_record(tmp_path, monkeypatch, t1):
    spec = f1r._spec("table1")
    ratios = [max(q / spec["paper"][d]["p_value"], spec["paper"][d]["p_value"] / q)
              for d, q in zip(t1["dataset"], t1["p_value"])]
    note = f1r.p_gap_note(t1, "table1")
    assert f"up to {max(ratios):.1f}×" in note and max(ratios) > 2  # the paper printed other p-values
    fake = t1.assign(p_value=[spec["paper"][d]["p_value"] for d in t1["dataset"]])
    assert "up to 1.0×" in f1r.p_gap_note(fake, "table1")
    monkeypatch.setenv("PAPERLIB_RESULTS", str(tmp_path))
    f1r.record("finding1a", f1r.table_verdict(t1, "table1"), claim="c", paper="p", ours="o",
               page="notebooks/x", note=note)
    row = json.loads((tmp_path / "claims" / "finding1a.json").read_text())
    assert row["verdict"] == verdicts.EXACT and row["because"].endswith(note)


def test_fig6_sentences_average_to_fig6():
    sentences = f6r.fig6_sentences()
    means = sentences.groupby(["dataset", "model", "segment"])["share"].mean()
    f6 = finding1.fig6().set_index(["dataset", "model", "segment"])["share"]
    np.testing.assert_allclose(means.loc[f6.index].to_numpy(), f6.to_numpy(), atol=1e-12)
    counts = sentences.groupby(["dataset", "model"])["sentence"].nunique()
    assert counts.to_dict() == finding1.fig6().groupby(["dataset", "model"])["n_sentences"].first().to_dict()


def _depths(base_shift: float, same: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for ds in ("self-instruct", "lima", "mt-bench"):
        tuned = rng.normal(0.05, 0.02, 200)
        base = tuned if same else tuned + base_shift + rng.normal(0, 0.001, 200)
        rows += [dict(dataset=ds, model="llama", sentence=i, depth=d) for i, d in enumerate(base)]
        rows += [dict(dataset=ds, model="vicuna", sentence=i, depth=d) for i, d in enumerate(tuned)]
    return pd.DataFrame(rows)


def test_u_depth_hand_worked():
    rows = [dict(dataset="lima", model="llama", sentence=0, segment=k, share=s)
            for k, s in zip((1, 2, 3, 4), (0.4, 0.1, 0.1, 0.4))]
    assert f6r.u_depth(pd.DataFrame(rows))["depth"].tolist() == pytest.approx([0.3])


def test_fig6_verdict_rules():
    v, parts = f6r.fig6_verdict(_depths(0.03))
    assert v.label == verdicts.DIRECTION and len(parts) == 9
    v, _ = f6r.fig6_verdict(_depths(-0.03))
    assert v.label == verdicts.PARTIAL               # U holds, "deeper before tuning" does not
    v, _ = f6r.fig6_verdict(_depths(0.0, same=True))
    assert v.label == verdicts.NO_CHANGE             # a model compared with itself
    summary = f6r.fig6_summary(f6r.fig6_verdict(_depths(0.03))[1])
    assert summary == ("U in 6 of 6 model × data-set cells; LLaMA's U deeper and significant in "
                       "3 of 3 data sets")


def test_fig6_table_has_no_index_and_four_decimals():
    table = f6r.fig6_table(finding1.fig6())
    assert list(table.columns) == ["data set", "model", "sentences", "segment 1", "segment 2",
                                   "segment 3", "segment 4"]
    assert all(re.fullmatch(r"0\.\d{4}", x) for x in table["segment 1"])
