"""Every relative markdown link in README.md and docs/*.md points to a file that exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PAGES = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]

# Fenced blocks and inline code spans hold examples (regular expressions, JSON), not links.
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
_CODE_SPAN = re.compile(r"(`+).+?\1", re.DOTALL)
_INLINE_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.MULTILINE)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def relative_links(text: str) -> list[str]:
    """The link targets of ``text`` that are paths in this repository (no URL, no in-page anchor)."""
    prose = _CODE_SPAN.sub("", _FENCE.sub("", text))
    targets = _INLINE_LINK.findall(prose) + _REFERENCE_DEFINITION.findall(prose)
    return [t for t in targets if not _SCHEME.match(t) and not t.startswith("#")]


def test_relative_links_finds_links_and_skips_code() -> None:
    text = (
        "see [a](a.md#x) and [b](https://example.com) and `[c](c.md)` and [d](#top)\n"
        "```\n[e](e.md)\n```\n[f]: f.md\n"
    )
    assert relative_links(text) == ["a.md#x", "f.md"]


def test_pages_exist() -> None:
    assert (REPO_ROOT / "README.md").is_file()
    assert len(PAGES) > 1  # docs/ was found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_relative_links_resolve(page: Path) -> None:
    broken = []
    for target in relative_links(page.read_text(encoding="utf-8")):
        path = target.split("#", 1)[0].split("?", 1)[0]
        if path and not (page.parent / path).exists():
            broken.append(target)
    assert broken == [], f"{page.relative_to(REPO_ROOT)} links to missing files: {broken}"
