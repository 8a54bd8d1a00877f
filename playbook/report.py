"""The monthly report pack: every chapter for a month, one page of what matters, the action lists.

``playbook report --month 2026-10`` does, in order:

1. **Checks every parameter before any kernel starts**: the month's form, the chapters asked for,
   the language, the settings file (an unknown key is an error), the source (readable, valid, and
   covering the month), and that each chapter notebook declares the parameters it will be given.
   Any problem ends the run with one clear message (exit code 2 on the command line).
2. **Prepares once**: the source is read and validated once; the month's window, without any
   personal-data column, and the shared derived tables (daily KPIs by channel, per-customer summary,
   SKU-by-day sales and stock) are written as Parquet into the run's working folder, and every
   chapter loads that folder instead of the raw source.
3. **Runs the chapters in parallel** (``--jobs``, default the number of cores) with papermill,
   shutting each kernel down as soon as its notebook ends; a progress bar shows chapters done,
   running and failed. A chapter that fails does not stop the others: its page shows the error.
4. **Writes the pack** into ``<out>/<month>/``: ``index.html`` (KPI cards against the previous month,
   the same month last year and the target; every alert sorted by severity; links to chapter pages
   and action lists; data quality; provenance), one self-contained HTML page per chapter without
   code or exercise cells, ``summary.json``, ``actions/*.csv`` (UTF-8 with BOM, for Excel) and
   ``actions.xlsx``, and the executed notebooks for audit.

Everything is built in a temporary folder beside the target and swapped in only when complete: an
interrupted or crashed run leaves the last good report of that month in place, and other months are
never touched.
"""
from __future__ import annotations

import base64
import contextlib
import datetime as dt
import html
import io
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import pandas as pd

from . import metrics
from .contract import TABLES
from .errors import PlaybookError
from .i18n import LANGUAGES, label
from .loading import (Dataset, has_column, latest_full_month, month_bounds, prepare_source, read_window,
                      release_free_memory, replace_folder)
from .pack import PERSONAL_NAMES, SEVERITIES, format_value
from .settings import load_settings
from .threads import KERNEL_THREAD_ENV

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS_DIR = ROOT / "notebooks"
REMOVED_TAGS = ("exercise", "remove_cell")
#: parameters every notebook must declare, so that no option of the run is silently ignored;
#: ``output_dir`` is given to the notebooks that declare it (those that record into the pack)
REQUIRED_PARAMETERS = ("month", "data_source", "settings_file", "lang")
PROVENANCE_PACKAGES = ("pandas", "numpy", "scipy", "statsmodels", "matplotlib", "seaborn", "duckdb",
                       "pyarrow", "papermill", "nbconvert")


@dataclass
class ChapterResult:
    name: str
    ok: bool
    seconds: float
    error: str = ""
    record: dict = field(default_factory=dict)  #: the chapter's saved ChapterRecord, when it wrote one
    peak_gb: float | None = None  #: the peak resident memory of the chapter's kernel, when it could tell


@dataclass
class ReportResult:
    month: str
    out_dir: Path
    chapters: list[ChapterResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> list[str]:
        return [c.name for c in self.chapters if not c.ok]


# ---------------------------------------------------------------------------------------------
# Checking the parameters
# ---------------------------------------------------------------------------------------------

def chapter_notebooks(notebooks_dir: Path | None = None) -> list[Path]:
    """The chapter notebooks in run order (``NN_slug.ipynb``)."""
    folder = Path(notebooks_dir or NOTEBOOKS_DIR)
    return sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def select_chapters(notebooks: list[Path], chapters: str | list[str] | None) -> list[Path]:
    """The notebooks named by ``chapters`` (``"01,03"``, numbers or stems); all when None."""
    if not chapters:
        return notebooks
    wanted = [c.strip() for c in (chapters.split(",") if isinstance(chapters, str) else chapters) if c.strip()]
    by_key = {}
    for nb in notebooks:
        by_key[nb.stem[:2]] = nb
        by_key[nb.stem] = nb
    unknown = [c for c in wanted if c not in by_key and c.zfill(2) not in by_key]
    if unknown:
        raise PlaybookError(f"Unknown chapter(s) {', '.join(unknown)}. Chapters available: "
                            + ", ".join(nb.stem for nb in notebooks) + ".")
    picked = {by_key.get(c, by_key.get(c.zfill(2))) for c in wanted}
    return [nb for nb in notebooks if nb in picked]


def notebook_parameters(notebook: Path) -> dict:
    """The parameters a notebook declares in its ``parameters`` cell."""
    import papermill as pm

    return pm.inspect_notebook(str(notebook))


def check_notebooks(notebooks: list[Path]) -> dict[Path, dict]:
    """Each notebook's declared parameters; an error when one lacks a required parameter."""
    declared = {}
    for nb in notebooks:
        params = notebook_parameters(nb)
        missing = [p for p in REQUIRED_PARAMETERS if p not in params]
        if missing:
            raise PlaybookError(f"{nb.name} does not declare the parameter(s) {', '.join(missing)} in a cell "
                                "tagged 'parameters', so the pack cannot run it for a month.")
        declared[nb] = params
    return declared


# ---------------------------------------------------------------------------------------------
# Running chapters
# ---------------------------------------------------------------------------------------------

_EXPORTERS = threading.local()


def html_exporter():
    """nbconvert's HTML exporter for report pages: no code, no exercises, no prompts, images inline.
    One per thread of the runner, built once (building one loads its templates)."""
    exporter = getattr(_EXPORTERS, "exporter", None)
    if exporter is not None:
        return exporter
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor
    from traitlets.config import Config

    cfg = Config()
    cfg.TagRemovePreprocessor.remove_cell_tags = set(REMOVED_TAGS)
    cfg.TagRemovePreprocessor.enabled = True
    cfg.HTMLExporter.exclude_input = True
    cfg.HTMLExporter.exclude_input_prompt = True
    cfg.HTMLExporter.exclude_output_prompt = True
    cfg.HTMLExporter.embed_images = True
    exporter = HTMLExporter(config=cfg)
    exporter.register_preprocessor(TagRemovePreprocessor(config=cfg), enabled=True)
    _EXPORTERS.exporter = exporter
    return exporter


def run_chapter(notebook: Path, out_dir: Path, parameters: dict, *, declared: dict | None = None,
                timeout: int = 1800) -> ChapterResult:
    """Execute one notebook into ``out_dir`` (executed .ipynb and .html); never raises on a failure.

    Only the parameters the notebook declares are injected. The chapter's record (its
    ``chapters/<name>.json``, written by :meth:`playbook.pack.ChapterRecord.save`) is read back.
    """
    import nbformat
    import papermill as pm

    t0 = time.perf_counter()
    target = out_dir / notebook.name
    declared = notebook_parameters(notebook) if declared is None else declared
    params = {k: v for k, v in parameters.items() if k in declared}
    error = ""
    nb = nbformat.read(notebook, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(_PEAK_CELL, metadata={"tags": ["remove_cell"]}))
    try:
        pm.execute_notebook(nb, str(target), parameters=params, kernel_name="python3",
                            cwd=str(notebook.parent), progress_bar=False, execution_timeout=timeout,
                            request_save_on_cell_execute=False, shutdown_kernel="immediate")
    except pm.PapermillExecutionError as e:
        error = f"{e.ename}: {e.evalue}"
    except Exception as e:  # a kernel that died, a timeout: the chapter fails, the run goes on
        error = f"{type(e).__name__}: {e}"
    peak = None
    if target.exists():
        nb = nbformat.read(target, as_version=4)
        peak = _kernel_peak(nb)
        nb.cells = [c for c in nb.cells if c.source != _PEAK_CELL]  # the runner's cell is not the chapter's
        nbformat.write(nb, target)
        body, _ = html_exporter().from_notebook_node(nb, resources={"metadata": {"name": notebook.stem}})
        target.with_suffix(".html").write_text(with_cjk_font(body), encoding="utf-8")
    record_path = out_dir / "chapters" / f"{notebook.stem}.json"
    record = json.loads(record_path.read_text(encoding="utf-8")) if record_path.exists() else {}
    return ChapterResult(notebook.stem, not error, time.perf_counter() - t0, error, record, peak)


#: the last cell the runner adds to a chapter: the kernel reports its peak resident memory, from
#: Linux's high-water mark of the process's own memory (``ru_maxrss`` would be wrong there: it
#: keeps the peak of the process that started the kernel, the runner, across the exec)
_PEAK_CELL = ("import re as _re, resource as _r, sys as _s\n"
              "try:\n"
              "    _kb = int(_re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))\n"
              "except (OSError, AttributeError):\n"
              "    _kb = _r.getrusage(_r.RUSAGE_SELF).ru_maxrss * (1 if _s.platform != 'darwin' else 1 / 1024)\n"
              "print('playbook-peak-kb', _kb)")


def _kernel_peak(nb) -> float | None:
    """The peak memory (GB) the runner's last cell printed, None when it did not run."""
    for cell in nb.cells:
        if cell.source == _PEAK_CELL:
            for output in cell.get("outputs", []):
                text = output.get("text", "")
                if text.startswith("playbook-peak-kb"):
                    return round(float(text.split()[1]) * 1024 / 1e9, 2)  # KiB -> GB
    return None


class _Progress:
    """An overall progress bar: chapters done, running and failed."""

    def __init__(self, total: int, echo):
        self.total, self.echo = total, echo
        self.done = self.running = self.failed = 0
        self.lock = threading.Lock()
        self.bar = None
        if echo is print:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, unit="chapter", desc="report", leave=True)

    def _show(self, note: str):
        state = f"running {self.running}, failed {self.failed}"
        if self.bar is not None:
            self.bar.set_postfix_str(f"{state} {note}".strip())
        elif self.echo is not None:
            self.echo(f"[{self.done}/{self.total} done, {state}] {note}")

    def start(self, name: str):
        with self.lock:
            self.running += 1
            self._show(f"started {name}")

    def finish(self, result: ChapterResult):
        with self.lock:
            self.running -= 1
            self.done += 1
            self.failed += 0 if result.ok else 1
            if self.bar is not None:
                self.bar.update(1)
            self._show(f"{result.name} {'ok' if result.ok else 'FAILED'} in {result.seconds:.1f} s")

    def close(self):
        if self.bar is not None:
            self.bar.close()


# ---------------------------------------------------------------------------------------------
# The pack
# ---------------------------------------------------------------------------------------------

def run_report(month: str | None = None, *, data: str | Path = "data/samples", out: str | Path = "reports",
               settings_file: str | Path | None = None, chapters: str | list[str] | None = None,
               lang: str = "en", jobs: int | None = None, notebooks_dir: str | Path | None = None,
               memory_budget_gb: float | None = None, echo=print) -> ReportResult:
    """Render the report pack of ``month`` (default: the latest full month of the data) into
    ``out/<month>/``.

    ``jobs`` chapters run side by side (default: one per core) while the memory their kernels
    reached in the last pack fits in ``memory_budget_gb`` (default: settings
    ``report.memory_budget_gb``; 0 there is 80% of the machine's memory): see :func:`run_scheduled`.

    Raises :class:`~playbook.errors.PlaybookError` (with a message for the user) before any notebook
    runs when a parameter, the settings, the source or a notebook cannot be used.
    """
    t0 = time.perf_counter()
    if lang not in LANGUAGES:
        raise PlaybookError(f"Language {lang!r} is not available; use one of {', '.join(LANGUAGES)}.")
    jobs = int(jobs or os.cpu_count() or 1)
    if jobs < 1:
        raise PlaybookError("--jobs must be at least 1.")
    if month is not None:
        month_bounds(month)
    notebooks = select_chapters(chapter_notebooks(notebooks_dir), chapters)
    if not notebooks:
        raise PlaybookError(f"No chapter notebooks (NN_slug.ipynb) in {notebooks_dir or NOTEBOOKS_DIR}.")
    declared = check_notebooks(notebooks)
    settings = load_settings(settings_file)
    budget = float(memory_budget_gb if memory_budget_gb is not None else settings["report"]["memory_budget_gb"])
    if budget < 0:
        raise PlaybookError(f"The memory budget must be 0 (80% of the machine's memory) or a number of GB, not {budget:g}.")
    source = str(data) if "://" in str(data) else Path(data).resolve()  # a database URL or a path
    if month is None:
        month = latest_full_month(source)
    work = Path(tempfile.mkdtemp(prefix="playbook-run-"))
    try:
        # read and checked once, one table at a time, without personal data; the chapters and the
        # front page read the prepared tables they need on first use
        prepared = work / "prepared"
        dataset = prepare_source(source, prepared, month=month, settings=settings, drop_columns=personal_columns)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    release_free_memory()  # the runner waits beside the chapters' kernels: it keeps nothing of the tables

    final = Path(out).resolve() / month
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{month}-building-", dir=final.parent))
    result = ReportResult(month, final)
    try:
        parameters = {"month": month, "data_source": str(prepared), "output_dir": str(staging), "lang": lang,
                      "settings_file": str(Path(settings_file).resolve()) if settings_file else ""}
        progress = _Progress(len(notebooks), echo)

        def one(nb: Path) -> ChapterResult:
            progress.start(nb.stem)
            res = run_chapter(nb, staging, parameters, declared=declared[nb])
            progress.finish(res)
            return res

        last = last_pack(Path(out).resolve())
        cards = _Background(kpi_cards, dataset)  # the front page's figures, on the core the last chapters leave free
        with _kernel_environment(jobs):
            done = run_scheduled(longest_first(notebooks, last), one, jobs=jobs,
                                 budget_gb=budget or default_memory_budget_gb(),
                                 peaks={nb: expected_peak_gb(last.get(nb.stem, {}), _order_lines(dataset))
                                        for nb in notebooks},
                                 on_idle=cards.start, idle_gb=expected_cards_gb(_order_lines(dataset)))
        progress.close()
        result.chapters = [done[nb] for nb in notebooks]
        result.seconds = time.perf_counter() - t0
        write_pack(staging, result, dataset, parameters={"month": month, "data": str(dataset.source.path), "lang": lang,
                                                          "chapters": [nb.stem for nb in notebooks],
                                                          "settings": str(settings_file or "defaults"),
                                                          "jobs": jobs}, cards=cards.result())
        replace_folder(staging, final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return result


class _Background:
    """``function(*args)`` run in a thread once :meth:`start` is called, or in the caller by
    :meth:`result` if it never was; :meth:`result` returns its value or raises its exception."""

    def __init__(self, function, *args):
        self._call = (function, args)
        self._thread: threading.Thread | None = None
        self._outcome: tuple | None = None

    def _run(self) -> None:
        function, args = self._call
        try:
            self._outcome = (True, function(*args))
        except BaseException as e:  # noqa: BLE001 - raised by result()
            self._outcome = (False, e)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="playbook-pack-work", daemon=True)
            self._thread.start()

    def result(self):
        if self._thread is None:
            self._run()
        else:
            self._thread.join()
        ok, value = self._outcome
        if not ok:
            raise value
        return value


def last_pack(out: Path) -> dict[str, dict]:
    """Per chapter, what the newest earlier pack under ``out`` measured (its summary.json:
    ``seconds``, ``peak_memory_gb``, and the ``order_lines`` of the shop it ran on when recorded);
    empty when there is none or it cannot be read."""
    summaries = sorted(out.glob("*/summary.json"), key=lambda p: p.stat().st_mtime)
    if not summaries:
        return {}
    try:
        summary = json.loads(summaries[-1].read_text(encoding="utf-8"))
        lines = summary.get("provenance", {}).get("order_lines")
        return {name: {**c, "order_lines": lines} for name, c in summary.get("chapters", {}).items()
                if isinstance(c, dict)}
    except (OSError, ValueError, AttributeError):
        return {}


#: a chapter kernel's memory (GB) before a pack has measured it: a base plus so much per million
#: order lines, about what the heaviest chapter needs (2.7 GB at ten million lines), so that on a
#: large shop's first pack the chapters do not start side by side beyond the machine's memory
UNMEASURED_PEAK_GB = (0.3, 0.25)


def expected_peak_gb(last: dict, order_lines: int | None) -> float:
    """GB a chapter's kernel is expected to reach: what it reached in the last pack (``last``, an
    entry of :func:`last_pack`), the part above the base scaled by the shop's ``order_lines`` now
    against then (a ten times larger shop needs about ten times the memory); for a chapter never
    measured, :data:`UNMEASURED_PEAK_GB`. Without order lines, the last peak as it is (or 0)."""
    base, per_million = UNMEASURED_PEAK_GB
    measured, then = last.get("peak_memory_gb"), last.get("order_lines")
    if not order_lines:
        return float(measured or 0.0)
    if not measured:
        return base + per_million * order_lines / 1e6
    if not then:
        return float(measured)
    return base + max(float(measured) - base, 0.0) * order_lines / then


def expected_cards_gb(order_lines: int | None) -> float:
    """GB the front page's KPI cards (:func:`kpi_cards`) are expected to need in the runner: 0.3
    plus 0.07 per million order lines (7 GB measured at ~100M: each repurchase window reads twelve
    months of orders), so that they start beside the last chapters only when memory allows."""
    return 0.3 + 0.07 * (order_lines or 0) / 1e6


def _order_lines(dataset: Dataset) -> int | None:
    """Rows of the dataset's order_items (None without them): the size of a shop for memory."""
    return dataset.rows("order_items") if "order_items" in dataset else None


def longest_first(notebooks: list[Path], last: dict[str, dict]) -> list[Path]:
    """The chapters in the order to start them: the longest first, by their times in the last pack
    (:func:`last_pack`), so that no long chapter is left to run alone at the end; chapters without
    a time keep their order after the timed ones. No earlier pack: as given."""
    seconds = {name: float(c.get("seconds") or 0) for name, c in last.items()}
    return sorted(notebooks, key=lambda nb: -seconds.get(nb.stem, 0.0))


def default_memory_budget_gb() -> float:
    """80% of the machine's physical memory, in GB (no budget where it cannot be read)."""
    try:
        return 0.8 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    except (ValueError, OSError, AttributeError):
        return float("inf")


def run_scheduled(order: list, run, *, jobs: int, budget_gb: float, peaks: Mapping, on_idle=None,
                  idle_gb: float = 0.0) -> dict:
    """Run ``run(item)`` for each item of ``order`` on up to ``jobs`` threads, returning
    {item: result}. An item starts when a thread is free and the peaks (GB) that the running items
    and it reached in the last pack fit in ``budget_gb``; when the next item does not fit, a later
    one that does starts instead (a light chapter beside a heavy one), and an item that does not fit
    even alone runs alone. Items without a known peak count as 0.

    ``on_idle()`` is called once, when every item has started and a thread is free while others
    still run (a core would idle until they end) and ``idle_gb`` fits in the budget beside them:
    the runner starts the pack's own work there. It is not called when the last items end
    together, or never leave that room (then it is the caller's to do afterwards)."""
    pending, running, done = list(order), {}, {}
    cond = threading.Condition()
    failure: list[BaseException] = []

    def work(item):
        try:
            result = run(item)
        except BaseException as e:  # noqa: BLE001 - raised in the calling thread below
            failure.append(e)
            result = None
        with cond:
            running.pop(item)
            done[item] = result
            cond.notify_all()

    threads = []
    with cond:
        while pending:
            used = sum(running.values())
            pick = next((it for it in pending if len(running) < jobs
                         and (not running or used + float(peaks.get(it) or 0.0) <= budget_gb)), None)
            if pick is None or failure:
                cond.wait()
                if failure:
                    break
                continue
            pending.remove(pick)
            running[pick] = float(peaks.get(pick) or 0.0)
            t = threading.Thread(target=work, args=(pick,), name=f"chapter-{pick}", daemon=True)
            threads.append(t)
            t.start()
        if on_idle is not None and not failure:
            while running and (len(running) >= jobs or sum(running.values()) + idle_gb > budget_gb):
                cond.wait()
            if running:
                on_idle()
    for t in threads:
        t.join()
    if failure:
        raise failure[0]
    return done


@contextlib.contextmanager
def _kernel_environment(jobs: int):
    """Environment the chapter kernels start with: when chapters run side by side, each keeps to one
    BLAS/OpenMP thread (:data:`playbook.threads.KERNEL_THREAD_ENV`) instead of every kernel
    starting a thread per core. Variables the user has set are left alone; all is restored after."""
    added = {k: v for k, v in KERNEL_THREAD_ENV.items() if k not in os.environ} if jobs > 1 else {}
    os.environ.update(added)
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)


def personal_columns(table: str, columns) -> list[str]:
    """The columns of ``table`` that may hold personal data: those the contract marks personal, and
    any column named like one (name, phone, address, email, 收货人 ...) unless the contract defines it
    for this table as non-personal (``campaigns.name``, ``suppliers.name``)."""
    spec = TABLES.get(table)
    kept = {c.name for c in spec.columns if not c.personal} if spec else set()
    return [c for c in columns if str(c).lower() in PERSONAL_NAMES and c not in kept]


# ---------------------------------------------------------------------------------------------
# Chinese text in pages that travel by mail

_CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f]")


def with_cjk_font(page: str) -> str:
    """The page with the bundled CJK font embedded as a ``@font-face``, subset to the Chinese
    characters the page uses (a few tens of KB), and added as the last fallback of its fonts: a
    reader without a Chinese font (a bare Linux browser, a mail client) still sees the text, and a
    reader with one keeps their own."""
    chars = set(_CJK.findall(page))
    if not chars:
        return page
    from fontTools import subset

    from .charts import FONT_PATH

    options = subset.Options()
    options.hinting = False
    options.layout_features = []
    font = subset.load_font(str(FONT_PATH), options, lazy=True)  # reads only the glyphs it keeps: 3x faster
    sub = subset.Subsetter(options)
    sub.populate(unicodes=[ord(c) for c in chars])
    sub.subset(font)
    buffer = io.BytesIO()
    font.save(buffer)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    style = ('<style>@font-face{font-family:"Playbook CJK";src:url(data:font/ttf;base64,' + data + ')}'
             'body,.jp-RenderedHTMLCommon,table,td,th{font-family:system-ui,-apple-system,"PingFang SC",'
             '"Microsoft YaHei","Noto Sans CJK SC",sans-serif,"Playbook CJK"}</style>')
    return page.replace("</head>", style + "</head>", 1) if "</head>" in page else style + page


# ---------------------------------------------------------------------------------------------
# Front page, summary.json, workbook
# ---------------------------------------------------------------------------------------------

KPI_KEYS = ("gmv", "paid_orders", "buyers", "aov", "conversion_rate", "repurchase_rate")
KPI_UNITS = {"gmv": "money", "paid_orders": "count", "buyers": "count", "aov": "money",
             "conversion_rate": "pct", "repurchase_rate": "pct"}


def kpi_cards(data: Dataset) -> pd.DataFrame:
    """The front page's KPIs for the report month, the previous month, the same month last year and
    the target (from ``targets`` rows without a channel): one row per KPI.

    Conversion is paid orders / visitors (needs ``traffic``); repurchase rate is
    :func:`playbook.metrics.repurchase_rate`.
    """
    month = pd.Period(data.month, "M")
    periods = {"this_month": month, "previous_month": month - 1, "last_year": month - 12}
    window = int(data.settings["acquisition"].get("repurchase_window_months", 12))
    if metrics.order_windows(data) is None:
        orders = _kpi_orders(data)
        wanted = [p.year * 12 + p.month - 1 for p in periods.values()]
        kpis = metrics.monthly_kpis(orders[metrics.month_codes(orders["order_ts"]).isin(wanted).to_numpy()])
        shown = set(kpis["month"])
        repurchase = {str(p): metrics.repurchase_rate(orders, str(p), window_months=window)
                      for p in periods.values() if str(p) in shown}
        del orders
    else:  # a large prepared table: the three months, then the repurchase windows, read alone
        kpis = metrics.monthly_kpis(metrics.orders_in_months(data, periods.values()))
        shown, first, repurchase = set(kpis["month"]), metrics.first_order_ts(data), {}
        for last in (month, month - 12):  # this and the previous month's windows from one read
            end = (last + 1).start_time
            rows = read_window(data, "orders", ["customer_id", "status"], "order_ts",
                               end - pd.DateOffset(months=window + (last == month)), end)
            for p in (last, last - 1) if last == month else (last,):
                if str(p) in shown:
                    repurchase[str(p)] = metrics.repurchase_rate(rows, str(p), window_months=window, first_order=first)
            del rows
    kpis = kpis.set_index("month")
    visitors = None
    if "traffic" in data:
        traffic = data["traffic"]
        visitors = traffic.groupby(traffic["date"].dt.strftime("%Y-%m"))["visitors"].sum()
    rows = []
    for key in KPI_KEYS:
        row = {"kpi": key, "unit": KPI_UNITS[key]}
        for name, period in periods.items():
            m = str(period)
            if key == "conversion_rate":
                value = (kpis["paid_orders"].get(m, float("nan")) / visitors.get(m, float("nan"))
                         if visitors is not None else float("nan"))
            elif key == "repurchase_rate":
                value = repurchase.get(m, float("nan"))
            else:
                value = kpis[key].get(m, float("nan")) if key in kpis.columns else float("nan")
            row[name] = float(value) if pd.notna(value) else float("nan")
        row["target"] = _target(data, key, data.month)
        row["needs"] = _kpi_needs(data, key)
        rows.append(row)
    return pd.DataFrame(rows)


def _kpi_orders(data: Dataset) -> pd.DataFrame:
    """The orders' KPI columns, customer ids as integer codes (missing ones NA): the KPIs count
    distinct customers, which the codes give as the ids do, and hashing seven million text ids
    once instead of four times is most of the front page's time on a large shop."""
    from .derived import text_codes

    orders = metrics.kpi_orders(data)
    if "customer_id" in orders.columns:
        codes, _ = text_codes(orders["customer_id"], uniques=False)
        orders = orders.assign(customer_id=pd.arrays.IntegerArray(codes.astype("int64"), codes < 0))
    return orders


def _kpi_needs(data: Dataset, key: str) -> str:
    """What a KPI lacks in this source ("" when it can be computed)."""
    if key == "conversion_rate" and "traffic" not in data:
        return "needs the traffic table"
    if key in ("buyers", "repurchase_rate") and not has_column(data, "orders", "customer_id"):
        return "needs orders.customer_id"
    return ""


def _target(data: Dataset, key: str, month: str) -> float:
    if "targets" not in data:
        return float("nan")
    t = data["targets"]
    metric = {"paid_orders": "orders"}.get(key, key)
    shop_wide = t["channel"].isna() if "channel" in t.columns else True
    hit = t.loc[(t["month"] == month) & (t["metric"] == metric) & shop_wide, "value"]
    return float(hit.iloc[0]) if len(hit) else float("nan")


def _change(value: float, base: float) -> str:
    if pd.isna(value) or pd.isna(base) or base == 0:
        return "n/a"
    return f"{value / base - 1:+.1%}"


def all_alerts(result: ReportResult) -> pd.DataFrame:
    """Every chapter's alerts (and failures) in one table, most severe first."""
    rows = [{"severity": "high", "chapter": c.name, "subject": c.name, "message": f"chapter failed: {c.error}"}
            for c in result.chapters if not c.ok]
    for c in result.chapters:
        rows += [{"severity": a["severity"], "chapter": c.name, "subject": a["subject"], "message": a["message"]}
                 for a in c.record.get("alerts", [])]
    frame = pd.DataFrame(rows, columns=["severity", "chapter", "subject", "message"])
    order = {s: i for i, s in enumerate(SEVERITIES)}
    return frame.sort_values("severity", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)


def provenance(dataset: Dataset, parameters: dict) -> dict:
    """Package versions, git commit, data fingerprint and parameters of a run."""
    versions = {}
    for pkg in ("playbook",) + PROVENANCE_PACKAGES:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = "not installed"
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=10).stdout.strip() or "unknown"
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        commit += " (with uncommitted changes)" if dirty and commit != "unknown" else ""
    except (OSError, subprocess.SubprocessError):
        commit = "unknown"
    return {"packages": versions, "git_commit": commit, "fingerprint": dataset.fingerprint,
            "source": str(dataset.source.path), "order_lines": _order_lines(dataset), "parameters": parameters,
            "rendered": dt.datetime.now().strftime("%Y-%m-%d %H:%M")}


def write_pack(folder: Path, result: ReportResult, dataset: Dataset, *, parameters: dict,
               cards: pd.DataFrame | None = None) -> None:
    """index.html, summary.json and actions.xlsx from the chapters' records (``cards``: the
    :func:`kpi_cards` of ``dataset``, when computed already)."""
    lang = parameters.get("lang", "en")
    cards = kpi_cards(dataset) if cards is None else cards
    alerts = all_alerts(result)
    prov = provenance(dataset, parameters)
    summary = {
        "month": result.month,
        "kpis": {r.kpi: {k: (None if pd.isna(r[k]) else r[k]) for k in ("this_month", "previous_month", "last_year", "target")}
                 for _, r in cards.iterrows()},
        "chapters": {c.name: {"status": "ok" if c.ok else "failed", "error": c.error, "seconds": round(c.seconds, 1),
                              "peak_memory_gb": c.peak_gb,
                              "metrics": {k: v.get("value") for k, v in c.record.get("metrics", {}).items()},
                              "alerts": [{k: a[k] for k in ("severity", "subject", "message")}
                                         for a in c.record.get("alerts", [])],
                              "rules": [r["text"] for r in c.record.get("rules", [])],
                              "actions": [a["path"] for a in c.record.get("actions", [])]}
                     for c in result.chapters},
        "data_quality": [i.as_dict() for i in dataset.quality],
        "provenance": prov,
    }
    (folder / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    actions = [(c.name, a) for c in result.chapters for a in c.record.get("actions", [])
               if (folder / a["path"]).exists()]
    if actions:
        write_workbook(folder, actions)
    (folder / "index.html").write_text(with_cjk_font(_index_html(result, dataset, cards, alerts, actions, prov, lang)),
                                       encoding="utf-8")


#: rows of an action list that actions.xlsx holds: the lists come sorted by priority, and a month's
#: work fits in the first ten thousand. A longer list (every buyer of a large shop, say) is cut there
#: and its sheet says so; the CSV beside it has every row. (Excel's own limit is 1,048,576 rows, and
#: writing a sheet takes about 2 s per 10,000 rows.)
SHEET_MAX_ROWS = 10_000


def write_workbook(folder: Path, actions: list[tuple[str, dict]], max_rows: int = SHEET_MAX_ROWS) -> Path:
    """actions.xlsx with one sheet per action list (sheet names cut to Excel's 31 characters), its
    header row in bold and frozen, every value as the text of the CSV.

    A list longer than ``max_rows`` keeps its first ``max_rows`` rows (the lists come sorted by
    priority) and ends with a row saying how many more are in its CSV file. The workbook is
    streamed (openpyxl's write-only mode), about twice as fast as writing it through pandas.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    path = folder / "actions.xlsx"
    book = Workbook(write_only=True)
    bold = Font(bold=True)
    used = set()
    for _, a in actions:
        try:
            frame = pd.read_csv(folder / a["path"], encoding="utf-8-sig", dtype=str, keep_default_na=False,
                                nrows=max_rows + 1)
        except pd.errors.EmptyDataError:  # an empty list without columns: an empty sheet
            frame = pd.DataFrame()
        note = None
        if len(frame) > max_rows:
            total = int(a.get("rows") or 0)
            more = f"{total - max_rows:,} more rows" if total > max_rows else "more rows"
            frame = frame.iloc[:max_rows]
            note = f"… {more}: the whole list is in {a['path']} (UTF-8 CSV)"
        name = a["name"][:31]
        suffix = 1
        while name in used:
            suffix += 1
            name = f"{a['name'][:28]}_{suffix}"
        used.add(name)
        sheet = book.create_sheet(name)
        if len(frame.columns):
            sheet.freeze_panes = "A2"
            header = []
            for column in frame.columns:
                cell = WriteOnlyCell(sheet, value=str(column))
                cell.font = bold
                header.append(cell)
            sheet.append(header)
        for row in frame.itertuples(index=False, name=None):
            sheet.append(row)
        if note is not None:
            sheet.append([note])
    book.save(path)
    return path


_CSS = """
body{font-family:system-ui,-apple-system,"PingFang SC","Microsoft YaHei","Noto Sans CJK SC",sans-serif;
max-width:72rem;margin:1.5rem auto;padding:0 1rem;color:#222}
h1{margin-bottom:.2rem} .sub{color:#666;margin-top:0}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(13rem,1fr));gap:.8rem}
.card{border:1px solid #ddd;border-radius:.5rem;padding:.7rem .9rem}
.card .name{color:#555;font-size:.9rem} .card .value{font-size:1.6rem;font-weight:600;margin:.2rem 0}
.card .cmp{font-size:.8rem;color:#555} .up{color:#1a7f37} .down{color:#b2182b}
table{border-collapse:collapse;width:100%;font-size:.88rem;margin:.4rem 0}
td,th{border-bottom:1px solid #e3e3e3;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f6f6} .sev-high{color:#b2182b;font-weight:600} .sev-medium{color:#b35806} .sev-low{color:#555}
.failed{color:#b2182b;font-weight:600} details{margin:.5rem 0} code{font-size:.85rem}
"""


def _cmp_html(value, base, name, lang) -> str:
    text = _change(value, base)
    cls = "" if text == "n/a" else ("up" if text.startswith("+") else "down")
    return f'<div class="cmp">{html.escape(label(name, lang))}: <span class="{cls}">{text}</span></div>'


def _index_html(result, dataset, cards, alerts, actions, prov, lang) -> str:
    L = lambda k: html.escape(label(k, lang))  # noqa: E731
    card_html = "".join(
        f'<div class="card"><div class="name">{L(r.kpi)}</div>'
        f'<div class="value">{html.escape(format_value(r.this_month, r.unit))}</div>'
        + (f'<div class="cmp">{html.escape(r.needs)}</div>' if r.needs else "")
        + _cmp_html(r.this_month, r.previous_month, "previous_month", lang)
        + _cmp_html(r.this_month, r.last_year, "last_year", lang)
        + _cmp_html(r.this_month, r.target, "target", lang) + "</div>"
        for r in cards.itertuples())
    if len(alerts):
        rows = "".join(f'<tr><td class="sev-{a.severity}">{L(a.severity)}</td><td>{html.escape(a.chapter)}</td>'
                       f"<td>{html.escape(str(a.subject))}</td><td>{html.escape(a.message)}</td></tr>"
                       for a in alerts.itertuples())
        alerts_html = (f"<table><tr><th>{L('severity')}</th><th>{L('chapter')}</th><th>{L('subject')}</th>"
                       f"<th>{L('message')}</th></tr>{rows}</table>")
    else:
        alerts_html = f"<p>{L('no_alerts')}</p>"
    chapter_rows = "".join(
        f'<li><a href="{html.escape(c.name)}.html">{html.escape(c.name)}</a> '
        + (f'<span class="failed">{L("failed")}: {html.escape(c.error)}</span>' if not c.ok else
           f"({len(c.record.get('alerts', []))} {L('alerts').lower()}, {c.seconds:.0f} s)")
        + "".join(f"<br><small>{html.escape(r['text'])}</small>" for r in c.record.get("rules", []))
        + "</li>" for c in result.chapters)
    action_rows = "".join(
        f'<li><a href="{html.escape(a["path"])}">{html.escape(a["title"])}</a> ({a["rows"]:,} {L("rows")}, '
        f"{html.escape(name)})</li>" for name, a in actions)
    if actions:
        action_rows += '<li><a href="actions.xlsx">actions.xlsx</a></li>'
    quality = dataset.quality.to_frame()
    if len(quality):
        quality = quality.rename(columns={c: label(c, lang) for c in quality.columns})
        quality_html = quality.to_html(index=False, escape=True, border=0)
    else:
        quality_html = f"<p>{L('no_quality_issues')}</p>"
    packages = ", ".join(f"{k} {v}" for k, v in prov["packages"].items())
    return f"""<!doctype html><html lang="{'zh-CN' if lang == 'zh' else 'en'}"><head><meta charset="utf-8">
<title>{L('report_title')} {result.month}</title><style>{_CSS}</style></head><body>
<h1>{L('report_title')} {result.month}</h1>
<p class="sub">{L('source')}: {html.escape(prov['source'])} · {L('rendered')} {prov['rendered']}</p>
<div class="cards">{card_html}</div>
<h2>{L('alerts')} ({len(alerts)})</h2>{alerts_html}
<h2>{L('chapters')}</h2><ul>{chapter_rows}</ul>
<h2>{L('actions')}</h2><ul>{action_rows or '<li>-</li>'}</ul>
<h2>{L('data_quality')}</h2>{quality_html}
<h2>{L('provenance')}</h2>
<table><tr><th>{L('git_commit')}</th><td><code>{html.escape(prov['git_commit'])}</code></td></tr>
<tr><th>{L('fingerprint')}</th><td><code>{prov['fingerprint']}</code></td></tr>
<tr><th>{L('parameters')}</th><td><code>{html.escape(json.dumps(prov['parameters'], ensure_ascii=False))}</code></td></tr>
<tr><th>{L('packages')}</th><td>{html.escape(packages)}</td></tr></table>
</body></html>"""
