"""``paperlib weights``: attention word pairs (Finding 2) and FFN concepts (Finding 3)
for chosen layers of one or two models, written as CSV tables."""
from __future__ import annotations

import argparse
import gc
from pathlib import Path

from paperlib.cli.common import load_placed, log, parse_models, write_json
from paperlib.core.errors import ParameterError

HELP = "attention word pairs and FFN concepts for chosen layers, to CSV files"
EPILOG = """\
examples:
  paperlib weights --pair organism --layers 0,-1 --out runs/organism/weights
  paperlib weights --model llama=huggyllama/llama-7b --model vicuna=lmsys/vicuna-7b-v1.1 \\
      --layers all --dtype bfloat16 --out runs/paper7b/weights

writes <out>/<name>/attention_heads.csv (layer, head, q, k, count, ...),
attention_neurons.csv (layer, head, dim, q, k, cos, ...), ffn_concepts.csv
(layer, rank, variance_ratio, words) and <out>/weights.json (parameters and
model fingerprints). Word similarity: MiniLM (shipped) or a GloVe text file.
"""


def add_parser(sub) -> None:
    p = sub.add_parser("weights", help=HELP, description=HELP, epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", action="append", metavar="NAME=SOURCE", help="repeatable")
    p.add_argument("--pair", metavar="ALIAS", help="a pair alias, e.g. organism")
    p.add_argument("--layers", default=None,
                   help="comma-separated 0-based layers (-1 = last) or 'all'; default: first, last")
    p.add_argument("--explainers", default="attention,ffn", help="attention, ffn or both")
    p.add_argument("--K", type=int, default=100, help="attention: top-K words per neuron")
    p.add_argument("--max-pairs", type=int, default=100, help="attention: pairs kept per neuron")
    p.add_argument("--R", type=int, default=300, help="FFN: principal components (capped by D)")
    p.add_argument("--ffn-K", type=int, default=15, help="FFN: words per component")
    p.add_argument("--vocab-size", type=int, default=2000,
                   help="most frequent ShareGPT words as candidates (0: all)")
    p.add_argument("--similarity", default="minilm", help="'minilm' or a GloVe text file")
    p.add_argument("--dtype", default="float32")
    p.add_argument("--local-files-only", action="store_true")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(run=run)


def _layers(text: str | None, n_layers: int) -> list[int]:
    from paperlib.models.canonical import check_layers

    if text is None:
        return check_layers(None, n_layers)
    if text == "all":
        return list(range(n_layers))
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ParameterError(f"--layers {text!r}: expected integers like 0,5,-1 or 'all'") from None
    return check_layers(values, n_layers)


def _similarity(spec: str):
    from paperlib.words.similarity import GloveSimilarity, MiniLMSimilarity

    if spec == "minilm":
        return MiniLMSimilarity(progress=False)
    if Path(spec).is_file():
        return GloveSimilarity(spec)
    raise ParameterError(f"--similarity must be 'minilm' or a GloVe text file, got {spec!r}")


def _explainers(text: str) -> set[str]:
    chosen = {x.strip() for x in text.split(",") if x.strip()}
    if not chosen or chosen - {"attention", "ffn"}:
        raise ParameterError(f"--explainers {text!r}: choose attention, ffn or both")
    return chosen


def _one_model(model, tok, name, args, chosen, sim, out: Path) -> dict:
    import pandas as pd

    from paperlib.models import canonical_view
    from paperlib.paper.finding2 import attention_of_models
    from paperlib.paper.finding3 import concepts_of_models

    from tqdm.auto import tqdm

    view = canonical_view(model)
    layers = _layers(args.layers, view.n_layers)
    vocab, tables = args.vocab_size or None, {}
    info = {"layers": layers, "R": min(args.R, view.d_model)}
    frames: dict[str, list] = {"attention_neurons": [], "attention_heads": [], "ffn_concepts": []}
    for layer in tqdm(layers, desc=name, disable=args.no_progress):  # one layer at a time
        if "attention" in chosen:
            att = attention_of_models({name: (model, tok)}, [layer], K=args.K,
                                      max_pairs=args.max_pairs, vocab_size=vocab,
                                      similarity=sim, tables=tables)[name][layer]
            for key, frame in zip(("attention_neurons", "attention_heads"), att.frames()):
                frames[key].append(frame)
        if "ffn" in chosen:
            con = concepts_of_models({name: (model, tok)}, [layer], info["R"], args.ffn_K,
                                     vocab)[name][layer]
            frames["ffn_concepts"].append(con.frame())
    for fname, parts in frames.items():
        if parts:
            _write_csv(out / name / f"{fname}.csv", pd.concat(parts, ignore_index=True))
    return info


def _write_csv(path: Path, df) -> None:
    from paperlib.core.io import atomic_write_text

    atomic_write_text(path, df.to_csv(index=False))
    log("weights", f"wrote {path} ({len(df)} rows)")


def run(args) -> int:
    from paperlib.core.results import package_version
    from paperlib.models.loading import model_fingerprint

    models = parse_models(args.model, args.pair)
    chosen, out = _explainers(args.explainers), Path(args.out)
    sim = _similarity(args.similarity) if "attention" in chosen else None
    record = {"parameters": {k: getattr(args, k) for k in (
        "layers", "explainers", "K", "max_pairs", "R", "ffn_K", "vocab_size", "similarity",
        "dtype")}, "paperlib_version": package_version(), "models": {}}
    for name, source in models.items():
        model, tok = load_placed(source, dtype=args.dtype,
                                 local_files_only=True if args.local_files_only else None)
        info = _one_model(model, tok, name, args, chosen, sim, out)
        record["models"][name] = {"source": source, "fingerprint": model_fingerprint(model),
                                  **info}
        del model, tok
        gc.collect()
    write_json(out / "weights.json", record)
    return 0
