"""The project's own model organism: a small LLaMA-architecture model pre-trained
on Debian-packaged English text and its instruction-tuned descendant.

Not part of the ``paperlib`` package: this folder builds the pair that
``paperlib`` then explains (``paperlib.models.load_pair("organism")`` reads the
exported ``models/organism/{pt,ft}``). Import it from the repository root
(``python -m organism ...``, ``from organism import card``); it may import
``paperlib``, never the reverse.

Modules: ``sources`` (readers of the packaged resources), ``leakcheck``
(n-gram overlap with the paper's evaluation prompts), ``make_corpus`` and
``make_instructions`` (the data builders), ``skills`` (skill-task templates),
``config`` (model sizes), ``data`` (token streams and instruction batches),
``train`` (pre-training / fine-tuning loop with checkpoint + resume),
``pipeline`` (tokenizer -> encode -> pretrain -> finetune -> export),
``evaluate`` (held-out metrics), ``heldout`` and ``report`` (scores and model
cards), ``card`` (the chapter ``organism_model_card``), ``bench`` (throughput),
``train_organism`` (the command line; ``organism.mk`` the make targets).
The byte-fallback BPE trainer is :mod:`paperlib.models.tokenizers`.
"""
from pathlib import Path

# Found from this file, not from paperlib: the organism lives in the checkout.
REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data" / "organism"           # committed data: manifest, held-out split, README
BUILD = DATA / "build"                      # git-ignored build outputs (corpus, tokens, runs)
MODELS = REPO / "models" / "organism"       # the exported pair {pt,ft}/ and eval.json
HELDOUT = DATA / "heldout_test.jsonl"
MANIFEST = DATA / "manifest.json"
VERBS_FILE = "instruction_verbs.json"       # written into the tuned model's folder (see make_instructions)
