"""The suite reads its fixtures from the repository: a fresh clone with nothing beside it passes."""

from __future__ import annotations

import re
from pathlib import Path

from ._records import REPO, SAMPLES

# Path expressions that climb out of the repository root from a file inside it.
_OUTSIDE = re.compile(r"REPO(?:_ROOT)?\.parent\b|[\"']\.\./shared|\bshared/samples\b")


def test_public_samples_are_a_fixture_inside_the_repository() -> None:
    assert SAMPLES.resolve().is_relative_to(REPO)
    assert len(SAMPLES.read_bytes().splitlines()) == 3


def test_no_test_or_source_file_reads_outside_the_repository() -> None:
    offenders = []
    for folder in ("tests", "processors"):
        for path in sorted((REPO / folder).rglob("*.py")):
            if path == Path(__file__).resolve():
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if _OUTSIDE.search(line):
                    offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    for name in ("Makefile", "pyproject.toml"):
        text = (REPO / name).read_text(encoding="utf-8")
        offenders += [f"{name}: {m.group(0)}" for m in _OUTSIDE.finditer(text)]
    assert offenders == []
