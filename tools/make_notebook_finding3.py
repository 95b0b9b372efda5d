"""Write the two Finding 3 notebooks (no outputs) from the sources below:

* ``notebooks/table5_fig3_ffn_concepts.ipynb`` (Table 5, Fig 3, Tables 4/10/11, browser);
* ``notebooks/appD_appE_interpretability.ipynb`` (Fig 7, Fig 8, Tables 6-9).

Usage: ``python tools/make_notebook_finding3.py``. Same conventions as
``tools/make_notebooks.py`` (whose helpers it uses): first code cell tagged
``parameters`` for papermill, stable cell ids, cells only call paperlib (glue:
:mod:`paperlib.paper.finding3`, :mod:`paperlib.paper.finding3_groups`,
:mod:`paperlib.book.finding3_report`).
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_notebooks import code, md, notebook, on_a_pair, pair_cells, write  # noqa: E402

NAME_T5 = "table5_fig3_ffn_concepts"
NAME_APP = "appD_appE_interpretability"

COMMON_PARAMETERS = '''
model_pt = "organism"      # pre-trained model: a pair alias, a local folder (save_pretrained) or a hub id
model_ft = None            # tuned model; None = the second model of the alias pair model_pt
fallback_to_random = True  # no loadable pair: continue on a labelled random pair (False: stop)
seed = 0                   # seed of the random fallback pair
layers = None              # 0-based FFN layers to explain; None = all
R = 300                    # principal components per layer (the paper: 300; capped by the width D)
K = 15                     # words per component (the paper: 15; capped by the number of words)
vocab_size = 3000          # the most frequent ShareGPT words used as candidates (None = all 26,497)
annotator = "offline"      # "offline" (deterministic rules) or "llm" (OpenAI-compatible endpoint)
llm_base_url = None        # "llm": endpoint, e.g. "https://api.openai.com/v1" (None: $PAPERLIB_LLM_BASE_URL)
llm_model = None           # "llm": model name, e.g. "gpt-3.5-turbo-0613" (None: $PAPERLIB_LLM_MODEL)
seeds = 5                  # annotation seeds (the paper: 5); an int n = seeds 0..n-1
group_size = "auto"        # layers per group; "auto" = max(1, n_layers // 8): the paper's 8 groups'''

T5_PARAMETERS = COMMON_PARAMETERS + '''
example_concepts = 5       # concepts per model in the example tables (Tables 4, 10, 11)
browse_top = 40            # components per layer in the browser
dtype = "float32"          # torch dtype to load the models in
device = "cpu"             # "cpu" or "cuda"'''

APP_PARAMETERS = COMMON_PARAMETERS + '''
rank_cuts = [30, 100, 200, 300]  # Fig 7 rank cuts (capped by R)
top_words = 10             # words per direction and layer group in Tables 6-9
dtype = "float32"          # torch dtype to load the models in
device = "cpu"             # "cpu" or "cuda"'''

SETUP = """\
%matplotlib inline
from IPython.display import HTML, Markdown, display
from paperlib.paper import finding2, finding3, finding3_groups

from paperlib.book import finding3_report, live, live_explainers, plots
plots.book_style()  # inline figures at 72 dpi
live.quiet_progress_bars()  # no "Loading weights" bars in the outputs"""

PAIR_CELLS = [
    md("""
## 1 · The pair
"""),
    *pair_cells(),
    md("""
## 2 · Concepts and their annotation

Per FFN layer, the rows of the down-projection (one "value" vector per
intermediate neuron) are centred and decomposed by PCA; each of the top `R`
principal components is projected on the normalised output embeddings of the
candidate words (the `vocab_size` most frequent ShareGPT words the tokenizer can
spell), and its `K` words of largest |score| are its word list. The annotator
then answers the paper's three questions for every list (App D): a short
concept or "Cannot Tell"; the user scenarios it serves (writing, math, coding,
translation, several allowed, or none); one linguistic level (phonology,
morphology, syntax, semantic).

**Annotators.** `annotator = "offline"` (default) is a deterministic rule-based
stand-in for the paper's gpt-3.5-turbo (WordNet, wordfreq, CMUdict,
lemminflect); each label carries the rule that fired. `annotator = "llm"` asks
an OpenAI-compatible endpoint (`llm_base_url`, `llm_model`, or the
`PAPERLIB_LLM_*` environment variables) the paper's prompts, with answers
cached on disk; with no reachable endpoint the chapter says so and uses the
offline annotator. Layers are grouped like the paper's 8 groups:
`group_size = "auto"` gives `max(1, n_layers // 8)` layers per group.
"""),
    code("n_layers, D = finding3.pair_dims(pair)\n"
         "layer_ids = finding2.resolve_layers(layers, n_layers)\n"
         "gsize = finding2.resolve_group_size(group_size, n_layers)\n"
         'R_used, R_note = live_explainers.capped("R", R, D, "the model width D")\n'
         "n_words = min(len(live_explainers.word_index(pair.model(n)[1], vocab_size)) "
         "for n in live.NAMES)\n"
         'K_used, K_note = live_explainers.capped("K", K, n_words, "number of candidate words")\n'
         "seed_list = finding3.resolve_seeds(seeds)\n"
         "ann_model, ann_note = finding3.make_annotator(annotator, llm_base_url, llm_model)\n"
         "deterministic = finding3.is_deterministic(ann_model)\n"
         'display(Markdown(f"{n_words} candidate words; layers {layer_ids[0] + 1}..'
         '{layer_ids[-1] + 1} ({len(layer_ids)} of {n_layers}) in groups of {gsize}; '
         'R = {R_used}, K = {K_used}. {R_note} {K_note}  \\n"\n'
         '                 f"{ann_note}  \\n{finding3_report.seeds_note(deterministic, '
         'seed_list)}"))', ("setup",)),
    code("concepts = finding3.concepts_of_pair(pair, layer_ids, R_used, K_used, vocab_size)\n"
         "ann = finding3.annotate_concepts(concepts, ann_model, seed_list)\n"
         'display(Markdown(f"{len(ann)} annotations ({ann.describable.mean():.1%} describable)."))',
         ("annotate",)),
]

T5_CELLS = [
    md("""
# Finding 3: feed-forward networks rotate knowledge toward user tasks (Table 5, Fig 3)

The paper (Sec 5.2) explains each feed-forward network (FFN) by the principal
components of its weights: every component is described by the words it points
to, and a machine annotator names the concept, the user scenarios it serves
and its linguistic level. Comparing the pre-trained and the tuned model gives:

* **Table 5** — instruction tuning raises the share of concepts that serve
  writing, coding and math (significantly for writing and coding) while the
  shares of the linguistic levels stay the same: FFNs *rotate* their
  pre-trained knowledge toward user tasks without changing its linguistic
  make-up;
* **Fig 3** — per layer group, semantic concepts form an inverted U over
  depth and morphology a U, the same in both models.

""" + on_a_pair("table5_fig3_ffn_concepts")),
    code(T5_PARAMETERS, ("parameters",)),
    code(SETUP),
    *PAIR_CELLS,
    md("""
## 3 · Table 5: user scenarios and linguistic levels

For each model and seed, the share (%) of the **describable** concepts (all
layers pooled) that serve each scenario and that sit at each level; then mean ±
std (ddof 0) over the seeds. A concept may serve several scenarios, so the
scenario shares need not sum to 100%; the level shares do.

**Tests.** *Welch's t-test over seeds* (the paper's test; null hypothesis: the
mean share over seeds is the same in both models) needs a spread over seeds;
with the deterministic offline annotator every std is 0 and the test is
**undefined** — the table says so. Two alternatives are given:
*two-proportion z-test* (first seed; null hypothesis: the probability that a
describable concept has the label is the same in both models, concepts taken as
independent) and *paired t-test over layers* (null hypothesis: the mean over
layers of the per-layer difference tuned − pre-trained is 0). All two-sided.

The paper's numbers (Vicuna-7B tuned, LLaMA-7B pre-trained, gpt-3.5 annotator)
are shown beside ours: models of different size, data, tuning and annotator are
compared in **direction** ("tuned higher"), not number for number.
"""),
    code("t5 = finding3.table5(ann)\n"
         'display(Markdown(pair.caption("Table 2 · Table 5: % of describable concepts per user '
         'scenario and linguistic level, ours beside the paper")))\n'
         "finding3.table5_comparison(t5).round(4)", ("table5",)),
    code('display(Markdown("**Table 5 of the paper** (% of concepts, mean ± std over 5 seeds; '
         'tuned = Vicuna-7B, pt = LLaMA-7B)"))\n'
         "finding3.paper_table5()", ("paper-table5",)),
    md("""
## 4 · Fig 3: linguistic levels per layer group

The share of each level among the describable concepts of every layer group
(mean over seeds), pre-trained beside tuned; `n` is the number of describable
concepts the shares rest on — a group with few of them gives noisy shares.
"""),
    code("levels = finding3_groups.level_by_group(ann, n_layers, gsize)\n"
         'display(Markdown(pair.caption("Table 3 · Fig 3: % of describable concepts per '
         'linguistic level and layer group") + f" Paper: {finding3_report.PAPER_FIG3}."))\n'
         "levels.round(2)", ("fig3",)),
    code("finding3_report.fig3_figure(levels, pair);", ("fig3-figure",)),
    md("""
## 5 · Example concepts of the first and last FFN (Tables 4, 10, 11 style)

The first describable components of the first and the last explained layer
(first seed), pre-trained beside tuned: scenario, level, concept, top words, and
the annotator's evidence for the concept (for the offline annotator, the rule
that fired and its supporting words).
"""),
    code("for layer in sorted({layer_ids[0], layer_ids[-1]}):\n"
         "    ex = finding3_groups.examples(ann, layer, example_concepts)\n"
         '    display(Markdown(pair.caption(f"Table 4 · example concepts of FFN layer '
         '{layer + 1}")))\n'
         "    display(HTML(finding3_report.side_by_side({live.ROLE_LABELS[n]: "
         "ex[ex.model == n].drop(columns='model') for n in live.NAMES})))", ("examples",)),
    md("""
## 6 · Browse the concepts of a layer

Pick a layer: its first `browse_top` components with concept, scenarios, level
and word list, pre-trained beside tuned. The tables are pre-rendered and the
drop-down is linked in the browser, so this works on the static page too.
"""),
    code("finding3_report.concept_browser(ann, browse_top)", ("browser",)),
    md("""
## 7 · Does the paper's finding hold on this pair?
"""),
    code("display(Markdown(finding3_report.conclusion(t5, pair)))", ("conclusion",)),
]

APP_CELLS = [
    md("""
# Interpretability of the FFN concepts (App D Fig 7, App E Fig 8, Tables 6–9)

Three checks behind Finding 3 (see the chapter on Table 5 for the method):

* **Fig 7** — what share of the word lists can the annotator describe at all
  (not "Cannot Tell"), per layer group and rank cut (the first 30 / 100 / 200 /
  300 components)? Paper: about 60% in the middle layers, best in layers 25–28.
* **Fig 8** — how much of an FFN's variance do the top `R` components explain?
  Paper: the top 300 of 4096 explain about 22.49%, so they are a selection.
* **Tables 6–9** — which words of the concept descriptions became more or less
  frequent after tuning, per layer group?

```
papermill notebooks/appD_appE_interpretability.ipynb out.ipynb -p model_pt PATH -p model_ft PATH
```
"""),
    code(APP_PARAMETERS, ("parameters",)),
    code(SETUP),
    *PAIR_CELLS,
    md("""
## 3 · Fig 7: how many word lists can be described?

For every layer group and rank cut: the share (%) of the word lists of the
components of rank ≤ cut that the annotator described (mean over seeds). Cuts
above `R` are capped to `R`.
"""),
    code("desc = finding3_groups.describable_by_group(ann, n_layers, gsize, rank_cuts)\n"
         'display(Markdown(pair.caption("Table 2 · Fig 7: % of describable word lists per '
         'layer group and rank cut")))\n'
         "desc.pivot_table(index='layers', columns=['model', 'cut'], values='describable', "
         "sort=False).round(2)", ("fig7",)),
    code("finding3_report.fig7_figure(desc, pair);", ("fig7-figure",)),
    code("display(Markdown(finding3_report.fig7_sentence(desc)))", ("fig7-text",)),
    md("""
## 4 · Fig 8: cumulative explained variance

The cumulative explained-variance ratio of the principal components of every
explained FFN (all D components), mean ± std over layers. The table gives,
per model and layer, what the top `R` components explain, what the paper's
*relative* rank (300 of 4096 = 7.3% of D) explains, and what half of D explains.
"""),
    code("var = finding3_groups.variance_table(concepts, R_used)\n"
         'display(Markdown(pair.caption("Table 3 · Fig 8: cumulative explained variance (%)")))\n'
         "var.round(2)", ("fig8",)),
    code("curves = {n: finding3_groups.cumulative_curves(concepts, n) for n in live.NAMES}\n"
         "finding3_report.fig8_figure(curves, R_used, pair);", ("fig8-figure",)),
    code("display(Markdown(finding3_report.fig8_sentence(var, R_used)))", ("fig8-text",)),
    md("""
## 5 · Tables 6–9: words of the concept descriptions that rose or fell

What is counted: the words of the annotator's **concept descriptions** (for
the offline annotator, its concept labels such as "words ending in -ing" or
"terms of computer science"; for the LLM, its free-text concepts), lower-cased,
at least four letters, not a stopword ("word(s)" counts as one, being in every
offline label), "Cannot Tell" never counted; counts are summed over seeds. Per
layer group, the `top_words` words whose count grew most from pre-trained to
tuned (↑) and fell most (↓); `rank_shift` = rank in the pre-trained model −
rank in the tuned one (positive = moved up; empty when the word is missing in
one model), as the bracketed numbers of the paper's tables.
"""),
    code("shift = finding3_groups.word_shift(ann, n_layers, gsize, top_words)\n"
         'display(Markdown(pair.caption("Table 4 · Tables 6–9: words of the concept '
         'descriptions whose frequency rose (↑) or fell (↓) most after tuning")))\n'
         "shift", ("word-shift",)),
]


def main() -> int:
    print(write(NAME_T5, notebook(T5_CELLS)))
    print(write(NAME_APP, notebook(APP_CELLS)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
