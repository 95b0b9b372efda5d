"""Finding 1 on a live pair with automatic labels (paperlib.paper.organism_cases,
organism_attribution, finding1_live) and the search-corrected Tables 1-2
(paperlib.paper.finding1_search)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from paperlib.core.caseset import read_case_set
from paperlib.core.errors import DataError, ParameterError
from paperlib.measures.density import normalise
from paperlib.models.tiny import tiny_model, tiny_tokenizer
from paperlib.paper import finding1, finding1_live, finding1_search, organism_attribution
from paperlib.paper import organism_cases as oc
from paperlib.paper import verdicts

ROOT = Path(__file__).resolve().parent.parent
HELDOUT = ROOT / "data" / "organism" / "heldout_test.jsonl"
FT = ROOT / "models" / "organism" / "ft"
TINY_TEMPLATE = {"template": "the {instruction} :", "instruction_field": "instruction",
                 "input_field": "item", "response_cut": r"\n\s*\n|###"}


# --------------------------------------------------------------------------- labels


def test_shipped_template_is_the_organisms_prompt_format():
    from organism.data import PROMPT_TEMPLATE, format_prompt
    from organism.evaluate import clean_response

    spec = oc.read_template(FT)
    assert spec["template"] == PROMPT_TEMPLATE
    row = {"instruction": "  Spell the word \"torch\". ", "item": "torch"}
    assert oc._spans(spec, row)[0] == format_prompt(row["instruction"])
    for text in ("t-o-r-c-h\n\nmore", "abc ### x", "  one\n \n two", "plain"):
        assert oc.cut_response(text, spec) == clean_response(text)


def test_answer_labels_agree_with_the_organism_evaluation():
    """Every held-out pair of a supported metric: its reference answer, another pair's
    answer and a few distortions are labelled exactly as organism.evaluate.score does."""
    from organism.evaluate import score

    rows = oc.load_heldout(HELDOUT, tasks=("number_to_words", "spell", "write_function", "use",
                                           "arithmetic", "plural", "evaluate_expression"))
    assert len(rows) == 7 * 60
    checked = 0
    for i, row in enumerate(rows):
        other = rows[(i + 61) % len(rows)]["response"]
        for response in (row["response"], other, row["response"].upper() + ".",
                         "The " + row["response"], f"{row['item']} is used in this sentence.",
                         ""):
            assert oc.answer_correct(row, response) == score(row, response), (row, response)
            checked += 1
    assert checked == 6 * len(rows)
    assert all(oc.answer_correct(r, r["response"]) for r in rows)


def test_load_heldout_selects_tasks_in_file_order(tmp_path):
    rows = oc.load_heldout(HELDOUT, tasks=("spell", "use"), per_task=3)
    assert [r["id"] for r in rows if r["task"] == "spell"] == ["spell_0", "spell_1", "spell_2"]
    assert len(rows) == 6
    with pytest.raises(ParameterError, match="do not occur"):
        oc.load_heldout(HELDOUT, tasks=("speling",))
    with pytest.raises(ParameterError, match="keyword"):
        oc.load_heldout(HELDOUT, tasks=("define",))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"task": "spell"}\n', encoding="utf-8")
    with pytest.raises(DataError, match="missing fields"):
        oc.load_heldout(bad, tasks=("spell",))
    with pytest.raises(DataError, match="does not exist"):
        oc.load_heldout(tmp_path / "none.jsonl")


def test_read_template_errors(tmp_path):
    with pytest.raises(DataError, match="prompt_template.json"):
        oc.read_template(tmp_path)
    (tmp_path / "prompt_template.json").write_text('{"template": "no field"}')
    with pytest.raises(DataError, match="needs keys"):
        oc.read_template(tmp_path)


def test_mark_prompt_roles_on_the_shipped_tokenizer():
    import transformers

    tok = transformers.AutoTokenizer.from_pretrained(FT)
    row = {"id": "spell_x", "instruction": "Spell the word \"turkey\".", "item": "turkey"}
    mp = oc.mark_prompt(tok, oc.read_template(FT), row)
    pieces = tok.convert_ids_to_tokens(mp.ids[mp.n_prefix:])
    assert mp.n_prefix == 1 and len(mp.roles) == len(pieces)
    roles = dict(zip(pieces, mp.roles))
    assert roles["Sp"] == roles["ell"] == roles["▁the"] == roles["▁word"] == "i"
    assert roles["ur"] == roles["key"] == "x"  # the item's pieces
    assert roles["▁Inst"] == roles["▁Res"] == "t"  # the template's scaffold
    assert mp.roles.count("x") == 3  # '▁"t', 'ur', 'key'


def test_greedy_responses_are_generate_batch_cut_before_eos():
    """The held-out prompts on the shipped tuned model, batches of 3 (left padding): each
    response is what one-by-one greedy generation gives for that prompt, without EOS."""
    from paperlib.models import load_model, resolve_alias
    from paperlib.models.generation import generate

    model, tok = load_model(resolve_alias("organism", "ft"))
    template = oc.read_template(FT)
    rows = oc.load_heldout(HELDOUT, ("spell", "number_to_words"), per_task=3)
    texts = [oc.mark_prompt(tok, template, r).text for r in rows]
    got = oc._generate(model, tok, texts, 24, batch_size=3)
    want = [generate(model, tok, t, 24).response_ids for t in texts]
    assert got == want and len(got) == 6
    assert all(r and tok.eos_token_id not in r for r in got)


def test_mark_prompt_roles_on_a_word_tokenizer():
    tok = tiny_tokenizer()
    row = {"id": "a", "instruction": "write the word water , the water", "item": "water"}
    mp = oc.mark_prompt(tok, TINY_TEMPLATE, row)
    # "the" (template) | write the word (instr) water (item) , the (instr) water (item) | :
    assert mp.roles == "tiiixiixt"
    with pytest.raises(DataError, match="no instruction token"):
        oc.mark_prompt(tok, TINY_TEMPLATE, {"id": "b", "instruction": "water", "item": "water"})


# --------------------------------------------------------------------------- tiny pair


def _tiny_rows(n: int = 8) -> list[dict]:
    words = ["water", "day", "number", "people", "time", "long", "side", "call"]
    return [{"id": f"spell_{k}", "task": "spell", "instruction": f"write the word {w}",
             "item": w, "response": "-".join(w), "metric": "exact"}
            for k, w in enumerate(words[:n])]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """Case sets of a tiny random pair on 8 prompts, then labels made balanced by hand
    (random weights answer nothing correctly)."""
    folder = tmp_path_factory.mktemp("live")
    tok = tiny_tokenizer()
    models = {"ft": (tiny_model("llama", seed=1), tok), "pt": (tiny_model("llama", seed=2), tok)}
    cases = organism_attribution.build_cases(models, _tiny_rows(), TINY_TEMPLATE,
                                             max_new_tokens=6, ig_ids={"spell_0", "spell_1"},
                                             ig_steps=8, progress=False)
    organism_attribution.write_case_sets(cases, folder)
    labels = json.loads((folder / "labels_ft.json").read_text())
    for k, lab in enumerate(labels["cases"].values()):
        lab["correct"] = bool(k % 2)
    (folder / "labels_ft.json").write_text(json.dumps(labels))
    return cases, folder


def test_case_sets_are_in_the_released_schema(tiny_run):
    cases, folder = tiny_run
    for model in ("ft", "pt"):
        grad = read_case_set(folder / f"cases_{model}_grad.npz")
        ig = read_case_set(folder / f"cases_{model}_ig.npz")
        assert grad.ids == [f"spell_{k}" for k in range(8)] and ig.ids == ["spell_0", "spell_1"]
        assert grad.model == model
        case = grad.get(0)
        assert case.S.shape == (len(case.prompt_tokens), len(case.response_tokens))
        assert case.S.max() <= 10 and np.all(case.S == np.round(case.S))
        raw = cases[model][0].matrices["I"]
        np.testing.assert_array_equal(case.S, normalise(raw, L=10, b=0))
    # the Finding-1 loaders accept them as a source
    from paperlib.paper.data import load_case_set

    assert load_case_set("ft", {"ft": folder / "cases_ft_loo.npz"}).ids[0] == "spell_0"


def test_attributions_are_cached_and_match_the_explainers(tiny_run):
    from paperlib.explainers.faithfulness import leave_one_out

    cases, _ = tiny_run
    c = cases["ft"][0]
    assert {"I", "LOO", "IG"} <= set(c.matrices) and "IG" not in cases["ft"][3].matrices
    model = tiny_model("llama", seed=1)
    mp = oc.mark_prompt(tiny_tokenizer(), TINY_TEMPLATE, _tiny_rows()[0])
    resp = tiny_tokenizer().convert_tokens_to_ids(c.response_tokens)
    loo = leave_one_out(model, mp.ids, resp).numpy()[mp.n_prefix:]
    np.testing.assert_allclose(c.matrices["LOO"], loo, atol=1e-6)
    again = organism_attribution.build_cases({"ft": (model, tiny_tokenizer())}, _tiny_rows(2),
                                             TINY_TEMPLATE, max_new_tokens=6,
                                             ig_ids={"spell_0", "spell_1"}, ig_steps=8,
                                             progress=False)
    assert not any(x.fresh for x in again["ft"])  # read from the cache
    assert [x.seconds for x in again["ft"]] == [x.seconds for x in cases["ft"][:2]]


def test_live_tables_and_figure(tiny_run):
    _, folder = tiny_run
    sc = finding1_live.live_scores(folder, "ft", "grad", b=0)
    assert list(sc.columns) == ["id", "task", "correct", "n_response", "n_instruction", "score"]
    assert sc.n_instruction.tolist() == [3] * 8  # "write the word"
    t1 = finding1_live.table1_live(folder, "grad", b=0, min_response=1, n_boot=200, n_perm=200)
    assert int(t1.n_followed[0]) == 4 and int(t1.n_unfollowed[0]) == 4
    assert 0 < t1.p_value[0] < 1 and 0 < t1.p_stratified[0] <= 1
    t2 = finding1_live.table2_live(folder, "loo", b=0, min_response=1, n_boot=200)
    assert int(t2.n_tuned[0]) == 8 and int(t2.n_base[0]) == 8
    sub = finding1_live.table2_live(folder, "ig", b=0, min_response=1, n_boot=200,
                                    ids={"spell_0", "spell_1"})
    assert int(sub.n_tuned[0]) == 2
    fig = finding1_live.fig6_live(folder, "grad", b=0, min_response=1)
    per = fig.groupby(["model", "sentence"])["share"].sum()
    np.testing.assert_allclose(per.to_numpy(), 1.0)
    faith = finding1_live.faithfulness(tiny_run[0])
    assert set(faith.method) == {"grad", "ig"} and faith.rho.between(-1, 1).all()
    assert (faith.method == "ig").sum() == 4  # 2 cases x 2 models
    costs = finding1_live.costs(tiny_run[0])
    assert set(costs.method) == {"grad", "loo", "ig"} and (costs.median_s >= 0).all()


def test_self_comparison_gives_no_change(tmp_path, tiny_run):
    """The tuned model compared with itself: Table 2 analogue effect 0 -> no change."""
    _, folder = tiny_run
    for name in ("cases_ft_grad.npz", "labels_ft.json"):
        (tmp_path / name).write_bytes((folder / name).read_bytes())
        (tmp_path / name.replace("ft", "pt")).write_bytes((folder / name).read_bytes())
    t1 = finding1_live.table1_live(tmp_path, "grad", b=0, min_response=1, n_boot=200, n_perm=200)
    t2 = finding1_live.table2_live(tmp_path, "grad", b=0, min_response=1, n_boot=200)
    assert t2.tuned_mean[0] == t2.base_mean[0]
    depth = finding1_live.u_depth(finding1_live.fig6_live(tmp_path, "grad", b=0, min_response=1))
    v = finding1_live.verdicts_live(t1, t2, depth)
    assert v["table2"].label == verdicts.NO_CHANGE
    assert v["fig6_parts"][2].label == verdicts.NO_CHANGE


def test_run_pair_on_saved_tiny_models(tmp_path):
    tok = tiny_tokenizer()
    for name, seed in (("pt", 2), ("ft", 1)):
        tiny_model("llama", seed=seed).save_pretrained(tmp_path / name)
        tok.save_pretrained(tmp_path / name)
    (tmp_path / "ft" / "prompt_template.json").write_text(json.dumps(TINY_TEMPLATE))
    heldout = tmp_path / "heldout.jsonl"
    heldout.write_text("\n".join(json.dumps({k: v for k, v in r.items() if k != "id"})
                                 for r in _tiny_rows()))
    run = organism_attribution.run_pair(tmp_path / "pt", tmp_path / "ft", heldout=heldout,
                                        tasks=("spell",), per_task=4, max_new_tokens=4,
                                        ig_per_task=1, ig_steps=6, out_dir=tmp_path / "out",
                                        progress=False)
    assert run.ig_ids == ["spell_0"] and run.computed == 8 and run.pair.endswith("→ " + str(
        tmp_path.name) + "/ft")
    assert torch.get_num_threads() >= 1
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        [f"cases_{m}_{s}.npz" for m in ("ft", "pt") for s in ("grad", "loo", "ig")]
        + ["labels_ft.json", "labels_pt.json"])
    with pytest.raises(ParameterError, match="ig_per_task"):
        organism_attribution.run_pair(tmp_path / "pt", tmp_path / "ft", heldout=heldout,
                                      tasks=("spell",), per_task=2, ig_per_task=3)


def test_n_for_power_known_answers():
    assert finding1_live.n_for_power(0.5) == 51  # one-sided, alpha 0.05, power 0.8
    assert finding1_live.n_for_power(0.8) == 21
    with pytest.raises(ParameterError):
        finding1_live.n_for_power(0.0)


# --------------------------------------------------------------------------- search


def test_grid_family_stacks_the_table_groups():
    grid = ((7, 4.0), (5, 2.0))
    fam = finding1_search.grid_family("table1", grid)
    X, lab = fam["lima"]
    unf, fol = finding1.table1_groups(5, 2.0)["lima"]
    np.testing.assert_allclose(X[1], np.r_[unf, fol])
    assert lab.sum() == len(fol) and (~lab).sum() == len(unf)


def test_search_corrected_reports_the_papers_point_and_the_best():
    res = finding1_search.search_corrected(("table1",), b_values=(5, 7), p_values=(2, 4),
                                           n_perm=300, seed=0)
    t = res.table
    assert len(t) == 6 and set(t.point) == {"chosen", "best"} and res.n_perm == 300
    chosen = t[(t.point == "chosen")].set_index("dataset")
    ref = finding1.table1(n_boot=200).set_index("dataset")
    for ds in ref.index:
        assert chosen.at[ds, "p_welch"] == pytest.approx(ref.at[ds, "p_value"], rel=1e-9)
        assert (chosen.at[ds, "b"], chosen.at[ds, "p"]) == (7, 4.0)
    assert (t.p_maxt >= t.p_perm - 1e-12).all() and (t.p_maxt_table >= t.p_maxt - 1e-12).all()
    best = t[t.point == "best"].set_index("dataset")
    assert (best.t >= chosen.t - 1e-12).all()
    assert res.grid == ((5, 2.0), (5, 4.0), (7, 2.0), (7, 4.0))
    with pytest.raises(ParameterError, match="table"):
        finding1_search.grid_family("table3", res.grid)


# --------------------------------------------------------------------------- book pages


def test_search_report_frame_and_sentence():
    from paperlib.book import finding1_search_report as rep

    res = finding1_search.search_corrected(("table2",), b_values=(6, 7), p_values=(4,),
                                           n_perm=200, seed=1)
    frame = rep.search_frame(res)
    assert list(frame.columns)[:4] == ["table", "data set", "point", "(b, p)"]
    assert len(frame) == 6 and (frame["(b, p)"].iloc[0] == "(7, 4)")
    text = rep.search_sentence(res)
    assert "mt-bench" in text and "200 shuffles" in text and "took" in text


def test_dependence_sentence_names_the_changed_verdicts():
    import pandas as pd

    from paperlib.book import finding1_organism_report as rep

    grad, loo, ig = (finding1_live.METHOD_NAMES[m] for m in ("grad", "loo", "ig"))
    side = pd.DataFrame({"sample": ["all", "all", "sub", "sub", "sub"],
                         "attribution": [grad, loo, grad, loo, ig],
                         "verdict (T1)": ["a", "a", "a", "a", "a"],
                         "verdict (T2)": ["a", "a", "a", "a", "b"]})
    text = rep.dependence_sentence(side)
    assert "does not depend on the first-order approximation" in text
    assert "sub, Table 2 analogue" in text and "all, Table" not in text
    side.loc[1, "verdict (T1)"] = "b"
    assert "all, Table 1 analogue" in rep.dependence_sentence(side).split("**Against integ")[0]


def test_chapter_source_is_clean_myst_with_its_parameters():
    from nbrun import check_source

    check_source(ROOT / "notebooks" / "finding1_organism.md",
                 ["model_pt", "model_ft", "heldout", "tasks", "per_task", "max_new_tokens",
                  "ig_per_task", "ig_steps", "b", "p", "mode", "min_response", "n_boot", "n_perm"])


@pytest.mark.notebook
def test_chapter_runs_on_a_small_sample(tmp_path, cache_dir):
    from nbrun import output_text, run_notebook

    nb = run_notebook(ROOT / "notebooks" / "finding1_organism.md", tmp_path, cache_dir,
                      per_task=8, ig_per_task=1, ig_steps=8, n_boot=200, n_perm=200)
    text = output_text(nb, mimes=("text/html", "text/markdown"))
    for label in ("Table F1", "Table F3", "Table F5", "Table F6", "Figure F1", "Figure F2",
                  "Figure F3"):
        assert label in text
    assert "32 held-out prompts" in text and "Verdict:" in text
    claims = {p.stem for p in (tmp_path / "results" / "claims").glob("*.json")}
    assert claims == {"finding1a_organism", "finding1b_organism"}
    assert not [c for c in nb["cells"] for o in c.get("outputs", [])
                if o.get("output_type") == "error"]


@pytest.mark.notebook
def test_tables_chapter_ends_with_the_search_corrected_section(tmp_path):
    from nbrun import output_text, run_notebook

    nb = run_notebook(ROOT / "notebooks" / "table1_table2_density.md", tmp_path)
    text = output_text(nb, "search-corrected", mimes=("text/html",))
    assert "Table DS1" in text and "max-T" in text and "(7, 4)" in text
