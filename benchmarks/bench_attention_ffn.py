"""Benchmark: the attention word-pair and FFN concept explainers on 7B shapes (not a test).

Attention: ONE LLaMA-7B-shaped random layer (H = 32 heads x D' = 128, D = 4096),
W = 30,000 candidate words with random embeddings, a random similarity
backend of dim 384 (MiniLM size; thresholds from 1000 reference words), K = 100.
Ours (all heads at once, :func:`head_word_pairs`) vs the authors' per-dimension
loop (:func:`reference_head_pairs`) timed on ``--ref-heads`` heads and
extrapolated linearly to 32 heads (every head costs the same). The first
reference head is checked against ours (identical neuron and head lists).

FFN: PCA of a random 11008 x 4096 down-projection + projection of the top
R = 300 components on a 30,000 x 4096 output-embedding matrix + top-15 words.

Prints a markdown table. The machine may be shared: note the load average. Run::

    python benchmarks/bench_attention_ffn.py [--threads 2] [--quick]
"""
from __future__ import annotations

import argparse
import os
import time

import torch
from threadpoolctl import threadpool_limits

from paperlib.explainers.attention_pairs import head_word_pairs, reference_head_pairs
from paperlib.explainers.ffn_concepts import ffn_concepts, pca_rows
from paperlib.words.similarity import DictSimilarity

SHAPES = {"full": dict(W=30000, D=4096, H=32, Dh=128, I=11008, e=384),
          "quick": dict(W=3000, D=512, H=4, Dh=64, I=1376, e=384)}


def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def _setup(s: dict, seed: int = 0):
    """Random layer (H, D, D') x 2, word embeddings (W, D), similarity table (W, e)."""
    g = torch.Generator().manual_seed(seed)
    words = [f"w{i}" for i in range(s["W"])]
    emb = torch.randn(s["W"], s["D"], generator=g)
    W_q = torch.randn(s["H"], s["D"], s["Dh"], generator=g) / s["D"] ** 0.5
    W_k = torch.randn(s["H"], s["D"], s["Dh"], generator=g) / s["D"] ** 0.5
    vec = torch.randn(s["W"], s["e"], generator=g).numpy()
    sim = DictSimilarity(dict(zip(words, vec)))
    table, t_table = _timed(lambda: sim.table(words, reference=words[:1000], use_cache=False))
    return words, emb, W_q, W_k, table, t_table


def _compare_head0(res, words, neurons, heads) -> str:
    """Same pair sets per neuron / for the head? Order may differ only where two
    cosines tie to float32 rounding (batched matmul vs per-pair dot)."""
    pos = {w: i for i, w in enumerate(words)}
    ours = {d: [(pos[a], pos[b]) for a, b in res.neuron_pairs(0, d)] for d in neurons}
    same_sets = all(set(ours[d]) == set(p) for d, p in neurons.items())
    reordered = sum(ours[d] != p for d, p in neurons.items())
    head_same = {(pos[a], pos[b]) for a, b in res.head_pairs(0)} == {(a, b) for a, b, _ in heads}
    return (f"neuron pair sets equal: {same_sets}, head set equal: {head_same}, "
            f"{reordered}/{len(neurons)} neuron lists ordered differently (float32 ties)")


def bench_attention(s: dict, K: int, ref_heads: int) -> list[tuple[str, float, str]]:
    words, emb, W_q, W_k, table, t_table = _setup(s)
    res, t_ours = _timed(lambda: head_word_pairs(W_q, W_k, emb, table, K=K))
    t_ref = 0.0
    for h in range(ref_heads):
        (neurons, heads), dt = _timed(lambda: reference_head_pairs(W_q[h], W_k[h], emb, table, K=K))
        t_ref += dt
        if h == 0:
            check = _compare_head0(res, words, neurons, heads)
    per_layer_ref = t_ref / ref_heads * s["H"]
    n_pairs = len(res.neurons["q"]) / (s["H"] * s["Dh"])
    return [("similarity table (W x e, thresholds)", t_table, "one-time per vocabulary"),
            ("attention, ours, 1 layer (all heads)", t_ours,
             f"{n_pairs:.1f} kept pairs/neuron; target < 60 s"),
            (f"attention, authors' loop, {ref_heads} head(s)", t_ref, ""),
            ("attention, authors' loop, 1 layer (extrapolated)", per_layer_ref,
             f"speed-up x{per_layer_ref / t_ours:.0f}; head 0 vs ours: {check}")]


def bench_ffn(s: dict, R: int, K: int) -> list[tuple[str, float, str]]:
    g = torch.Generator().manual_seed(1)
    W = torch.randn(s["I"], s["D"], generator=g)
    out_emb = torch.randn(s["W"], s["D"], generator=g)
    words = [f"w{i}" for i in range(s["W"])]
    _, t_pca = _timed(lambda: pca_rows(W, R))
    _, t_all = _timed(lambda: ffn_concepts(W, out_emb, words, R=R, K=K))
    return [(f"FFN PCA only ({s['I']} x {s['D']})", t_pca, f"float32 cov + top-{R} float32 eigenvectors (MRRR)"),
            (f"FFN concepts, 1 layer (PCA + projection on {s['W']} words, top-{K})", t_all,
             "target < 10 s")]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="small shapes (smoke test)")
    ap.add_argument("--ref-heads", type=int, default=1)
    ap.add_argument("--K", type=int, default=100)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    s = SHAPES["quick" if args.quick else "full"]
    load = os.getloadavg()
    with threadpool_limits(args.threads):  # scipy's LAPACK/BLAS threads too
        rows = bench_attention(s, args.K, args.ref_heads) + bench_ffn(s, min(300, s["D"]), 15)
    print(f"\nshapes: {s}, K={args.K}, threads={args.threads}, torch {torch.__version__}, "
          f"load average before: {load[0]:.1f}, after: {os.getloadavg()[0]:.1f}\n")
    print("| step | seconds | note |\n|---|---:|---|")
    for name, sec, note in rows:
        print(f"| {name} | {sec:.2f} | {note} |")


if __name__ == "__main__":
    main()
