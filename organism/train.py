"""Training loop shared by pre-training and instruction tuning.

Seeded and resumable: the run folder holds ``ckpt.pt`` (model, optimiser,
step, data-sampling generator state) written atomically every
``ckpt_every`` steps and at the end, and ``log.jsonl`` (one line per logged
step: loss, lr, tokens seen, wall time; ``val_loss`` when evaluated). Training
N steps in one go equals N/2 steps + resume + N/2 steps (same seed, same
thread count): the batch sampler's generator state is checkpointed with the
weights and optimiser moments.

Schedule: linear warm-up then cosine decay to ``min_lr_ratio * lr``; AdamW
(beta 0.9/0.95), gradient clipping at ``clip``; optional bf16 autocast.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Optional

import torch

from paperlib.core.errors import ParameterError, check_range
from paperlib.core.io import atomic_path, atomic_write_text

BatchFn = Callable[[torch.Generator], tuple[torch.Tensor, torch.Tensor]]


@dataclass
class TrainConfig:
    """Hyper-parameters of one training run."""

    steps: int
    lr: float = 3e-3
    warmup: int = 100
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.1
    clip: float = 1.0
    seed: int = 0
    bf16: bool = True
    compile: bool = False
    ckpt_every: int = 500
    log_every: int = 10
    eval_every: int = 0

    def validate(self) -> "TrainConfig":
        check_range("steps", self.steps, 1, 10_000_000)
        check_range("lr", self.lr, 0.0, 1.0)
        check_range("warmup", self.warmup, 0, 10_000_000)
        check_range("min_lr_ratio", self.min_lr_ratio, 0.0, 1.0)
        check_range("ckpt_every", self.ckpt_every, 1, 10_000_000)
        check_range("log_every", self.log_every, 1, 10_000_000)
        return self


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Learning rate of (0-based) ``step``: warm-up, then cosine to min_lr_ratio·lr."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    frac = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0))))


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW; no weight decay on norms (1-D parameters)."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}],
                             lr=cfg.lr, betas=(0.9, 0.95), eps=1e-8)


def _save_ckpt(run_dir: Path, model, opt, step: int, gen: torch.Generator, cfg: TrainConfig) -> None:
    state = {"model": model.state_dict(), "optim": opt.state_dict(), "step": step,
             "gen": gen.get_state(), "config": asdict(cfg)}
    with atomic_path(run_dir / "ckpt.pt") as tmp:
        torch.save(state, tmp)


def _resume(run_dir: Path, model, opt, gen: torch.Generator) -> int:
    """Load ``ckpt.pt`` if present; trim the log to its step; return the step."""
    path = run_dir / "ckpt.pt"
    if not path.exists():
        return 0
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optim"])
    gen.set_state(state["gen"])
    log = run_dir / "log.jsonl"
    if log.exists():
        keep = [l for l in log.read_text().splitlines() if l and json.loads(l)["step"] <= state["step"]]
        atomic_write_text(log, "".join(l + "\n" for l in keep))
    return int(state["step"])


def _step(model, fwd, opt, x, y, cfg: TrainConfig, lr: float) -> float:
    for group in opt.param_groups:
        group["lr"] = lr
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.bf16):
        loss = fwd(input_ids=x, labels=y).loss
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
    opt.step()
    return float(loss.detach())


@torch.no_grad()
def evaluate_loss(model, batches: list[tuple[torch.Tensor, torch.Tensor]], bf16: bool = True) -> float:
    """Mean loss of ``model`` over fixed ``(inputs, labels)`` batches."""
    model.eval()
    losses = []
    for x, y in batches:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            losses.append(float(model(input_ids=x, labels=y).loss))
    model.train()
    return sum(losses) / max(1, len(losses))


def train(model, batch_fn: BatchFn, cfg: TrainConfig, run_dir: str | Path,
          val_batches: Optional[list] = None, stop_after: Optional[int] = None) -> dict:
    """Train ``model`` in place for ``cfg.steps`` steps, resuming from ``run_dir``.

    ``batch_fn(gen)`` returns ``(input_ids, labels)`` of shape (B, T).
    ``stop_after`` ends the call early after that many total steps (checkpoint
    written), as an interruption would. Returns a summary dict.
    """
    cfg.validate()
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    opt = make_optimizer(model, cfg)
    start = _resume(run_dir, model, opt, gen)
    fwd = torch.compile(model) if cfg.compile else model
    end = cfg.steps if stop_after is None else min(cfg.steps, stop_after)
    if start > cfg.steps:
        raise ParameterError(f"checkpoint in {run_dir} is at step {start} > steps={cfg.steps}")
    model.train()
    t0, tokens, last = time.perf_counter(), 0, float("nan")
    with open(run_dir / "log.jsonl", "a", encoding="utf-8") as log:
        for step in range(start, end):
            x, y = batch_fn(gen)
            last = _step(model, fwd, opt, x, y, cfg, lr_at(step, cfg))
            tokens += int(x.numel())
            done = step + 1
            row = {"step": done, "loss": round(last, 5), "lr": lr_at(step, cfg),
                   "tokens": tokens, "elapsed_s": round(time.perf_counter() - t0, 3)}
            if val_batches and cfg.eval_every and (done % cfg.eval_every == 0 or done == cfg.steps):
                row["val_loss"] = round(evaluate_loss(model, val_batches, cfg.bf16), 5)
            if done % cfg.log_every == 0 or done == end or "val_loss" in row:
                log.write(json.dumps(row) + "\n")
                log.flush()
            if done % cfg.ckpt_every == 0 or done == end:
                _save_ckpt(run_dir, model, opt, done, gen, cfg)
    wall = time.perf_counter() - t0
    return {"start_step": start, "end_step": end, "last_loss": last, "tokens": tokens,
            "wall_s": wall, "tokens_per_s": tokens / wall if wall > 0 else float("nan")}
