"""The monthly runner: execute every chapter notebook for a month and render its pages.

``playbook report --month 2026-10`` checks the month and the source first (one load, before any
kernel starts), then runs each ``notebooks/NN_*.ipynb`` with papermill, injecting the parameters
the notebook declares (``month``, ``data_source``, ``settings_file``), and converts each executed
notebook to HTML without code cells and without cells tagged ``exercise``. Everything is written
into a temporary folder beside the target and moved into ``reports/<month>/`` only when complete,
so a failed or interrupted run never leaves a half-written report.
"""
from __future__ import annotations

import datetime as dt
import html
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .errors import PlaybookError
from .loading import latest_full_month, load, month_bounds
from .settings import load_settings

NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent / "notebooks"
REMOVED_TAGS = ("exercise", "remove_cell")


@dataclass
class ChapterResult:
    name: str
    ok: bool
    seconds: float
    error: str = ""


@dataclass
class ReportResult:
    month: str
    out_dir: Path
    chapters: list[ChapterResult] = field(default_factory=list)

    @property
    def failed(self) -> list[str]:
        return [c.name for c in self.chapters if not c.ok]


def chapter_notebooks(notebooks_dir: Path | None = None) -> list[Path]:
    """The chapter notebooks in run order (``NN_slug.ipynb``)."""
    folder = Path(notebooks_dir or NOTEBOOKS_DIR)
    return sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def html_exporter():
    """nbconvert's HTML exporter configured for report pages: no code, no exercises, no prompts."""
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor
    from traitlets.config import Config

    cfg = Config()
    cfg.TagRemovePreprocessor.remove_cell_tags = set(REMOVED_TAGS)
    cfg.TagRemovePreprocessor.enabled = True
    cfg.HTMLExporter.exclude_input = True
    cfg.HTMLExporter.exclude_input_prompt = True
    cfg.HTMLExporter.exclude_output_prompt = True
    exporter = HTMLExporter(config=cfg)
    exporter.register_preprocessor(TagRemovePreprocessor(config=cfg), enabled=True)
    return exporter


def run_chapter(notebook: Path, out_dir: Path, parameters: dict, *, timeout: int = 1800) -> ChapterResult:
    """Execute one notebook into ``out_dir`` (executed .ipynb and .html); never raises on a failure."""
    import nbformat
    import papermill as pm

    t0 = time.perf_counter()
    target = out_dir / notebook.name
    declared = pm.inspect_notebook(str(notebook))
    params = {k: v for k, v in parameters.items() if k in declared}
    error = ""
    try:
        pm.execute_notebook(str(notebook), str(target), parameters=params, kernel_name="python3",
                            cwd=str(notebook.parent), progress_bar=False, execution_timeout=timeout,
                            report_mode=False)
    except pm.PapermillExecutionError as e:
        error = f"{e.ename}: {e.evalue}"
    except Exception as e:  # a kernel that died, a timeout: the chapter fails, the run goes on
        error = f"{type(e).__name__}: {e}"
    if target.exists():
        nb = nbformat.read(target, as_version=4)
        body, _ = html_exporter().from_notebook_node(nb, resources={"metadata": {"name": notebook.stem}})
        target.with_suffix(".html").write_text(body, encoding="utf-8")
    return ChapterResult(notebook.stem, not error, time.perf_counter() - t0, error)


def run_report(month: str | None = None, *, data: str | Path = "data/samples", out: str | Path = "reports",
               settings_file: str | Path | None = None, notebooks_dir: str | Path | None = None,
               echo=print) -> ReportResult:
    """Render the report of ``month`` (default: the latest full month of the data) into ``out/<month>/``.

    Raises :class:`~playbook.errors.PlaybookError` before any notebook runs when the month, the
    source or the settings cannot be used.
    """
    data = Path(data).resolve()
    settings = load_settings(settings_file)
    if month is None:
        month = latest_full_month(data)
    month_bounds(month)
    dataset = load(data, month=month, settings=settings)
    notebooks = chapter_notebooks(notebooks_dir)
    if not notebooks:
        raise PlaybookError(f"No chapter notebooks (NN_slug.ipynb) in {notebooks_dir or NOTEBOOKS_DIR}.")

    final = Path(out).resolve() / month
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{month}-", dir=final.parent))
    parameters = {"month": month, "data_source": str(data),
                  "settings_file": str(Path(settings_file).resolve()) if settings_file else ""}
    result = ReportResult(month, final)
    try:
        for nb in notebooks:
            echo(f"[{len(result.chapters) + 1}/{len(notebooks)}] {nb.stem} ...")
            res = run_chapter(nb, staging, parameters)
            result.chapters.append(res)
            echo(f"      {'done' if res.ok else 'FAILED'} in {res.seconds:.1f} s" + (f": {res.error}" if res.error else ""))
        _write_index(staging, result, dataset)
        if final.exists():
            old = final.with_name(f".{month}-old-{os.getpid()}")
            final.rename(old)
            staging.rename(final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            staging.rename(final)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return result


def _write_index(folder: Path, result: ReportResult, dataset) -> None:
    rows = "\n".join(
        f'<li><a href="{html.escape(c.name)}.html">{html.escape(c.name)}</a>'
        + ("" if c.ok else f' <strong class="bad">failed: {html.escape(c.error)}</strong>') + "</li>"
        for c in result.chapters)
    quality = dataset.quality.to_frame().to_html(index=False, escape=True) if len(dataset.quality) else \
        "<p>No data-quality issues.</p>"
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Playbook report {result.month}</title>
<style>body{{font-family:system-ui,"Noto Sans CJK SC","Microsoft YaHei",sans-serif;max-width:60rem;margin:2rem auto}}
.bad{{color:#b2182b}} table{{border-collapse:collapse}} td,th{{border:1px solid #ccc;padding:.2rem .5rem;font-size:.9rem}}</style>
</head><body>
<h1>Playbook report {result.month}</h1>
<p>Source: {html.escape(str(dataset.source.path))} (fingerprint {dataset.fingerprint}); rendered
{dt.datetime.now():%Y-%m-%d %H:%M}.</p>
<h2>Chapters</h2><ul>{rows}</ul>
<h2>Data quality</h2>{quality}
</body></html>"""
    (folder / "index.html").write_text(page, encoding="utf-8")
