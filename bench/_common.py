"""What the benchmark scripts share: printing a result table and writing it to bench/results/."""
from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def write_result(name: str, lines: list[str]) -> Path:
    """Print ``lines`` (a Markdown document) and write them to ``bench/results/<name>.md``."""
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}.md"
    out.write_text(text, encoding="utf-8")
    return out
