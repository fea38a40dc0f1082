"""docs/claim-rows.md and docs/benchmarks.md stay true to the code."""

from __future__ import annotations

from pathlib import Path

from claimflow.claims.docs import SECTIONS
from claimflow.claims.mapping import alias_table
from claimflow.claims.phi import DIRECT_IDENTIFIERS
from claimflow.rows import COLUMN_NAMES

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_generated_sections_match_the_code() -> None:
    text = (DOCS / "claim-rows.md").read_text()
    for name, render in SECTIONS.items():
        block = f"<!-- generated: {name} -->\n{render()}\n<!-- end generated: {name} -->"
        assert block in text, f"section {name} is stale: regenerate with python -m claimflow.claims.docs"


def test_every_column_and_alias_is_documented() -> None:
    text = (DOCS / "claim-rows.md").read_text()
    for name in COLUMN_NAMES:
        assert f"| `{name}` |" in text, name
    for _, key, _ in alias_table():
        assert f"`{key}`" in text, key
    for name in DIRECT_IDENTIFIERS:
        assert f"`{name}`" in text


def test_benchmark_page_explains_how_to_run() -> None:
    text = (DOCS / "benchmarks.md").read_text()
    assert "make bench" in text and "a/b" in text and "a/c" in text
