"""Write notebooks/explainers_live_pair.ipynb (no outputs) from the sources below.

Usage: ``python tools/make_notebook_live.py``. Same conventions as
``tools/make_notebooks.py`` (whose helpers it uses): first code cell tagged
``parameters`` for papermill, stable cell ids, cells only call paperlib.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_notebooks import code, md, notebook, pair_cells, write  # noqa: E402

NAME = "explainers_live_pair"

PARAMETERS = '''
model_pt = "organism"      # pre-trained model: a pair alias, a local folder (save_pretrained) or a hub id
model_ft = None            # tuned model; None = the second model of the alias pair model_pt
prompts = [                # FinalDataset prompts (annotated) or any text (ids custom_<i>)
    "You need to write an email to negotiate your salary.",                 # writing
    "Solve for x in the equation 3x + 10 = 5(x - 2).",                      # math
    'Answer the following question.\\n\\nInput: How do you say "good evening" in French.\\n\\nOutput:',  # translation
    "Write a Python function to sort a list of integers.",                  # coding
]
max_new_tokens = 40        # greedy response length (tokens)
attribution_mode = "auto"  # "auto", "reverse" or "forward": same numbers, different cost
chat_template = False      # False, True (the tokenizer's template) or e.g. "USER: {prompt} ASSISTANT:"
layers = None              # 0-based layers for the attention / FFN explainers; None = first and last
K = 100                    # attention: top-K words per neuron (capped by the number of words)
R = 300                    # FFN: principal components described (capped by the width D)
ffn_K = 15                 # FFN: words per component
vocab_size = 2000          # the most frequent ShareGPT words used as candidates (None = all 26,497)
similarity = "minilm"      # word similarity of the pair filter: "minilm" or the path of a GloVe file
seed = 0                   # seed of the random fallback pair
fallback_to_random = True  # no loadable pair: continue on a labelled random pair (False: stop)
dtype = "float32"          # torch dtype to load the models in ("bfloat16" on a GPU)
device = "cpu"             # "cpu" or "cuda"'''

SETUP = """\
%matplotlib inline
import warnings
from IPython.display import Markdown, display
from paperlib.book import live, live_explainers, plots

plots.book_style()  # inline figures at 72 dpi
live.quiet_progress_bars()  # no "Loading weights" bars in the outputs
warnings.filterwarnings("ignore", message=r"Glyph .* missing from font")  # rare byte pieces"""

CELLS = [
    md("""
# The three explainers on any model pair

The paper explains a pre-trained model (LLaMA-7B) and its instruction-tuned
version (Vicuna-7B) with three tools: **prompt → response attribution**
(Finding 1), **attention word pairs** (Finding 2) and **FFN concepts**
(Finding 3). This chapter runs all three on a pair chosen by parameter. By
default it asks for the small trained pair shipped with this package (alias
`organism`, folders `models/organism/{pt,ft}`); if that pair — or any pair you
pass — cannot be loaded, the chapter says so and, unless
`fallback_to_random = False`, continues on a **tiny random-weight LLaMA pair**,
so that every cell still shows how the tools are called and what they return.
Results from random weights mean nothing linguistically; every caption names
the pair that produced it.

Run it on your own pair with papermill:

```
papermill notebooks/explainers_live_pair.ipynb out.ipynb -p model_pt PATH -p model_ft PATH
```
"""),
    code(PARAMETERS, ("parameters",)),
    code(SETUP),
    md("""
## 1 · The pair

`live.load_pair_or_fallback` loads both models (eager attention, eval mode,
the requested dtype and device) with their tokenizers. A missing folder, an
unknown hub id or no hub access raises one `ModelLoadError`; here it is caught
and reported, and the random stand-in pair is built instead: a 4-layer LLaMA
(D = 64) with a LLaMA-style byte-fallback BPE tokenizer trained on the paper's
prompts, and a "tuned" copy whose weights get seeded Gaussian noise.
"""),
    *pair_cells(),
    md("""
## 2 · Prompt → response attribution (Finding 1)

Each model answers every prompt greedily (at most `max_new_tokens` tokens);
then the importance of prompt token $x_n$ for response token $y_m$ is the
gradient of $p(y_m \\mid x, y_{<m})$ with respect to the input embedding of
$x_n$, dotted with that embedding, normalised per response token to integers
$S[n, m] \\in \\{0..10\\}$ (Sec 4.1). The results are cached on disk (paperlib
cache, `PAPERLIB_CACHE`) and written as two **case sets** — the same file
format as the released LLaMA / Vicuna data — under the results folder
(`PAPERLIB_RESULTS`), so the Finding-1 code reads them like the paper's data.
"""),
    code("cases_by_id = live.resolve_prompts(prompts)\n"
         "paths = live.explain_pair_cases(pair, cases_by_id, live.live_dir(pair),\n"
         "                                max_new_tokens=max_new_tokens,\n"
         "                                attribution_mode=attribution_mode,\n"
         "                                chat_template=chat_template)\n"
         "cases = {name: live.load_live_cases(path, name) for name, path in paths.items()}\n"
         'display(Markdown(pair.caption("Table 2 · prompts and greedy responses") + "  \\n"\n'
         '                 + "Case sets: " + ", ".join(f"`{p}`" for p in paths.values())))\n'
         "live.responses_table(cases, pair)", ("responses",)),
    md("""
Salient maps, pre-trained (left) beside tuned (right): rows are prompt tokens
(instruction tokens of annotated prompts in **bold blue**), columns the
response tokens each model generated. The paper's finding is that the tuned
model keeps using the instruction words along its whole response.
"""),
    code("for case_pt, case_ft in zip(cases['pt'], cases['ft']):\n"
         "    live.salient_figure(case_pt, case_ft, pair, max_response_tokens=max_new_tokens)"),
    md("""
**Instruction scores.** The same function that feeds Tables 1–2
(`paperlib.paper.finding1.scores`, cutoff $b = 7$, $p = 4$) reads the live case sets.
Prompts from the paper's data set carry their annotated instruction sentences;
custom prompts have none and are not scored. Table 2 itself
(`finding1.table2(source=folder, models={"tuned": "ft", "base": "pt"})`)
needs at least two scored responses of 5+ tokens per model in each of the three
data sets, and Table 1 needs human ratings of the responses, so with a handful
of prompts we show the per-case scores those tables are built from.
"""),
    code("scores, note = live.instruction_scores(paths)\n"
         'display(Markdown(pair.caption("Table 3 · instruction score per case (Sec 4.2), '
         'pre-trained (_pt) vs tuned (_ft)") + " " + note))\n'
         "scores", ("scores",)),
    md("""
## 3 · Attention word pairs (Finding 2)

For each head and each of its D' dimensions, the K candidate words with the
largest |activation| on the query side and on the key side are paired when
the activations share a sign and the two words plausibly co-occur (word
similarity above both words' thresholds). A head's explanation is the list of
pairs that recur across its dimensions (count > 1), most common first. The
candidates are the `vocab_size` most frequent ShareGPT words the tokenizer can
spell; the similarity table is cached on disk.

Note on random weights: the pairs below can *look* meaningful even for the
random pair, because the similarity filter only ever keeps word pairs that are
similar — a reminder that the filter, not the model, supplies much of the
apparent meaning of a single pair. What the weights decide is *which* pairs
survive, and that is what the changed share compares.
"""),
    code("ex = live_explainers.PairExplainers(pair, vocab_size, similarity)\n"
         "layer_ids = live_explainers.check_layers(layers, ex.n_layers)\n"
         'K_used, K_note = live_explainers.capped("K", K, ex.n_words, "number of candidate words")\n'
         "att = ex.attention(layer_ids, K=K_used)\n"
         'display(Markdown(f"{ex.n_words} candidate words; layers {[l + 1 for l in layer_ids]} '
         '(1-based) of {ex.n_layers}; K = {K_used}. {K_note}"))', ("attention-setup",)),
    code("for layer in layer_ids:\n"
         "    heads = live_explainers.busiest_heads(att, layer, 2)\n"
         '    display(Markdown(pair.caption(f"Table 4 · top head-level pairs (query word → '
         'key word), layer {layer + 1}, heads {heads}")))\n'
         "    display(live_explainers.head_pairs_table(att, layer, heads, top=8))",
         ("head-pairs",)),
    md("""
**Changed share** (the quantity of Fig 2): for every head (and every neuron)
$1 - |E_{pt} \\cap E_{ft}| / |E_{pt} \\cup E_{ft}|$ of its pair lists, averaged
over the heads (neurons) of a layer. The paper finds it rising with depth, above
35% in the last layers of Vicuna vs LLaMA. Units with no pair in either model are
left out of the mean.
"""),
    code('display(Markdown(pair.caption("Table 5 · changed share of the pair lists per layer")))\n'
         "live_explainers.changed_share_table(att, ex.n_layers)", ("changed-share",)),
    md("""
## 4 · FFN concepts (Finding 3)

The rows of each FFN down-projection ("values", one per intermediate neuron)
are centred and decomposed by PCA; each of the top R principal components is
described by the `ffn_K` candidate words whose normalised output embeddings
have the largest |projection| on it. The paper reads these word lists as
concepts (R = 300 explain about 22.5% of a LLaMA-7B layer's variance).
"""),
    code('R_used, R_note = live_explainers.capped("R", R, ex.d_model, "the model width D")\n'
         "ffn = ex.ffn(layer_ids, R=R_used, K=ffn_K)\n"
         'display(Markdown(pair.caption(f"Figure · cumulative explained variance of the FFN '
         'values, R = {R_used}") + " " + R_note))\n'
         "live_explainers.variance_figure(ffn, pair);", ("ffn-variance",)),
    code("live_explainers.variance_table(ffn)"),
    code("for layer in layer_ids:\n"
         '    display(Markdown(pair.caption(f"Table 6 · top words of the first principal '
         'components, layer {layer + 1} (component r of one model need not match component r '
         'of the other)")))\n'
         "    display(live_explainers.concept_table(ffn, layer, n_components=5, n_words=8))",
         ("concepts",)),
    md("""
## 5 · Running it on LLaMA-7B / Vicuna-7B

The chapter takes any Hugging Face causal LM of a supported family (LLaMA,
Mistral, Qwen2, GPT-2, GPT-NeoX). For the paper's pair, with the weights in the
local Hugging Face cache or in local folders:

```
papermill notebooks/explainers_live_pair.ipynb llama_vicuna.ipynb \\
    -p model_pt huggyllama/llama-7b -p model_ft lmsys/vicuna-7b-v1.1 \\
    -p device cuda -p dtype bfloat16 -p fallback_to_random False \\
    -p vocab_size None -p max_new_tokens 300
```

(`device = "cuda"` and `dtype = "bfloat16"` go straight to `from_pretrained`
and `.to(device)`; this package's tests run the chapter on a CPU only.)

* **Memory.** Two 7B models take 2 × 13.5 GB in bfloat16 (2 × 27 GB in
  float32): one 40–80 GB GPU holds both; on a CPU expect float32 and ≥ 64 GB RAM.
* **Time.** Attribution costs about min(N, M) batched gradient passes of the
  model per prompt (`attribution_mode = "auto"` picks the cheaper side; see
  `benchmarks/bench_attribution.py`): practical on one GPU, slow on a CPU
  for 300-token responses. The attention and FFN explainers only read the
  weights, no forward pass (`benchmarks/bench_attention_ffn.py` times them on
  7B shapes). Attribution results and similarity tables are cached on disk, so a
  re-run costs little.
* **Paper settings.** `vocab_size = None` (all 26,497 words), `K = 100`,
  `R = 300`, `ffn_K = 15`, all layers (`layers = list(range(32))`), and
  GloVe for the pair filter (`similarity = "/path/to/glove.840B.300d.txt"`;
  the default MiniLM backend is a documented substitute).
* `HF_HUB_OFFLINE=1` makes loading use the local cache only; a missing model
  then fails fast with a message naming it.
"""),
]


def main() -> int:
    print(write(NAME, notebook(CELLS)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
