"""The contract in code matches the project's DATA_CONTRACT.md, and the generated docs are current."""
import re
from pathlib import Path

import pytest

from playbook.contract import TABLES, contract_markdown

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "DATA_CONTRACT.md"


def _shared_tables() -> dict[str, dict[str, bool]]:
    """table -> {column: required} parsed from the shared contract's Markdown tables."""
    tables, current = {}, None
    for line in SHARED.read_text(encoding="utf-8").splitlines():
        head = re.match(r"^## (\w+)", line)
        if head:
            current = head.group(1) if head.group(1) != "Thresholds" else None
            if current:
                tables[current] = {}
            continue
        cell = re.match(r"^\| ([a-z_, ]+) \| [^|]+ \| (yes\*?|no[^|]*) \|", line)
        if current and cell and cell.group(1) != "column":
            for name in cell.group(1).split(","):
                tables[current][name.strip()] = cell.group(2).startswith("yes")
    return tables


@pytest.mark.skipif(not SHARED.exists(), reason="../shared is not beside the checkout")
def test_code_contract_matches_the_shared_contract():
    shared = _shared_tables()
    assert set(shared) == set(TABLES)
    for name, columns in shared.items():
        table = TABLES[name]
        assert set(table.names) == set(columns), name
        for col, required in columns.items():
            if (name, col) == ("orders", "customer_id"):  # "yes*": a source without buyers may omit it
                assert not table.column(col).required
                continue
            assert table.column(col).required == required, f"{name}.{col}"


def test_generated_docs_are_current():
    doc = ROOT / "docs" / "data_contract.md"
    assert doc.read_text(encoding="utf-8") == contract_markdown(), "run `playbook contract --out docs/data_contract.md`"


def test_every_link_points_at_a_key():
    for table in TABLES.values():
        for link in table.links:
            assert link.column in table.names
            assert TABLES[link.table].key == (link.target,)
