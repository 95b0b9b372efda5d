"""What the explorer pages must show, computed with ``paperlib`` (used by
``tools/browser_widgets.py``): Finding 1's numbers at a (b, p), the hovered cell,
and the Finding 2 / 3 browsers' numbers recomputed from the data packed into
their page."""
from __future__ import annotations

import base64
import functools
import json
import math
import re
from pathlib import Path

import numpy as np

STATE_SCRIPT = r'<script type="application/vnd\.jupyter\.widget-state\+json">(.*?)</script>'
REL = {"value": 1e-9, "p": 1e-6}     # relative tolerance: means, stds, shares, scores; p-values
HOVER_CASE, HOVER_MODEL = "lima_author_144", "vicuna"


# ---- what paperlib computes ------------------------------------------------------------

def _p(text: str) -> float:
    return math.inf if text == "inf" else float(text)


@functools.lru_cache(maxsize=None)
def expected(b: int, p: str) -> dict:
    """{data-key: (python value, kind)} of the tables, Fig 6 and grid at (b, p)."""
    from paperlib.paper import finding1

    out = {}
    for key, table in (("table1", finding1.table1(b, _p(p), n_boot=100)),
                       ("table2", finding1.table2(b, _p(p), n_boot=100))):
        groups = ("followed", "unfollowed") if key == "table1" else ("vicuna", "llama")
        for row in table.to_dict("records"):
            k = f"{key}.{row['dataset']}"
            for g in groups:
                out[f"{k}.{g}_mean"] = (row[f"{g}_mean"], "value")
                out[f"{k}.{g}_std"] = (row[f"{g}_std"], "value")
                out[f"{k}.n_{g}"] = (row[f"n_{g}"], "n")
            out[f"{k}.p_value"] = (row["p_value"], "p")
    for row in finding1.fig6(b, _p(p)).to_dict("records"):
        out[f"fig6.{row['dataset']}.{row['model']}.{row['segment']}"] = (row["share"], "value")
        out[f"fig6.{row['dataset']}.{row['model']}.n"] = (row["n_sentences"], "n")
    if b <= 9:
        for row in finding1.sensitivity([b], [_p(p)]).to_dict("records"):
            out[f"grid.{row['table']}.{row['dataset']}.b{b}.p{p}"] = (row["p_value"], "p")
    return out


def expected_case(case_id: str, b: int, p: str) -> dict:
    from paperlib.paper import finding1

    out = {}
    for m in ("llama", "vicuna"):
        row = finding1.scores(m, b, _p(p)).set_index("id").loc[case_id]
        out[f"case.{m}.score"] = (row["score"], "value")
        out[f"case.{m}.m"] = (row["n_response"], "n")
    return out


def agree(page: float, python: float, kind: str) -> bool:
    if kind == "n":
        return page == python
    if math.isnan(python) or math.isnan(page):
        return math.isnan(python) and math.isnan(page)
    return abs(page - python) <= REL[kind] * abs(python) + 1e-300


def compare(reading: dict) -> list[dict]:
    """One row per number the Python side knows: page value, Python value, verdict."""
    b, p, values = reading["b"], reading["p"], reading["values"]
    rows = []
    for key, (py, kind) in {**expected(b, p), **expected_case(reading["case"], b, p)}.items():
        page = float(values[key]) if key in values else float("nan")
        rel = abs(page - py) / abs(py) if py and page == page else float("nan")
        rows.append({"case": reading["case"], "b": b, "p": p, "key": key, "page": page,
                     "python": float(py), "kind": kind, "rel": rel,
                     "ok": key in values and agree(page, float(py), kind)})
    return rows


def shown_mismatches(reading: dict) -> list[str]:
    """Means shown with 4 decimals must be their data-value rounded."""
    bad = []
    for key, text in reading["text"].items():
        if key.endswith("_mean") and "paper" not in key and reading["values"][key] != "NaN":
            if abs(float(text) - float(reading["values"][key])) > 0.5e-4 + 1e-12:
                bad.append(f"{key}: shows {text}, holds {reading['values'][key]}")
    return bad


def hover_target() -> dict:
    """The first cell of the shown columns with S = 10 (row-major) of the hover case."""
    from paperlib.paper.data import load_case

    S = load_case(HOVER_MODEL, HOVER_CASE).S[:, :60]
    i, j = (int(v) for v in np.argwhere(S == 10)[0])
    return {"case": HOVER_CASE, "model": HOVER_MODEL, "i": i, "j": j}


def hover_problems(tip: dict, target: dict) -> list[str]:
    from paperlib.book.plots import instruction_rows
    from paperlib.paper.data import load_case

    case = load_case(target["model"], target["case"])
    s = int(case.S[target["i"], target["j"]])
    instr = bool(instruction_rows(case)[target["i"]])
    got = (tip.get("model"), int(tip.get("s", -1)), tip.get("instruction") == "true")
    return [] if got == (target["model"], s, instr) else [
        f"hover on {target}: tooltip says {got}, paperlib S = {s}, instruction = {instr}"]


# ---- the Finding 2 / 3 browsers against their packed data ------------------------------

def page_blob(html_file: Path, widget: str):
    """(meta, arrays) of the ``widget`` class's data embedded in a built page."""
    from paperlib.book.explorer.binpack import unpack

    text = html_file.read_text(encoding="utf-8")
    for block in re.findall(STATE_SCRIPT, text, re.S):
        for model in json.loads(block)["state"].values():
            if model["state"].get("_anywidget_id", "").endswith(f".{widget}"):
                data = next(b["data"] for b in model.get("buffers", []) if b["path"] == ["data"])
                return unpack(base64.b64decode(data))
    raise RuntimeError(f"{html_file.name}: no {widget} state in the page")


def pairs_expected(meta: dict, arrays: dict, layer: int, head: int) -> dict:
    from paperlib.measures.attention_stats import changed_share

    li, H, words = meta["layers"].index(layer), meta["heads"], meta["words"]
    lists = {}
    for n in ("pt", "ft"):
        s = arrays[f"{n}_start"]
        i = li * H + head
        lists[n] = [(words[q], words[k]) for q, k in zip(arrays[f"{n}_q"][s[i]:s[i + 1]],
                                                         arrays[f"{n}_k"][s[i]:s[i + 1]])]
    kept = len(set(lists["pt"]) & set(lists["ft"]))
    return {"pairs.changed": (changed_share(lists["pt"], lists["ft"]), "value"),
            "pairs.n_pt": (len(lists["pt"]), "n"), "pairs.n_ft": (len(lists["ft"]), "n"),
            "pairs.kept": (kept, "n")}


def concepts_expected(meta: dict, arrays: dict, layer: int) -> dict:
    li, out = meta["layers"].index(layer), {}
    for n in ("pt", "ft"):
        start = int(arrays[f"{n}_start"][li])
        for rank in (1, 2):
            for what in ("var", "cum"):
                value = float(arrays[f"{n}_{what}"][start + rank - 1])
                out[f"concepts.{n}.{layer}.{rank}.{what}"] = (value, "value")
    return out


def browser_rows(html_dir: Path, result: dict, widget: str) -> list[dict]:
    meta, arrays = page_blob(html_dir / result["path"], widget)
    layer = meta["layers"][-1]
    if widget == "PairBrowser":
        exp = pairs_expected(meta, arrays, layer, int(result["root"]["head"]))
    else:
        exp = concepts_expected(meta, arrays, layer)
    rows = []
    for key, (py, kind) in exp.items():
        page = float(result["last"]["values"].get(key, "nan"))
        rows.append({"case": widget, "b": "", "p": f"layer {layer + 1}", "key": key, "page": page,
                     "python": float(py), "kind": kind, "rel": float("nan"),
                     "ok": key in result["last"]["values"] and agree(page, float(py), kind)})
    return rows
