"""NAR builds for the ship tests: each NAR is built once per test session (shared by xdist workers through a
lock in the session's common temp folder) with the real builder, `make nar`'s code path."""

from __future__ import annotations

import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from filelock import FileLock

from claimflow.flow import nar_build

# The target this machine can execute: the NAR for it is imported and instantiated in the tests.
HOST_TARGET = nar_build.TARGETS[f"cp{sys.version_info.major}{sys.version_info.minor}-manylinux_2_28_x86_64"]
# A second CPython version, built (core NAR only: a few seconds) to prove cross-target wheels, never imported.
CROSS_TARGET = nar_build.TARGETS["cp312-manylinux_2_28_x86_64"]
# Warm, persistent wheel cache (build/ is git-ignored) so repeated sessions stay off the network.
PIP_CACHE = nar_build.REPO_ROOT / "build" / "nar" / "pip-cache"


@dataclass(frozen=True)
class BuiltNar:
    spec: nar_build.NarSpec
    target: nar_build.Target
    path: Path
    root: Path  # unpacked, as NiFi unpacks it into work/nar/extensions

    @property
    def bundled(self) -> Path:
        return self.root / "NAR-INF" / "bundled-dependencies"


def session_dir(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    base = tmp_path_factory.getbasetemp()
    return base.parent if worker_id != "master" else base


def build(session: Path, key: str, target: nar_build.Target) -> BuiltNar:
    spec = nar_build.NARS[key]
    out = session / "nar-dist"
    unpacked = session / "nar-unpacked" / f"{key}-{target.name}"
    with FileLock(str(session / f"nar-{key}-{target.name}.lock")):
        path = out / nar_build.nar_file_name(spec, nar_build.project_metadata()["version"], target)
        if not (unpacked / ".done").exists():
            path = nar_build.build_nar(spec, target, out, session / "nar-work", PIP_CACHE)
            with zipfile.ZipFile(path) as archive:
                archive.extractall(unpacked)
            (unpacked / ".done").touch()
    return BuiltNar(spec, target, path, unpacked)
