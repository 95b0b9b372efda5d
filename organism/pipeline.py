"""Steps that turn the corpus and instruction data into the shipped organism pair.

``tokenizer`` -> ``encode`` -> ``pretrain`` -> ``finetune`` -> ``export`` ->
``evaluate``; each reads and writes under a ``Layout`` (build folder, models
folder) so tests can run the same code on a tiny corpus in a temporary folder.
``organism/train_organism.py`` (``python -m organism``) is the command-line front end.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

import torch

from paperlib.core.errors import DataError, ModelLoadError
from paperlib.core.io import atomic_write_text
from paperlib.models.tokenizers import load_tokenizer, save_tokenizer, train_tokenizer

from organism import BUILD, HELDOUT, MODELS
from organism.config import SIZES, llama_config, n_params
from organism.data import PairBatcher, encode_stream, lm_batch, load_pairs, load_stream
from organism.train import TrainConfig, train


@dataclass
class Layout:
    """Where the pipeline reads and writes."""

    build: Path = BUILD
    models: Path = MODELS
    heldout: Path = HELDOUT

    @property
    def corpus(self) -> Path:
        return self.build / "corpus"

    @property
    def tok_dir(self) -> Path:
        return self.build / "tokenizer"

    def run(self, name: str) -> Path:
        return self.build / "runs" / name


def read_paragraphs(path: Path) -> list[str]:
    """Blank-line separated paragraphs of a corpus file."""
    if not path.exists():
        raise DataError(f"{path} not found (run organism/make_corpus.py first)")
    return [p for p in path.read_text(encoding="utf-8").split("\n\n") if p.strip()]


def step_tokenizer(lay: Layout, vocab_size: int = 8192) -> dict:
    """Train the tokenizer on ``corpus/train.txt``; save to ``build/tokenizer``."""
    t0 = time.perf_counter()
    tok = train_tokenizer(read_paragraphs(lay.corpus / "train.txt"), vocab_size=vocab_size)
    save_tokenizer(tok, lay.tok_dir)
    return {"vocab_size": tok.get_vocab_size(), "seconds": round(time.perf_counter() - t0, 1)}


def step_encode(lay: Layout) -> dict:
    """Encode train/valid paragraphs into uint16 token streams ``build/tokens/*.npy``."""
    tok = load_tokenizer(lay.tok_dir)
    out = {}
    for split in ("train", "valid"):
        pars = read_paragraphs(lay.corpus / f"{split}.txt")
        n = encode_stream(tok, pars, lay.build / "tokens" / f"{split}.npy")
        out[split] = {"paragraphs": len(pars), "tokens": n,
                      "bytes_per_token": round(sum(len(p.encode()) for p in pars) / max(n, 1), 3)}
    return out


def new_model(size: str, vocab_size: int, seed: int):
    """A freshly initialised LlamaForCausalLM of preset ``size`` (float32)."""
    from transformers import LlamaForCausalLM

    torch.manual_seed(seed)
    return LlamaForCausalLM(llama_config(size, vocab_size))


def _val_batches(stream: torch.Tensor, n: int, batch: int, seq_len: int) -> list:
    gen = torch.Generator().manual_seed(1234)
    return [lm_batch(stream, batch, seq_len, gen) for _ in range(n)]


def step_pretrain(lay: Layout, size: str, cfg: TrainConfig, batch: int, seq_len: int,
                  stop_after: Optional[int] = None) -> dict:
    """Pre-train (or resume) a model of ``size`` on the token stream; run dir ``runs/pt``."""
    tok = load_tokenizer(lay.tok_dir)
    stream = load_stream(lay.build / "tokens" / "train.npy")
    valid = load_stream(lay.build / "tokens" / "valid.npy")
    model = new_model(size, len(tok), cfg.seed)
    run = lay.run("pt")
    meta = {"size": size, "batch": batch, "seq_len": seq_len, "train": asdict(cfg),
            "n_params": n_params(SIZES[size], len(tok)), "train_tokens_available": int(stream.numel())}
    atomic_write_text(run / "run.json", json.dumps(meta, indent=1) + "\n")
    summary = train(model, lambda g: lm_batch(stream, batch, seq_len, g), cfg, run,
                    val_batches=_val_batches(valid, 4, batch, seq_len), stop_after=stop_after)
    return meta | summary


def load_run_model(lay: Layout, name: str):
    """Model of run ``name`` with the weights of its last checkpoint."""
    run = lay.run(name)
    meta_path = run / "run.json"
    if not (run / "ckpt.pt").exists() or not meta_path.exists():
        raise ModelLoadError(f"no finished run in {run}")
    meta = json.loads(meta_path.read_text())
    tok = load_tokenizer(lay.tok_dir)
    model = new_model(meta["size"], len(tok), 0)
    model.load_state_dict(torch.load(run / "ckpt.pt", map_location="cpu", weights_only=True)["model"])
    return model, meta


def step_finetune(lay: Layout, cfg: TrainConfig, batch: int, max_len: int,
                  stop_after: Optional[int] = None) -> dict:
    """Full fine-tune of the pre-trained model on ``instructions/train.jsonl``; run ``runs/ft``."""
    tok = load_tokenizer(lay.tok_dir)
    model, pt_meta = load_run_model(lay, "pt")
    pairs = load_pairs(lay.build / "instructions" / "train.jsonl")
    batcher = PairBatcher(tok, pairs, batch, max_len)
    run = lay.run("ft")
    meta = {"size": pt_meta["size"], "batch": batch, "max_len": max_len, "train": asdict(cfg),
            "n_pairs": len(pairs), "init": "runs/pt/ckpt.pt"}
    atomic_write_text(run / "run.json", json.dumps(meta, indent=1) + "\n")
    return meta | train(model, batcher, cfg, run, stop_after=stop_after)


def step_export(lay: Layout, dtype: str = "bfloat16") -> dict:
    """Write ``models/{pt,ft}/`` (safetensors weights, config, tokenizer, training log)
    and beside the tuned model ``instruction_verbs.json`` (the verbs of the tuning
    templates) and ``prompt_template.json`` (the prompt format it was tuned with)."""
    from organism.data import write_prompt_template
    from organism.make_instructions import write_instruction_verbs

    out = {}
    tok = load_tokenizer(lay.tok_dir)
    for name in ("pt", "ft"):
        model, meta = load_run_model(lay, name)
        folder = lay.models / name
        model.to(getattr(torch, dtype)).save_pretrained(folder, safe_serialization=True)
        tok.save_pretrained(folder)
        log = [json.loads(l) for l in (lay.run(name) / "log.jsonl").read_text().splitlines() if l]
        atomic_write_text(folder / "training_log.jsonl", "".join(json.dumps(r) + "\n" for r in log))
        size = sum(f.stat().st_size for f in folder.glob("*.safetensors"))
        out[name] = {"folder": str(folder), "weights_bytes": size, "meta": meta,
                     "final_loss": log[-1]["loss"] if log else None}
    out["ft"]["instruction_verbs"] = str(write_instruction_verbs(lay.models / "ft"))
    out["ft"]["prompt_template"] = str(write_prompt_template(lay.models / "ft"))
    return out
