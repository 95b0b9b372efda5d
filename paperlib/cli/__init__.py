"""The ``paperlib`` command line (also ``python -m paperlib``).

Subcommands: ``explain`` (generate + attribute prompts, write case sets),
``tables`` (Tables 1-2 and Fig 6 from a case set), ``weights`` (attention word
pairs and FFN concepts), ``compare`` (how two case sets differ). Bad input
exits with status 2 and one line naming the problem; nothing half-written is
left behind. The layer above the book's peers: it may import ``core``, the
toolbox and ``paper``; nothing imports it.
"""
from __future__ import annotations

import argparse
import sys

from paperlib.core.errors import PaperlibError

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
DESCRIPTION = """\
Reproduce Wu et al. (arXiv 2310.00492) on any pre-trained / instruction-tuned pair:
generate and attribute prompts (Finding 1), tabulate, explain weights, compare runs."""
EPILOG = """\
examples:
  paperlib explain --pair organism --limit 20 --out runs/organism
  paperlib tables --source runs/organism --tuned ft --base pt --out runs/organism/tables
  paperlib weights --pair organism --layers 0,-1 --out runs/organism/weights
  paperlib compare paper runs/paper7b        # regenerated vs the authors' released matrices

`paperlib <command> --help` shows each command's options and examples.
Data-parallel: `accelerate launch --multi_gpu --num_processes K -m paperlib explain ...`
or `torchrun --nproc_per_node K -m paperlib explain ...` (on CPU too: gloo; note that
`accelerate launch --cpu` starts ONE process whatever --num_processes says).
"""


def build_parser() -> argparse.ArgumentParser:
    from paperlib import __version__
    from paperlib.cli import compare, explain, tables, weights

    parser = argparse.ArgumentParser(prog="paperlib", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"paperlib {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (explain, tables, weights, compare):
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; returns the exit status (0 ok, 2 bad input, 130 interrupted)."""
    parser = build_parser()
    args = parser.parse_args(argv)  # argparse itself exits 2 on a usage error
    try:
        return int(args.run(args) or 0)
    except PaperlibError as exc:
        print(f"paperlib {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"paperlib {args.command}: interrupted (finished cases are kept; run the "
              "same command again to resume)", file=sys.stderr)
        return EXIT_INTERRUPTED
