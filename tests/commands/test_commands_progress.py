"""Slow or quiet steps say what they do: ``make nar`` one line per step (and while pip works), ``flow check`` what
it checked."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from claimflow.cli import main
from claimflow.flow import nar_build
from claimflow.flow.export import FLOW_DIRECTORY


def test_flow_check_says_what_it_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "flows"
    shutil.copytree(FLOW_DIRECTORY, copy)
    monkeypatch.chdir(tmp_path)
    assert main(["flow", "check", "--dir", str(copy)]) == 0
    out = capsys.readouterr().out.splitlines()
    names = sorted(p.name for p in FLOW_DIRECTORY.glob("*.json"))
    assert len(out) == 1
    assert out[0].startswith("flow definitions up to date: ")
    assert sorted(out[0].split(": ", 1)[1].split(" in ")[0].split(", ")) == names
    assert out[0].endswith(" in flows/ equal a fresh export from the processor sources (properties, relationships, "
                           "wiring, parameters)")

    (copy / names[0]).write_text("{}\n", encoding="utf-8")
    assert main(["flow", "check", "--dir", str(copy)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{names[0]}: differs from `claimflow flow export` (re-export and commit)"
    ]


def test_nar_build_prints_one_line_per_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """main() around a stand-in build (the real one is tests/ship's): numbered steps, the build's own lines, the
    result and a closing line."""
    calls: list[tuple[str, str]] = []

    def fake_build(spec: Any, target: Any, out: Path, work: Path, cache: Path, progress: Any) -> Path:
        calls.append((spec.key, target.name))
        progress("  bundling (stand-in)")
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"{spec.key}-{target.name}.nar"
        path.write_bytes(b"x" * 1_048_576)
        return path

    monkeypatch.setattr(nar_build, "build_nar", fake_build)
    monkeypatch.chdir(tmp_path)
    argv = ["--nar", "core", "--target", "cp311-manylinux_2_28_x86_64", "--target", "cp312-manylinux_2_28_x86_64",
            "--out", "dist", "--work", str(tmp_path / "work")]
    assert nar_build.main(argv) == 0
    assert capsys.readouterr().out.splitlines() == [
        "[1/2] core NAR for cp311-manylinux_2_28_x86_64",
        "  bundling (stand-in)",
        "[1/2] dist/core-cp311-manylinux_2_28_x86_64.nar  1.0 MiB",
        "[2/2] core NAR for cp312-manylinux_2_28_x86_64",
        "  bundling (stand-in)",
        "[2/2] dist/core-cp312-manylinux_2_28_x86_64.nar  1.0 MiB",
        "built 2 NARs into dist",
    ]
    assert len(calls) == 2


def test_a_silent_step_gets_a_heartbeat_and_its_output_kept() -> None:
    lines: list[str] = []
    script = "import time; print('done', flush=True); time.sleep(0.5)"
    output = nar_build.run_with_heartbeat([sys.executable, "-c", script], lines.append, "bundling", heartbeat_s=0.2)
    assert output == "done\n"
    assert lines and all(line.startswith("  ... bundling: still at work (") for line in lines)


def test_a_failing_step_raises_with_its_output() -> None:
    import subprocess

    with pytest.raises(subprocess.CalledProcessError) as error:
        nar_build.run_with_heartbeat([sys.executable, "-c", "print('why'); raise SystemExit(3)"], print, "x")
    assert error.value.returncode == 3 and error.value.output == "why\n"
