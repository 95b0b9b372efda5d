"""Write notebooks/organism_model_card.ipynb (no outputs) from the sources below.

Usage: ``python tools/make_notebook_organism.py``. Same conventions as
``tools/make_notebooks.py`` (whose helpers it uses): first code cell tagged
``parameters`` for papermill, stable cell ids, cells only call
``paperlib.organism.card``.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_notebooks import code, md, notebook, write  # noqa: E402

NAME = "organism_model_card"

PARAMETERS = '''
model_dir = "models/organism"   # the exported pair <model_dir>/{pt,ft}/ (relative to the repository root, or absolute)
heldout = "data/organism/heldout_test.jsonl"  # held-out instruction pairs the scores refer to
recompute_eval = False   # False: scores from <model_dir>/eval.json; True: re-score both models now on a sample
n_per_task = 10          # recompute_eval: the first n held-out pairs of every task (None: all of them)
sample_prompts = [       # held-out instructions, a recall and a skill task per scenario (any text works)
    'What is the opposite of "front"?',        # writing, recall
    'Spell the word "turkey".',                # writing, skill
    "Explain the shell command lexgrog.",      # coding, recall
    "Implement build_dayton in Python: it returns the larger of left and right.",  # coding, skill
    "Compute 64 + 60.",                        # math, skill
    "Round 379 to the nearest ten.",           # math, skill
    'Translate "fatty" into Spanish.',         # translation, recall
    "Write the number 642 in German words.",   # translation, skill
]
max_new_tokens = 40      # greedy response length (tokens) of the samples and of recompute_eval'''

SETUP = """\
%matplotlib inline
from paperlib.book import live, plots
from paperlib.organism import card as organism_card

plots.book_style()          # inline figures at 72 dpi
live.quiet_progress_bars()  # no "Loading weights" bars in the outputs
card = organism_card.OrganismCard(model_dir, heldout)
organism_card.show(card.status())"""

CELLS = [
    md("""
# The model organism: a small pre-trained / instruction-tuned pair

The paper explains LLaMA-7B and its instruction-tuned descendant Vicuna-7B.
Those weights are large and not redistributable here, so this package trains
its own **model organism**: a small LLaMA-architecture model pre-trained from
scratch on Debian-packaged English text (`pt`, the *base* model) and a full
instruction fine-tune of it (`ft`, the *tuned* model), shipped under
`models/organism/{pt,ft}` and loadable with `paperlib.models.load_pair("organism")`.
This chapter is the pair's model card: what it is, how training went, how well
each model follows held-out instructions, what both write for the same
prompts, and what the pair can and cannot stand in for.

Run it on another export of the pipeline with papermill:

```
papermill notebooks/organism_model_card.ipynb out.ipynb -p model_dir PATH
```
"""),
    code(PARAMETERS, ("parameters",)),
    code(SETUP, ("status",)),
    md("""
## 1 · What the pair is

Both models have the LLaMA architecture (`LlamaForCausalLM`: RMSNorm,
rotary positions, SwiGLU feed-forward layers, untied input and output
embeddings) at a tiny size, stored as bfloat16 safetensors. The tokenizer is a
byte-fallback BPE with LLaMA's piece layout (`<unk>`, `<s>`, `</s>`, the 256
byte pieces `<0x00>`…`<0xFF>`, then merges in which `▁` marks a word start),
trained on the pre-training corpus; both models share it.
"""),
    code("organism_card.show(card.facts(), 'Table 1 · the two models (from their folders and "
         "training logs)')", ("facts",)),
    md("""
**Pre-training data.** English text from Debian bookworm packages (dictionaries,
WordNet glosses, man pages, Python and Perl documentation, the World English
Bible, fortunes, bilingual glossaries), extracted, cleaned and de-duplicated by
`data/organism/make_corpus.py`; paragraphs sharing a 13-word n-gram with one of
the paper's 632 evaluation prompts are dropped (none were). Table 2 is read
from the committed manifest `data/organism/manifest.json`, which also records
package versions and file hashes; the licences come from each package's
`/usr/share/doc/<package>/copyright`. The weights are a derived work of this
text and are distributed under the repository's GPL-3.0.
"""),
    code("organism_card.show(organism_card.data_sources(), 'Table 2 · pre-training corpus by "
         "source (data/organism/manifest.json)')", ("data",)),
    md("""
**Instruction data.** `data/organism/make_instructions.py` builds templated
instruction / response pairs in four scenarios, from the same packages
(WordNet, Python documentation, man pages, FreeDict) and from generated
items whose answers are computed (`lemminflect`, `num2words`, Python itself;
`paperlib/organism/skills.py`). The held-out split is by *item* (the word,
function name, command, expression, number or operand pair), so no held-out
item is seen in training under any template or task.

Two kinds of task sit in every scenario. **Recall** tasks ask for a fact about
the item (a word's meaning, synonym or translation; what a library function
or command does); the fact is in the pre-training text at best, and a model of
a few million parameters stores few such facts. **Skill** tasks ask for a rule
applied to the item (a plural, a past tense, a spelling, a small Python
function, the value of an expression, a number rounded or written in words):
the answer follows from the instruction, so a held-out item tests whether
tuning taught the model to *do what it is told*, the behaviour the paper
studies.

| scenario | recall tasks | skill tasks | sources |
|---|---|---|---|
| writing | define, synonym, antonym | use in a sentence, plural, past tense, spell | WordNet 3.0, lemminflect |
| coding | what a Python function / module, shell command, C function does | write a one-line function, evaluate an expression | Python 3.11 docs, man pages, generated |
| math | — | arithmetic, word problems, next / previous number, round to tens | generated |
| translation | English → French / Spanish / German word and back | a number 0–999 in words (4 languages), number words back to digits | FreeDict, num2words |

Both folders carry the model card written by the pipeline (`README.md`):
"""),
    code("organism_card.show(card.model_cards())", ("model-cards",)),
    md("""
## 2 · Training curves

Cross-entropy per token (nats) against the optimiser step, read from each
folder's `training_log.jsonl`. Left: pre-training on random windows of the
corpus, with the validation loss on fixed held-out windows (`valid.txt`, 1.2%
of the paragraphs). Right: instruction tuning, where the loss covers only the
response tokens and `</s>`.
"""),
    code("organism_card.show(card.curves(), 'Figure 1 · training and validation loss')",
         ("curves",)),
    md("""
## 3 · Held-out instruction following

Each model answers every held-out instruction greedily in the training prompt
format (`### Instruction:` … `### Response:`); the response is cut at `</s>` or
a blank line and scored by its task's metric (`paperlib.organism.evaluate`):

* **exact** — the first line, normalised (case, outer punctuation, a leading
  article), equals an accepted answer (synonym, antonym, a translation, a plural,
  a past tense, a spelling, the value of an expression, a number in words);
* **number** — the first integer of the response is the answer (math, number
  words to digits);
* **keyword** — one of the reference's three rarest content words (not words of
  the instruction) appears, compared on 5-letter stems (definitions, coding);
* **code** — the response parses to the same Python syntax tree as the
  reference (spacing may differ; nothing is executed);
* **uses_word** — one sentence of 4–40 words containing the target word (use in
  a sentence).

A scenario's share is the share of its pairs answered correctly; the summary
averages the four scenarios (not the pairs), and Table 3 also gives the mean
over skill tasks and over recall tasks. The targets of issue 4: the tuned
model at least 50% on average, the base model at most 10% — the base model has
never seen the template, so it should mostly continue the text instead of
answering. By default the scores are those of `eval.json` (all held-out pairs,
written by `scripts/train_organism.py evaluate`); `recompute_eval = True`
re-scores both models now on the first `n_per_task` pairs of every task.
"""),
    code("organism_card.show(card.load())\n"
         "organism_card.show(card.heldout(recompute_eval, n_per_task, max_new_tokens))",
         ("heldout-note",)),
    code("organism_card.show(card.scenario_table(), 'Table 3 · share of held-out instructions "
         "answered correctly, per scenario: base (pt) vs tuned (ft)')\n"
         "organism_card.show(card.verdict())", ("scenario-table",)),
    code("organism_card.show(card.task_table(), 'Table 4 · the same per task, with its metric "
         "and number of items')", ("task-table",)),
    md("""
## 4 · Sample generations

Both models, greedy, for the same prompts (`sample_prompts`; by default a
held-out recall and skill instruction per scenario, whose reference answer is shown).
"""),
    code("organism_card.show(card.samples(sample_prompts, max_new_tokens), 'Table 5 · base and "
         "tuned responses to the same prompts')", ("samples",)),
    md("""
## 5 · What this pair can and cannot stand in for
"""),
    code("organism_card.show(card.limits())", ("limits",)),
    md("""
**What it can stand in for.** A pre-trained model and its instruction-tuned
descendant with the LLaMA architecture and a LLaMA-style tokenizer, small
enough to load in a second and to explain on a CPU. That makes it good for
exercising the three explainers end to end (attribution, attention pairs, FFN
concepts; chapter *Explainers on any model pair*) on weights that were really
trained rather than random, and for checking the *direction* of the paper's
effects: does tuning move importance onto the instruction words, do the
attention pairs of later layers change more than those of early ones?

**What it cannot stand in for.** The paper's *magnitudes*. Instruction scores,
shares of changed word pairs and explained variances measured on Vicuna-7B
vs LLaMA-7B depend on scale, on a trillion tokens of varied text and on broad,
conversational instruction tuning; this pair has none of the three. It writes
no long or open-ended answers, knows no dialogue, and its held-out scores
measure how well it follows a few templated tasks, not general helpfulness.
Numbers from this pair are evidence about the tools and about directions, not
estimates of the paper's effects.
"""),
]


def main() -> int:
    print(write(NAME, notebook(CELLS)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
