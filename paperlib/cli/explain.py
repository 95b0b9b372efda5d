"""``paperlib explain``: generate and attribute a prompt set with one or two models,
writing case sets in the released-data schema (resumable, data-parallel)."""
from __future__ import annotations

import argparse
import gc
import statistics
import time
from pathlib import Path

from paperlib.cli import batch
from paperlib.cli.common import (load_placed, log, parse_device_map, parse_max_memory,
                                 parse_models, write_json)
from paperlib.core.errors import ParameterError

HELP = "generate + attribute a prompt set (Finding 1), write case sets"
EPILOG = """\
examples:
  # the shipped organism pair, 20 of the paper's prompts, its instruction template
  paperlib explain --pair organism --limit 20 --max-new-tokens 100 \\
      --chat-template '### Instruction:\\n{prompt}\\n\\n### Response:\\n' --out runs/organism
  # the paper's pair, two processes on one GPU each (re-run the same line to resume)
  accelerate launch --multi_gpu --num_processes 2 -m paperlib explain \\
      --model llama=/models/llama-7b --model vicuna=/models/vicuna-7b-v1.1 \\
      --max-new-tokens 300 --device cuda --out runs/paper7b
  # two processes on a CPU (gloo): the same case sets as one process with --threads 1
  torchrun --nproc_per_node 2 -m paperlib explain --pair organism --limit 20 --out runs/organism
  # a model larger than one GPU: split over the GPUs (and CPU RAM)
  paperlib explain --model big=PATH --device-map auto --max-memory 0=70GiB,1=70GiB,cpu=200GiB \\
      --prompts my_prompts.jsonl --out runs/big
  # what would run, and how long (measured on one case)
  paperlib explain --pair organism --out runs/organism --dry-run

output: <out>/cases_<name>.npz (+ .json), readable by `paperlib tables` and the
Finding-1 chapters (parameter `source`); <out>/prompts.jsonl the prompt set (with
its annotations); <out>/parts/ holds finished cases.
"""


def add_parser(sub) -> None:
    p = sub.add_parser("explain", help=HELP, description=HELP, epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_argument_group("models")
    g.add_argument("--model", action="append", metavar="NAME=SOURCE",
                   help="a model: case-set name = local folder, hub id or alias (repeatable)")
    g.add_argument("--pair", metavar="ALIAS", help="a pair alias, e.g. organism (names pt, ft)")
    g.add_argument("--local-files-only", action="store_true", help="never contact the hub")
    g = p.add_argument_group("prompts")
    g.add_argument("--prompts", default="paper",
                   help="'paper' (the 632 FinalDataset prompts), a .tsv or a .jsonl file "
                        "(columns/keys id, prompt, optional reference, annotation)")
    g.add_argument("--dataset", action="append", help="keep one data set (repeatable): "
                   "self-instruct, lima, mt-bench")
    g.add_argument("--ids", help="comma-separated case ids to keep")
    g.add_argument("--limit", type=int, help="keep the first N prompts of the selection")
    g = p.add_argument_group("generation (greedy)")
    g.add_argument("--max-new-tokens", type=int, default=300, help="default: 300 (the paper)")
    g.add_argument("--chat-template", default=None,
                   help="a template with a {prompt} field, or 'tokenizer' for the tokenizer's "
                        "own; default: the raw prompt (as the paper)")
    g.add_argument("--density-rows", choices=("auto", "all", "user"), default="auto",
                   help="rows S is normalised over; auto: the user's message inside a template")
    g.add_argument("--batch-size", type=int, default=8, help="prompts per generation batch")
    g = p.add_argument_group("attribution")
    g.add_argument("--engine", choices=("fast", "reference"), default="fast")
    g.add_argument("--mode", choices=("auto", "forward", "reverse"), default="auto")
    g.add_argument("--precision", choices=("float32", "bfloat16"), default="float32",
                   help="bfloat16: autocast the attribution (opt-in; check with compare)")
    g.add_argument("--chunk-size", type=int, help="VJPs / JVPs per batch (default: from memory)")
    g.add_argument("--activation-memory-gb", type=float, default=2.0,
                   help="activation budget that sets the default chunk size")
    g = p.add_argument_group("placement")
    g.add_argument("--dtype", default="float32", help="float32, bfloat16 or float16")
    g.add_argument("--device", default="cpu", help="cpu, cuda (cuda:<local rank> per process)")
    g.add_argument("--device-map", help="auto, balanced, sequential, or JSON {module: device}: "
                   "split the model over devices (transformers / Accelerate)")
    g.add_argument("--max-memory", help="per-device limits for --device-map, e.g. "
                   "0=20GiB,1=20GiB,cpu=64GiB")
    g.add_argument("--offload-folder", help="folder for weights offloaded to disk")
    g.add_argument("--threads", type=int, help="torch CPU threads per process")
    g = p.add_argument_group("run")
    g.add_argument("--out", required=True, help="output folder")
    g.add_argument("--dry-run", action="store_true",
                   help="print what would run and the estimated time, write nothing")
    g.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(run=run)


def _chat_template(text):
    if text is None or text == "none":
        return False
    if text == "tokenizer":
        return True
    if "{prompt}" not in text:
        raise ParameterError("--chat-template needs a '{prompt}' field (or 'tokenizer' / 'none')")
    return text.replace("\\n", "\n").replace("\\t", "\t")  # shell-typed escapes


def spec_of(args) -> batch.RunSpec:
    if args.max_new_tokens < 1:
        raise ParameterError(f"--max-new-tokens must be >= 1, got {args.max_new_tokens}")
    if args.chunk_size is not None and args.chunk_size < 1:
        raise ParameterError(f"--chunk-size must be >= 1, got {args.chunk_size}")
    if args.engine == "reference" and args.precision != "float32":
        raise ParameterError("--precision bfloat16 needs --engine fast")
    return batch.RunSpec(args.max_new_tokens, _chat_template(args.chat_template),
                         args.density_rows, args.engine, args.mode, args.precision,
                         args.chunk_size, args.activation_memory_gb, args.batch_size)


def _items(args):
    from paperlib.cli.prompts import read_items, select

    ids = [i.strip() for i in args.ids.split(",") if i.strip()] if args.ids else None
    return select(read_items(args.prompts), datasets=args.dataset, ids=ids, limit=args.limit)


def _load(args, source, world):
    from paperlib.cli import dist

    device_map = parse_device_map(args.device_map)
    max_memory = dist.process_max_memory(world, parse_max_memory(args.max_memory), device_map)
    return load_placed(source, dtype=args.dtype, device=dist.process_device(world, args.device),
                       device_map=device_map, max_memory=max_memory,
                       offload_folder=args.offload_folder,
                       local_files_only=True if args.local_files_only else None)


def _keys(model, tok, items, spec) -> tuple[dict, dict, dict]:
    from paperlib.models.loading import model_fingerprint, tokenizer_fingerprint

    fp, tfp = model_fingerprint(model), tokenizer_fingerprint(tok)
    return {it.id: batch.case_key(spec, it, fp, tfp) for it in items}, fp, tfp


def _sidecar(out: Path, name: str, source: str, spec, fp, tfp, n: int) -> None:
    from paperlib.core.results import package_version
    from paperlib.explainers.attribution import ALGORITHM

    write_json(out / f"cases_{name}.json", {
        "model_name": name, "source": source, "model": fp, "tokenizer": tfp, "cases": n,
        "max_new_tokens": spec.max_new_tokens, "chat_template": spec.chat_template,
        "density_rows": spec.rows(), "engine": spec.engine, "mode": spec.mode,
        "precision": spec.precision, "batch_size": spec.batch_size, "algorithm": ALGORITHM,
        "paperlib_version": package_version()})


def _write_prompts(out: Path, items) -> None:
    """``<out>/prompts.jsonl``: the prompt set explained (ids, texts, references and
    instruction annotations), beside the case sets it produced."""
    import json
    from dataclasses import asdict

    from paperlib.core.io import atomic_write_text

    atomic_write_text(out / "prompts.jsonl", "".join(
        json.dumps(asdict(it), ensure_ascii=False) + "\n" for it in items))


def _dry_run_model(model, tok, name, items, spec, out, keys, world) -> float:
    """Print the plan of one model; returns the estimated seconds for it."""
    from paperlib.models.generation import generate_batch

    todo = [it for it in items if not batch.is_done(out, name, it, keys[it.id])]
    secs = batch.part_seconds(out, name, items, keys)
    if secs:
        per, how = statistics.median(secs), f"median of {len(secs)} finished case(s) in {out}"
    elif todo:
        t0 = time.perf_counter()
        gen = generate_batch(model, tok, [todo[0].prompt], spec.max_new_tokens,
                             chat_template=spec.chat_template)[0]
        t_gen = time.perf_counter() - t0
        _, t_attr = batch.attribute_case(model, tok, gen, todo[0], spec)
        per = t_gen + t_attr
        how = (f"measured now on {todo[0].id}: generation {t_gen:.2f} s + attribution "
               f"{t_attr:.2f} s, N={len(gen.prompt_tokens)}, M={len(gen.response_ids)}")
    else:
        per, how = 0.0, "nothing to do"
    est = len(todo) * per / world.size
    print(f"{name}: {len(items)} cases, {len(items) - len(todo)} finished, {len(todo)} to do; "
          f"{per:.2f} s per case ({how}); about {_fmt(est)} on {world.size} process(es)")
    return est


def _fmt(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def run(args) -> int:
    import torch

    from paperlib.cli import dist

    from paperlib.cli.common import load_model_checks
    from paperlib.models.loading import resolve_alias

    models = parse_models(args.model, args.pair)
    spec, items, out = spec_of(args), _items(args), Path(args.out)
    device_map = parse_device_map(args.device_map)  # bad placement options fail here, early
    if (args.max_memory or args.offload_folder) and device_map is None:
        raise ParameterError("--max-memory / --offload-folder need --device-map")
    parse_max_memory(args.max_memory)
    for source in models.values():
        load_model_checks(resolve_alias(source))
    if args.threads is not None:
        if args.threads < 1:
            raise ParameterError(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    world = dist.current_world()
    dist.init(world, args.device)
    try:
        return _run(args, models, spec, items, out, world)
    finally:
        dist.finish(world)


def _run(args, models, spec, items, out, world) -> int:
    if world.main:
        verb = "would explain" if args.dry_run else "explaining"
        log("explain", f"{verb} {len(items)} prompt(s) with {', '.join(models)} on "
                       f"{world.size} process(es) -> {out}")
        if not args.dry_run:
            batch.remove_stale_tmp(out)
            _write_prompts(out, items)
    world.barrier()
    total, report = 0.0, {}
    for name, source in models.items():
        model, tok = _load(args, source, world)
        keys, fp, tfp = _keys(model, tok, items, spec)
        if args.dry_run:
            total += _dry_run_model(model, tok, name, items, spec, out, keys, world)
        else:
            report[name] = batch.run_model(model, tok, name, items, spec, out, world, keys,
                                           progress=not args.no_progress)
            world.barrier()
            if world.main:
                path = batch.merge(out, name, items, keys)
                _sidecar(out, name, source, spec, fp, tfp, len(items))
                log("explain", f"{name}: wrote {path} ({len(items)} cases)")
        del model, tok
        gc.collect()
    if args.dry_run:
        print(f"total: about {_fmt(total)} on {world.size} process(es)")
    else:
        write_json(out / f"timings-rank{world.rank}.json", report)
    return 0
