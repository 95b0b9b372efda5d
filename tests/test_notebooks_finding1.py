"""The three Finding-1 notebooks: clean MyST sources, papermill execution, parameters that matter.

Each notebook runs twice under papermill (defaults, then ONE non-default
parameter) with ``PAPERLIB_RESULTS`` pointing into a temporary folder, so the
repository's results/ is never touched; the default run reuses the book's
executed copy when ``make book`` made a current one (tests/nbrun.py). About
1.5-2 minutes on 2 cores without it.
"""
from __future__ import annotations

import csv
from pathlib import Path

import pytest
from nbrun import check_source, read_source, run_notebook

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ("fig1_salient_maps", "table1_table2_density", "fig6_lost_in_the_middle")
HEADERS = {
    "table1": ["dataset", "followed_mean", "followed_std", "unfollowed_mean", "unfollowed_std",
               "p_value", "paper_followed_mean", "paper_unfollowed_mean", "paper_p_value"],
    "table2": ["dataset", "vicuna_mean", "vicuna_std", "llama_mean", "llama_std", "p_value",
               "paper_vicuna_mean", "paper_llama_mean", "paper_p_value"],
    "fig6": ["dataset", "model", "segment", "share"],
}
PARAMETERS = {
    "fig1_salient_maps": ["fig1_case", "fig4_case", "fig5_case", "gallery_cases", "L", "b",
                          "density_b", "p", "max_response_tokens", "source", "picker_dpi"],
    "table1_table2_density": ["b", "p", "L", "min_response", "mode", "n_boot", "source"],
    "fig6_lost_in_the_middle": ["b", "p", "L", "n_segments", "min_response", "mode", "source"],
}
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def _execute(name: str, out_dir: Path, **parameters) -> tuple[dict, Path]:
    """Run notebooks/<name>.md with papermill; return (executed notebook, results dir)."""
    return run_notebook(ROOT / "notebooks" / f"{name}.md", out_dir, **parameters), out_dir / "results"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Executed notebooks: {(name, 'default'|'changed'): (notebook dict, results dir)}."""
    changed = {"fig1_salient_maps": {"density_b": 5}, "table1_table2_density": {"b": 5},
               "fig6_lost_in_the_middle": {"b": 5}}
    out = {}
    for name in NOTEBOOKS:
        for label, params in (("default", {}), ("changed", changed[name])):
            out[name, label] = _execute(name, tmp_path_factory.mktemp(f"{name}-{label}"),
                                        **params)
    return out


def _rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def _tagged_text(nb: dict, tag: str) -> str:
    cells = [c for c in nb["cells"] if tag in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, f"expected one cell tagged {tag!r}"
    return "".join("".join(o.get("data", {}).get(mime, []))
                   for o in cells[0]["outputs"] for mime in ("text/plain", "text/html"))


# --- MyST sources -------------------------------------------------------------------

@pytest.mark.parametrize("name", NOTEBOOKS)
def test_source_is_clean_myst_with_its_parameters(name):
    check_source(ROOT / "notebooks" / f"{name}.md", PARAMETERS[name])


# --- executed ---------------------------------------------------------------------

@pytest.mark.notebook
def test_csv_headers_are_exact(runs):
    for name, stem in (("table1_table2_density", "table1"), ("table1_table2_density", "table2"),
                       ("fig6_lost_in_the_middle", "fig6")):
        rows = _rows(runs[name, "default"][1] / f"{stem}.csv")
        assert rows[0] == HEADERS[stem]
        assert [r[0] for r in rows[1:]][:3] in (["self-instruct", "lima", "mt-bench"],
                                                ["self-instruct"] * 3)


@pytest.mark.notebook
def test_table1_defaults_reproduce_the_paper(runs):
    rows = _rows(runs["table1_table2_density", "default"][1] / "table1.csv")
    for r in rows[1:]:
        ours, paper = float(r[1]), float(r[6])
        assert abs(ours - paper) < 5e-3, r


@pytest.mark.notebook
def test_fig6_csv_content(runs):
    rows = _rows(runs["fig6_lost_in_the_middle", "default"][1] / "fig6.csv")[1:]
    assert {r[0] for r in rows} == {"self-instruct", "lima", "mt-bench"}
    assert {r[1] for r in rows} == {"llama", "vicuna"}
    assert sorted({int(r[2]) for r in rows}) == [1, 2, 3, 4]
    assert len(rows) == 24
    for ds in ("self-instruct", "lima", "mt-bench"):
        for model in ("llama", "vicuna"):
            shares = [float(r[3]) for r in rows if r[0] == ds and r[1] == model]
            assert sum(shares) == pytest.approx(1.0, abs=1e-9)


@pytest.mark.notebook
@pytest.mark.parametrize("name,stem", [("table1_table2_density", "table1"),
                                       ("table1_table2_density", "table2"),
                                       ("fig6_lost_in_the_middle", "fig6")])
def test_non_default_b_changes_the_csv(runs, name, stem):
    default = _rows(runs[name, "default"][1] / f"{stem}.csv")
    changed = _rows(runs[name, "changed"][1] / f"{stem}.csv")
    assert default[0] == changed[0]
    assert default[1:] != changed[1:]


@pytest.mark.notebook
def test_fig1_non_default_density_b_changes_the_scores(runs):
    default = _tagged_text(runs["fig1_salient_maps", "default"][0], "case-scores")
    changed = _tagged_text(runs["fig1_salient_maps", "changed"][0], "case-scores")
    assert "user_oriented_task_1" in default and "lima_author_144" in default
    assert default != changed


@pytest.mark.notebook
def test_fig1_static_figures_and_embedded_widget_state(runs):
    nb = runs["fig1_salient_maps", "default"][0]
    svgs = sum("".join(o.get("data", {}).get("text/html", [])).count("data:image/svg+xml;base64,")
               for c in nb["cells"] for o in c.get("outputs", []))
    assert svgs >= 3 + 6                                 # Figs 1, 4, 5 + the App C gallery
    state = nb["metadata"]["widgets"][WIDGET_STATE]["state"]
    stacks = {k: v for k, v in state.items() if v["model_name"] == "StackModel"}
    links = [v["state"] for v in state.values() if v["model_name"] == "LinkModel"]
    dropdowns = {k for k, v in state.items() if v["model_name"] == "DropdownModel"}
    sizes = sorted(len(v["state"]["children"]) for v in stacks.values())
    assert sizes == [3, 8]                               # threshold picker, case picker (8 distinct cases)
    for link in links:
        assert link["source"][1] == "index" and link["target"][1] == "selected_index"
        assert link["source"][0].removeprefix("IPY_MODEL_") in dropdowns
        assert link["target"][0].removeprefix("IPY_MODEL_") in stacks
    assert len(links) == 2
    views = [o["data"]["application/vnd.jupyter.widget-view+json"]["model_id"]
             for c in nb["cells"] for o in c.get("outputs", [])
             if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(views) == 3 and all(v in state for v in views)


@pytest.mark.notebook
def test_fig1_accepts_a_live_model_pair_as_its_data_source(tmp_path):
    """The shipped organism pair generates and attributes the notebook's nine
    default cases (paperlib.explain_cases writes the released-data schema);
    the Fig 1 notebook then runs on that case set (``-p source``) unchanged."""
    import torch

    import paperlib as pl
    from paperlib.paper.data import load_prompts

    torch.set_num_threads(1)
    nb = read_source(ROOT / "notebooks" / "fig1_salient_maps.md")
    params = {}
    exec(nb.cells[[c.cell_type for c in nb.cells].index("code")].source, {}, params)
    ids = [params["fig1_case"], params["fig4_case"], params["fig5_case"], *params["gallery_cases"]]
    prompts = load_prompts().set_index("id").loc[ids, "prompt"].to_dict()
    m_pt, t_pt, m_ft, t_ft = pl.load_pair("organism")
    src = tmp_path / "live"
    for model, tok, name in ((m_pt, t_pt, "llama"), (m_ft, t_ft, "vicuna")):
        pl.explain_cases(model, tok, prompts, name, src / f"cases_{name}.npz", max_new_tokens=16,
                         cache=False, progress=False)
    executed, _ = _execute("fig1_salient_maps", tmp_path / "run", source=str(src))
    errors = [o for c in executed["cells"] for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert not errors
    scores = _tagged_text(executed, "case-scores")
    assert all(i in scores for i in ids)
    live = pl.load_case("llama", params["fig1_case"], source=src)
    assert len(live.response_tokens) <= 16  # the live responses, not the released ones
    assert live.prompt_tokens != pl.load_case("llama", params["fig1_case"]).prompt_tokens
