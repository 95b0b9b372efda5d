"""Write notebooks/fig2_table3_attention_pairs.ipynb (no outputs) from the sources below.

Usage: ``python tools/make_notebook_fig2.py``. Same conventions as
``tools/make_notebooks.py`` (whose helpers it uses): first code cell tagged
``parameters`` for papermill, stable cell ids, cells only call paperlib
(glue: :mod:`paperlib.paper.finding2`).
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_notebooks import code, md, notebook, on_a_pair, pair_cells, write  # noqa: E402

NAME = "fig2_table3_attention_pairs"

PARAMETERS = '''
model_pt = "organism"      # pre-trained model: a pair alias, a local folder (save_pretrained) or a hub id
model_ft = None            # tuned model; None = the second model of the alias pair model_pt
fallback_to_random = True  # no loadable pair: continue on a labelled random pair (False: stop)
seed = 0                   # seed of the random fallback pair
layers = None              # 0-based layers to explain; None = all
K = 100                    # top-K words per neuron, query and key side (capped by the number of words)
max_pairs = 100            # pairs kept per neuron and per head (the paper's top-100)
group_size = "auto"        # layers per group; "auto" = max(1, n_layers // 8): the paper's 8 groups
vocab_size = 3000          # the most frequent ShareGPT words used as candidates (None = all 26,497)
similarity = "minilm"      # word similarity of the pair filter: "minilm" or the path of a GloVe file
instruction_verbs = None   # None = the paper's list + the verbs of the organism's tuning templates
general_verbs = None       # None = the n_general_verbs most frequent English verbs (wordfreq, lemminflect)
n_general_verbs = 300      # size of the general-verb control set (the paper: 1000)
example_heads = 3          # heads per layer in the example tables (App F style)
top_pairs = 10             # pairs per head in the example tables
browse_per_layer = 2       # heads per layer in the pair browser
dtype = "float32"          # torch dtype to load the models in ("bfloat16" on a GPU)
device = "cpu"             # "cpu" or "cuda"'''

SETUP = """\
%matplotlib inline
from IPython.display import Markdown, display
from paperlib.paper import finding2

from paperlib.book import live, live_explainers, plots
plots.book_style()  # inline figures at 72 dpi
live.quiet_progress_bars()  # no "Loading weights" bars in the outputs"""

CELLS = [
    md("""
# Finding 2: attention heads learn instruction verbs (Fig 2, Table 3, App F)

The paper (Sec 5.1) explains each self-attention head by **word pairs**. For
neuron $d$ of head $h$ (a column of $W_q^h$ and of $W_k^h$, norm gain folded
in), the $K$ candidate words $w$ with the largest $|E[w] \\cdot W_q^h[:, d]|$
form the query list and likewise for $W_k^h$ the key list; a pair (query word,
key word) is kept when both activations have the same sign and the two words
plausibly co-occur (word similarity above both words' thresholds). A head's
explanation is the list of pairs that recur across its neurons, most common
first (top `max_pairs`). Comparing the pre-trained and the instruction-tuned
model head by head gives two results:

* **Fig 2** — the share of a head's word pairs that changed,
  $1 - |E_{pt} \\cap E_{ft}| / |E_{pt} \\cup E_{ft}|$, averaged per group of
  layers; paper: it rises with depth, above 35% in the last layers.
* **Table 3** — for *instruction verbs* (translate, explain, write, ...), the
  tuned model has *more* pairs with the verb in most heads of the lower layers,
  much more often than for frequent *general verbs*.

""" + on_a_pair("fig2_table3_attention_pairs")),
    code(PARAMETERS, ("parameters",)),
    code(SETUP),
    md("""
## 1 · The pair
"""),
    *pair_cells(),
    md("""
## 2 · Candidate words, layer groups and verbs

Candidates are the `vocab_size` most frequent words of the paper's ShareGPT
vocabulary that the tokenizer can spell (a word's embedding is the mean of its
sub-token embeddings); the similarity table (MiniLM by default, GloVe in the
paper) is cached on disk. Layers are grouped like the paper's 8 groups of 4
layers: `group_size = "auto"` gives `max(1, n_layers // 8)` layers per group,
so a model with fewer than 16 layers is shown layer by layer.

**Verbs.** Instruction verbs default to the paper's list plus the imperative
verbs of the shipped pair's tuning templates (`data/organism/make_instructions.py`:
define, give, explain, ...). The control set is the `n_general_verbs` most
frequent English words (wordfreq) that are a verb's base form in lemminflect's
lexicon, instruction verbs excluded; the paper used WordNet verbs ranked by
wordfreq, 1000 of them. A verb counts only when it is among the candidate
words (lower-cased match).
"""),
    code("ex = live_explainers.PairExplainers(pair, vocab_size, similarity)\n"
         "layer_ids = finding2.resolve_layers(layers, ex.n_layers)\n"
         "gsize = finding2.resolve_group_size(group_size, ex.n_layers)\n"
         'K_used, K_note = live_explainers.capped("K", K, ex.n_words, "number of candidate words")\n'
         "instruct = finding2.instruction_verbs(instruction_verbs)\n"
         "general = finding2.general_verbs(n_general_verbs, exclude=instruct, verbs=general_verbs)\n"
         "words = ex.indices['pt'].words\n"
         "(i_in, i_out), (g_in, _) = (finding2.verb_coverage(words, v) for v in (instruct, general))\n"
         'display(Markdown(f"{ex.n_words} candidate words; layers {layer_ids[0] + 1}..{layer_ids[-1] + 1} '
         '({len(layer_ids)} of {ex.n_layers}) in groups of {gsize}; K = {K_used}, max_pairs = '
         '{max_pairs}. {K_note}  \\n"\n'
         '                 f"Instruction verbs: {len(instruct)}, {len(i_in)} among the candidates '
         '(missing: {\', \'.join(i_out) or \'none\'}). General verbs: {len(general)}, '
         '{len(g_in)} among the candidates."))', ("setup",)),
    code("att = ex.attention(layer_ids, K=K_used, max_pairs=max_pairs)"),
    md("""
## 3 · Fig 2: how many word pairs changed

For every head (and every neuron) the changed share of its top pairs, averaged
over the heads (neurons) of each layer group. Units with no pair in either
model are left out (`n_heads`, `n_neurons` count the units used).
"""),
    code('display(Markdown(pair.caption("Table 2 · Fig 2: changed share of word pairs per layer '
         'group (fraction), head and neuron level") + f" Paper: {finding2.PAPER_FIG2}."))\n'
         "fig2 = finding2.fig2_table(att, ex.n_layers, gsize)\n"
         "fig2.round(3)", ("fig2",)),
    code("finding2.fig2_figure(fig2, pair);", ("fig2-figure",)),
    md("""
## 4 · Table 3: do instruction verbs gain word pairs?

For a verb and a group of layers, take the heads whose number of (head-level)
pairs containing the verb differs between the two models; the statistic is the
share (%) of those heads where the **tuned** model has more. It is computed for
every verb (verbs with no such head are left out: `verbs` gives how many
counted), then averaged per verb set (mean ± std, ddof 0).

**Null hypothesis** (per group): the mean share is the same for instruction
verbs and for general verbs; Welch's two-sided t-test. About 50% means tuning
neither adds nor removes pairs with the verb; the paper finds instruction verbs
well above 50% and above general verbs in layers 1–16.

When the pair has 32 layers (groups of 4) the paper's row of the same layers
is shown beside ours. Otherwise the paper's group at the same *relative depth*
is named and **the comparison is of direction only** (is the instruction
share higher?): models of different sizes, data and tuning are not comparable
number for number.

**Caveat on the p-values.** The verbs are not independent samples: all of a
group's verbs are counted over the same few heads (8 per layer in the shipped
pair, 128 per group of 4 layers in LLaMA-7B), so one head that changed a lot
moves many verbs at once, and with 300 general verbs the test is run on
correlated numbers. Read a small p on a small model as "worth a closer look",
not as proof; a perturbed copy of a random model can already give p < 0.05 in
one group.
"""),
    code("t3 = finding2.table3(att, instruct, general, ex.n_layers, gsize)\n"
         "comparison, same_groups = finding2.table3_comparison(t3, ex.n_layers)\n"
         'display(Markdown(pair.caption("Table 3 · share of heads (%) where the tuned model has '
         'more pairs with the verb, instruction vs general verbs, ours beside the paper")))\n'
         "comparison.round(4)", ("table3",)),
    code('display(Markdown("**Table 3 of the paper** (LLaMA-7B → Vicuna-7B, 32 layers, %)" + '
         '("" if same_groups else " — a model of another depth: compare directions only.")))\n'
         "finding2.paper_table3()", ("paper-table3",)),
    md("""
## 5 · Example word pairs (App F style)

The top head-level pairs (query word → key word) of the heads with the most
pairs, in the first and the last explained layer, pre-trained beside tuned.
"""),
    code("for layer in finding2.example_layers(att):\n"
         "    heads = live_explainers.busiest_heads(att, layer, example_heads)\n"
         '    display(Markdown(pair.caption(f"Table 4 · top {top_pairs} head-level pairs, layer '
         '{layer + 1}, heads {heads}")))\n'
         "    display(live_explainers.head_pairs_table(att, layer, heads, top=top_pairs))",
         ("examples",)),
    md("""
## 6 · Browse the word pairs of a head

Pick a (layer, head): its top 20 pairs, pre-trained beside tuned ("=" marks a
pair in both lists). The tables are pre-rendered and the drop-down is linked in
the browser, so this works on the static page too.
"""),
    code("finding2.pair_browser(att, finding2.browse_choices(att, browse_per_layer), top=20)",
         ("browser",)),
    md("""
## 7 · Does the paper's finding hold on this pair?
"""),
    code("display(Markdown(finding2.conclusion(fig2, t3, ex.n_layers, pair)))", ("conclusion",)),
]


def main() -> int:
    print(write(NAME, notebook(CELLS)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
