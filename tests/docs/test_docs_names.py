"""One Kinesis stream name everywhere: claimflow.names.KINESIS_STREAM, used by the demo, the flows and infra/."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
from pathlib import Path

from tests.infra._cfn import SOURCE_TEMPLATE, load_template

from claimflow import names
from claimflow.commands import demo as demo_command
from claimflow.demo import aws

REPO = Path(__file__).resolve().parents[2]
# What ships and what users read; tests/ create throwaway streams of their own names and are not scanned for them.
PRODUCT = ("processors", "docs", "infra", "flow-definitions", "README.md", "Makefile", "pyproject.toml")
# Ways a Kinesis stream name is written down: a CLI option, a boto3 keyword literal, an ARN, the demo's diagram.
STREAM_NAME_SPELLINGS = (
    re.compile(r"--stream[ =]([A-Za-z0-9_.-]+)"),
    re.compile(r"\bStreamName\s*=\s*[\"']([A-Za-z0-9_.-]+)[\"']"),
    re.compile(r"\"StreamName\"\s*:\s*\"([A-Za-z0-9_.-]+)\""),
    re.compile(r":stream/([A-Za-z0-9_.-]+)"),
    re.compile(r"\bKinesis (?:stream )?`?([a-z0-9]+(?:-[a-z0-9]+)+)`? \("),
)
# The demo's former name, in any spelling: it must not come back anywhere, tests included.
FORMER = re.compile(r"insurance[-_]?claims[-_]?stream", re.IGNORECASE)


def _tracked_text_files(*roots: str) -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", *roots],
        cwd=REPO, capture_output=True, check=True,
    ).stdout.decode().split("\0")
    files = []
    for name in filter(None, listed):
        path = REPO / name
        if path.is_file() and path.suffix not in {".png", ".nar", ".whl", ".gz", ".zip"}:
            files.append(path)
    return files


def _read(path: Path) -> str:
    return path.read_bytes().decode("utf-8", "replace")


def test_every_stream_name_written_in_the_product_is_the_one_name() -> None:
    found: dict[str, set[str]] = {}
    for path in _tracked_text_files(*PRODUCT):
        text = _read(path)
        for spelling in STREAM_NAME_SPELLINGS:
            for match in spelling.finditer(text):
                found.setdefault(match.group(1).rstrip("."), set()).add(str(path.relative_to(REPO)))
    assert names.KINESIS_STREAM in found  # the scan does see the name where it is written
    others = {name: files for name, files in found.items() if name != names.KINESIS_STREAM}
    assert others == {}


def test_the_former_demo_stream_name_is_gone_from_the_whole_repository() -> None:
    hits = [
        f"{path.relative_to(REPO)}: {m.group(0)}"
        for path in _tracked_text_files(".")
        if path != Path(__file__).resolve()
        for m in FORMER.finditer(_read(path))
    ]
    assert hits == []


def test_demo_flows_and_infra_default_to_the_one_name() -> None:
    parser = argparse.ArgumentParser()
    demo_command.add_arguments(parser)
    assert parser.parse_args([]).stream == names.KINESIS_STREAM
    assert aws.DEFAULT_STREAM == names.KINESIS_STREAM
    template = load_template(SOURCE_TEMPLATE)
    assert template["Parameters"]["StreamName"]["Default"] == names.KINESIS_STREAM
    for flow in sorted((REPO / "flow-definitions").glob("*.json")):
        contexts = json.loads(flow.read_text(encoding="utf-8"))["parameterContexts"].values()
        values = [p["value"] for c in contexts for p in c["parameters"] if p["name"] == "Kinesis Stream Name"]
        assert values == [names.KINESIS_STREAM], flow.name
