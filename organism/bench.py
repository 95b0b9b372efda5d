"""Training throughput of candidate organism sizes (tokens per second).

Times full training steps (forward, backward, AdamW) on random tokens for
each size x {float32, bf16 autocast} x {eager, torch.compile}; the first
``warmup`` steps (and compilation) are excluded.
"""
from __future__ import annotations

import time

import torch

from organism.config import SIZES, llama_config, n_params
from organism.train import TrainConfig, make_optimizer


def _time_config(size: str, vocab: int, batch: int, seq_len: int, bf16: bool, compiled: bool,
                 seconds: float, warmup: int = 3) -> dict:
    from transformers import LlamaForCausalLM

    torch.manual_seed(0)
    model = LlamaForCausalLM(llama_config(size, vocab))
    opt = make_optimizer(model, TrainConfig(steps=1))
    fwd = torch.compile(model) if compiled else model
    x = torch.randint(3, vocab, (batch, seq_len))
    n, t_start, t_compile = 0, None, time.perf_counter()
    while True:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = fwd(input_ids=x, labels=x).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        n += 1
        if n == warmup:
            t_start, warm_s = time.perf_counter(), time.perf_counter() - t_compile
        if t_start is not None and time.perf_counter() - t_start >= seconds:
            break
    dt = time.perf_counter() - t_start
    steps = n - warmup
    return {"size": size, "params": n_params(SIZES[size], vocab), "bf16": bf16, "compile": compiled,
            "batch": batch, "seq_len": seq_len, "steps": steps, "s_per_step": round(dt / steps, 4),
            "tokens_per_s": round(steps * batch * seq_len / dt, 1), "warmup_s": round(warm_s, 1)}


def bench(sizes: list[str], vocab: int, batch: int, seq_len: int, seconds: float,
          modes: tuple[tuple[bool, bool], ...] = ((False, False), (True, False), (True, True))) -> dict:
    """Throughput rows for every size and (bf16, compile) mode."""
    rows = []
    for size in sizes:
        for bf16, compiled in modes:
            try:
                rows.append(_time_config(size, vocab, batch, seq_len, bf16, compiled, seconds))
            except Exception as exc:  # compile may be unavailable; report, keep going
                rows.append({"size": size, "bf16": bf16, "compile": compiled, "error": repr(exc)[:300]})
            print(rows[-1], flush=True)
    return {"threads": torch.get_num_threads(), "rows": rows}
