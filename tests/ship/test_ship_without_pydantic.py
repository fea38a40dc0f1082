"""Every processor runs without pydantic: it is the reference model of the tests and the benchmark (extra
``model``), not a runtime dependency, so no NAR bundles it.

A fresh interpreter gets a meta-path finder that refuses pydantic and pydantic_core and records every attempt;
then every processor module is loaded as NiFi loads it and records go through each of them (the merge on a
Snowpark local-testing session). Nothing may even try the import: a fallback that catches ImportError would hide
a dependency just as well as a failing import shows it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from claimflow.flow import nar_build

BLOCK_AND_RUN = r"""
import importlib.abc, json, sys

BLOCKED = {"pydantic", "pydantic_core"}
attempts = []


class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            attempts.append(name)
            raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)", name=name)
        return None


sys.meta_path.insert(0, Refuse())
assert not BLOCKED & set(sys.modules), "pydantic was imported before the blocker"

import gzip, random

from claimflow.claims.synthetic import claim_item, kinesis_record
from claimflow_offline.java import RoutedRunner
from claimflow_offline.pipeline import JavaRouting, Pipeline, Stage
from claimflow_offline.runner import TestRunner

rng = random.Random(11)
first, second, third = (claim_item(rng, n) for n in (1, 2, 3))
start = 1_761_955_200_000_000
records = [
    kinesis_record(first, "INSERT", start, 1),
    kinesis_record(third, "INSERT", start + 2, 3),
    kinesis_record({**first, "claim_status": "PAID"}, "MODIFY", start + 5, 1, old_item=first),
    kinesis_record(None, "REMOVE", start + 9, 2, old_item=second),
]
content = b"\n".join(json.dumps(r).encode() for r in records) + b"\n"
phi = {"PHI Handling": "Pass Through"}
report = {}

rows = {"insert": "rows", "modify": "rows", "remove": "rows", "invalid": "invalid", "unmatched": "invalid"}
with Pipeline([
    Stage("DecodeDynamoDBChange", routes={"success": "TransformClaimChange", "invalid": "invalid",
                                          "failure": "failure"}),
    Stage("TransformClaimChange", properties=phi, routes={"success": "Java routing", "failure": "failure"}),
    JavaRouting(routes=rows),
]) as pipeline:
    pipeline.enqueue(content)
    result = pipeline.run()
emitted = result.records("rows")
report["decode+transform"] = sorted(r["eventName"] for r in emitted)
report["decode+transform failures"] = len(result.flowfiles("invalid")) + len(result.flowfiles("failure"))

fused = TestRunner("ProcessClaimChange", infer_schema_like_nifi=True)
for name, value in phi.items():
    fused.set_property(name, value)
fused.enqueue(content)
fused.run()
routed = RoutedRunner(fused)  # the Openflow flow's PartitionRecord + RouteOnAttribute
report["fused"] = sorted(r["eventName"] for rel in ("insert", "modify", "remove")
                         for f in routed.get_flowfiles_for(rel) for r in f.records())

export = TestRunner("DecodeDynamoDBExport")
export.set_property("Export Time", "2025-11-01T00:00:00.000Z")
export.set_property("Export ARN", "arn:aws:dynamodb:us-east-1:000000000000:table/claims/export/01")
item = {"claim_id": {"S": "CLM-NP-1"}, "member_id": {"S": "M-1"}, "total_charge": {"N": "10.00"}}
export.enqueue(gzip.compress(json.dumps({"Item": item}).encode()),
               {"filename": "claims/AWSDynamoDB/01-ab/data/part0.json.gz"})
export.run()
report["export"] = {rel: len(export.get_flowfiles_for(rel)) for rel in ("success", "invalid", "failure")}

merge = TestRunner("MergeClaimsToSnowflake")
for name, value in {"Account": "local", "User": "local", "Snowpark Local Testing": "true"}.items():
    merge.set_property(name, value)
merge.enqueue(b"\n".join(json.dumps(r).encode() for r in emitted))
merge.run()
report["merge"] = {rel: len(merge.get_flowfiles_for(rel)) for rel in ("success", "retry", "failure")}

report["attempts"] = list(attempts)  # before the check below adds its own attempt
report["loaded"] = sorted(BLOCKED & set(sys.modules))
# The blocker itself works: the reference model cannot be imported in this interpreter.
try:
    import claimflow.claims.model  # noqa: F401
    report["model import"] = "imported"
except ImportError:
    report["model import"] = "refused" if attempts[len(report["attempts"]):] else "refused elsewhere"
print(json.dumps(report))
"""


def _run_blocked(tmp_path: Path) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", BLOCK_AND_RUN],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_every_processor_routes_records_with_pydantic_refused(tmp_path: Path) -> None:
    report = _run_blocked(tmp_path)
    assert report["attempts"] == [], "something on the processors' path tried to import pydantic"
    assert report["loaded"] == []
    assert report["decode+transform"] == ["INSERT", "INSERT", "MODIFY", "REMOVE"]
    assert report["decode+transform failures"] == 0
    assert report["fused"] == report["decode+transform"]
    assert report["export"] == {"success": 1, "invalid": 0, "failure": 0}
    assert report["merge"] == {"success": 1, "retry": 0, "failure": 0}
    # The finder was live: the one module that needs pydantic was refused.
    assert report["model import"] == "refused"


def test_no_nar_ships_the_reference_model_or_bundles_pydantic() -> None:
    for spec in nar_build.NARS.values():
        shipped = {archive for _, archive in nar_build.selected_sources(spec)}
        assert "claimflow/claims/model.py" not in shipped, spec.key
        assert "claimflow/claims/validate.py" in shipped, spec.key  # the rules the model restates do ship
        bundled = {canonicalize_name(Requirement(text).name) for text in nar_build.dependencies_for(spec)}
        assert "pydantic" not in bundled, spec.key
