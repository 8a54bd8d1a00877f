"""Notebooks follow the chapter standard: paired with py:percent scripts that agree, committed
without outputs, one `parameters` cell of plain literals, no function or class definitions."""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import jupytext
import pytest

from playbook.report import REQUIRED_PARAMETERS

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb"))
IDS = [p.stem for p in NOTEBOOKS]


def test_there_are_notebooks():
    assert any(p.name == "00_start_here.ipynb" for p in NOTEBOOKS)


def _cells(nb):
    return [(c.cell_type, c.source.strip(), tuple(sorted(c.metadata.get("tags", []))))
            for c in nb.cells]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_pair_agrees(path):
    script = path.with_suffix(".py")
    assert script.exists(), f"{path.name} has no paired py:percent script; run `make pair`"
    assert "format_name: percent" in script.read_text(encoding="utf-8")
    from_ipynb = _cells(jupytext.read(path))
    from_script = _cells(jupytext.read(script))
    assert from_ipynb == from_script, f"{path.name} and {script.name} differ; run `make pair`"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_committed_without_outputs(path):
    doc = json.loads(path.read_text(encoding="utf-8"))
    for cell in doc["cells"]:
        if cell["cell_type"] == "code":
            assert not cell.get("outputs") and not cell.get("execution_count"), f"{path.name} has outputs"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_parameters_cell_holds_typed_literals_only(path):
    nb = jupytext.read(path)
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1, f"{path.name}: want exactly one cell tagged parameters"
    tree = ast.parse(params[0].source)
    for node in tree.body:
        assert isinstance(node, ast.AnnAssign), f"{path.name}: parameters must be `name: type = literal`"
        ast.literal_eval(node.value)  # a plain literal, nothing derived
    for line in params[0].source.splitlines():
        assert "#" in line, f"{path.name}: every parameter has a comment: {line!r}"
    names = {n.target.id for n in tree.body}
    import papermill as pm

    seen = set(pm.inspect_notebook(str(path)))
    assert names == seen, f"{path.name}: papermill does not see {names - seen} (an '=' inside a comment?)"
    assert set(REQUIRED_PARAMETERS) <= names, f"{path.name}: the report pack gives {REQUIRED_PARAMETERS}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_no_logic_in_notebooks(path):
    nb = jupytext.read(path)
    for cell in nb.cells:
        if cell.cell_type != "code" or "exercise" in cell.metadata.get("tags", []):
            continue
        assert not re.search(r"^\s*(def|class|for|while) ", cell.source, re.M), \
            f"{path.name}: logic belongs in playbook/, not in a notebook cell:\n{cell.source}"


def test_every_exercise_cell_has_a_solver_that_answers_on_the_sample():
    """The monthly pack runs exercise cells with ``answer = None``, which no longer solves them; so
    here every exercise a notebook asks is solved on the sample shop, and checked both ways."""
    import math

    import playbook
    from playbook import (acquisition, campaigns, dataops, exercises, fulfillment, inventory,  # noqa: F401
                          positioning, risk, selection)  # the chapters register their exercises

    keys = []
    for path in NOTEBOOKS:
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] == "code" and "exercise" in cell["metadata"].get("tags", []):
                keys += re.findall(r"exercises\.check\(\s*\"([^\"]+)\"", "".join(cell["source"]))
    assert len(keys) >= 18 and len(set(keys)) == len(keys)
    missing = [k for k in keys if k not in exercises.EXERCISES]
    assert not missing, f"exercise cells without a solver: {missing}"
    data = playbook.load(NOTEBOOKS[0].parent.parent / "data" / "samples", month="2026-10")
    for key in keys:
        question, solve, _ = exercises.EXERCISES[key]
        right = float(solve(data))
        assert math.isfinite(right), key
        assert exercises.check(key, None, data).endswith("write your number in `answer` and run the cell again.")
        assert "correct" in exercises.check(key, right, data), key
        assert "not yet" in exercises.check(key, right * 1.5 + 1, data), key
