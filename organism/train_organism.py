#!/usr/bin/env python
"""Build the model organism from scratch (command-line front end).

    python -m organism all            # every step below, in order
    python -m organism tokenizer      # build/tokenizer from build/corpus/train.txt
    python -m organism encode         # build/tokens/{train,valid}.npy
    python -m organism pretrain       # build/runs/pt (resumes from ckpt.pt)
    python -m organism finetune       # build/runs/ft (resumes from ckpt.pt)
    python -m organism export         # models/organism/{pt,ft} (+ ft/instruction_verbs.json)
    python -m organism evaluate       # held-out instruction following, pt vs ft
    python -m organism verbs          # only rewrite models/organism/ft/instruction_verbs.json
    python -m organism bench --sizes d192-l6,d256-l4 --seconds 60

Run from the repository root (``organism`` is a folder there, not an installed package).
The corpus and instruction data come first: ``python -m organism.make_corpus``
and ``python -m organism.make_instructions`` (``make organism`` runs all of it).
Build outputs go to ``data/organism/build/``. Defaults are the planned full-size
run; ``--threads`` sets torch's intra-op threads (default 2).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from organism import pipeline
from organism.train import TrainConfig

PT_DEFAULTS = dict(size="d256-l4", steps=1400, batch=32, seq_len=256, lr=2e-3, warmup=100)
FT_DEFAULTS = dict(steps=10000, batch=32, max_len=128, lr=1e-3, warmup=50)


def _args(argv):
    ap = argparse.ArgumentParser(prog="python -m organism", description=__doc__.split("\n")[1])
    ap.add_argument("step", choices=["all", "tokenizer", "encode", "pretrain", "finetune",
                                     "export", "evaluate", "verbs", "bench"])
    ap.add_argument("--build", type=Path, default=pipeline.Layout.build)
    ap.add_argument("--models", type=Path, default=pipeline.Layout.models)
    ap.add_argument("--heldout", type=Path, default=pipeline.Layout.heldout)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--vocab", type=int, default=8192)
    ap.add_argument("--size", default=PT_DEFAULTS["size"])
    ap.add_argument("--pt-steps", type=int, default=PT_DEFAULTS["steps"])
    ap.add_argument("--pt-batch", type=int, default=PT_DEFAULTS["batch"])
    ap.add_argument("--seq-len", type=int, default=PT_DEFAULTS["seq_len"])
    ap.add_argument("--pt-lr", type=float, default=PT_DEFAULTS["lr"])
    ap.add_argument("--ft-steps", type=int, default=FT_DEFAULTS["steps"])
    ap.add_argument("--ft-batch", type=int, default=FT_DEFAULTS["batch"])
    ap.add_argument("--ft-max-len", type=int, default=FT_DEFAULTS["max_len"])
    ap.add_argument("--ft-lr", type=float, default=FT_DEFAULTS["lr"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-bf16", action="store_true")
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--ckpt-every", type=int, default=250)
    ap.add_argument("--stop-after", type=int, default=None, help="interrupt after this many steps")
    ap.add_argument("--sizes", default="d192-l6,d256-l4,d224-l6", help="bench: presets to time")
    ap.add_argument("--seconds", type=float, default=60.0, help="bench: seconds per configuration")
    return ap.parse_args(argv)


def _pt_cfg(a) -> TrainConfig:
    return TrainConfig(steps=a.pt_steps, lr=a.pt_lr, warmup=min(PT_DEFAULTS["warmup"], a.pt_steps // 10),
                       seed=a.seed, bf16=not a.no_bf16, compile=a.compile, ckpt_every=a.ckpt_every,
                       log_every=10, eval_every=max(1, a.pt_steps // 20))


def _ft_cfg(a) -> TrainConfig:
    return TrainConfig(steps=a.ft_steps, lr=a.ft_lr, warmup=min(FT_DEFAULTS["warmup"], a.ft_steps // 10),
                       seed=a.seed, bf16=not a.no_bf16, compile=a.compile, ckpt_every=a.ckpt_every,
                       log_every=10, weight_decay=0.0)


def run_step(step: str, a, lay: pipeline.Layout) -> dict:
    if step == "tokenizer":
        return pipeline.step_tokenizer(lay, a.vocab)
    if step == "encode":
        return pipeline.step_encode(lay)
    if step == "pretrain":
        return pipeline.step_pretrain(lay, a.size, _pt_cfg(a), a.pt_batch, a.seq_len, a.stop_after)
    if step == "finetune":
        return pipeline.step_finetune(lay, _ft_cfg(a), a.ft_batch, a.ft_max_len, a.stop_after)
    if step == "export":
        return pipeline.step_export(lay)
    if step == "evaluate":
        from organism.report import step_evaluate

        return step_evaluate(lay)
    if step == "verbs":
        from organism.make_instructions import write_instruction_verbs

        return {"written": str(write_instruction_verbs(lay.models / "ft"))}
    if step == "bench":
        from organism.bench import bench

        return bench(a.sizes.split(","), a.vocab, a.pt_batch, a.seq_len, a.seconds)
    raise AssertionError(step)


def main(argv=None) -> int:
    a = _args(argv)
    torch.set_num_threads(a.threads)
    lay = pipeline.Layout(build=a.build, models=a.models, heldout=a.heldout)
    steps = ["tokenizer", "encode", "pretrain", "finetune", "export", "evaluate"] if a.step == "all" else [a.step]
    for s in steps:
        t0 = time.perf_counter()
        out = run_step(s, a, lay)
        print(json.dumps({"step": s, "seconds": round(time.perf_counter() - t0, 1), **out},
                         default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
