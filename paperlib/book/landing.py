"""The landing page's generated parts: results at a glance and the organism box.

``tools/build_book.py`` calls :func:`render` after every chapter has run and
writes the result to ``book/_generated/results_at_a_glance.md``, which
``book/intro.md`` includes. The table is built only from the claim records the
chapters wrote (:func:`paperlib.book.claims.load_claims`); a claim whose chapter
did not record it is listed as not recorded, never filled in by hand.
"""
from __future__ import annotations

import json
import re
import struct
from pathlib import Path

import pandas as pd

from paperlib.book.claims import CLAIM_ORDER, COLUMNS, load_claims
from paperlib.paper.verdicts import CANNOT, DIRECTION, EXACT, NO_CHANGE, NOT_SEEN, PARTIAL

#: Short names of the paper's claims (the landing table's first column).
CLAIM_NAMES = {
    "finding1a": "Finding 1 · Table 1: followed answers use the instruction more",
    "finding1b": "Finding 1 · Table 2: the tuned model uses the instruction more",
    "lost_in_middle": "Finding 1 · Fig 6: instruction words lost in the middle",
    "finding2": "Finding 2 · Fig 2 / Table 3: attention heads learn instruction verbs",
    "finding3": "Finding 3 · Table 5 / Fig 3: FFN concepts rotate toward user tasks",
}
# geometric shapes every common font has (no emoji: a headless or offline browser may lack them)
VERDICT_MARKS = {EXACT: "●", DIRECTION: "●", PARTIAL: "◐", NOT_SEEN: "○", NO_CHANGE: "–",
                 CANNOT: "–"}
NOT_RECORDED = "not recorded"


_ABS_PATH = re.compile(r"(?<![\w.~-])/(?:[^\s/`'\"()]+/)+([^\s/`'\"()]+)/([^\s/`'\"()]+)")


def no_paths(text: str) -> str:
    """``text`` with every absolute file-system path cut to its last two parts
    ("/x/y/models/organism/pt" -> "organism/pt"): a page never shows the checkout's location."""
    return _ABS_PATH.sub(lambda m: f"{m.group(1)}/{m.group(2)}", text)


def _cell(text) -> str:
    """One list-table cell: a single line, no list-table syntax inside, no absolute path."""
    text = " ".join(str(text if text is not None and not pd.isna(text) else "–").split())
    return no_paths(text).replace("|", "\\|") or "–"


def page_link(page: str, text: str = "chapter") -> str:
    """Markdown link, relative to ``book/intro.md``, to a chapter's document name
    (``notebooks/x``, ``book/notebooks/x`` or with a suffix)."""
    page = str(page).strip()
    for prefix in ("book/",):
        page = page[len(prefix):] if page.startswith(prefix) else page
    for suffix in (".ipynb", ".md"):
        page = page[: -len(suffix)] if page.endswith(suffix) else page
    return f"[{text}]({page}.ipynb)" if page else "–"


def results_rows(claims: pd.DataFrame) -> list[dict]:
    """One row per claim: the paper's claims in :data:`CLAIM_ORDER` (a missing record
    gives a "not recorded" row), then any other recorded claim."""
    by_id = {r["claim_id"]: r for r in claims.to_dict("records")}
    ids = list(CLAIM_ORDER) + [c for c in by_id if c not in CLAIM_ORDER]
    rows = []
    for cid in ids:
        r = by_id.get(cid)
        name = CLAIM_NAMES.get(cid, (r or {}).get("claim", cid))
        if r is None:
            rows.append(dict(claim=name, paper="–", ours="–", pair="–", verdict=NOT_RECORDED,
                             because="its chapter did not run in this build", link="–"))
            continue
        # record_claim already wrote "ours" and "because" with readable measure names
        rows.append(dict(claim=name, paper=r["paper"], ours=r["ours"], pair=r["pair"],
                         verdict=r["verdict"], because=r["because"],
                         link=page_link(r["page"], "read")))
    return rows


def results_markdown(claims: pd.DataFrame) -> str:
    """MyST Markdown: the results-at-a-glance table and, under it, the sentence
    behind each verdict."""
    rows = results_rows(claims)
    lines = ["```{list-table}", ":header-rows: 1", ":class: pl-results",
             ":widths: 26 17 17 14 16 10", ""]
    header = ["Claim of the paper", "Paper", "Ours", "Model pair", "Verdict", "Where"]
    lines += [f"* - {header[0]}"] + [f"  - {h}" for h in header[1:]]
    for r in rows:
        mark = VERDICT_MARKS.get(r["verdict"], "–")
        cells = [r["claim"], r["paper"], r["ours"], r["pair"], f"{mark} **{r['verdict']}**",
                 r["link"]]
        lines += [f"* - {_cell(cells[0])}"] + [f"  - {_cell(c)}" for c in cells[1:]]
    lines += ["```", "", "````{dropdown} Why each verdict: the rule and the numbers it rests on", ""]
    lines += [f"* **{_cell(r['claim'])}** — {_cell(r['verdict'])}: {_cell(r['because'])}"
              for r in rows]
    return "\n".join(lines + ["````"]) + "\n"


def _n_parameters(folder: Path) -> int | None:
    """Parameter count from a safetensors header (no weights loaded)."""
    path = folder / "model.safetensors"
    if not path.is_file():
        return None
    with open(path, "rb") as f:
        header = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
    total = 0
    for key, meta in header.items():
        if key != "__metadata__":
            n = 1
            for d in meta["shape"]:
                n *= d
            total += n
    return total


def _last_log(folder: Path) -> dict:
    path = folder / "training_log.jsonl"
    if not path.is_file():
        return {}
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    return json.loads(lines[-1]) if lines else {}


def _eval_mean(models_root: Path, role: str):
    """Held-out accuracy of one organism model from ``organism/eval.json`` (None when absent)."""
    path = Path(models_root) / "organism" / "eval.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8")).get(role, {}).get("mean")


def organism_facts(models_root: Path) -> dict | None:
    """Size facts of the organism pair read from its folders (None when absent)."""
    pt, ft = Path(models_root) / "organism" / "pt", Path(models_root) / "organism" / "ft"
    if not (pt / "config.json").is_file():
        return None
    cfg = json.loads((pt / "config.json").read_text(encoding="utf-8"))
    return {"parameters": _n_parameters(pt), "layers": cfg.get("num_hidden_layers"),
            "width": cfg.get("hidden_size"), "heads": cfg.get("num_attention_heads"),
            "ffn": cfg.get("intermediate_size"), "vocab": cfg.get("vocab_size"),
            "pt_tokens": _last_log(pt).get("tokens"), "ft_steps": _last_log(ft).get("step"),
            "ft_tokens": _last_log(ft).get("tokens"),
            "heldout_pt": _eval_mean(models_root, "pt"), "heldout_ft": _eval_mean(models_root, "ft")}


def _millions(x) -> str:
    return "?" if x is None else f"{x / 1e6:.1f} million"


#: What each chapter adds to the box: the limits that matter for its own measures.
CAVEAT_FOCUS = ("landing", "attention", "concepts")


def _size_sentences(facts: dict) -> str:
    text = (f"Both models have the LLaMA architecture at a tiny size: "
            f"{_millions(facts['parameters'])} parameters, {facts['layers']} layers of "
            f"width {facts['width']} ({facts['heads']} heads, feed-forward width "
            f"{facts['ffn']}) and a byte-fallback tokenizer of {facts['vocab']:,} pieces. The base "
            f"model (*organism pt*) was pre-trained on {_millions(facts['pt_tokens'])} tokens "
            f"of Debian-packaged English; the tuned model (*organism ft*) is a full "
            f"fine-tune of it for {facts['ft_steps']:,} steps on templated instructions in "
            f"four scenarios (writing, coding, math, translation).")
    if facts.get("heldout_ft") is not None and facts.get("heldout_pt") is not None:
        text += (f" On held-out instructions the tuned model answers {facts['heldout_ft']:.0%} "
                 f"correctly, the base model {facts['heldout_pt']:.0%}.")
    return text


def _focus_sentence(facts: dict | None, focus: str) -> str:
    """The chapter-specific limit (computed from the pair's sizes)."""
    if facts is None or focus == "landing":
        return ""
    if focus == "attention":
        return (f" On this page in particular: the paper's depth trends run over 32 layers in 8 "
                f"groups of 4; the organism has {facts['layers']} layers, shown as "
                f"{facts['layers']} groups of one layer.")
    return (f" On this page in particular: the paper takes the top R = 300 of D = 4,096 "
            f"components of an FFN; with D = {facts['width']} the organism's components are "
            f"capped at {facts['width']} and span the whole space, and its concepts come from a "
            f"model that knows far less.")


def _caveat_paragraphs(facts: dict | None, focus: str) -> list[str]:
    if focus not in CAVEAT_FOCUS:
        raise ValueError(f"focus must be one of {CAVEAT_FOCUS}, got {focus!r}")
    size = ("The pair's folders are not present in this checkout." if facts is None
            else _size_sentences(facts))
    where = ("The Finding 2–3 verdicts above are about the organism, not about Vicuna."
             if focus == "landing" else "The verdicts on this page are about the organism, not "
             "about Vicuna.")
    more = ""
    if facts and facts.get("ft_tokens") and facts.get("pt_tokens") and facts["ft_tokens"] > facts["pt_tokens"]:
        more = (f" Its tuning saw more tokens ({_millions(facts['ft_tokens'])}) than its "
                f"pre-training: any further training moves these weights far, which is why the "
                f"Finding 2–3 chapters compare base → tuned with control models when they exist.")
    return [
        "LLaMA-7B and Vicuna-7B (32 layers of width 4,096, pre-trained on a trillion tokens) are "
        "not bundled and cannot be downloaded here, so the Finding 2–3 chapters run by default "
        "on this project's own small pre-trained / instruction-tuned pair, the *organism*. " + size,
        "It **can** show whether the three explainers work end to end on really trained "
        "weights, how the measures behave on them (saturation, noise floor), and in which "
        "*direction* tuning moves a measure. It **cannot** estimate the paper's *magnitudes*: "
        "shares and scores measured on a 7B model tuned on broad conversations depend on scale "
        "and data that this pair does not have." + more + _focus_sentence(facts, focus) + " "
        + where + " The [model card](MODEL_CARD) gives its training and held-out scores."]


CAVEAT_TITLE = "The organism pair: what it is, what it can and cannot stand for"


def organism_box(facts: dict | None, focus: str = "landing") -> str:
    """MyST admonition: what the organism pair is, can and cannot stand for (the
    landing page's box; :func:`organism_caveat` shows the same box on a chapter)."""
    body = "\n\n".join(_caveat_paragraphs(facts, focus)).replace(
        "(MODEL_CARD)", "(notebooks/organism_model_card.ipynb)")
    return "\n".join([f"```{{admonition}} {CAVEAT_TITLE}", ":class: note", "", body, "```", ""])


def _inline_html(text: str) -> str:
    """The few Markdown marks of the box (**, *, [text](url)) as HTML, the rest escaped."""
    import html

    out = html.escape(text, quote=False)
    out = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)
    out = re.sub(r"\*([^*]+)\*", r"<em>\1</em>", out)
    return re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)", r'<a href="\2">\1</a>', out)


def organism_caveat_html(facts: dict | None, focus: str) -> str:
    """:func:`organism_box` as the HTML of the theme's admonition, for a chapter page
    (a notebook's Markdown output does not run MyST directives)."""
    paras = "".join(f"<p>{_inline_html(p)}</p>" for p in _caveat_paragraphs(facts, focus))
    paras = paras.replace('href="MODEL_CARD"', 'href="organism_model_card.html"')
    return (f'<div class="admonition note pl-organism-caveat"><p class="admonition-title">'
            f"{CAVEAT_TITLE}</p>{paras}</div>")


def organism_caveat(focus: str, models_root: Path | None = None):
    """The landing page's organism box for a Finding 2–3 chapter (``focus``:
    "attention" or "concepts" adds the limit that matters on that page), facts read
    from ``models_root`` (default: the models folder). Returns a displayable HTML."""
    from IPython.display import HTML

    from paperlib.core.paths import models_dir

    root = Path(models_root) if models_root is not None else models_dir()
    return HTML(organism_caveat_html(organism_facts(root), focus))


def gather_claims(roots) -> pd.DataFrame:
    """The claim records under several result folders (e.g. one per chapter run),
    one table; a claim recorded twice keeps the record of the last folder."""
    frames = [load_claims(root) for root in roots]
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=list(COLUMNS))
    both = pd.concat(frames, ignore_index=True).drop_duplicates("claim_id", keep="last")
    order = {cid: i for i, cid in enumerate(CLAIM_ORDER)}
    return both.sort_values("claim_id", key=lambda s: s.map(lambda c: (order.get(c, len(order)), c)),
                            ignore_index=True)


def render(claims: pd.DataFrame | None = None, models_root: Path | None = None) -> str:
    """The whole generated include: the results table (``claims``: default the records
    under the results folder), then the organism box."""
    from paperlib.core.paths import models_dir

    claims = load_claims() if claims is None else claims
    facts = organism_facts(Path(models_root) if models_root is not None else models_dir())
    return results_markdown(claims) + "\n" + organism_box(facts)
