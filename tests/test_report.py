"""The first runner, end to end: the sample shop's month rendered as a user would run it."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from playbook.report import run_report

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "data" / "samples"


def playbook_cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "playbook.cli", *args], capture_output=True, text=True, cwd=cwd)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    res = playbook_cli("report", "--data", str(SAMPLES), "--out", str(out))  # month: latest full month
    assert res.returncode == 0, res.stderr + res.stdout
    return out / "2026-10"


def test_report_renders_latest_full_month(rendered):
    assert (rendered / "index.html").exists()
    assert (rendered / "00_start_here.ipynb").exists()
    page = (rendered / "00_start_here.html").read_text(encoding="utf-8")
    assert "GMV" in page and "<img" in page  # the chart is inline
    assert "charts.use_theme()" not in page  # no code cells
    assert "private_domain_share" not in page and "Exercises" not in page  # no exercise cells
    index = (rendered / "index.html").read_text(encoding="utf-8")
    assert "00_start_here.html" in index
    assert not [p for p in rendered.parent.iterdir() if p.name.startswith(".")]  # no staging left


def test_report_pages_carry_no_personal_data(rendered):
    customers = pd.read_csv(next(SAMPLES.glob("customers.csv*")), dtype=str)
    pages = " ".join(p.read_text(encoding="utf-8") for p in rendered.glob("*.html"))
    leaked = [v for v in pd.concat([customers["name"], customers["phone"]]).dropna().head(2000) if v in pages]
    assert not leaked, f"personal data in the report: {leaked[:5]}"


def test_bad_month_stops_before_any_kernel(tmp_path):
    res = playbook_cli("report", "--month", "2031-01", "--data", str(SAMPLES), "--out", str(tmp_path))
    assert res.returncode == 2 and "outside the data" in res.stderr
    res = playbook_cli("report", "--month", "Oct 2026", "--data", str(SAMPLES), "--out", str(tmp_path))
    assert res.returncode == 2 and "YYYY-MM" in res.stderr
    res = playbook_cli("report", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path))
    assert res.returncode == 2 and "does not exist" in res.stderr
    assert not any(tmp_path.iterdir())


def _notebook(path: Path, code: str):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell('month: str = "2026-10"  # report month', metadata={"tags": ["parameters"]}),
                nbformat.v4.new_markdown_cell("A page."), nbformat.v4.new_code_cell(code)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def test_a_failing_chapter_does_not_stop_the_others(tmp_path):
    books = tmp_path / "nb"
    books.mkdir()
    _notebook(books / "01_fails.ipynb", "raise ValueError('planted failure')")
    _notebook(books / "02_works.ipynb", "print('month', month)")
    result = run_report("2026-10", data=SAMPLES, out=tmp_path / "out", notebooks_dir=books, echo=lambda *_: None)
    assert result.failed == ["01_fails"]
    assert "planted failure" in result.chapters[0].error
    works = (tmp_path / "out" / "2026-10" / "02_works.html").read_text(encoding="utf-8")
    assert "month 2026-10" in works
    assert (tmp_path / "out" / "2026-10" / "01_fails.html").exists()  # the page shows the error cell
