"""Attribution cost of paperlib's fast engine beside Inseq and Captum, in one run.

Run it in the benchmark's own environment (``bash benchmarks/setup.sh``)::

    benchmarks/.venv/bin/python benchmarks/bench_peers.py                 # organism
    benchmarks/.venv/bin/python benchmarks/bench_peers.py --models organism,random162m

Every measurement is one child process (model load and inputs untimed): the
methods of a case are interleaved, each repeated ``--reps`` times in a rotated
order, and the median is reported, with the ratio to paperlib's fast engine, the
peak extra resident memory of the child (ru_maxrss after minus before the
attribution), and the agreement of its matrix with paperlib's float32 one (max
relative difference, correlation, share of S cells in the same bin). The load
average (``/proc/loadavg``) is recorded before each measurement: on a shared
machine the ratios of interleaved runs mean more than the seconds.

Methods, all computing I[n, m] = (d p(y_m) / d E[x_n]) . E[x_n] on the same ids:
* ``paperlib`` - :func:`paperlib.explainers.attribution_fast.attribution_fast`
  (mode auto, float32); ``paperlib-bf16`` - the same with ``precision="bfloat16"``;
* ``inseq`` - Inseq ``input_x_gradient`` (attributed function "probability"),
  raw per-dimension scores summed over the embedding;
* ``captum`` - Captum ``LLMGradientAttribution(LayerGradientXActivation(model,
  embeddings))``: gradient x activation of log p (its LLM wrapper refuses
  InputXGradient), converted to p by multiplying column m by p(y_m).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
METHODS = ("paperlib", "paperlib-bf16", "inseq", "captum")


def load_model(name: str):
    import torch
    import transformers as tf

    from paperlib.models import load_model as pl_load, resolve_alias

    model, tok = pl_load(resolve_alias("organism", "ft"))
    if name == "random162m":  # LLaMA shape: 12 layers, D=768, FFN 3072, vocab 32000
        cfg = tf.LlamaConfig(vocab_size=32000, hidden_size=768, intermediate_size=3072,
                             num_hidden_layers=12, num_attention_heads=12,
                             num_key_value_heads=12, max_position_embeddings=1024)
        torch.manual_seed(0)
        model = tf.LlamaForCausalLM(cfg).eval()
        model.config._attn_implementation = "eager"
    elif name != "organism":
        raise SystemExit(f"unknown model {name!r}")
    return model, tok


def texts(tok, n_prompt: int, n_response: int) -> tuple[str, str]:
    """A prompt of >= n_prompt tokens and a response of >= n_response tokens, cut at
    word boundaries, from the paper's prompts and references."""
    from paperlib.paper.data import load_prompts

    table = load_prompts()
    words = " ".join(table["prompt"].tolist()).split()
    more = " ".join(table["reference"].tolist()).split()

    def take(pool, n):
        k = max(1, n // 3)
        while len(tok(" ".join(pool[:k]), add_special_tokens=False)["input_ids"]) < n:
            k += 1
        return " ".join(pool[:k])
    return take(words, n_prompt), " " + take(more, n_response)


def ids_of(tok, prompt: str, response: str) -> tuple[list[int], list[int]]:
    src = tok(prompt)["input_ids"]
    full = tok(prompt + response)["input_ids"]
    if full[:len(src)] != src:
        raise SystemExit("prompt tokens change when the response is appended")
    return src, full[len(src):]


def run_method(method: str, model, tok, prompt: str, response: str):
    """(I as (N, M) float32 array, seconds) of one method."""
    import torch

    src, gen = ids_of(tok, prompt, response)
    t0 = time.perf_counter()
    if method.startswith("paperlib"):
        from paperlib.explainers.attribution_fast import attribution_fast

        prec = "bfloat16" if method.endswith("bf16") else "float32"
        I = attribution_fast(model, src, gen, precision=prec).numpy()
    elif method == "inseq":
        import inseq

        im = inseq.load_model(model, "input_x_gradient", tokenizer=tok)
        out = im.attribute(prompt, prompt + response, attributed_fn="probability",
                           show_progress=False)
        sa = out.sequence_attributions[0]
        if [t.id for t in sa.source] != src or [t.id for t in sa.target][len(src):] != gen:
            raise SystemExit("inseq tokenised the texts differently")
        I = sa.target_attributions[:len(src)].sum(-1).float().numpy()
    elif method == "captum":
        from captum.attr import LayerGradientXActivation, LLMGradientAttribution, TextTokenInput

        llm = LLMGradientAttribution(LayerGradientXActivation(model, model.get_input_embeddings()),
                                     tok)
        inp = TextTokenInput(prompt, tok)
        if inp.to_model_input()[0].tolist() != src:
            raise SystemExit("captum tokenised the prompt differently")
        res = llm.attribute(inp, target=torch.tensor(gen))
        with torch.no_grad():  # d p = p d log p: column m times p(y_m)
            logits = model(torch.tensor([src + gen[:-1]])).logits[0, len(src) - 1:]
            p = torch.softmax(logits.float(), -1)[torch.arange(len(gen)), torch.tensor(gen)]
        I = (res.token_attr.float() * p[:, None]).T.numpy()
    else:
        raise SystemExit(f"unknown method {method!r}")
    return np.asarray(I, np.float32), time.perf_counter() - t0


def child(args) -> None:
    import torch

    torch.set_num_threads(args.threads)
    model, tok = load_model(args.model)
    prompt, response = texts(tok, args.n, args.m)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    I, seconds = run_method(args.method, model, tok, prompt, response)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base
    np.save(args.matrix, I)
    print(json.dumps({"seconds": seconds, "peak_extra_mib": peak / 1024, "N": I.shape[0],
                      "M": I.shape[1]}))


def measure(model: str, method: str, n: int, m: int, threads: int, matrix: Path) -> dict:
    load = Path("/proc/loadavg").read_text().split()[0]
    cmd = [sys.executable, __file__, "--child", "--model", model, "--method", method,
           "--n", str(n), "--m", str(m), "--threads", str(threads), "--matrix", str(matrix)]
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ,
                                                                    "TQDM_DISABLE": "1"})
    if done.returncode:
        raise SystemExit(f"{method} failed:\n{done.stderr[-3000:]}")
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "load": float(load)}


def agreement(I: np.ndarray, ref: np.ndarray) -> dict:
    from paperlib.measures.density import normalise

    rel = float(np.abs(I - ref).max() / np.abs(ref).max())
    corr = float(np.corrcoef(I.ravel(), ref.ravel())[0, 1])
    same = float(np.mean(normalise(I, 10, 0) == normalise(ref, 10, 0)))
    return {"max_rel_diff": rel, "corr": corr, "same_bin": same}


def bench_case(model: str, n: int, m: int, args, out_dir: Path) -> list[dict]:
    runs: dict[str, list[dict]] = {k: [] for k in args.methods}
    for rep in range(args.reps):
        order = args.methods[rep % len(args.methods):] + args.methods[:rep % len(args.methods)]
        for method in order:
            r = measure(model, method, n, m, args.threads, out_dir / f"{model}-{n}x{m}-{method}.npy")
            runs[method].append(r)
            print(f"  {model} N~{n} M~{m} rep {rep + 1} {method}: {r['seconds']:.2f} s "
                  f"(load {r['load']})", flush=True)
    ref = np.load(out_dir / f"{model}-{n}x{m}-paperlib.npy")
    base = statistics.median(r["seconds"] for r in runs["paperlib"])
    rows = []
    for method, rs in runs.items():
        med = statistics.median(r["seconds"] for r in rs)
        I = np.load(out_dir / f"{model}-{n}x{m}-{method}.npy")
        rows.append({"model": model, "N": rs[0]["N"], "M": rs[0]["M"], "method": method,
                     "median_s": med, "times_s": [r["seconds"] for r in rs],
                     "ratio_to_paperlib": med / base,
                     "peak_extra_mib": max(r["peak_extra_mib"] for r in rs),
                     "load": [r["load"] for r in rs], **agreement(I, ref)})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="organism")
    ap.add_argument("--cases", default="200x100,60x300", help="NxM,... (approximate sizes)")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads per child (1: robust on a loaded machine)")
    ap.add_argument("--out", default=str(HERE / "results" / "attribution.json"))
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--model"), ap.add_argument("--method"), ap.add_argument("--matrix")
    ap.add_argument("--n", type=int), ap.add_argument("--m", type=int)
    args = ap.parse_args()
    if args.child:
        return child(args)
    args.methods = args.methods.split(",")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    for model in args.models.split(","):
        for case in args.cases.split(","):
            n, m = (int(x) for x in case.split("x"))
            rows += bench_case(model, n, m, args, out.parent)
    out.write_text(json.dumps({"threads": args.threads, "reps": args.reps, "rows": rows},
                              indent=1))
    print(f"\n| model | N | M | method | median s | x paperlib | peak MiB | max rel diff "
          f"| same bin | load |\n|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['N']} | {r['M']} | {r['method']} | {r['median_s']:.2f} | "
              f"{r['ratio_to_paperlib']:.2f} | {r['peak_extra_mib']:.0f} | "
              f"{r['max_rel_diff']:.1e} | {r['same_bin']:.4f} | "
              f"{min(r['load']):.1f}-{max(r['load']):.1f} |")


if __name__ == "__main__":
    main()
