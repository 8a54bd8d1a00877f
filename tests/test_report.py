"""The monthly report pack, end to end, as operations would run it."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from playbook import cli, report
from playbook.report import run_report

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "data" / "samples"


def playbook_cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "playbook.cli", *args], capture_output=True, text=True, cwd=cwd)


# -- the sample shop's pack -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    res = playbook_cli("report", "--data", str(SAMPLES), "--out", str(out), "--jobs", "2")  # month: latest full
    assert res.returncode in (0, 1), res.stderr[-3000:]
    return out / "2026-10", res


def test_pack_renders_every_chapter_of_the_latest_full_month(rendered):
    folder, res = rendered
    assert res.returncode == 0, res.stderr[-3000:]
    notebooks = report.chapter_notebooks()
    for nb in notebooks:
        assert (folder / nb.name).exists(), f"executed notebook {nb.name} missing"
        page = (folder / nb.with_suffix(".html").name).read_text(encoding="utf-8")
        assert re.search(r'<img[^>]+src="data:image/png;base64,', page)  # charts inline: the page can be mailed
        assert "import playbook" not in page  # no code cells
        assert 'tags=["exercise"]' not in page and "exercises.check(" not in page
        executed = nbformat.read(folder / nb.name, as_version=4)
        assert not any("playbook-peak-kb" in c.source for c in executed.cells)  # the runner's cell taken out
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # nothing half-written left


def test_summary_json_and_front_page(rendered):
    folder, _ = rendered
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert summary["month"] == "2026-10"
    assert set(summary["chapters"]) == {nb.stem for nb in report.chapter_notebooks()}
    assert all(c["status"] == "ok" for c in summary["chapters"].values())
    # each kernel's peak memory, for the next pack's scheduling: more than a bare Python, far less than 8 GB
    assert all(0.1 < c["peak_memory_gb"] < 8 for c in summary["chapters"].values()), summary["chapters"]
    gmv = summary["kpis"]["gmv"]
    assert gmv["this_month"] > 0 and gmv["previous_month"] > 0 and gmv["last_year"] > 0 and gmv["target"] > 0
    assert summary["provenance"]["fingerprint"] and summary["provenance"]["packages"]["pandas"].startswith("3.")
    index = (folder / "index.html").read_text(encoding="utf-8")
    for text in ("GMV", "AOV", "Conversion", "Repurchase rate", "vs same month last year", "vs target",
                 "Data quality", "Provenance", "00_start_here.html"):
        assert text in index
    for chapter in summary["chapters"].values():
        for path in chapter["actions"]:
            raw = (folder / path).read_bytes()
            assert raw.startswith(b"\xef\xbb\xbf"), f"{path} lacks the BOM Excel needs for Chinese"
            assert path in index


def test_no_personal_data_in_any_output(rendered):
    folder, _ = rendered
    customers = pd.read_csv(next(SAMPLES.glob("customers.csv*")), dtype=str)
    secrets = set(customers["phone"].dropna()) | {n for n in customers["name"].dropna() if len(n) >= 3}
    assert _leaks(folder, secrets) == []


def _windows(runs, lengths):
    return {run[i:i + n] for run in runs for n in lengths for i in range(len(run) - n + 1)}


def _leaks(folder: Path, secrets: set[str]) -> list[str]:
    """Secrets found in any file under ``folder`` (xlsx unzipped). Digit and Chinese secrets are
    matched through every window of the file's digit and CJK runs, so tens of thousands of secrets
    cost one pass per file; other secrets are searched directly."""
    digits = {s for s in secrets if s.isdigit()}
    cjk = {s for s in secrets if re.fullmatch(r"[\u4e00-\u9fff]+", s)}
    other = secrets - digits - cjk
    found = []
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        if path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as z:
                text = " ".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
        else:
            text = path.read_bytes().decode("utf-8", "replace")
        hits = _windows(re.findall(r"\d+", text), {len(s) for s in digits}) & digits
        hits |= _windows(re.findall(r"[\u4e00-\u9fff]+", text), {len(s) for s in cjk}) & cjk
        hits |= {s for s in other if s in text}
        found += [f"{path.name}: {s}" for s in sorted(hits)]
    return found


# -- small synthetic runs: isolation, checks, safety ------------------------------------------------

SHOP_ORDERS = """order_id,customer_id,order_ts,paid_amount,status,channel,address
1,C1,2026-09-03 10:00:00,100,paid,tmall,浙江省杭州市西湖区文三路100号
2,C2,2026-10-01 10:00:00,200,paid,jd,北京市海淀区中关村大街1号
3,C1,2026-10-05 10:00:00,50,paid,tmall,浙江省杭州市西湖区文三路100号
"""
SHOP_CUSTOMERS = "customer_id,name,phone\nC1,欧阳明月,13912345678\nC2,司马青云,13698765432\n"


@pytest.fixture
def shop(tmp_path):
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "orders.csv").write_text(SHOP_ORDERS, encoding="utf-8")
    (folder / "customers.csv").write_text(SHOP_CUSTOMERS, encoding="utf-8")
    return folder


PARAMS = ('month: str = "2026-10"  # month\ndata_source: str = ""  # data\nsettings_file: str = ""  # settings\n'
          'output_dir: str = ""  # pack folder\nlang: str = "en"  # language')


def _notebook(path: Path, *cells: str, params: str = PARAMS):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(params, metadata={"tags": ["parameters"]}),
                nbformat.v4.new_markdown_cell("A page."), *map(nbformat.v4.new_code_cell, cells)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


RECORDING = """import playbook
from playbook import pack
data = playbook.load(data_source, month=month)
record = pack.ChapterRecord("02_works", month=month, output_dir=output_dir)
record.headline("orders", len(data.orders), label="Orders", unit="count")
record.rule("Share of tmall", 0.4, 0.3, kind="max")
record.action("customers", data.customers, title="Customers to call 客户")
record.action("nothing", data.customers.iloc[0:0, 0:0], title="An empty list")
print("columns seen:", sorted(data.orders.columns), sorted(data.customers.columns))
record.save()""", """from playbook import i18n, metrics
i18n.set_language(lang)
metrics.monthly_kpis(data.orders, by="channel")"""


@pytest.fixture
def books(tmp_path):
    folder = tmp_path / "nb"
    folder.mkdir()
    _notebook(folder / "01_fails.ipynb", "raise ValueError('planted failure')")
    _notebook(folder / "02_works.ipynb", *RECORDING)
    return folder


def test_a_failing_chapter_does_not_stop_the_others(shop, books, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(report, "NOTEBOOKS_DIR", books)
    code = cli.main(["report", "--month", "2026-10", "--data", str(shop), "--out", str(tmp_path / "out")])
    assert code == 1 and "01_fails" in capsys.readouterr().err
    folder = tmp_path / "out" / "2026-10"
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert summary["chapters"]["01_fails"]["status"] == "failed"
    assert "planted failure" in summary["chapters"]["01_fails"]["error"]
    assert "planted failure" in (folder / "01_fails.html").read_text(encoding="utf-8")  # the page shows the error
    works = summary["chapters"]["02_works"]
    assert works["status"] == "ok" and works["metrics"]["orders"] == 3
    assert works["actions"] == ["actions/customers.csv", "actions/nothing.csv"]
    assert works["alerts"][0]["message"] == "Share of tmall 40.0%: over the 30.0% line"
    index = (folder / "index.html").read_text(encoding="utf-8")
    assert index.index("chapter failed") < index.index("over the 30.0% line")  # sorted by severity
    # preparation removed the personal columns before any chapter saw the data
    page = (folder / "02_works.html").read_text(encoding="utf-8")
    assert "'address'" not in page and "'phone'" not in page and "'customer_id'" in page
    with zipfile.ZipFile(folder / "actions.xlsx") as z:
        assert any("sheet" in n for n in z.namelist())
    assert pd.read_excel(folder / "actions.xlsx", sheet_name="customers")["customer_id"].tolist() == ["C1", "C2"]
    secrets = {"欧阳明月", "司马青云", "13912345678", "13698765432", "文三路100号", "中关村大街1号"}
    assert _leaks(folder, secrets) == []



def test_parallel_kernels_keep_to_one_blas_thread_each(shop, tmp_path, monkeypatch):
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    folder = tmp_path / "nb"
    folder.mkdir()
    _notebook(folder / "01_threads.ipynb",
              "import os\nfrom threadpoolctl import threadpool_info\nimport numpy\n"
              "assert os.environ['OPENBLAS_NUM_THREADS'] == '1', os.environ.get('OPENBLAS_NUM_THREADS')\n"
              "assert {p['num_threads'] for p in threadpool_info() if p['user_api'] == 'blas'} == {1}")
    result = run_report("2026-10", data=shop, out=tmp_path / "out", notebooks_dir=folder, jobs=2, echo=None)
    assert result.failed == [], result.chapters[0].error
    assert "OPENBLAS_NUM_THREADS" not in os.environ  # the runner's own environment is restored

@pytest.mark.parametrize("args, message", [
    (["--month", "2026-13"], "YYYY-MM"),
    (["--month", "2031-01"], "outside the data"),
    (["--chapters", "09"], "Unknown chapter"),
    (["--data", "/nonexistent/shop"], "does not exist"),
    (["--settings", "BAD_SETTINGS"], "lifecycle.dormant_dayz"),
    (["--memory-budget", "-2"], "memory budget"),
])
def test_bad_parameters_stop_before_any_kernel(args, message, shop, books, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(report, "NOTEBOOKS_DIR", books)
    bad = tmp_path / "bad.toml"
    bad.write_text("[lifecycle]\ndormant_dayz = 60\n")
    started = []
    monkeypatch.setattr(report, "run_chapter", lambda *a, **k: started.append(a))
    args = [str(bad) if a == "BAD_SETTINGS" else a for a in args]
    base = ["report", "--data", str(shop), "--out", str(tmp_path / "out")]
    assert cli.main(base + args) == 2
    assert message in capsys.readouterr().err
    assert not started
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_notebook_without_the_month_parameter_is_refused(shop, tmp_path, monkeypatch, capsys):
    folder = tmp_path / "nb"
    folder.mkdir()
    _notebook(folder / "01_nomonth.ipynb", "print(1)", params='data_source: str = ""  # data')
    monkeypatch.setattr(report, "NOTEBOOKS_DIR", folder)
    assert cli.main(["report", "--month", "2026-10", "--data", str(shop), "--out", str(tmp_path / "o")]) == 2
    assert "01_nomonth.ipynb does not declare the parameter(s) month, settings_file, lang" in capsys.readouterr().err


def test_an_interrupted_rerun_keeps_the_last_good_report(shop, books, tmp_path, monkeypatch):
    out = tmp_path / "out"
    (out / "2026-09").mkdir(parents=True)
    (out / "2026-09" / "index.html").write_text("september")
    good = run_report("2026-10", data=shop, out=out, notebooks_dir=books, chapters="02", echo=None)
    assert not good.failed
    before = (out / "2026-10" / "index.html").read_text(encoding="utf-8")

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(report, "write_pack", crash)
    with pytest.raises(KeyboardInterrupt):
        run_report("2026-10", data=shop, out=out, notebooks_dir=books, chapters="02", echo=None)
    assert (out / "2026-10" / "index.html").read_text(encoding="utf-8") == before
    assert (out / "2026-09" / "index.html").read_text() == "september"
    assert sorted(p.name for p in out.iterdir()) == ["2026-09", "2026-10"]


def test_chinese_front_page(shop, books, tmp_path):
    run_report("2026-10", data=shop, out=tmp_path, notebooks_dir=books, chapters="2", lang="zh", echo=None)
    index = (tmp_path / "2026-10" / "index.html").read_text(encoding="utf-8")
    for text in ("运营月报", "成交额", "客单价", "环比", "同比", "数据质量", "行动清单"):
        assert text in index
    page = (tmp_path / "2026-10" / "02_works.html").read_text(encoding="utf-8")
    assert "<th>渠道</th>" in page and "<th>成交额</th>" in page  # table headers follow --lang


def test_orders_only_source_says_what_each_missing_kpi_needs(tmp_path):
    shop = tmp_path / "shop"
    shop.mkdir()
    (shop / "orders.csv").write_text(SHOP_ORDERS.replace("customer_id,", "").replace("C1,", "").replace("C2,", ""),
                                     encoding="utf-8")
    books = tmp_path / "nb"
    books.mkdir()
    _notebook(books / "01_plain.ipynb", "print(month)")
    result = run_report("2026-10", data=shop, out=tmp_path / "out", notebooks_dir=books, echo=None)
    assert not result.failed
    index = (tmp_path / "out" / "2026-10" / "index.html").read_text(encoding="utf-8")
    assert "needs orders.customer_id" in index and "needs the traffic table" in index
    kpis = json.loads((tmp_path / "out" / "2026-10" / "summary.json").read_text(encoding="utf-8"))["kpis"]
    assert kpis["gmv"]["this_month"] == 250.0 and kpis["buyers"]["this_month"] is None


def test_personal_columns_spare_the_contracts_own_names():
    assert report.personal_columns("customers", ["customer_id", "name", "phone", "persona"]) == ["name", "phone"]
    assert report.personal_columns("campaigns", ["campaign_id", "name"]) == []
    assert report.personal_columns("suppliers", ["supplier_id", "name"]) == []
    assert report.personal_columns("orders", ["order_id", "name", "address", "收货人"]) == ["name", "address", "收货人"]


def test_pages_carry_a_subset_of_the_cjk_font():
    import base64
    import io

    from fontTools.ttLib import TTFont

    page = report.with_cjk_font("<html><head></head><body>客单价 and 渠道</body></html>")
    data = re.search(r"base64,([A-Za-z0-9+/=]+)\)", page).group(1)
    font = TTFont(io.BytesIO(base64.b64decode(data)))
    cmap = font.getBestCmap()
    assert {ord(c) for c in "客单价渠道"} <= set(cmap)
    assert ord("库") not in cmap and len(data) < 60_000  # only what the page uses
    assert report.with_cjk_font("<p>plain</p>") == "<p>plain</p>"


def test_chapters_start_longest_first_by_the_last_pack(tmp_path):
    books = [Path(f"{n}.ipynb") for n in ("00_a", "01_b", "02_c", "03_d")]
    assert report.last_pack(tmp_path) == {}
    assert report.longest_first(books, report.last_pack(tmp_path)) == books  # no earlier pack: as given
    (tmp_path / "2026-09").mkdir()
    (tmp_path / "2026-09" / "summary.json").write_text(json.dumps(
        {"chapters": {"00_a": {"seconds": 2.0}, "01_b": {"seconds": 9.5, "peak_memory_gb": 3.5},
                      "03_d": {"seconds": 4.0}}}))
    last = report.last_pack(tmp_path)
    assert last["01_b"] == {"seconds": 9.5, "peak_memory_gb": 3.5, "order_lines": None}
    assert [b.stem for b in report.longest_first(books, last)] == ["01_b", "03_d", "00_a", "02_c"]


def test_expected_peaks_scale_with_the_shop_and_estimate_unmeasured_chapters(tmp_path):
    (tmp_path / "2026-09").mkdir()
    (tmp_path / "2026-09" / "summary.json").write_text(json.dumps(
        {"chapters": {"01_b": {"seconds": 9.5, "peak_memory_gb": 2.3}, "02_c": {"seconds": 1.0}},
         "provenance": {"order_lines": 10_000_000}}))
    last = report.last_pack(tmp_path)
    assert last["01_b"]["order_lines"] == 10_000_000
    # measured at 10M lines: the 2.0 GB above the 0.3 base grows tenfold for 100M lines, halves for 5M
    assert report.expected_peak_gb(last["01_b"], 100_000_000) == pytest.approx(0.3 + 20.0)
    assert report.expected_peak_gb(last["01_b"], 5_000_000) == pytest.approx(0.3 + 1.0)
    # never measured: 0.3 GB + 0.25 GB per million lines (25.3 GB at 100M lines: such a chapter runs alone)
    assert report.expected_peak_gb(last["02_c"], 100_000_000) == pytest.approx(25.3)
    assert report.expected_peak_gb({}, 1_000_000) == pytest.approx(0.55)
    # a pack that did not record its size: the peak as measured; no size now: as measured, or nothing
    assert report.expected_peak_gb({"peak_memory_gb": 2.3}, 100_000_000) == 2.3
    assert report.expected_peak_gb({"peak_memory_gb": 2.3}, None) == 2.3
    assert report.expected_peak_gb({}, None) == 0.0


def _scheduled(order, peaks, *, jobs, budget, seconds):
    """Run fake chapters that sleep; returns the (start, end) log and the pairs that overlapped."""
    log, lock = [], threading.Lock()

    def run(name):
        with lock:
            log.append(("start", name))
        time.sleep(seconds[name])
        with lock:
            log.append(("end", name))
        return name.upper()

    done = report.run_scheduled(order, run, jobs=jobs, budget_gb=budget, peaks=peaks)
    running, together = set(), set()
    for kind, name in log:
        if kind == "start":
            together |= {frozenset((name, other)) for other in running}
            running.add(name)
        else:
            running.discard(name)
    return done, log, together


def test_scheduler_keeps_chapters_that_together_exceed_the_memory_budget_apart():
    # longest first: 08 and 04 would start together; their peaks (7 + 6 GB) exceed a 10 GB budget,
    # so 03 (1 GB) runs beside 08 instead, then 04 once 08 is done; 00 fits beside anything
    order = ["08", "04", "03", "00"]
    peaks = {"08": 7.0, "04": 6.0, "03": 1.0, "00": 2.0}
    seconds = {"08": 0.3, "04": 0.2, "03": 0.1, "00": 0.1}
    done, log, together = _scheduled(order, peaks, jobs=2, budget=10.0, seconds=seconds)
    assert done == {"08": "08", "04": "04", "03": "03", "00": "00"}
    assert frozenset(("08", "04")) not in together
    assert log[:2] == [("start", "08"), ("start", "03")]
    assert log.index(("end", "08")) < log.index(("start", "04"))
    # without a budget that binds, the two longest start together, as before
    _, log, together = _scheduled(order, peaks, jobs=2, budget=100.0, seconds=seconds)
    assert log[:2] == [("start", "08"), ("start", "04")]


def test_scheduler_hands_the_first_idle_core_to_the_pack_once_every_chapter_has_started():
    log, lock = [], threading.Lock()

    def run(name):
        with lock:
            log.append(("start", name))
        time.sleep({"a": 0.4, "b": 0.1, "c": 0.1}[name])
        with lock:
            log.append(("end", name))

    report.run_scheduled(["a", "b", "c"], run, jobs=2, budget_gb=100.0, peaks={},
                         on_idle=lambda: log.append(("idle", None)))
    # a runs throughout; b then c share the other core; once c is done that core idles
    assert [e for e in log if e[0] == "idle"] == [("idle", None)]
    assert log.index(("end", "c")) < log.index(("idle", None)) < log.index(("end", "a"))
    called = []  # one core: no chapter leaves a core free, so the pack's work waits for the end
    report.run_scheduled(["a", "b"], run, jobs=1, budget_gb=100.0, peaks={}, on_idle=lambda: called.append(1))
    assert called == []
    # the pack's work needs 5 GB: beside a (8 GB) it would pass the 12 GB budget, so it waits for the end
    log.clear()
    report.run_scheduled(["a", "b", "c"], run, jobs=2, budget_gb=12.0, peaks={"a": 8.0, "b": 1.0, "c": 1.0},
                         on_idle=lambda: log.append(("idle", None)), idle_gb=5.0)
    assert ("idle", None) not in log and ("end", "a") in log
    log.clear()  # 3 GB fits beside a
    report.run_scheduled(["a", "b", "c"], run, jobs=2, budget_gb=12.0, peaks={"a": 8.0, "b": 1.0, "c": 1.0},
                         on_idle=lambda: log.append(("idle", None)), idle_gb=3.0)
    assert log.index(("end", "c")) < log.index(("idle", None)) < log.index(("end", "a"))
    assert report.expected_cards_gb(100_000_000) == pytest.approx(7.3) and report.expected_cards_gb(None) == 0.3


def test_work_started_in_the_background_gives_its_result_or_its_error_to_the_caller():
    started = report._Background(lambda x: x * 2, 21)
    started.start()
    assert started.result() == 42
    assert report._Background(lambda: "in the caller").result() == "in the caller"  # never started
    failing = report._Background(lambda: 1 / 0)
    failing.start()
    with pytest.raises(ZeroDivisionError):
        failing.result()


def test_scheduler_runs_a_chapter_larger_than_the_budget_alone_and_unknown_peaks_count_as_nothing():
    order = ["a", "b", "c"]
    done, log, together = _scheduled(order, {"a": 12.0, "b": 1.0}, jobs=3, budget=10.0,
                                     seconds={"a": 0.2, "b": 0.1, "c": 0.1})
    assert set(done) == {"a", "b", "c"} and log[0] == ("start", "a")
    assert not any("a" in pair for pair in together)  # 12 GB: alone
    assert frozenset(("b", "c")) in together  # 1 GB and unknown: side by side


def test_a_list_longer_than_a_sheet_is_cut_in_the_workbook_and_whole_in_its_csv(tmp_path):
    (tmp_path / "actions").mkdir()
    pd.DataFrame({"customer_id": ["C1", "C2", "C3", "C4", "C5"], "segment": list("abcde")}).to_csv(
        tmp_path / "actions" / "rfm.csv", index=False, encoding="utf-8-sig")
    pd.DataFrame({"sku": ["S1"]}).to_csv(tmp_path / "actions" / "short.csv", index=False, encoding="utf-8-sig")
    lists = [("06", {"name": "rfm", "path": "actions/rfm.csv", "rows": 5}),
             ("02", {"name": "short", "path": "actions/short.csv", "rows": 1})]
    report.write_workbook(tmp_path, lists, max_rows=3)
    cut = pd.read_excel(tmp_path / "actions.xlsx", sheet_name="rfm", dtype=str, keep_default_na=False)
    assert cut["customer_id"].tolist()[:3] == ["C1", "C2", "C3"] and len(cut) == 4
    assert cut["customer_id"].iat[3] == "… 2 more rows: the whole list is in actions/rfm.csv (UTF-8 CSV)"
    assert pd.read_excel(tmp_path / "actions.xlsx", sheet_name="short")["sku"].tolist() == ["S1"]
    assert len(pd.read_csv(tmp_path / "actions" / "rfm.csv")) == 5


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="Linux: the parent's peak survives exec there")
def test_kernel_peak_is_the_kernels_own_not_the_runners():
    # a runner that held 600 MB (as preparing a large shop does) starts a small process: the peak
    # that process reports is its own (ru_maxrss would carry the runner's 600 MB over the exec)
    import numpy as np

    held = np.ones(75_000_000)  # 600 MB, touched
    out = subprocess.run([sys.executable, "-c", report._PEAK_CELL], capture_output=True, text=True, check=True).stdout
    del held
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        report._PEAK_CELL, outputs=[nbformat.v4.new_output("stream", name="stdout", text=out)])])
    peak = report._kernel_peak(nb)
    assert 0.005 < peak < 0.3, peak  # a bare Python: tens of MB
