"""Build ClaimFlow's NiFi Archives (NARs) with hatch-datavolo-nar, one per (NAR, target runtime).

Why a staging project per NAR: hatch-datavolo-nar bundles ``project.dependencies`` of the project it builds and
names the file after the project. ClaimFlow ships two NARs with different dependency sets (the core NAR must not
carry Snowpark), and NiFi loads every sibling module of a processor package, so each NAR needs its own file
selection too. Each build therefore stages a tiny hatchling project (a generated ``pyproject.toml`` plus copies of
the selected sources) and runs ``python -m hatchling build -t nar`` in it with the Python of this virtualenv (which
has pip: the plugin pip-installs the dependencies into ``NAR-INF/bundled-dependencies``).

Why targets: bundled dependencies hold compiled wheels (orjson, cryptography, numpy...) that only load
on the CPython minor version and CPU architecture they were built for. pip's environment variables
(``PIP_PLATFORM``, ``PIP_PYTHON_VERSION``, ``PIP_IMPLEMENTATION``, ``PIP_ONLY_BINARY``) make the plugin's pip
fetch wheels for the target instead of the build machine.

Run: ``python -m claimflow.flow.nar_build [--nar core|snowpark ...] [--target NAME ...] [--out dist]``
(``make nar``). It prints one line per step of each build (staging, the bundling by hatchling and pip, the
result), and every 30 s of the bundling, which is silent (the plugin runs pip quietly and keeps its output for
a failure), a line saying it is still at work.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import shutil
import subprocess
import sys
import time
import tomllib
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO_ROOT = Path(__file__).resolve().parents[3]
SOURCE_ROOT = REPO_ROOT / "processors"
CORE_PACKAGE = "claimflow"
PROCESSOR_PACKAGE = "claimflow_processors"

# Subpackages/modules of the core that no processor needs at runtime (tools, CLI, demo, benchmarks, this
# builder). tests/ship checks that nothing left in a NAR imports them.
CORE_TOOLING = (
    "claimflow/demo",
    "claimflow/flow",
    "claimflow/commands",
    "claimflow/cli.py",
    "claimflow/bench.py",
    "claimflow/bench",
    "claimflow/claims/bench.py",
    "claimflow/claims/synthetic.py",  # synthetic claims for the generator, benchmarks and tests
    "claimflow/claims/docs.py",  # prints generated sections of docs/claim-rows.md
    # The typed reference model (pydantic, extra `model`): tests and the benchmark hold the rules to it.
    "claimflow/claims/model.py",
)


@dataclass(frozen=True)
class Target:
    """A runtime the bundled dependencies are built for: CPython minor version + manylinux platform."""

    name: str
    python_version: str  # "3.11"
    architecture: str  # "x86_64" | "aarch64"
    glibc_minor: int = 28  # newest manylinux_2_<minor> tag accepted: the runtime needs glibc >= 2.<minor>

    @property
    def platforms(self) -> list[str]:
        """Every manylinux tag the target accepts, newest first. pip does not widen an explicit ``--platform``
        to older manylinux tags, and many wheels (orjson among them) are tagged manylinux_2_17 only."""
        tags = [f"manylinux_2_{minor}_{self.architecture}" for minor in range(self.glibc_minor, 16, -1)]
        return [*tags, f"manylinux2014_{self.architecture}"]

    @property
    def pip_environment(self) -> dict[str, str]:
        return {
            "PIP_PLATFORM": " ".join(self.platforms),  # pip splits list options given in the environment
            "PIP_PYTHON_VERSION": self.python_version,
            "PIP_IMPLEMENTATION": "cp",
            "PIP_ONLY_BINARY": ":all:",
            # Byte code compiled by the build machine's Python is useless to another minor version; NiFi's Python
            # writes its own __pycache__ next to the unpacked NAR.
            "PIP_NO_COMPILE": "1",
        }


# manylinux_2_28 = glibc >= 2.28: the apache/nifi 2.x images (Ubuntu-based Temurin 21) and Openflow runtimes
# (Linux containers) qualify; RHEL/Alma/Rocky 8+, Debian 10+ and Ubuntu 20.04+ hosts too.
TARGETS: dict[str, Target] = {
    target.name: target
    for target in (
        Target("cp311-manylinux_2_28_x86_64", "3.11", "x86_64"),
        Target("cp312-manylinux_2_28_x86_64", "3.12", "x86_64"),
        Target("cp311-manylinux_2_28_aarch64", "3.11", "aarch64"),
        Target("cp312-manylinux_2_28_aarch64", "3.12", "aarch64"),
    )
}
DEFAULT_TARGETS = ("cp311-manylinux_2_28_x86_64", "cp312-manylinux_2_28_x86_64")


@dataclass(frozen=True)
class NarSpec:
    """One NAR: which processor modules it exposes, which core files it leaves out, which extras it bundles."""

    key: str
    project_name: str  # becomes Nar-Group, Nar-Id (<name>-nar) and the file name prefix
    processors: tuple[str, ...]  # module stems in claimflow_processors
    core_excludes: tuple[str, ...]
    extras: tuple[str, ...]  # optional-dependency groups of pyproject.toml bundled on top of the core deps


NARS: dict[str, NarSpec] = {
    spec.key: spec
    for spec in (
        NarSpec(
            key="core",
            project_name="claimflow",
            processors=("DecodeDynamoDBChange", "TransformClaimChange", "ProcessClaimChange", "DecodeDynamoDBExport"),
            # claimflow.snowflake is the Snowpark/connector side: only the merge processor uses it.
            core_excludes=(*CORE_TOOLING, "claimflow/snowflake"),
            extras=(),
        ),
        NarSpec(
            key="snowpark",
            project_name="claimflow-snowpark",
            processors=("MergeClaimsToSnowflake",),
            core_excludes=CORE_TOOLING,
            extras=("snowflake",),
        ),
    )
}


def project_metadata(pyproject: Path = REPO_ROOT / "pyproject.toml") -> dict:
    with pyproject.open("rb") as handle:
        return dict(tomllib.load(handle)["project"])


def dependencies_for(spec: NarSpec, project: Mapping | None = None) -> list[str]:
    """The requirement strings bundled into ``spec``'s NAR: the core dependencies plus its extras, as declared.

    Raises:
        KeyError: an extra named by the spec is not defined in pyproject.toml.
    """
    project = project_metadata() if project is None else project
    requirements = list(project["dependencies"])
    for extra in spec.extras:
        requirements.extend(project["optional-dependencies"][extra])
    return requirements


def pinned(requirements: Iterable[str]) -> list[str]:
    """Pin each requirement to the version installed in this environment (the one the test suite ran with).

    Why: hatch-datavolo-nar 1.0.1 passes each dependency through ``shlex.quote`` although it does not use a
    shell, so a requirement holding ``<``, ``>`` or a space reaches pip wrapped in quotes and pip rejects it;
    ``name==version`` has only shell-safe characters. Pinning also makes the NAR carry the tested versions.

    Raises:
        LookupError: a requirement is not installed here, or its installed version is outside its specifier.
    """
    result = []
    for text in requirements:
        requirement = Requirement(text)
        try:
            installed = importlib.metadata.version(requirement.name)
        except importlib.metadata.PackageNotFoundError as error:
            raise LookupError(f"{requirement.name} is not installed: run `pip install -e '.[dev]'` first") from error
        if not requirement.specifier.contains(installed, prereleases=True):
            raise LookupError(f"installed {requirement.name} {installed} does not satisfy {text!r}")
        extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
        result.append(f"{requirement.name}{extras}=={installed}")
    return result


def constraints() -> str:
    """A pip constraints file pinning every distribution installed here, so transitive dependencies in the NAR
    are the versions the tests ran with too (pip ignores constraints for packages it does not install)."""
    lines = set()
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name and name.lower() != "claimflow":
            lines.add(f"{canonicalize_name(name)}=={dist.version}")
    return "\n".join(sorted(lines)) + "\n"


def nar_file_name(spec: NarSpec, version: str, target: Target) -> str:
    return f"{spec.project_name}-{version}-{target.name}.nar"


def selected_sources(spec: NarSpec, source_root: Path = SOURCE_ROOT) -> list[tuple[Path, str]]:
    """(source file, path inside the NAR) for every file of ``spec``: the core package minus its excludes, and the
    processor package with only the spec's processor modules (NiFi loads every sibling module of a package).

    Raises:
        FileNotFoundError: a processor module named by the spec does not exist.
    """
    chosen: list[tuple[Path, str]] = []
    core = source_root / CORE_PACKAGE
    excluded = tuple(source_root / rel for rel in spec.core_excludes)
    for path in sorted(core.rglob("*.py")):
        if "__pycache__" in path.parts or any(path == ex or ex in path.parents for ex in excluded):
            continue
        chosen.append((path, path.relative_to(source_root).as_posix()))
    processors = source_root / PROCESSOR_PACKAGE
    for stem in ("__init__", *spec.processors):
        module = processors / f"{stem}.py"
        if not module.is_file():
            raise FileNotFoundError(f"{spec.key} NAR: processor module {module} is missing")
        chosen.append((module, f"{PROCESSOR_PACKAGE}/{module.name}"))
    return chosen


def _staging_pyproject(spec: NarSpec, version: str, requires_python: str, requirements: Sequence[str]) -> str:
    deps = "".join(f"  {_toml_string(req)},\n" for req in requirements)
    return (
        "# Generated by claimflow.flow.nar_build: a staging project for one NAR. Do not edit.\n"
        '[build-system]\nrequires = ["hatchling", "hatch-datavolo-nar"]\nbuild-backend = "hatchling.build"\n\n'
        f"[project]\nname = {_toml_string(spec.project_name)}\nversion = {_toml_string(version)}\n"
        f"requires-python = {_toml_string(requires_python)}\ndependencies = [\n{deps}]\n\n"
        "[tool.hatch.build.targets.nar]\n"
        f'only-include = ["{CORE_PACKAGE}", "{PROCESSOR_PACKAGE}"]\n'
    )


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def stage_project(spec: NarSpec, directory: Path, project: Mapping | None = None) -> Path:
    """Write the staging project for ``spec`` into ``directory`` (emptied first) and return it."""
    project = project_metadata() if project is None else project
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    for source, archive_path in selected_sources(spec):
        destination = directory / archive_path
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination)
    (directory / "pyproject.toml").write_text(
        _staging_pyproject(
            spec, project["version"], project["requires-python"], pinned(dependencies_for(spec, project))
        ),
        encoding="utf-8",
    )
    return directory


_TARGETING_VARIABLES = frozenset(
    {
        *("PIP_PLATFORM", "PIP_PYTHON_VERSION", "PIP_IMPLEMENTATION", "PIP_ABI", "PIP_ONLY_BINARY"),
        *("PIP_NO_BINARY", "PIP_NO_COMPILE", "PIP_CONSTRAINT", "PIP_TARGET", "PIP_PREFIX", "PIP_USER"),
        "PIP_REQUIRE_VIRTUALENV",
    }
)


Progress = Callable[[str], None]
HEARTBEAT_S = 30.0


def _quiet(_: str) -> None:
    pass


def run_with_heartbeat(
    command: Sequence[str],
    progress: Progress,
    what: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    heartbeat_s: float = HEARTBEAT_S,
) -> str:
    """Run ``command`` with its output captured, calling ``progress`` every ``heartbeat_s`` while it runs.

    Returns its combined stdout and stderr.

    Raises:
        subprocess.CalledProcessError: it exited non-zero (its output in ``output``).
    """
    started = time.monotonic()
    with subprocess.Popen(
        list(command), cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        while True:
            try:
                output, _ = process.communicate(timeout=heartbeat_s)
                break
            except subprocess.TimeoutExpired:
                progress(f"  ... {what}: still at work ({time.monotonic() - started:.0f} s)")
    if process.returncode:
        raise subprocess.CalledProcessError(process.returncode, list(command), output)
    return output


BUNDLED_DEPENDENCIES = "NAR-INF/bundled-dependencies/"


def check_no_nifiapi(nar: Path) -> None:
    """Refuse a NAR that carries a ``nifiapi`` of its own, at its root or among its bundled dependencies: NiFi's
    own ``python/api`` must be the only one its processors import (ours is the offline stand-in, for tests).

    Raises:
        RuntimeError: the NAR holds a ``nifiapi`` package or module.
    """
    with zipfile.ZipFile(nar) as archive:
        for name in archive.namelist():
            inner = name.removeprefix(BUNDLED_DEPENDENCIES)
            top = inner.split("/", 1)[0]
            if top == "nifiapi" or top == "nifiapi.py":
                raise RuntimeError(f"{nar.name}: {name} would shadow NiFi's own nifiapi")


def build_nar(
    spec: NarSpec,
    target: Target,
    out_dir: Path,
    work_dir: Path,
    pip_cache: Path | None = None,
    python: str = sys.executable,
    progress: Progress = _quiet,
) -> Path:
    """Build one NAR into ``out_dir`` and return its path; ``progress`` gets one line per step.

    ``pip_cache`` (shared between builds) keeps repeated builds off the network: the plugin passes
    ``--cache-dir <build dir>/pip-cache`` to pip, so that path is linked to the shared cache.

    Raises:
        subprocess.CalledProcessError: hatchling/pip failed (its output is in the exception's ``output``).
    """
    project = project_metadata()
    stage = stage_project(spec, work_dir / f"{spec.key}-{target.name}" / "project", project)
    requirements = pinned(dependencies_for(spec, project))
    sources = sum(1 for path in stage.rglob("*.py"))
    progress(f"  staged {sources} source files and {len(requirements)} pinned dependencies in {stage}")
    build_dir = stage.parent / "build"
    if build_dir.exists():
        shutil.rmtree(build_dir)
    build_dir.mkdir()
    if pip_cache is not None:
        pip_cache.mkdir(parents=True, exist_ok=True)
        (build_dir / "pip-cache").symlink_to(pip_cache.resolve(), target_is_directory=True)
    constraints_file = stage.parent / "constraints.txt"
    constraints_file.write_text(constraints(), encoding="utf-8")
    # Keep the machine's pip settings (certificates, index, find-links) but nothing that targets another runtime.
    env = {key: value for key, value in os.environ.items() if key not in _TARGETING_VARIABLES}
    env.update(target.pip_environment)
    env["PIP_CONSTRAINT"] = str(constraints_file)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    cached = pip_cache is not None and any(pip_cache.iterdir())
    progress(
        f"  bundling the dependencies for {target.name} with hatchling and pip "
        f"({'from the pip cache' if cached else 'downloading wheels: the first build takes a few minutes'})"
    )
    started = time.monotonic()
    try:
        run_with_heartbeat(
            [python, "-m", "hatchling", "build", "-t", "nar", "-d", str(build_dir)],
            progress,
            "bundling",
            cwd=stage,
            env=env,
        )
    except subprocess.CalledProcessError as error:
        # The plugin swallows pip's output; a dry run of the same install shows why pip refused.
        dry_run = subprocess.run(
            [python, "-m", "pip", "install", "--dry-run", "--target", str(build_dir / "dry-run"), *requirements],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        error.output = f"{error.output}\n--- pip install --dry-run for {target.name} ---\n{dry_run.stdout}"
        raise
    built = build_dir / f"{spec.project_name.replace('-', '_')}-{project['version']}.nar"
    check_no_nifiapi(built)
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / nar_file_name(spec, project["version"], target)
    shutil.move(built, final)
    progress(f"  bundled in {time.monotonic() - started:.0f} s")
    return final


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m claimflow.flow.nar_build", description=__doc__.splitlines()[0])
    parser.add_argument("--nar", action="append", choices=sorted(NARS), help="NAR(s) to build (default: all)")
    parser.add_argument(
        "--target",
        action="append",
        choices=sorted(TARGETS),
        help=f"target runtime(s) (default: {', '.join(DEFAULT_TARGETS)})",
    )
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "dist", help="output directory (default: dist/)")
    parser.add_argument("--work", type=Path, default=REPO_ROOT / "build" / "nar", help="staging directory")
    args = parser.parse_args(argv)
    specs = [NARS[key] for key in (args.nar or NARS)]
    targets = [TARGETS[name] for name in (args.target or DEFAULT_TARGETS)]
    total = len(specs) * len(targets)

    def say(line: str) -> None:
        print(line, flush=True)

    step = 0
    for spec in specs:
        for target in targets:
            step += 1
            say(f"[{step}/{total}] {spec.key} NAR for {target.name}")
            try:
                path = build_nar(spec, target, args.out, args.work, args.work / "pip-cache", progress=say)
            except subprocess.CalledProcessError as error:
                print(f"building the {spec.key} NAR for {target.name} failed:\n{error.output}", file=sys.stderr)
                return 1
            except (FileNotFoundError, LookupError) as error:
                print(f"cannot build the {spec.key} NAR: {error}", file=sys.stderr)
                return 1
            shown = path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path
            say(f"[{step}/{total}] {shown}  {path.stat().st_size / 1_048_576:.1f} MiB")
    say(f"built {total} NAR{'s' if total != 1 else ''} into {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
