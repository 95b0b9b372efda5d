"""A tiny organism build for the tests: a synthetic corpus, instruction pairs,
tokenizer and token streams in a temporary folder (imported as
``from organism.tests.tiny import ...``)."""
from __future__ import annotations

import json
import random

import torch

WORDS = ("the cat dog sat on a mat and ran to house tree river stone bird sings "
         "quickly slowly red green blue small large old new water light").split()


def synthetic_paragraphs(n: int, seed: int) -> list[str]:
    """``n`` paragraphs of 1-3 random sentences over :data:`WORDS`."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        lines = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 12))).capitalize() + "."
                 for _ in range(rng.randint(1, 3))]
        out.append("\n".join(lines))
    return out


def instruction_pairs(n: int, seed: int) -> list[dict]:
    """``n`` arithmetic and ``n`` synonym pairs in the held-out file's schema."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        a, b = rng.randint(0, 9), rng.randint(0, 9)
        rows.append({"scenario": "math", "task": "arithmetic", "item": f"{a}+{b}", "metric": "number",
                     "instruction": f"Compute {a} + {b}.", "response": str(a + b), "answers": [str(a + b)]})
        w = rng.choice(WORDS)
        rows.append({"scenario": "writing", "task": "synonym", "item": w, "metric": "exact",
                     "instruction": f"Give a synonym for \"{w}\".", "response": w, "answers": [w]})
    return rows


def tiny_train_config(steps: int, **kw):
    """A fast, seeded ``TrainConfig`` for tiny pipeline runs."""
    from organism.train import TrainConfig

    return TrainConfig(steps=steps, lr=1e-2, warmup=2, seed=7, ckpt_every=100, log_every=1, **kw)


def tiny_organism_layout(root, n_paragraphs: int, n_pairs: int):
    """A pipeline ``Layout`` under ``root`` with corpus, pairs, held-out file,
    a 512-piece tokenizer and encoded token streams; returns (layout, encode info)."""
    from organism import pipeline

    torch.set_num_threads(1)
    lay = pipeline.Layout(build=root / "build", models=root / "models", heldout=root / "heldout.jsonl")
    lay.corpus.mkdir(parents=True)
    (lay.corpus / "train.txt").write_text("\n\n".join(synthetic_paragraphs(n_paragraphs, 0)) + "\n")
    (lay.corpus / "valid.txt").write_text("\n\n".join(synthetic_paragraphs(n_paragraphs // 10, 1)) + "\n")
    (lay.build / "instructions").mkdir()
    (lay.build / "instructions" / "train.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in instruction_pairs(n_pairs, 2)))
    lay.heldout.write_text("".join(json.dumps(r) + "\n" for r in instruction_pairs(3, 3)))
    pipeline.step_tokenizer(lay, vocab_size=512)
    return lay, pipeline.step_encode(lay)
