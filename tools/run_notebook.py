"""Run one chapter with parameters: ``make notebook NB=<name> ARGS="-p b 5"``.

Converts ``notebooks/<name>.md`` with jupytext (in memory), checks the
parameter names against the chapter's ``parameters`` cell (an unknown name
stops the run before anything executes and lists the known ones), executes it
with papermill (working directory = repository root, the venv's ``python3``
kernel) and writes ``results/notebooks/<name>.ipynb`` (``$PAPERLIB_RESULTS/
notebooks/`` when set; ``-o`` chooses another path). Options as papermill's:
``-p NAME VALUE`` (typed: True/False/None, int, float, else text),
``-r NAME VALUE`` (raw text), ``-y YAML`` (a mapping, e.g. lists);
``--help-notebook`` lists the parameters with their defaults and comments.
Papermill reads the parameters cell with Python's parser here
(:func:`paperlib.book.params.use_ast_parser`), so a comment holding ``=`` hides
no parameter. A run that fell back to random weights (``-p fallback_to_random
True`` and no loadable pair) is reported on stderr after it ends.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

TOOLS_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(TOOLS_DIR))

import build_book  # noqa: E402  (sibling module in tools/)
from build_book import REPO_ROOT, BookBuildError  # noqa: E402
from paperlib.book import params  # noqa: E402


def typed(value: str):
    """A ``-p`` value as papermill types it: True/False/None, int, float, else the text."""
    special = {"True": True, "False": False, "None": None}
    if value in special:
        return special[value]
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebook", help="chapter name (notebooks/<name>.md) or a path to a .md source")
    parser.add_argument("-p", "--parameters", nargs=2, action="append", default=[],
                        metavar=("NAME", "VALUE"), help="parameter, typed as papermill -p does")
    parser.add_argument("-r", "--parameters_raw", nargs=2, action="append", default=[],
                        metavar=("NAME", "VALUE"), help="parameter, always text")
    parser.add_argument("-y", "--parameters_yaml", action="append", default=[],
                        metavar="YAML", help="parameters as a YAML mapping")
    parser.add_argument("-o", "--output", type=Path, help="executed notebook path")
    parser.add_argument("--help-notebook", action="store_true",
                        help="list the chapter's parameters with their defaults and exit")
    parser.add_argument("--cell-timeout", type=float, default=0.0,
                        help="seconds one cell may run (0 = no limit)")
    return parser.parse_args(argv)


def gather(args: argparse.Namespace) -> dict:
    """``{name: value}`` from the -p / -r / -y options, later ones winning."""
    out = {}
    for text in args.parameters_yaml:
        mapping = yaml.safe_load(text)
        if not isinstance(mapping, dict):
            raise BookBuildError(f"-y needs a YAML mapping, got {text!r}")
        out.update(mapping)
    out.update({name: typed(value) for name, value in args.parameters})
    out.update({name: value for name, value in args.parameters_raw})
    return out


def source_path(notebook: str, root: Path = REPO_ROOT) -> Path:
    """``notebooks/<name>.md`` for a chapter name, or the path given; BookBuildError
    naming the chapters when it does not exist."""
    path = Path(notebook) if notebook.endswith(".md") else root / "notebooks" / f"{notebook}.md"
    if not path.is_file():
        names = ", ".join(sorted(p.stem for p in (root / "notebooks").glob("*.md")))
        raise BookBuildError(f"no notebook source {path}; chapters: {names}")
    return path.resolve()


def output_path(source: Path, output: Path | None) -> Path:
    """``-o`` if given, else ``<results>/notebooks/<name>.ipynb``."""
    if output is not None:
        return output.resolve()
    return build_book.results_folder(REPO_ROOT) / "notebooks" / f"{source.stem}.ipynb"


def _shown(source: Path) -> str:
    """The source path relative to the repository (as given when outside it)."""
    try:
        return str(source.relative_to(REPO_ROOT))
    except ValueError:
        return str(source)


def warn_if_random(executed: Path) -> bool:
    """Print a warning to stderr when the executed notebook ran on the random
    stand-in pair (its outputs hold the fallback's log line); True if so."""
    from paperlib.book.standin import RANDOM_LOG

    text = executed.read_text(encoding="utf-8") if executed.is_file() else ""
    if RANDOM_LOG not in text:
        return False
    print(f"make notebook: WARNING: {executed.name} ran on a RANDOM stand-in pair "
          "(fallback_to_random=True, the requested pair could not be loaded): its numbers, "
          "words and figures mean nothing linguistically", file=sys.stderr)
    return True


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        source = source_path(args.notebook)
        if args.help_notebook:
            lines = params.help_lines(build_book.read_source(source))
            print(f"Parameters of {_shown(source)}:")
            print("\n".join(f"  {line}" for line in lines))
            return 0
        parameters = gather(args)
        build_book.checked_source(source, parameters)
        target = output_path(source, args.output)
        build_book.use_venv_kernelspecs()
        params.use_ast_parser()
        print(f"running {_shown(source)} -> {target}", flush=True)
        build_book.execute_source(source, target, REPO_ROOT, parameters,
                                  args.cell_timeout or None, target.parent / "failed")
        warn_if_random(target)
    except BookBuildError as exc:
        print(f"make notebook: ERROR: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - a failing cell: say where the partial copy is
        print(f"make notebook: FAILED: {type(exc).__name__}: {str(exc)[-3000:]}\n"
              f"partial notebook: {target.parent / 'failed' / target.name}", file=sys.stderr)
        return 1
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
