"""Write the Finding-1 notebooks (notebooks/*.ipynb, no outputs) from the sources below.

Usage: ``python tools/make_notebooks.py`` (rewrites the three files). Each
notebook's first code cell is tagged ``parameters`` for papermill; the cells
only call paperlib functions, the narration is markdown.
"""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent
SETUP = """\
%matplotlib inline
from IPython.display import Markdown, display
from paperlib.paper import finding1

from paperlib.book import plots, widgets
plots.book_style()  # inline figures at 72 dpi: lighter book pages"""

# Shared phrase of the three notebooks.
SOURCE_NOTE = ("`source = None` uses the frozen paper data (the authors' released matrices, "
               "`data/paper/`); a path to a live model pair's case sets (same schema) "
               "runs the same analysis on other models.")


def md(text: str):
    return new_markdown_cell(text.strip("\n"))


def code(text: str, tags=()):
    cell = new_code_cell(text.strip("\n"))
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def pair_cells() -> list:
    """The two cells that load a live pair (or its labelled fallback) and describe it."""
    return [code("pair = live.load_pair_or_fallback(model_pt, model_ft, fallback_to_random, seed=seed,\n"
                 "                                  dtype=dtype, device=device)\n"
                 "display(Markdown(pair.note))", ("pair-note",)),
            code('display(Markdown(pair.caption("Table 1 · configuration of the two models")))\n'
                 "live.pair_summary(pair)", ("pair-summary",))]


def on_a_pair(name: str) -> str:
    """Markdown: the chapter runs on a pair chosen by parameter, and the papermill command."""
    return f"""This chapter runs the analysis on a model pair chosen by parameter; by default
the small pair shipped with this package (alias `organism`). If the pair cannot
be loaded the chapter says so and continues on a labelled random-weight pair.

```
papermill notebooks/{name}.ipynb out.ipynb -p model_pt PATH -p model_ft PATH
```
"""


def notebook(cells) -> nbformat.NotebookNode:
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def write(name: str, nb) -> Path:
    path = ROOT / "notebooks" / f"{name}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    for i, cell in enumerate(nb.cells):  # stable ids: regenerating gives the same file
        cell["id"] = f"cell-{i:02d}"
    nbformat.validate(nb)
    path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
    return path


# ---------------------------------------------------------------------------
# fig1_salient_maps

FIG1 = [
    md("""
# Salient maps: LLaMA beside Vicuna (Fig 1, Figs 4–5, App C)

A **salient map** shows, for one prompt and the response a model generated for
it, how much each prompt token $x_n$ (rows) mattered for each generated token
$y_m$ (columns). The importance is the first-order estimate of how much the
probability of $y_m$ drops when the embedding of $x_n$ is removed, normalised per
response token to integers $S[n,m] \\in \\{0, \\dots, L\\}$ and cut at $b$ (Sec 4.1).
Maps are drawn with $L = 10$, $b = 0$ (show everything). Instruction tokens (the
prompt sentences the annotators marked as instruction) have **bold blue** labels.

The paper's claim (Finding 1): the instruction-tuned model (Vicuna) keeps
attending to the *instruction* words all through its response, while the
pre-trained model (LLaMA) relies mostly on the context and on its own previous
text. Every map below is LLaMA (left) beside Vicuna (right) for the *same*
prompt; the two models wrote different responses, so the column axes differ.
Long responses are cut to their first `max_response_tokens` tokens (the panel
title says so).
"""),
    code("""
fig1_case = "user_oriented_task_1"   # Fig 1: the e-mail tone prompt
fig4_case = "user_oriented_task_0"   # Fig 4: an outlier (pretending to follow)
fig5_case = "lima_author_144"        # Fig 5: an outlier (repetition)
gallery_cases = ["user_oriented_task_50", "user_oriented_task_22", "lima_author_32",
                 "lima_author_7", "mtbench_math_118", "mtbench_stem_144"]
L = 10                    # quantisation levels of the maps
b = 0                     # cutoff of the maps (0 = show everything)
density_b = 7             # cutoff used for the instruction scores (Sec 4.2)
p = 4                     # norm of the density ||S_n||_1 / ||S_n||_p
max_response_tokens = 60  # columns shown per map (None = all)
source = None             # None = frozen paper data; else a live case-set folder
picker_dpi = 60           # resolution of the pre-rendered picker images""", ("parameters",)),
    code(SETUP),
    md(f"""
{SOURCE_NOTE}

## Fig 1 — the e-mail tone prompt

The prompt asks to analyse the word choice of an e-mail and to name its tone
from a list; the e-mail itself is context. Read the rows: in Vicuna's map the
instruction rows (bold blue) stay active across the whole response, in LLaMA's
map the importance sits mostly on the e-mail text, along a diagonal — LLaMA
continues or copies the context instead of answering.
"""),
    code("plots.case_figure(fig1_case, 'both', source, L=L, b=b, "
         "max_response_tokens=max_response_tokens);"),
    md("""
## Instruction scores of the cases on this page

The instruction score of a case (Sec 4.2) is the importance density of the
instruction tokens: per prompt token $a_n = \\lVert S_n \\rVert_1 / \\lVert S_n \\rVert_p$
over the response (for the same total, a row whose strong importance recurs over
many response tokens scores higher than a row with one isolated peak: $[1,1,1,1]$
gives $4/4^{1/4} \\approx 2.83$, $[4,0,0,0]$ gives $1$), normalised by its maximum
over the prompt, summed over
the instruction tokens and divided by $\\log_2(2 + \\#\\text{instruction tokens})$.
The density uses the cutoff `density_b` (paper: $b = 7$, $p = 4$).
"""),
    code("widgets.case_scores([fig1_case, fig4_case, fig5_case] + gallery_cases, source, "
         "L=L, b=density_b, p=p).round(4)", ("case-scores",)),
    md("""
## Fig 4 — an outlier: pretending to follow

A sentence-rewriting task. Vicuna's response is good (rated 4), yet its map shows
that only the first few prompt tokens ("The sentence you") and the template words
("Input:", "Output:") guide the generation, not the instruction verbs such as
"Rewrite"; a diagonal across the context shows the model copying the input
sentence. A correlation between prompt and response alone does not prove that the
model identified the instruction.
"""),
    code("plots.case_figure(fig4_case, 'both', source, L=L, b=b, "
         "max_response_tokens=max_response_tokens);"),
    md("""
## Fig 5 — an outlier: repetition defeats the density

The whole LIMA prompt is one instruction sentence. Vicuna repeats that sentence
four times in its response (rated 1, "unfollowed"). Each repetition copies the
prompt token by token, so the map shows the same diagonal several times over.
Every instruction row is therefore strongly attributed at several response
positions, once per repetition — exactly what the density
$\\lVert S_n \\rVert_1 / \\lVert S_n \\rVert_p$ rewards — and the case gets a *high*
instruction score (see the table above, far above the LIMA mean of unfollowed
responses in Table 1), although the model did not follow the instruction. The
density has no notion of position or of repetition; the paper suggests a
position-aware density or a repetition filter.
"""),
    code("plots.case_figure(fig5_case, 'both', source, L=L, b=b, max_response_tokens=None);"),
    md("""
## Gallery (App C, Figs 9–14 style): two cases per data set

Two Self-Instruct, two LIMA and two MT-Bench cases with short prompts, followed
and unfollowed ones (the static picker below gives each case's Vicuna rating in
its caption). The parameter `gallery_cases` changes the list.
"""),
    code("plots.case_gallery(gallery_cases, source, L=L, b=b, "
         "max_response_tokens=max_response_tokens);"),
    md("""
## Browse every case (needs a live kernel)

The browser below covers all 632 prompts: pick the data set, the case, the model
(LLaMA, Vicuna or both) and the map's $L$ and $b$; it redraws the map and prints
the instruction score. **It needs a running Python kernel** (its callbacks are
Python): in the static book page it shows only the state it was saved in. Use the
static pickers further down in the book, or open this notebook in Jupyter.
"""),
    code("widgets.case_browser(source, dataset='self-instruct', case_id=fig1_case, L=L, b=b, "
         "p=p, max_response_tokens=max_response_tokens)"),
    md("""
## Static case picker (works without a kernel)

A curated set of cases, pre-rendered: the drop-down is linked in the browser
(JavaScript) to the image shown, so it works on the static web page.
"""),
    code("widgets.case_picker([fig1_case, fig4_case, fig5_case] + gallery_cases, source, "
         "L=L, b=b, max_response_tokens=40, dpi=picker_dpi)"),
    md("""
### The cutoff $b$ on the Fig 1 case

The density of Sec 4.2 uses $b = 7$: only the strongest cells of every column
survive. Pick $b$ to see what is left of the Fig 1 maps.
"""),
    code("widgets.threshold_picker(fig1_case, (0, 5, 7), source, L=L, max_response_tokens=40, "
         "dpi=picker_dpi)"),
]


# ---------------------------------------------------------------------------
# table1_table2_density

TABLES = [
    md("""
# Importance density: Tables 1 and 2

**Instruction score** of a case (Sec 4.2): from the salient map $S$ (N prompt ×
M response tokens; $L = 10$) keep the cells above the cutoff $b$ (paper: $b=7$),
compute each prompt token's density $a_n = \\lVert S_n \\rVert_1 / \\lVert S_n \\rVert_p$
($p = 4$), normalise by $\\max_n a_n$, sum over the instruction tokens and divide
by $\\log_2(2 + \\#\\text{instruction tokens})$. Responses shorter than 5 tokens
are dropped. A higher score means the response was guided by the instruction words.

* **Table 1** — Vicuna's responses, *followed* (human rating 2–4) vs *unfollowed*
  (rating 1), per data set.
* **Table 2** — every case, Vicuna's responses vs LLaMA's responses.

Tables show our value beside the paper's, the difference (Δ = ours − paper),
Welch's one-sided p-value, a 95% percentile-bootstrap CI of the difference of
means and Hedges' g.
"""),
    code("""
b = 7                # cutoff: cells S <= b are dropped before the density
p = 4                # norm of the density ||S_n||_1 / ||S_n||_p
L = 10               # quantisation levels
min_response = 5     # drop responses shorter than this (tokens)
mode = "threshold"   # "threshold" (authors' code) or "subtract" (paper's ReLU(S - b))
n_boot = 10000       # bootstrap resamples for the CIs
source = None        # None = frozen paper data; else a live case-set folder""", ("parameters",)),
    code(SETUP),
    md(f"""
{SOURCE_NOTE} The cutoff `mode`: the paper writes $\\mathrm{{ReLU}}(S - b)$, the
authors' code zeroes cells $\\le b$ and keeps the rest unchanged; the latter
reproduces the published tables (see `paperlib.measures.density`).

## Table 1 — followed vs unfollowed (Vicuna)

**Null hypothesis** (per data set): the mean instruction score of *unfollowed*
responses is at least that of *followed* responses,
$H_0: \\mu_{{\\text{{unfollowed}}}} \\ge \\mu_{{\\text{{followed}}}}$, against
$H_1: \\mu_{{\\text{{unfollowed}}}} < \\mu_{{\\text{{followed}}}}$; Welch's t-test
(unequal variances), one-sided. Mean ± population std as in the paper.
"""),
    code("t1 = finding1.table1(b=b, p=p, L=L, min_response=min_response, mode=mode, "
         "source=source, n_boot=n_boot)\nplots.comparison_table(t1, ('followed', 'unfollowed'))",
         ("table1",)),
    code("t1[['dataset', 'null_hypothesis', 't_statistic', 'p_value']]"),
    code("plots.table_figure(t1, ('followed', 'unfollowed'), title='Table 1 (Vicuna)');"),
    code("finding1.write_csv(t1, 'table1')  # results/table1.csv: the columns in finding1.CSV_COLUMNS"),
    md("""
## Table 2 — Vicuna vs LLaMA (all cases)

**Null hypothesis** (per data set): the mean instruction score of LLaMA's
responses is at least that of Vicuna's,
$H_0: \\mu_{\\text{LLaMA}} \\ge \\mu_{\\text{Vicuna}}$, against
$H_1: \\mu_{\\text{LLaMA}} < \\mu_{\\text{Vicuna}}$; Welch's t-test, one-sided. The
two samples are the same prompts answered by two models (the paper treats them
as independent samples, and so do we).
"""),
    code("t2 = finding1.table2(b=b, p=p, L=L, min_response=min_response, mode=mode, "
         "source=source, n_boot=n_boot)\nplots.comparison_table(t2, ('vicuna', 'llama'))",
         ("table2",)),
    code("t2[['dataset', 'null_hypothesis', 't_statistic', 'p_value']]"),
    code("plots.table_figure(t2, ('vicuna', 'llama'), title='Table 2 (all cases)');"),
    code("finding1.write_csv(t2, 'table2')  # results/table2.csv"),
    md("""
## How much do the conclusions depend on $b$ and $p$?

The paper fixes $b = 7$ and $p = 4$ without a sensitivity analysis. Below, the
**separation** — mean(followed) − mean(unfollowed) for Table 1, mean(Vicuna) −
mean(LLaMA) for Table 2 — for every cutoff $b \\in \\{0, \\dots, 9\\}$ and norm
$p \\in \\{1, 2, 4, 8, \\infty\\}$, per data set. A positive separation is the
paper's direction. With $p = 1$ the density is constant ($\\lVert S_n\\rVert_1 /
\\lVert S_n\\rVert_1 = 1$ for every non-zero row), so the score only counts the
instruction tokens that keep any cell above $b$. The second figure shows the
effect size (Hedges' g), which is comparable across settings.
"""),
    code("sens = finding1.sensitivity(range(10), (1, 2, 4, 8, float('inf')), L=L, mode=mode, "
         "min_response=min_response, source=source)\n"
         "plots.sensitivity_figure(sens, table='table1', ylabel='followed − unfollowed',\n"
         "                         title='Table 1 separation vs b and p');"),
    code("plots.sensitivity_figure(sens, table='table2', ylabel='Vicuna − LLaMA',\n"
         "                         title='Table 2 separation vs b and p');"),
    code("plots.sensitivity_figure(sens, 'effect_size', table='table1', ylabel=\"Hedges' g\",\n"
         "                         title=\"Table 1 effect size (Hedges' g) vs b and p\");"),
    code("sens.pivot_table(index=['table', 'dataset', 'p'], columns='b', values='p_value')"
         ".style.format('{:.1e}')"),
]

# ---------------------------------------------------------------------------
# fig6_lost_in_the_middle

FIG6 = [
    md("""
# Lost in the middle (App B.3, Fig 6)

Does the position of a word inside a sentence change how much it guides the
response? Each prompt is split into sentences, each sentence into `n_segments`
equal-length token segments (quarters by default). The importance density
$a_n$ (same as for Tables 1–2) is normalised to sum 1 within each sentence and
summed per segment; the shares are averaged over all sentences of a data set,
separately for LLaMA and Vicuna (each on its own responses). Sentences shorter
than `n_segments` tokens, or without any density, are skipped.

Expected (paper): a **U shape** — the first and last quarters of a sentence get
more of the density than the middle — sharper for the pre-trained LLaMA than for
the instruction-tuned Vicuna.
"""),
    code("""
b = 7                # cutoff of the density (as for Tables 1-2)
p = 4                # norm of the density
L = 10               # quantisation levels
n_segments = 4       # segments per sentence
min_response = 5     # drop responses shorter than this (tokens)
mode = "threshold"   # cutoff mode, see the Tables notebook
source = None        # None = frozen paper data; else a live case-set folder""", ("parameters",)),
    code(SETUP),
    md(f"{SOURCE_NOTE}"),
    code("f6 = finding1.fig6(b=b, p=p, L=L, mode=mode, min_response=min_response, "
         "n_segments=n_segments, source=source)\nplots.fig6_figure(f6);"),
    md("""
Share of each segment (rows: data set and model; columns: segment 1..K) and the
number of sentences averaged. A uniform spread would give 1/K per segment.
"""),
    code("f6.pivot_table(index=['dataset', 'model', 'n_sentences'], columns='segment', "
         "values='share').round(4)", ("fig6-table",)),
    code("finding1.write_csv(f6, 'fig6')  # results/fig6.csv"),
    md("""
Read the figure (paper data, default parameters): in every data set the first and last segments hold more than
1/K of a sentence's density and the middle segments less (a U), and the U of
LLaMA is deeper than Vicuna's (LLaMA puts more weight on the first segment and
less on the middle ones) — instruction tuning makes the model use the middle of
a sentence somewhat more, but it is still "lost in the middle".
"""),
]


NOTEBOOKS = {"fig1_salient_maps": FIG1, "table1_table2_density": TABLES,
             "fig6_lost_in_the_middle": FIG6}


def main() -> int:
    for name, cells in NOTEBOOKS.items():
        print(write(name, notebook(cells)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
