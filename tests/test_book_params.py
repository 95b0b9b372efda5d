"""paperlib.book.params: the parameters a chapter declares and the check of injected names."""
from __future__ import annotations

import nbformat
import pytest

from paperlib.book import params
from paperlib.core.errors import ParameterError

PARAMS_CELL = '''# a comment line may say x = 1
b = 7                # cutoff
mode: str = "threshold"
prompts = [          # a multi-line list
    "a",
]
a = c = None
x, y = 1, 2          # tuple targets are not parameters
print(b)
'''


def test_assigned_names_in_order_with_default_sources():
    assert params.assigned_names(PARAMS_CELL) == {"b": "7", "mode": "'threshold'",
                                                  "prompts": "['a']", "a": "None", "c": "None"}


def test_declared_parameters_need_a_tagged_first_code_cell():
    cells = [nbformat.v4.new_markdown_cell("# title"),
             nbformat.v4.new_code_cell("b = 7", metadata={"tags": ["parameters"]})]
    assert params.declared_parameters(nbformat.v4.new_notebook(cells=cells)) == {"b": "7"}
    untagged = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("b = 7")])
    with pytest.raises(ParameterError, match="tagged 'parameters'"):
        params.declared_parameters(untagged)
    with pytest.raises(ParameterError):
        params.declared_parameters(nbformat.v4.new_notebook())


def test_check_names_lists_the_known_parameters_and_a_close_match():
    params.check_names(["b", "p"], ["b", "p", "L"])
    with pytest.raises(ParameterError) as info:
        params.check_names(["b", "n_bot", "zzz"], ["b", "n_boot"], "t.md")
    assert str(info.value) == ("unknown parameter(s) for t.md: 'n_bot' (did you mean 'n_boot'?), "
                               "'zzz'. Its parameters are: b, n_boot")


def _history(*cells: str) -> dict:
    """A namespace as IPython leaves it: In[0] is empty, then every executed cell."""
    return {"In": ["", *cells, "params.check_injected(globals())"]}


def test_check_injected_passes_defaults_and_known_names():
    params.check_injected({})                                    # not IPython
    params.check_injected(_history("b = 7\np = 4"))              # no injected cell: defaults
    params.check_injected(_history("b = 7\np = 4", "# Parameters\nb = 5"))


def test_check_injected_rejects_an_unknown_injected_name():
    with pytest.raises(ParameterError, match=r"'bb' \(did you mean 'b'\?\)\. Its parameters are: b, p"):
        params.check_injected(_history("b = 7\np = 4", "# Parameters\nbb = 5\np = 3"))
    # re-run by hand in Jupyter later: the last injected cell and the cell before it count
    params.check_injected(_history("b = 7", "# Parameters\nbb = 5", "b = 7\nbb = 1",
                                   "# Parameters\nbb = 2"))
