"""Cases per hour of ``paperlib explain`` on the organism pair, 1 process vs 2 (torchrun).

Runs the same command in each configuration of ``--configs`` (PROCESSES x
THREADS each; default 1x1, 1x2 and 2x1: one process on one or both cores, two
data-parallel processes of one thread), rotating their order, each time into a
fresh folder, ``--reps`` times, and reports the median wall time (interpreter
start and model loading included), cases per hour (both models' cases) and the
load average before each run. It also checks the 2x1 case sets against 1x1
(the same thread count: byte for byte) and 1x2 (other rounding: the share of S
cells in the same bin)::

    .venv/bin/python benchmarks/cases_per_hour.py [--limit 4] [--max-new-tokens 100] [--reps 2]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
TEMPLATE = "### Instruction:\\n{prompt}\\n\\n### Response:\\n"  # the organism's tuning template


def command(out: Path, args, procs: int, threads: int) -> list[str]:
    base = ["-m", "paperlib", "explain", "--pair", "organism", "--prompts", "paper",
            "--limit", str(args.limit), "--max-new-tokens", str(args.max_new_tokens),
            "--chat-template", TEMPLATE, "--no-progress", "--out", str(out)]
    if procs == 1:
        return [sys.executable, *base, "--threads", str(threads)]
    return [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(procs),
            "--master_addr", "127.0.0.1", "--master_port", str(29600 + procs),
            *base, "--threads", str(threads)]


def one_run(out: Path, args, config: str) -> dict:
    procs, threads = (int(x) for x in config.split("x"))
    load = float(Path("/proc/loadavg").read_text().split()[0])
    t0 = time.perf_counter()
    done = subprocess.run(command(out, args, procs, threads), cwd=REPO, capture_output=True,
                          text=True)
    wall = time.perf_counter() - t0
    if done.returncode:
        raise SystemExit(done.stderr[-3000:])
    return {"config": config, "wall_s": wall, "load": load}


def same_bins(a: Path, b: Path) -> dict:
    from paperlib.cli.compare import compare_sets, summary
    from paperlib.core.caseset import read_case_set

    out = {}
    for name in ("pt", "ft"):
        x, y = read_case_set(a / f"cases_{name}.npz"), read_case_set(b / f"cases_{name}.npz")
        s = summary(compare_sets(x, y), len(x), len(y))
        out[name] = {"bytes_equal": (a / f"cases_{name}.npz").read_bytes()
                     == (b / f"cases_{name}.npz").read_bytes(),
                     "identical_responses": s["identical_responses"],
                     "same_bin_cells": s["same_bin_cells"]}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=4, help="paper prompts (the first N)")
    ap.add_argument("--max-new-tokens", type=int, default=100)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--configs", default="1x1,1x2,2x1", help="PROCESSESxTHREADS,...")
    ap.add_argument("--out", default=str(HERE / "results" / "cases_per_hour.json"))
    args = ap.parse_args()
    configs = args.configs.split(",")
    work = Path(tempfile.mkdtemp(prefix="paperlib-cph-"))
    runs = []
    try:
        for rep in range(args.reps):
            for config in configs[rep % len(configs):] + configs[:rep % len(configs)]:
                runs.append({**one_run(work / f"r{rep}-{config}", args, config), "rep": rep})
                print(runs[-1], flush=True)
        check = {ref: same_bins(work / f"r0-{ref}", work / "r0-2x1")
                 for ref in configs if ref != "2x1" and "2x1" in configs}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    cases = 2 * args.limit
    table = {}
    for config in configs:
        mine = [r for r in runs if r["config"] == config]
        med = statistics.median(r["wall_s"] for r in mine)
        table[config] = {"median_wall_s": med, "cases_per_hour": cases * 3600 / med,
                         "loads": [r["load"] for r in mine]}
    result = {"cases": cases, "max_new_tokens": args.max_new_tokens, "runs": runs,
              "table": table, "two_vs_one": check, "cpus": os.cpu_count()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(f"\n| processes x threads | median wall s | cases/hour | load avg at start |\n"
          "|---|---|---|---|")
    for config, row in table.items():
        print(f"| {config} | {row['median_wall_s']:.0f} | {row['cases_per_hour']:.0f} | "
              f"{', '.join(f'{x:.1f}' for x in row['loads'])} |")
    print(json.dumps(check))


if __name__ == "__main__":
    main()
