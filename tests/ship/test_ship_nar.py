"""The NARs as NiFi sees them: manifest, layout, discovery, and every processor importing and instantiating with
only what NiFi puts on the Python path for a NAR (python/api, the NAR root, NAR-INF/bundled-dependencies)."""

from __future__ import annotations

import ast
import importlib.metadata
import json
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from claimflow.flow import nar_build
from claimflow_offline import STANDIN_PATH
from claimflow_offline.discovery import check_folder, inspect_module

from .ship_nars import CROSS_TARGET, HOST_TARGET, BuiltNar

STDLIB = frozenset(sys.stdlib_module_names) | frozenset(sys.builtin_module_names)


def top_level_names(directory: Path) -> set[str]:
    """Importable top-level names in a folder (packages, modules, extension modules)."""
    names = set()
    for entry in directory.iterdir():
        if entry.name.endswith(".dist-info") or entry.name in {"__pycache__", "bin"}:
            continue
        if entry.is_dir():
            names.add(entry.name)
        elif entry.suffix in {".py", ".so", ".pyd"}:
            names.add(entry.name.split(".")[0])
    return names


def nifi_discovered_processors(root: Path) -> dict[str, Path]:
    """NiFi's scan of an unpacked NAR: top-level .py files and package folders one level deep (never
    NAR-INF), keeping modules that hold a processor class (found by ast)."""
    found: dict[str, Path] = {}
    candidates = [p for p in root.glob("*.py")]
    for package in root.iterdir():
        if package.is_dir() and package.name not in {"NAR-INF", "META-INF"} and (package / "__init__.py").is_file():
            candidates.extend(sorted(package.glob("*.py")))
    for path in candidates:
        for info in inspect_module(path).processors:
            found[info.class_name] = path
    return found


def test_manifest_names_the_nar(host_nar: BuiltNar) -> None:
    with zipfile.ZipFile(host_nar.path) as archive:
        lines = archive.read("META-INF/MANIFEST.MF").decode().splitlines()
    fields = dict(line.split(": ", 1) for line in lines if ": " in line)
    assert fields["Nar-Group"] == host_nar.spec.project_name
    assert fields["Nar-Id"] == f"{host_nar.spec.project_name}-nar"
    assert fields["Nar-Version"] == nar_build.project_metadata()["version"]
    assert host_nar.path.name == f"{host_nar.spec.project_name}-{fields['Nar-Version']}-{HOST_TARGET.name}.nar"


def test_root_holds_exactly_the_core_and_processor_packages(host_nar: BuiltNar) -> None:
    assert sorted(p.name for p in host_nar.root.iterdir() if p.name != ".done") == [
        "META-INF",
        "NAR-INF",
        "claimflow",
        "claimflow_processors",
    ]
    processor_files = sorted(p.name for p in (host_nar.root / "claimflow_processors").iterdir())
    assert processor_files == sorted(["__init__.py", *(f"{stem}.py" for stem in host_nar.spec.processors)])


def test_no_test_code_stand_in_or_tooling_ships(host_nar: BuiltNar) -> None:
    everything = [p.relative_to(host_nar.root) for p in host_nar.root.rglob("*")]
    ours = [p for p in everything if p.parts[0] in {"claimflow", "claimflow_processors"}]
    assert not [p for p in everything if p.parts[0] == "claimflow_offline" or "nifiapi" in p.parts]
    assert not [p for p in ours if p.name.startswith("test_") or p.name == "conftest.py" or p.suffix == ".pyc"]
    for excluded in host_nar.spec.core_excludes:
        assert not (host_nar.root / excluded).exists(), excluded
    assert "nifiapi" not in top_level_names(host_nar.bundled)


def test_every_runtime_dependency_is_bundled_at_the_tested_version(host_nar: BuiltNar) -> None:
    installed = {}
    for dist_info in host_nar.bundled.glob("*.dist-info"):
        name, version = dist_info.name.removesuffix(".dist-info").rsplit("-", 1)
        installed[canonicalize_name(name)] = version
    for requirement in nar_build.pinned(nar_build.dependencies_for(host_nar.spec)):
        name, version = requirement.split("==")
        assert installed.get(canonicalize_name(name.split("[")[0])) == version, requirement


def test_core_nar_carries_no_snowflake_stack(core_nar: BuiltNar) -> None:
    heavy = {"snowflake", "pandas", "numpy", "pyarrow", "boto3", "botocore", "cryptography"}
    assert not heavy & top_level_names(core_nar.bundled)
    assert not (core_nar.root / "claimflow_processors" / "MergeClaimsToSnowflake.py").exists()
    assert not (core_nar.root / "claimflow" / "snowflake").exists()


def test_snowpark_nar_carries_snowpark_and_only_the_merge_processor(snowpark_nar: BuiltNar) -> None:
    assert "snowflake" in top_level_names(snowpark_nar.bundled)
    assert (snowpark_nar.bundled / "snowflake" / "snowpark").is_dir()
    assert nifi_discovered_processors(snowpark_nar.root).keys() == {"MergeClaimsToSnowflake"}


def test_nifi_discovers_exactly_the_nar_processors(host_nar: BuiltNar) -> None:
    assert check_folder(host_nar.root / "claimflow_processors", check_shadowing=False) == []
    assert set(nifi_discovered_processors(host_nar.root)) == set(host_nar.spec.processors)


def test_nothing_at_the_root_shadows_stdlib_or_bundled_modules(host_nar: BuiltNar) -> None:
    bundled = top_level_names(host_nar.bundled)
    root_names = top_level_names(host_nar.root) - {"META-INF", "NAR-INF"}
    # Processor modules are loaded under their bare file names, so they must not collide either.
    module_names = {stem for stem in host_nar.spec.processors}
    for name in root_names | module_names:
        assert name not in STDLIB, f"{name} shadows a standard-library module"
        assert name not in bundled, f"{name} shadows a bundled dependency"
    assert not (root_names & module_names)


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_every_import_in_the_nar_resolves_inside_it(host_nar: BuiltNar) -> None:
    """The exclusions are safe: no shipped module imports a left-out claimflow module or an unbundled package."""
    bundled = top_level_names(host_nar.bundled)
    missing = []
    for path in sorted((host_nar.root / "claimflow").rglob("*.py")) + sorted(
        (host_nar.root / "claimflow_processors").glob("*.py")
    ):
        for name in _imports(path):
            top = name.split(".")[0]
            if top == "claimflow":
                parts = name.split(".")
                # "from claimflow.x import y" lists claimflow.x.y, which may be a function: accept the parent.
                candidates = [parts, parts[:-1]]
                exists = any(
                    (host_nar.root.joinpath(*c).with_suffix(".py")).is_file()
                    or (host_nar.root.joinpath(*c) / "__init__.py").is_file()
                    for c in candidates
                    if c
                )
                if not exists:
                    missing.append(f"{path.relative_to(host_nar.root)}: {name}")
            elif top not in STDLIB and top not in bundled and top not in {"nifiapi", "claimflow_processors"}:
                missing.append(f"{path.relative_to(host_nar.root)}: {name} (not bundled)")
    assert missing == []


@pytest.mark.parametrize("key", sorted(nar_build.NARS))
def test_every_core_dependency_is_imported_by_code_the_nar_ships(key: str) -> None:
    """Each NAR bundles the core dependencies, so each must earn its place: a shipped module imports it."""
    spec = nar_build.NARS[key]
    imported = {name.split(".")[0] for source, _ in nar_build.selected_sources(spec) for name in _imports(source)}
    providers = importlib.metadata.packages_distributions()
    used = {canonicalize_name(dist) for top in imported for dist in providers.get(top, ())}
    for requirement in nar_build.project_metadata()["dependencies"]:
        assert canonicalize_name(Requirement(requirement).name) in used, f"{requirement}: no shipped module imports it"


@pytest.mark.parametrize("key", sorted(nar_build.NARS))
def test_processor_details_dependencies_are_bundled_by_their_nar(key: str) -> None:
    """What NiFi would pip-install for a processor outside a NAR is part of what its NAR bundles (nothing stale)."""
    spec = nar_build.NARS[key]
    bundled = set(nar_build.dependencies_for(spec))
    for stem in spec.processors:
        (info,) = inspect_module(nar_build.SOURCE_ROOT / nar_build.PROCESSOR_PACKAGE / f"{stem}.py").processors
        assert info.dependencies, stem
        assert set(info.dependencies) <= bundled, (stem, sorted(set(info.dependencies) - bundled))


LOAD_LIKE_NIFI = r"""
import importlib.util, json, sys
loaded = {}
for path in sys.argv[1:]:
    stem = path.rsplit("/", 1)[-1][:-3]
    spec = importlib.util.spec_from_file_location(stem, path)  # NiFi: bare file name, no package
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    processor = getattr(module, stem)(jvm=None)  # NiFi: Processor(jvm=...)
    loaded[stem] = [c.__name__ for c in type(processor).__mro__[1:3]]
files = {name: getattr(m, "__file__", None) for name, m in sys.modules.items()}
print(json.dumps({"loaded": loaded, "files": files, "path": sys.path, "site": "site" in sys.modules}))
"""


def test_processors_import_and_instantiate_with_only_the_nar_on_the_path(host_nar: BuiltNar, tmp_path: Path) -> None:
    # NiFi: PYTHONPATH=python/api:<nar root>:<nar root>/NAR-INF/bundled-dependencies, no venv, no site-packages.
    python_path = [str(STANDIN_PATH), str(host_nar.root), str(host_nar.bundled)]
    modules = [str(host_nar.root / "claimflow_processors" / f"{stem}.py") for stem in host_nar.spec.processors]
    result = subprocess.run(
        [sys.executable, "-S", "-c", LOAD_LIKE_NIFI, *modules],
        cwd=tmp_path,
        env={"PYTHONPATH": ":".join(python_path), "PYTHONNOUSERSITE": "1", "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    report = json.loads(result.stdout)
    assert not report["site"]
    assert sorted(report["loaded"]) == sorted(host_nar.spec.processors)
    stdlib_dirs = {sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"]}
    allowed = (*python_path, *stdlib_dirs)
    leaked = {name: file for name, file in report["files"].items() if file and not file.startswith(allowed)}
    assert leaked == {}
    assert report["files"]["nifiapi"].startswith(str(STANDIN_PATH))
    assert all(
        file.startswith(str(host_nar.root)) for name, file in report["files"].items() if name.startswith("claimflow")
    )


def test_cross_target_nar_bundles_wheels_for_its_python(cross_core_nar: BuiltNar) -> None:
    tag = f"cp{CROSS_TARGET.python_version.replace('.', '')}"
    extensions = list(cross_core_nar.bundled.rglob("*.so"))
    assert extensions, "expected compiled dependencies (orjson)"
    wrong = [p.name for p in extensions if f"cpython-{tag[2:]}" not in p.name and "abi3" not in p.name]
    assert wrong == []
    for wheel in cross_core_nar.bundled.glob("*.dist-info/WHEEL"):
        tags = [line.split(": ", 1)[1] for line in wheel.read_text().splitlines() if line.startswith("Tag: ")]
        assert any(t.startswith((f"{tag}-", "py3-none-any", "py2.py3-none-any")) or "abi3" in t for t in tags), (
            wheel.parent.name,
            tags,
        )
        assert not any("macosx" in t or "win" in t for t in tags)


# (NAR, target) pairs `make test` does not build, and why. `make nar` builds the default targets for real.
NOT_BUILT_BY_THE_TESTS = {
    ("snowpark", "cp312-manylinux_2_28_x86_64"): "same builder as cp311; ~90 MB more per session",
    ("core", "cp311-manylinux_2_28_aarch64"): "optional target; same builder, wheels for another CPU",
    ("core", "cp312-manylinux_2_28_aarch64"): "optional target; same builder, wheels for another CPU",
    ("snowpark", "cp311-manylinux_2_28_aarch64"): "optional target; ~90 MB",
    ("snowpark", "cp312-manylinux_2_28_aarch64"): "optional target; ~90 MB",
}
BUILT_BY_THE_TESTS = {("core", HOST_TARGET.name), ("snowpark", HOST_TARGET.name), ("core", CROSS_TARGET.name)}


def test_targets_the_tests_do_not_build_are_listed() -> None:
    every = {(nar, target) for nar in nar_build.NARS for target in nar_build.TARGETS}
    assert every - BUILT_BY_THE_TESTS == set(NOT_BUILT_BY_THE_TESTS)


@pytest.mark.parametrize(("nar", "target"), sorted(NOT_BUILT_BY_THE_TESTS))
def test_unbuilt_targets_stage_and_target_correctly(nar: str, target: str, tmp_path: Path) -> None:
    """What is not built is still staged (file selection, pinned dependencies) and aimed (pip environment)."""
    spec, aim = nar_build.NARS[nar], nar_build.TARGETS[target]
    stage = nar_build.stage_project(spec, tmp_path / "stage")
    staged = sorted(p.relative_to(stage).as_posix() for p in stage.rglob("*.py"))
    assert staged == sorted(archive for _, archive in nar_build.selected_sources(spec))
    assert f"claimflow_processors/{spec.processors[0]}.py" in staged
    pyproject = (stage / "pyproject.toml").read_text()
    for requirement in nar_build.pinned(nar_build.dependencies_for(spec)):
        assert f'"{requirement}"' in pyproject
    env = aim.pip_environment
    assert env["PIP_PYTHON_VERSION"] == aim.python_version
    assert env["PIP_ONLY_BINARY"] == ":all:" and env["PIP_IMPLEMENTATION"] == "cp"
    platforms = env["PIP_PLATFORM"].split()
    assert platforms[0] == f"manylinux_2_28_{aim.architecture}" and platforms[-1] == f"manylinux2014_{aim.architecture}"
    assert all(p.endswith(aim.architecture) for p in platforms)


@pytest.mark.parametrize(
    "entry", ["nifiapi/__init__.py", "NAR-INF/bundled-dependencies/nifiapi/properties.py",
              "NAR-INF/bundled-dependencies/nifiapi.py"])
def test_a_nar_with_its_own_nifiapi_is_refused_at_build_time(tmp_path: Path, entry: str) -> None:
    """Every build (any NAR, any target) checks this, not only the host NAR the tests above unpack."""
    good, bad = tmp_path / "good.nar", tmp_path / "bad.nar"
    for nar, extra in ((good, "NAR-INF/bundled-dependencies/nifiapi_tools/x.py"), (bad, entry)):
        with zipfile.ZipFile(nar, "w") as archive:
            archive.writestr("claimflow_processors/__init__.py", "")
            archive.writestr(extra, "")
    nar_build.check_no_nifiapi(good)
    with pytest.raises(RuntimeError, match="shadow NiFi's own nifiapi"):
        nar_build.check_no_nifiapi(bad)
