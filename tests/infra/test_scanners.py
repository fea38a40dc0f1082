"""cfn-lint and checkov over every template in infra/: zero errors, zero warnings, zero failed checks.

Both run offline. checkov lives in its own virtualenv (.venv-checkov, made by `make checkov-venv`, a
dependency of `make test`) because its pins conflict with the project's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ._cfn import REPO, SOURCE_TEMPLATE, TEMPLATES, VARIANTS, load_template, with_defaults

CFN_LINT = Path(sys.executable).with_name("cfn-lint")
CHECKOV = REPO / ".venv-checkov" / "bin" / "checkov"

# Every checkov skip in the templates, with the reason documented in docs/infrastructure.md.
EXPECTED_CHECKOV_SKIPS = {"CKV_AWS_117"}


def _cfn_lint(*paths: Path) -> tuple[int, list[dict[str, Any]]]:
    assert CFN_LINT.exists(), f"cfn-lint not found next to {sys.executable}; run `make venv`"
    proc = subprocess.run(
        [str(CFN_LINT), "--format", "json", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.stdout.strip(), f"cfn-lint printed nothing (rc={proc.returncode}): {proc.stderr}"
    return proc.returncode, json.loads(proc.stdout)


def test_templates_exist() -> None:
    assert SOURCE_TEMPLATE in TEMPLATES


def test_cfn_lint_reports_no_errors_or_warnings() -> None:
    rc, matches = _cfn_lint(*TEMPLATES)
    bad = [m for m in matches if m["Level"] in {"Error", "Warning"}]
    listing = "\n".join(
        f"{m['Filename']}:{m['Location']['Start']['LineNumber']} {m['Rule']['Id']} {m['Message']}" for m in bad
    )
    assert not bad, f"cfn-lint found {len(bad)} errors/warnings:\n{listing}"
    # cfn-lint's exit code is a bit mask: 2 = error, 4 = warning (8 = informational, allowed).
    assert rc & 0b110 == 0, f"cfn-lint exit code {rc}"


def test_cfn_lint_catches_a_broken_template(tmp_path: Path, source_template: dict[str, Any]) -> None:
    """Guard against a silently inert linter: a bad enum value must be reported as an error."""
    broken = json.loads(json.dumps(source_template))
    broken["Resources"]["ClaimsTable"]["Properties"]["KinesisStreamSpecification"][
        "ApproximateCreationDateTimePrecision"
    ] = "NANOSECOND"
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))
    rc, matches = _cfn_lint(path)
    assert rc & 0b10, f"cfn-lint did not fail on a bad enum: {matches}"
    assert any(m["Level"] == "Error" and "NANOSECOND" in m["Message"] for m in matches)


@pytest.fixture(scope="module")
def checkov_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if not CHECKOV.exists():
        pytest.fail(
            f"checkov is missing at {CHECKOV}. It lives in its own virtualenv: run `make test` "
            "(or `make checkov-venv`) to create .venv-checkov."
        )
    scan_dir = tmp_path_factory.mktemp("checkov")
    # The templates as written (YAML, skip metadata included) ...
    for template in TEMPLATES:
        (scan_dir / template.name).write_text(template.read_text())
    # ... plus the source template with each variant's parameters as defaults: checkov evaluates Conditions
    # with the defaults, so without these the optional generator and VPC resources would never be scanned.
    source = load_template(SOURCE_TEMPLATE)
    for name, overrides in VARIANTS.items():
        (scan_dir / f"variant-{name}.json").write_text(json.dumps(with_defaults(source, overrides)))
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_NO_OUTPUT_COLOR": "1"}
    env.pop("BC_API_KEY", None)
    proc = subprocess.run(
        [
            str(CHECKOV),
            "--directory",
            str(scan_dir),
            "--framework",
            "cloudformation",
            "--skip-download",
            "--output",
            "json",
            "--compact",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env=env,
        cwd=scan_dir,
    )
    assert proc.stdout.strip().startswith(("{", "[")), f"checkov gave no JSON (rc={proc.returncode}):\n{proc.stderr}"
    report = json.loads(proc.stdout)
    if isinstance(report, list):
        (report,) = [r for r in report if r["check_type"] == "cloudformation"]
    report["returncode"] = proc.returncode
    report["scanned_files"] = sorted(p.name for p in scan_dir.iterdir())
    return report


def test_checkov_has_no_failed_checks(checkov_results: dict[str, Any]) -> None:
    summary = checkov_results["summary"]
    failed = checkov_results["results"]["failed_checks"]
    listing = "\n".join(f"{c['check_id']} {c['file_path']} {c['resource']}: {c['check_name']}" for c in failed)
    print(f"checkov {summary.get('checkov_version')}: {summary}")
    assert summary["parsing_errors"] == 0
    assert summary["failed"] == 0, f"checkov failed checks:\n{listing}"
    assert checkov_results["returncode"] == 0
    assert summary["passed"] > 0


def test_checkov_scanned_every_file_and_the_optional_resources(checkov_results: dict[str, Any]) -> None:
    results = checkov_results["results"]
    checked = results["passed_checks"] + results["skipped_checks"]
    files = {Path(c["file_path"]).name for c in checked}
    assert files == set(checkov_results["scanned_files"])
    resources = {c["resource"] for c in checked}
    for needed in (
        "AWS::KMS::Key.ClaimsKey",
        "AWS::DynamoDB::Table.ClaimsTable",
        "AWS::Kinesis::Stream.ClaimsStream",
        "AWS::IAM::Role.ConsumerRole",
        "AWS::Lambda::Function.GeneratorFunction",
        "AWS::EC2::SecurityGroup.GeneratorSecurityGroup",
        "AWS::Logs::LogGroup.GeneratorLogGroup",
    ):
        assert needed in resources, f"checkov never evaluated {needed}"


def test_checkov_skips_are_justified(checkov_results: dict[str, Any]) -> None:
    skipped = checkov_results["results"]["skipped_checks"]
    for check in skipped:
        reason = (check.get("check_result") or {}).get("suppress_comment") or ""
        assert len(reason.split()) >= 8, f"{check['check_id']} on {check['resource']} skipped without a reason"
    assert {c["check_id"] for c in skipped} == EXPECTED_CHECKOV_SKIPS
    doc = (REPO / "docs" / "infrastructure.md").read_text()
    for check_id in EXPECTED_CHECKOV_SKIPS:
        assert check_id in doc, f"{check_id} is skipped but not justified in docs/infrastructure.md"
