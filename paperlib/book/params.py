"""Chapter parameters: what a chapter declares, and a check of what a run injects.

Every chapter (``notebooks/<name>.md``) starts with one code cell tagged
``parameters`` that assigns each parameter its default, one ``name = value``
per line (papermill's own parser reads the same lines for ``--help-notebook``).
Papermill runs a chapter with other values by inserting, right after that cell,
a cell tagged ``injected-parameters`` whose code starts with ``# Parameters``.
Papermill only *warns* about a name the chapter does not declare ("Passed
unknown parameter") and runs on, so a misspelt ``-p bb 5`` would silently
produce the default chapter. Two checks turn that into an error:

* **Before execution** (the supported runners, ``make notebook`` and
  ``tools/build_book.py``): :func:`declared_parameters` reads the parameters
  cell of the converted notebook and :func:`check_names` rejects any given
  name it does not declare, listing the known ones (with a close match).
* **Inside the run** (any papermill command line, e.g. the jupytext | papermill
  pipe): the chapter's second code cell is ``params.check_injected(globals())``.
  A notebook cannot see cell tags, but IPython keeps the source of every
  executed cell in ``In``; :func:`check_injected` finds papermill's injected
  cell there (it starts with ``# Parameters``), takes the cell executed just
  before it as the parameters cell, and raises :class:`ParameterError` naming
  the unknown names and the known ones. Without injected parameters (defaults,
  Jupyter, the book) it does nothing.

Only top-level ``name = value`` (or ``name: type = value``) statements count as
parameters; comments and blank lines are ignored. A comment may hold anything
(``=``, ``<=``, ``;``): the names come from Python's own parser (``ast``).
Papermill's parser is a line regex that drops every line with a second ``=``
("Unable to parse line", then "Passed unknown parameter", and the name missing
from ``papermill --help-notebook``); :func:`use_ast_parser` replaces it, in the
running process, by :class:`AstPythonTranslator` (the supported runners call it),
and :func:`papermill_misses` names the lines plain papermill cannot read.
"""
from __future__ import annotations

import ast
import difflib
import functools
import io
import tokenize
from collections.abc import Iterable, Mapping

from paperlib.core.errors import ParameterError

PARAMETERS_TAG = "parameters"
INJECTED_HEADER = "# Parameters"


def assigned_names(source: str) -> dict[str, str]:
    """``{name: default source}`` of the top-level assignments of ``source``, in order.

    ``a = b = 1`` gives both names; tuple targets and attributes are not parameters.
    """
    out: dict[str, str] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        for target in targets:
            if isinstance(target, ast.Name):
                out[target.id] = ast.unparse(value)
    return out


def parameters_cell(nb: Mapping) -> Mapping:
    """The first code cell of ``nb``, which must be tagged ``parameters``."""
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    if not code or PARAMETERS_TAG not in code[0].get("metadata", {}).get("tags", []):
        raise ParameterError("the first code cell of the notebook must be tagged 'parameters'")
    return code[0]


def declared_parameters(nb: Mapping) -> dict[str, str]:
    """``{name: default source}`` declared by the parameters cell of ``nb``."""
    source = parameters_cell(nb)["source"]
    return assigned_names(source if isinstance(source, str) else "".join(source))


def unknown_message(unknown: Iterable[str], known: Iterable[str], where: str = "this notebook") -> str:
    """One error message: the unknown names (with close matches) and the known ones."""
    known = list(known)
    parts = []
    for name in unknown:
        close = difflib.get_close_matches(name, known, n=1)
        parts.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return (f"unknown parameter(s) for {where}: {', '.join(parts)}. "
            f"Its parameters are: {', '.join(known)}")


def check_names(given: Iterable[str], known: Iterable[str], where: str = "this notebook") -> None:
    """Raise :class:`ParameterError` when a name of ``given`` is not in ``known``."""
    known = list(known)
    unknown = [name for name in given if name not in known]
    if unknown:
        raise ParameterError(unknown_message(unknown, known, where))


def check_injected(namespace: Mapping) -> None:
    """Fail the run when papermill injected a parameter the parameters cell lacks.

    Call it as ``params.check_injected(globals())`` in the cell after the
    parameters cell. Reads IPython's input history ``In`` from ``namespace``;
    a namespace without papermill's injected cell passes unchecked.
    """
    history = list(namespace.get("In") or [])
    injected = [i for i, src in enumerate(history)
                if isinstance(src, str) and src.startswith(INJECTED_HEADER)]
    if not injected or injected[-1] == 0:
        return
    i = injected[-1]
    known = assigned_names(history[i - 1])
    check_names(assigned_names(history[i]), known)


def _source_text(cell: Mapping) -> str:
    source = cell["source"]
    return source if isinstance(source, str) else "".join(source)


def parameter_comments(source: str) -> dict[str, str]:
    """``{name: comment}`` of the top-level assignments of ``source``: the comment on
    the assignment's first line, else on its last line ("" when none)."""
    comments: dict[int, str] = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            comments.setdefault(tok.start[0], tok.string.lstrip("#").strip())
    out: dict[str, str] = {}
    for node in ast.parse(source).body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            text = comments.get(node.lineno) or comments.get(node.end_lineno, "")
            for target in getattr(node, "targets", [getattr(node, "target", None)]):
                if isinstance(target, ast.Name):
                    out[target.id] = text
    return out


def _annotations(source: str) -> dict[str, str]:
    return {n.target.id: ast.unparse(n.annotation) for n in ast.parse(source).body
            if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)}


@functools.lru_cache(maxsize=1)
def _translator_class():
    from papermill.models import Parameter
    from papermill.translators import PythonTranslator

    class AstPythonTranslator(PythonTranslator):
        """Papermill's Python translator, reading the parameters cell with ``ast``."""

        @classmethod
        def inspect(cls, parameters_cell):
            source = _source_text(parameters_cell)
            helps, types = parameter_comments(source), _annotations(source)
            return [Parameter(name=name, inferred_type_name=types.get(name, "None"),
                              default=default, help=helps.get(name, ""))
                    for name, default in assigned_names(source).items()]

    return AstPythonTranslator


def use_ast_parser() -> None:
    """Make papermill (in this process) read parameters cells with
    :class:`AstPythonTranslator`, so a comment holding ``=`` hides no parameter."""
    from papermill.translators import papermill_translators

    papermill_translators.register("python", _translator_class())


def papermill_misses(nb: Mapping) -> list[str]:
    """Parameters of ``nb`` that plain papermill (its own regex parser) does not see."""
    from papermill.translators import PythonTranslator

    cell = parameters_cell(nb)
    seen = {p.name for p in PythonTranslator.inspect({"source": _source_text(cell)})}
    return [name for name in declared_parameters(nb) if name not in seen]


def help_lines(nb: Mapping) -> list[str]:
    """``name = default`` for every parameter of ``nb``, each followed by its comment
    on an indented line when it has one (``--help-notebook``)."""
    source = _source_text(parameters_cell(nb))
    helps = parameter_comments(source)
    out = []
    for name, default in assigned_names(source).items():
        out.append(f"{name} = {default}")
        if helps.get(name):
            out.append(f"    {helps[name]}")
    return out
