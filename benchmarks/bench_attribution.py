"""Benchmark: the authors' attribution algorithm vs the fast engine (not a test).

Model: a random-weight LLaMA of GPT-2-small size (12 layers, D = 768, 12 heads,
intermediate 2048, vocab 32000, float32, eager attention). Inputs: random
token ids, (N, M) = (200, 100) and (60, 300). Prints a markdown table of
seconds per case and the speed-up, and checks that the engines agree.

The reference costs the same for every response token (a full forward +
backward over the whole sequence), so by default it is timed on
``--ref-tokens`` evenly spaced response tokens and extrapolated linearly to M
(``--full-reference`` times all M). The fast engine's auto mode is timed in
full; the other mode on ``--other-units`` evenly spaced rows (forward: exact,
every JVP costs the same) or columns (reverse: an over-estimate, since spread
columns truncate the sequence less than consecutive ones). ``--full`` times
everything in full. Run::

    python benchmarks/bench_attribution.py [--threads 2] [--full]
"""
from __future__ import annotations

import argparse
import time

import torch

from paperlib.explainers.attribution import attribution_reference
from paperlib.explainers.attribution_fast import attribution_fast, choose_mode

SHAPES = ((200, 100), (60, 300))
VOCAB = 32000


def bench_model(vocab: int = VOCAB):
    """The GPT-2-small-sized random LLaMA (seeded)."""
    import transformers as tf

    cfg = tf.LlamaConfig(vocab_size=vocab, hidden_size=768, intermediate_size=2048,
                         num_hidden_layers=12, num_attention_heads=12,
                         num_key_value_heads=12, max_position_embeddings=1024)
    torch.manual_seed(0)
    model = tf.AutoModelForCausalLM.from_config(cfg, attn_implementation="eager")
    return model.float().eval()


def _reference_seconds(model, prompt, response, n_tokens: int | None):
    """(seconds per case, I columns computed) - extrapolated from ``n_tokens`` columns."""
    m = len(response)
    if n_tokens is None or n_tokens >= m:
        t0 = time.perf_counter()
        ref = attribution_reference(model, prompt, response)
        return time.perf_counter() - t0, ref, list(range(m))
    cols = torch.linspace(0, m - 1, n_tokens).round().long().tolist()
    t0 = time.perf_counter()
    parts = []
    for c in cols:  # prefix response[:c + 1] -> last column = full-sequence pass for m = c
        # the full sequence is passed each time, as in the authors' algorithm
        parts.append(_one_reference_column(model, prompt, response, c))
    elapsed = time.perf_counter() - t0
    return elapsed * m / len(cols), torch.stack(parts, dim=1), cols


def _one_reference_column(model, prompt, response, col: int) -> torch.Tensor:
    """Column ``col`` of the reference, with the full-length forward+backward."""
    ids = torch.tensor(prompt + response)
    n = len(prompt)
    emb = model.get_input_embeddings()(ids[None]).detach().requires_grad_(True)
    logits = model(inputs_embeds=emb, use_cache=False).logits[0]
    p = torch.softmax(logits[n - 1 + col], dim=-1)[response[col]]
    model.zero_grad(set_to_none=True)
    p.backward()
    return (emb.grad[0, :n] * emb[0, :n]).sum(-1).detach().float()


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _rel_err(out, ref, cols, mode, units) -> float:
    """max |fast - reference| / max |reference| over the entries both computed.

    out: (N, M) fast result; ref: (N, len(cols)) reference columns ``cols``."""
    rows = list(range(out.shape[0]))
    ref_cols = list(range(len(cols)))
    if units is not None and mode == "forward":
        rows = units.tolist()
    elif units is not None:
        ref_cols = [j for j, c in enumerate(cols) if c in set(units.tolist())]
    if not ref_cols:
        return float("nan")
    diff = out[rows][:, [cols[j] for j in ref_cols]] - ref[rows][:, ref_cols]
    return float(diff.abs().max() / ref.abs().max())


def run(threads: int, ref_tokens: int | None, chunk_size: int | None,
        other_units: int | None) -> None:
    torch.set_num_threads(threads)
    model = bench_model()
    gen = torch.Generator().manual_seed(1)
    rows = []
    for n, m in SHAPES:
        prompt = torch.randint(3, VOCAB, (n,), generator=gen).tolist()
        response = torch.randint(3, VOCAB, (m,), generator=gen).tolist()
        t_ref, ref, cols = _reference_seconds(model, prompt, response, ref_tokens)
        auto = choose_mode(n, m)
        times, errs = {}, {}
        for mode in ("reverse", "forward"):
            total = m if mode == "reverse" else n
            units = None if mode == auto or other_units is None or other_units >= total \
                else torch.linspace(0, total - 1, other_units).round().long().unique()
            t, out = _timed(lambda: attribution_fast(
                model, prompt, response, mode=mode, chunk_size=chunk_size, _units=units))
            times[mode] = t if units is None else t * total / len(units)
            errs[mode] = _rel_err(out, ref, cols, mode, units)
        rows.append((n, m, t_ref, times["reverse"], times["forward"], auto, errs))
        print(f"done N={n} M={m}", flush=True)
    _print_table(rows, threads, ref_tokens, other_units)


def _print_table(rows, threads, ref_tokens, other_units) -> None:
    how = "all M columns" if ref_tokens is None else f"{ref_tokens} columns, x M/{ref_tokens}"
    other = "in full" if other_units is None else \
        f"on {other_units} evenly spaced rows/columns, extrapolated"
    print(f"\ntorch {torch.__version__}, {threads} threads; reference timed on {how}; "
          f"auto mode timed in full, the other mode {other}\n")
    print("| N | M | reference s/case | fast reverse s | fast forward s | auto mode "
          "| auto s | speed-up (auto) | max rel. err rev / fwd |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n, m, t_ref, t_rev, t_fwd, auto, errs in rows:
        t_auto = t_rev if auto == "reverse" else t_fwd
        print(f"| {n} | {m} | {t_ref:.1f} | {t_rev:.1f} | {t_fwd:.1f} | {auto} | {t_auto:.1f} "
              f"| {t_ref / t_auto:.1f}x | {errs['reverse']:.1e} / {errs['forward']:.1e} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ref-tokens", type=int, default=8,
                    help="response tokens timed for the reference (extrapolated)")
    ap.add_argument("--full-reference", action="store_true", help="time all M tokens")
    ap.add_argument("--chunk-size", type=int, default=None)
    ap.add_argument("--other-units", type=int, default=16,
                    help="rows/columns timed for the non-auto mode (extrapolated)")
    ap.add_argument("--full", action="store_true", help="time everything in full")
    args = ap.parse_args()
    full = args.full or args.full_reference
    run(args.threads, None if full else args.ref_tokens, args.chunk_size,
        None if args.full else args.other_units)


if __name__ == "__main__":
    main()
