"""The report API that chapters record through."""
import json

import pandas as pd
import pytest

from playbook import pack


def test_rule_checks_read_like_the_handbook_and_broken_rules_alert():
    rec = pack.ChapterRecord("07_risk", month="2026-10")
    ok = rec.rule("Bad-review rate 差评率", 0.031, 0.05)
    assert ok.passed and ok.text == "Bad-review rate 差评率 3.1%: within the 5.0% line"
    bad = rec.rule("Shipped within 48 h", 0.91, 0.95, kind="min", subject="fulfillment")
    assert bad.passed is False and bad.text == "Shipped within 48 h 91.0%: under the 95.0% line"
    assert [(a.severity, a.subject) for a in rec.alerts] == [("medium", "fulfillment")]
    assert rec.rule("Fraud rate", None, 0.003).passed is None


def test_action_lists_drop_personal_data_and_write_excel_friendly_csv(tmp_path):
    rec = pack.ChapterRecord("04_acquisition", month="2026-10", output_dir=tmp_path)
    frame = pd.DataFrame({"customer_id": ["C1"], "name": ["张三"], "phone": ["13800000000"],
                          "address": ["北京"], "gmv": [120.0]})
    shown = rec.action("wake_up", frame, title="Wake-up list 唤醒名单")
    assert list(shown.columns) == ["customer_id", "gmv"]
    raw = (tmp_path / "actions" / "wake_up.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and "张三".encode() not in raw and b"13800000000" not in raw
    rec.headline("gmv", 1234567.0, label="GMV", unit="money")
    rec.alert("high", "C1", "big spender gone quiet")
    saved = json.loads(rec.save().read_text(encoding="utf-8"))
    assert saved["metrics"]["gmv"]["value"] == 1234567.0
    assert saved["actions"][0]["path"] == "actions/wake_up.csv"
    assert saved["actions"][0]["removed_columns"] == ["name", "phone", "address"]
    assert saved["alerts"][0]["subject"] == "C1"


def test_interactive_record_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rec = pack.ChapterRecord("03_inventory")
    rec.action("reorder", pd.DataFrame({"sku": ["A"]}), title="Reorder")
    assert rec.save() is None and not any(tmp_path.iterdir())
    assert "Reorder" in rec._repr_html_()


def test_bad_severity_unit_and_alerts_from_rows():
    rec = pack.ChapterRecord("08_fulfillment")
    with pytest.raises(ValueError):
        rec.alert("urgent", "x", "y")
    with pytest.raises(ValueError):
        rec.headline("x", 1, label="x", unit="yuan")
    late = pd.DataFrame({"carrier": ["yunda", "zto", "sf"], "late": [0.26, 0.09, 0.05]})
    n = rec.alerts_from(late, severity="high", subject="carrier", message="{late:.0%} late", limit=2)
    assert n == 2 and [a.message for a in rec.alerts] == ["26% late", "9% late"]


def test_format_value():
    assert pack.format_value(1234567.4, "money") == "¥1,234,567"
    assert pack.format_value(0.0031, "pct") == "0.31%"
    assert pack.format_value(12.25, "days") == "12.2 days"
    assert pack.format_value(float("nan"), "pct") == "n/a"


def test_rule_with_numpy_values_saves_as_json(tmp_path):
    import numpy as np

    rec = pack.ChapterRecord("03_inventory", month="2026-10", output_dir=tmp_path)
    check = rec.rule("WAPE vs naive", np.float64(0.70), np.float64(0.84), kind="max")
    assert check.passed is True
    assert json.loads(rec.save().read_text(encoding="utf-8"))["rules"][0]["passed"] is True


def _tricky_frame(rows: int) -> pd.DataFrame:
    """Every kind of value the fast CSV writer formats itself, including the awkward ones."""
    import numpy as np

    rng = np.random.default_rng(7)
    floats = np.concatenate([
        rng.normal(0, 1e3, rows), rng.normal(0, 1, rows) * 10.0 ** rng.integers(-12, 20, rows),
        np.round(rng.normal(0, 1e4, rows), 2),
        [0.0, -0.0, np.nan, np.inf, -np.inf, 1e16, 1e-4, 9.99e-5, 1e15, 123456789012345.0, 3.0, 0.1 + 0.2]])
    n = len(floats)
    words = ["x", "", 'q"uote', "com,ma", "new\nline", " sp ", "重要价值客户", "a\rb", None]
    text = [words[i % len(words)] for i in range(n)]
    return pd.DataFrame({
        "客户 id": pd.array(text, dtype="str"), "plain": pd.array([f"C{i:07d}" for i in range(n)], dtype="str"),
        "money, 元": floats, "count": np.arange(n),
        "flag": np.arange(n) % 3 == 0, "maybe": pd.array([None if i % 7 == 0 else i for i in range(n)], dtype="Int64"),
        "yes": pd.array([None if i % 5 == 0 else i % 2 == 0 for i in range(n)], dtype="boolean"),
        "object": pd.Series(text, dtype=object),
        "ratio": pd.array([None if i % 4 == 0 else i / 3 for i in range(n)], dtype="Float64")})


def test_action_list_csv_is_byte_for_byte_what_pandas_writes(tmp_path):
    frame = _tricky_frame(3000)
    frame.to_csv(tmp_path / "pandas.csv", index=False, encoding="utf-8-sig")
    pack.write_csv(frame, tmp_path / "fast.csv")
    assert (tmp_path / "fast.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()
    back = pd.read_csv(tmp_path / "fast.csv", encoding="utf-8-sig", keep_default_na=False, nrows=7)
    assert back["客户 id"].tolist() == ["x", "", 'q"uote', "com,ma", "new\nline", " sp ", "重要价值客户"]
    # types it does not format itself, one column, no rows: pandas writes them, the same way
    for other in (frame.iloc[5:], frame.assign(day=pd.Timestamp("2026-10-01")), frame[["count"]], frame.iloc[:0],
                  frame.assign(cat=pd.Categorical(["a"] * len(frame)))):
        other.to_csv(tmp_path / "pandas.csv", index=False, encoding="utf-8-sig")
        pack.write_csv(other, tmp_path / "fast.csv")
        assert (tmp_path / "fast.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()
    # in slices of 1000 rows (the last one short): the same bytes; an object column whose later
    # rows are not text falls back to pandas for the whole frame
    pack.write_csv(frame, tmp_path / "sliced.csv", rows=1000)
    frame.to_csv(tmp_path / "pandas.csv", index=False, encoding="utf-8-sig")
    assert (tmp_path / "sliced.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()
    mixed = frame.assign(object=pd.Series([*frame["object"].iloc[:1500], *range(len(frame) - 1500)], dtype=object))
    mixed.to_csv(tmp_path / "pandas.csv", index=False, encoding="utf-8-sig")
    pack.write_csv(mixed, tmp_path / "sliced.csv", rows=1000)
    assert (tmp_path / "sliced.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()
