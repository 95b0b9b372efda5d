"""``paperlib tables``: Tables 1-2 and Fig 6 (Finding 1) from any case set, as CSVs
with a sidecar JSON of their parameters and inputs."""
from __future__ import annotations

import argparse
import math
from pathlib import Path

from paperlib.cli.common import log
from paperlib.core.errors import DataError, PaperlibError

HELP = "Tables 1-2 and Fig 6 CSVs (with their parameters) from a case set"
EPILOG = """\
examples:
  paperlib tables                                         # the authors' released matrices
  paperlib tables --source runs/paper7b --out runs/paper7b/tables
  paperlib tables --source runs/organism --tuned ft --base pt --b 5 --p 2

writes <out>/<table>/<parameters>/<table>.csv and .json (the sidecar: b, p, L,
mode, min_response, the case-set files' SHA-256 and fingerprints, version),
and points <out>/<table>.csv at the latest run. Case ids must be of the
paper's data set (the tables use its instruction annotations; Table 1 its
human ratings of Vicuna's responses).
"""


def add_parser(sub) -> None:
    p = sub.add_parser("tables", help=HELP, description=HELP, epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", default="paper",
                   help="'paper' (released matrices), a folder of cases_<name>.npz")
    p.add_argument("--tuned", default="vicuna", help="case-set name of the tuned model")
    p.add_argument("--base", default="llama", help="case-set name of the pre-trained model")
    p.add_argument("--b", type=float, default=7, help="cut-off b (default 7)")
    p.add_argument("--p", type=float, default=4, help="density norm p (default 4; inf allowed)")
    p.add_argument("--L", type=int, default=10, help="levels L (default 10)")
    p.add_argument("--density-mode", choices=("threshold", "subtract"), default="threshold")
    p.add_argument("--min-response", type=int, default=5)
    p.add_argument("--n-boot", type=int, default=10000, help="bootstrap resamples of the CIs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="results folder (default: $PAPERLIB_RESULTS or ./results)")
    p.set_defaults(run=run)


def _source(args) -> tuple[dict | None, dict]:
    """(source mapping for paperlib.paper.finding1 or None, provenance)."""
    from paperlib.core.results import file_provenance

    if args.source == "paper":
        return None, {"source": "released matrices (frozen paper data)"}
    folder = Path(args.source)
    if not folder.is_dir():
        raise DataError(f"--source {folder} is not a folder (give 'paper' or a folder holding "
                        "cases_<name>.npz)")
    paths = {m: folder / f"cases_{m}.npz" for m in (args.tuned, args.base)}
    for m, path in paths.items():
        if not path.is_file():
            found = sorted(p.name for p in folder.glob("cases_*.npz")) or "none"
            raise DataError(f"{path} does not exist (case sets in {folder}: {found}); "
                            "name the models with --tuned / --base")
    return ({m: str(p) for m, p in paths.items()},
            {m: file_provenance(p) for m, p in paths.items()})


def run(args) -> int:
    from paperlib.core.results import write_result
    from paperlib.paper import finding1

    source, provenance = _source(args)
    models = {"tuned": args.tuned, "base": args.base}
    common = dict(b=args.b, p=math.inf if args.p == math.inf else args.p, L=args.L,
                  mode=args.density_mode, min_response=args.min_response, source=source,
                  models=models)
    makers = {"table1": lambda: finding1.table1(**common, n_boot=args.n_boot, seed=args.seed),
              "table2": lambda: finding1.table2(**common, n_boot=args.n_boot, seed=args.seed),
              "fig6": lambda: finding1.fig6(**common)}
    frames = {}
    for name, make in makers.items():  # all computed before anything is written
        try:
            frames[name] = make()
        except PaperlibError as exc:
            raise type(exc)(f"{name} of {args.source}: {exc}") from exc
    params = {"b": args.b, "p": args.p, "L": args.L, "mode": args.density_mode,
              "min_response": args.min_response, "n_boot": args.n_boot, "seed": args.seed,
              "source": args.source, "tuned": args.tuned, "base": args.base}
    for name, df in frames.items():
        path = write_result(name, df.to_csv(index=False), params, provenance=provenance,
                            root=args.out)
        log("tables", f"wrote {path}")
        cols = [c for c in df.columns if not c.startswith(("paper_", "delta_", "ci_"))][:9]
        print(f"\n{name}\n{df[cols].to_string(index=False, float_format=lambda x: f'{x:.4g}')}")
    return 0
