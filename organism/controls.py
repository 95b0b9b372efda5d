"""Control models for Findings 2-3: what any further training, and what a reseeding, change.

Both controls start from the *shipped* pre-trained model (``models/organism/pt``:
its bf16 weights, cast to float32, and its tokenizer) and train with the
instruction tuning's recipe (:data:`organism.train_organism.FT_DEFAULTS`:
AdamW, lr 1e-3, 50 warm-up steps, cosine to 0.1·lr, no weight decay, bf16
autocast, 10000 steps):

``cpt``       continued pre-training: the same recipe on corpus text
              (``corpus/train.txt`` encoded with the shipped tokenizer), batch 32
              windows of ``seq_len`` tokens, where ``32 * seq_len`` is the
              tuning's tokens per step read from ``models/organism/ft/training_log.jsonl``
              (20,161,728 tokens / 10,000 steps = 2016 = 32 x 63);
``ft_seed1``  the instruction tuning repeated with seed 1 (data order; the tuning
              has no other randomness: no dropout, no new parameters).

Runs are resumable (``build/runs/<name>/ckpt.pt``); ``export`` writes
``models/organism/<name>/`` (bf16 safetensors, tokenizer, training log) and
``evaluate`` the held-out scores (``eval.json``) and the model card.

    python -m organism.controls train cpt --threads 1 [--stop-after N]
    python -m organism.controls train ft_seed1 --threads 1
    python -m organism.controls export cpt       # and ft_seed1
    python -m organism.controls evaluate cpt     # eval.json, heldout_samples.json, README.md
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Optional

import torch

from paperlib.core.errors import DataError, ParameterError
from paperlib.core.io import atomic_write_text
from paperlib.models.tokenizers import load_tokenizer

from organism.data import (PairBatcher, encode_stream, lm_batch, load_pairs, load_stream,
                          write_prompt_template)
from organism.make_instructions import write_instruction_verbs
from organism.pipeline import Layout, read_paragraphs
from organism.train import TrainConfig, train
from organism.train_organism import FT_DEFAULTS

CONTROLS = {
    "cpt": "continued pre-training (control: any further training)",
    "ft_seed1": "instruction tuning, second seed (control: reseeding noise)",
}
BASE, TUNED = "pt", "ft"


def recipe(steps: int = FT_DEFAULTS["steps"], seed: int = 0, compile: bool = True,
           ckpt_every: int = 250) -> TrainConfig:
    """The instruction tuning's ``TrainConfig`` (as ``train_organism._ft_cfg`` builds it)."""
    return TrainConfig(steps=steps, lr=FT_DEFAULTS["lr"], warmup=min(FT_DEFAULTS["warmup"], steps // 10),
                       seed=seed, bf16=True, compile=compile, ckpt_every=ckpt_every,
                       log_every=10, weight_decay=0.0)


def tokens_per_step(folder) -> float:
    """Mean tokens per step (padding included) of ``<folder>/training_log.jsonl``
    (``tokens`` is cumulative per process and restarts at a resume)."""
    from organism.card import _segment_total, load_log

    log = load_log(folder)
    if "tokens" not in log:
        raise DataError(f"{folder}/training_log.jsonl has no 'tokens' column")
    return _segment_total(log["tokens"]) / int(log["step"].iloc[-1])


def cpt_seq_len(lay: Layout, batch: int) -> int:
    """Window length making ``batch`` corpus windows hold the tuning's tokens per step."""
    return max(2, round(tokens_per_step(lay.models / TUNED) / batch))


def load_base(lay: Layout):
    """The shipped pre-trained model in float32 and its tokenizer."""
    from transformers import LlamaForCausalLM

    folder = lay.models / BASE
    if not (folder / "config.json").is_file():
        raise DataError(f"{folder} has no exported model (the controls start from the shipped base)")
    model = LlamaForCausalLM.from_pretrained(folder, dtype=torch.float32, local_files_only=True)
    return model, load_tokenizer(folder)


def control_tokens(lay: Layout, tok) -> dict[str, Path]:
    """Corpus train/valid streams encoded with the shipped tokenizer; re-encoded only
    when the tokenizer file or a corpus file changed (SHA-256 key in ``key.json``)."""
    from paperlib.core.io import sha256_file

    folder = lay.build / "controls" / "tokens"
    key = {"tokenizer": sha256_file(lay.models / BASE / "tokenizer.json"),
           **{split: sha256_file(lay.corpus / f"{split}.txt") for split in ("train", "valid")}}
    old = json.loads((folder / "key.json").read_text()) if (folder / "key.json").is_file() else None
    out = {split: folder / f"{split}.npy" for split in ("train", "valid")}
    for split, path in out.items():
        if old != key or not path.exists():
            encode_stream(tok, read_paragraphs(lay.corpus / f"{split}.txt"), path)
    atomic_write_text(folder / "key.json", json.dumps(key, indent=1) + "\n")
    return out


def _write_meta(run: Path, meta: dict) -> None:
    atomic_write_text(run / "run.json", json.dumps(meta, indent=1) + "\n")


def train_cpt(lay: Layout, cfg: TrainConfig, batch: int = FT_DEFAULTS["batch"],
              seq_len: Optional[int] = None, stop_after: Optional[int] = None) -> dict:
    """Continued pre-training of the shipped base on corpus text; run ``runs/cpt``."""
    model, tok = load_base(lay)
    seq_len = seq_len or cpt_seq_len(lay, batch)
    paths = control_tokens(lay, tok)
    stream, valid = load_stream(paths["train"]), load_stream(paths["valid"])
    gen = torch.Generator().manual_seed(1234)
    val = [lm_batch(valid, batch, seq_len, gen) for _ in range(8)]
    cfg = replace(cfg, eval_every=cfg.eval_every or max(1, cfg.steps // 10))
    run = lay.run("cpt")
    meta = {"control": "cpt", "about": CONTROLS["cpt"], "size": _size_name(model), "batch": batch,
            "seq_len": seq_len, "tokens_per_step": batch * seq_len, "train": asdict(cfg),
            "init": f"{lay.models.name}/{BASE} (shipped bf16 weights, cast to float32)",
            "train_tokens_available": int(stream.numel())}
    _write_meta(run, meta)
    return meta | train(model, lambda g: lm_batch(stream, batch, seq_len, g), cfg, run,
                        val_batches=val, stop_after=stop_after)


def train_ft_seed(lay: Layout, cfg: TrainConfig, name: str = "ft_seed1", batch: int = FT_DEFAULTS["batch"],
                  max_len: int = FT_DEFAULTS["max_len"], stop_after: Optional[int] = None) -> dict:
    """The instruction tuning of the shipped base with ``cfg.seed``; run ``runs/<name>``."""
    if cfg.seed == 0:
        raise ParameterError("a second tuning seed must differ from the first tuning's seed 0")
    model, tok = load_base(lay)
    pairs = load_pairs(lay.build / "instructions" / "train.jsonl")
    run = lay.run(name)
    meta = {"control": name, "about": CONTROLS.get(name, "instruction tuning, another seed"),
            "size": _size_name(model), "batch": batch, "max_len": max_len, "train": asdict(cfg),
            "n_pairs": len(pairs), "init": f"{lay.models.name}/{BASE} (shipped bf16 weights, cast to float32)"}
    _write_meta(run, meta)
    return meta | train(model, PairBatcher(tok, pairs, batch, max_len), cfg, run, stop_after=stop_after)


def _size_name(model) -> str:
    from organism.config import SIZES

    c = model.config
    for name, s in SIZES.items():
        if (s.hidden, s.layers, s.heads, s.ffn) == (c.hidden_size, c.num_hidden_layers,
                                                    c.num_attention_heads, c.intermediate_size):
            return name
    return f"d{c.hidden_size}-l{c.num_hidden_layers}"


def export_control(lay: Layout, name: str, dtype: str = "bfloat16") -> dict:
    """``models/<name>/``: weights of the finished run (bf16 safetensors), tokenizer, log, run.json."""
    run = lay.run(name)
    ckpt, meta_path = run / "ckpt.pt", run / "run.json"
    if not ckpt.exists() or not meta_path.exists():
        raise DataError(f"no run in {run}: train it first (make organism-controls)")
    meta = json.loads(meta_path.read_text())
    state = torch.load(ckpt, map_location="cpu", weights_only=True)
    if int(state["step"]) != meta["train"]["steps"]:
        raise DataError(f"{run} is at step {state['step']} of {meta['train']['steps']}: "
                        "finish training before exporting (make organism-controls resumes it)")
    model, tok = load_base(lay)
    model.load_state_dict(state["model"])
    folder = lay.models / name
    model.to(getattr(torch, dtype)).save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    log = (run / "log.jsonl").read_text()
    atomic_write_text(folder / "training_log.jsonl", log)
    atomic_write_text(folder / "run.json", json.dumps(meta, indent=1) + "\n")
    if name.startswith("ft"):  # tuned like the first tuning: same templates, same prompt format
        write_instruction_verbs(folder)
        write_prompt_template(folder)
    return {"folder": str(folder), "weights_bytes": sum(f.stat().st_size for f in folder.glob("*.safetensors"))}


def evaluate_control(lay: Layout, name: str, max_new_tokens: int = 40) -> dict:
    """Held-out scores of ``models/<name>`` (``eval.json``, samples) and its model card."""
    from transformers import LlamaForCausalLM

    from organism.evaluate import evaluate_pairs

    folder = lay.models / name
    pairs = load_pairs(lay.heldout)
    model = LlamaForCausalLM.from_pretrained(folder, dtype=torch.float32, local_files_only=True)
    res = evaluate_pairs(model, load_tokenizer(folder), pairs, max_new_tokens=max_new_tokens)
    out = {k: v for k, v in res.items() if k != "responses"}
    samples = [{"instruction": p["instruction"], "reference": p["response"], "response": r}
               for p, r in list(zip(pairs, res["responses"]))[::max(1, len(pairs) // 24)]]
    atomic_write_text(folder / "heldout_samples.json", json.dumps(samples, indent=1, ensure_ascii=False))
    atomic_write_text(folder / "eval.json", json.dumps(out, indent=1) + "\n")
    write_card(lay, name, out)
    return out


CARD = """# Organism {name}: {about}

Control model for Findings 2-3, built by `organism/controls.py`
(`make organism-controls`) from the shipped pre-trained model `pt`; same
architecture and tokenizer as the pair.

- size: {size} ({n_params:,} parameters), weights bfloat16 safetensors ({weights_mb:.1f} MB)
- start: {init}
- training: {training}
- optimiser and schedule: AdamW (0.9, 0.95), lr {lr}, {warmup} warm-up steps, cosine to
  {min_ratio}·lr, weight decay {wd}, clip {clip}, bf16 autocast, seed {seed}
- steps: {steps}; tokens seen (padding included): {tokens:,}; training time: {minutes:.1f} min
  ({threads})
- final training loss: {final_loss}{val}
- held-out instructions (data/organism/heldout_test.jsonl, {n_heldout} pairs), share answered
  correctly per scenario: {heldout}; mean over scenarios {mean:.1%}
- the same by kind of task: {kinds}
- share answered in the requested form (right or wrong): {form}
- for comparison, the shipped pair: base (pt) mean {pt_mean}, tuned (ft) mean {ft_mean}

Training text: Debian-packaged English (see data/organism/README.md and
manifest.json). The weights are a derived work of that text; this repository is GPL-3.0.
"""


def _training_line(meta: dict) -> str:
    if meta["control"] == "cpt":
        return (f"corpus text (corpus/train.txt), batch {meta['batch']} windows x {meta['seq_len']} tokens "
                f"= {meta['tokens_per_step']} tokens per step (the tuning's mean tokens per step)")
    return f"instruction tuning on {meta['n_pairs']} pairs, batch {meta['batch']}, max length {meta['max_len']}"


def write_card(lay: Layout, name: str, evals: dict) -> str:
    """``models/<name>/README.md`` from its run.json, training log and held-out scores."""
    from organism.card import count_params, load_log, log_summary

    folder = lay.models / name
    meta = json.loads((folder / "run.json").read_text())
    s, tr = log_summary(load_log(folder)), meta["train"]
    shipped = json.loads((lay.models / "eval.json").read_text()) if (lay.models / "eval.json").is_file() else {}
    share = lambda d: ", ".join(f"{k} {v:.1%}" for k, v in d.items()) or "n/a"
    text = CARD.format(
        name=name, about=meta["about"], size=meta["size"], n_params=count_params(folder),
        weights_mb=sum(f.stat().st_size for f in folder.glob("*.safetensors")) / 1e6,
        init=meta["init"], training=_training_line(meta), lr=tr["lr"], warmup=tr["warmup"],
        min_ratio=tr["min_lr_ratio"], wd=tr["weight_decay"], clip=tr["clip"], seed=tr["seed"],
        steps=s["steps"], tokens=s["tokens"] or 0, minutes=(s["wall_s"] or 0) / 60,
        threads=meta.get("threads", "1 thread at nice 19, machine shared"),
        final_loss=round(s["final_loss"], 4),
        val="" if s["final_val_loss"] is None else f"; corpus validation loss {s['final_val_loss']:.4f}",
        n_heldout=len(load_pairs(lay.heldout)), heldout=share(evals["scenario"]), mean=evals["mean"],
        kinds=share(evals["kind"]), form=share(evals["form"]["scenario"]),
        pt_mean=f"{shipped['pt']['mean']:.1%}" if "pt" in shipped else "n/a",
        ft_mean=f"{shipped['ft']['mean']:.1%}" if "ft" in shipped else "n/a")
    atomic_write_text(folder / "README.md", text)
    return text


def _args(argv):
    ap = argparse.ArgumentParser(prog="python -m organism.controls", description=__doc__.split("\n")[0])
    ap.add_argument("action", choices=["train", "export", "evaluate"])
    ap.add_argument("name", choices=sorted(CONTROLS))
    ap.add_argument("--build", type=Path, default=Layout.build)
    ap.add_argument("--models", type=Path, default=Layout.models)
    ap.add_argument("--heldout", type=Path, default=Layout.heldout)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=FT_DEFAULTS["steps"])
    ap.add_argument("--no-compile", action="store_true")
    ap.add_argument("--stop-after", type=int, default=None, help="interrupt after this many steps")
    return ap.parse_args(argv)


def run(a) -> dict:
    """One action of the command line on one control."""
    lay = Layout(build=a.build, models=a.models, heldout=a.heldout)
    if a.action == "export":
        return export_control(lay, a.name)
    if a.action == "evaluate":
        return evaluate_control(lay, a.name)
    seed = 1 if a.name == "ft_seed1" else 0
    cfg = recipe(a.steps, seed=seed, compile=not a.no_compile)
    if a.name == "cpt":
        return train_cpt(lay, cfg, stop_after=a.stop_after)
    return train_ft_seed(lay, cfg, a.name, stop_after=a.stop_after)


def main(argv=None) -> int:
    a = _args(argv)
    torch.set_num_threads(a.threads)
    t0 = time.perf_counter()
    out = run(a)
    print(json.dumps({"action": a.action, "control": a.name,
                      "seconds": round(time.perf_counter() - t0, 1), **out}, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
