"""The demo runs the shipped flow as shipped: PHI Handling Pseudonymize, keyed by a demo-only key generated per run
(or the caller's, from $CLAIMFLOW_DEMO_HMAC_KEY), never shown or written; ``--pass-through`` runs it unkeyed. The
reconciliation recomputes every token from the source value with the core's ``phi.pseudonym`` and fails on a wrong
one."""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any

import pytest

from claimflow.claims import ClaimSettings, PhiMode
from claimflow.claims.phi import DIRECT_IDENTIFIERS, pseudonym
from claimflow.claims.settings import hmac_key_problem
from claimflow.cli import main
from claimflow.demo.aws import ensure_resources
from claimflow.demo.bridge import EventLedger
from claimflow.demo.generator import ClaimGenerator, GeneratorConfig, to_attribute_values
from claimflow.demo.pipeline import ClaimPipeline
from claimflow.demo.reconcile import expected_row, reconcile
from claimflow.demo.runner import DemoOptions, _snowflake, run_demo
from claimflow.snowflake import SnowflakeSink
from claimflow.snowflake.spec import IS_DELETED

TOKEN = re.compile(r"[0-9a-f]{32}")
TABLE = "PhiReconcileClaims"


def test_each_pipeline_gets_its_own_demo_key_and_never_shows_it() -> None:
    first, second = ClaimPipeline(), ClaimPipeline()
    try:
        keys = [p.claim_settings().hmac_key for p in (first, second)]
        assert first.claim_settings().phi_mode is PhiMode.PSEUDONYMIZE  # the shipped flow's default
        assert keys[0] is not None and keys[1] is not None and keys[0] != keys[1]  # generated per run
        assert all(hmac_key_problem(k) is None and len(k) == 64 for k in keys if k)  # token_urlsafe(48)
        assert "demo-only" in first.description.phi and "Pseudonymize" in first.description.phi
        shown = repr(first.description) + repr(first.claim_settings()) + repr(first._pipeline.__dict__)
        assert keys[0].decode() not in shown  # neither the description, the settings nor the stages show it
        assert all("HMAC Key" not in p for p in first.description.properties.values())
    finally:
        first.close()
        second.close()


def test_pass_through_a_given_key_and_refusals() -> None:
    plain = ClaimPipeline(phi_handling="Pass Through")
    key = secrets.token_urlsafe(40)
    given = ClaimPipeline(hmac_key=key)
    try:
        assert plain.claim_settings().phi_mode is PhiMode.PASSTHROUGH and plain.claim_settings().hmac_key is None
        assert plain.description.properties["TransformClaimChange"]["PHI Handling"] == "Pass Through"
        assert given.claim_settings().hmac_key == key.encode() and "given by the caller" in given.description.phi
    finally:
        plain.close()
        given.close()
    weak = "a1" * 20  # 40 bytes, two distinct
    with pytest.raises(ValueError, match="too little variety") as refused:
        ClaimPipeline(hmac_key=weak)
    assert weak not in str(refused.value)
    with pytest.raises(ValueError, match="Pass Through or Pseudonymize only"):
        ClaimPipeline(phi_handling="Safe Harbor", hmac_key=key)
    with pytest.raises(ValueError, match="PHI Handling must be one of"):
        ClaimPipeline(phi_handling="pseudonymise")


def _live_identifiers(workdir: Path) -> list[tuple[Any, ...]]:
    """phiMode and the direct identifiers of the live claims in the DuckDB file a demo run kept."""
    import duckdb

    (database,) = (workdir / "snowflake").glob("*.db")
    with duckdb.connect(str(database), read_only=True) as db:
        columns = ", ".join(DIRECT_IDENTIFIERS)
        return db.execute(f"SELECT phiMode, {columns} FROM CDC.CLAIMS_CURRENT WHERE NOT {IS_DELETED}").fetchall()


def test_reconciliation_recomputes_each_token_and_catches_a_wrong_one(aws: Any, tmp_path: Path) -> None:
    resources = ensure_resources(aws, TABLE, "PhiReconcileStream", shards=1)
    generator = ClaimGenerator(GeneratorConfig(claims=2, seed=11))
    items = [to_attribute_values(generator.new_claim(i)) for i in range(2)]
    ids = [item["claim_id"]["S"] for item in items]
    keyed = ClaimSettings(phi_mode=PhiMode.PSEUDONYMIZE, hmac_key=secrets.token_bytes(48))
    other_key = ClaimSettings(phi_mode=PhiMode.PSEUDONYMIZE, hmac_key=secrets.token_bytes(48))
    ledger = EventLedger()
    rows = []
    for number, item in enumerate(items):
        aws.dynamodb.put_item(TableName=TABLE, Item=item)
        when = 1_780_000_000_000_000 + number
        plain = expected_row(item, "us-east-1", TABLE, when, ClaimSettings())
        row = expected_row(item, "us-east-1", TABLE, when, keyed)
        for column in DIRECT_IDENTIFIERS:  # every identifier the source has is the keyed token of its value
            assert plain[column] is not None, column
            assert row[column] == pseudonym(keyed.hmac_key or b"", column, plain[column]) != plain[column]
        assert row["phiMode"] == "pseudonymized"
        row["eventId"] = f"event-{number}"
        ledger.add(row["eventId"], "INSERT")
        rows.append(row)
    with _snowflake(DemoOptions(workdir=tmp_path)) as (connection, _):
        SnowflakeSink(connection).write_batch(rows)

        def problems(settings: ClaimSettings) -> list[str]:
            return reconcile(connection, aws.dynamodb, resources.table_name, "us-east-1", ledger, settings).problems

        assert problems(keyed) == []
        (wrong_key,) = problems(other_key)  # same values, another key: every identifier differs
        assert all(column in wrong_key for column in DIRECT_IDENTIFIERS) and ids[0] in wrong_key
        (unkeyed,) = problems(ClaimSettings())  # Pass Through expected against tokens
        assert "patientLastName" in unkeyed

        cursor = connection.cursor()
        original = rows[0]["patientLastName"]
        swapped = pseudonym(other_key.hmac_key or b"", "patientLastName", "someone else")
        cursor.execute("UPDATE CLAIMS_CURRENT SET patientLastName = ? WHERE claimId = ?", [swapped, ids[0]])
        (problem,) = problems(keyed)
        assert ids[0] in problem and "patientLastName" in problem and ids[1] not in problem
        assert "patientFirstName" not in problem and swapped not in problem and original not in problem
        with pytest.raises(ValueError, match="Pass Through and Pseudonymize rows only"):
            problems(ClaimSettings(phi_mode=PhiMode.SAFE_HARBOR, hmac_key=secrets.token_bytes(48)))


def test_expected_rows_agree_with_the_builders_pseudonymize_rows_and_catch_a_changed_column(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The reconciliation builds each item once (Pass Through) and tokenises it itself: on generated claims, extra
    attributes included, that is exactly the row the processors' builder makes with Pseudonymize; a builder whose
    Pseudonymize step also changed another column would differ from it."""
    from claimflow.claims import build_row
    from claimflow.claims import phi as phi_module
    from claimflow.demo.generator import NEW_ATTRIBUTE
    from claimflow.demo.reconcile import compare_rows
    from claimflow.events import decode_record

    keyed = ClaimSettings(phi_mode=PhiMode.PSEUDONYMIZE, hmac_key=secrets.token_bytes(48))
    generator = ClaimGenerator(GeneratorConfig(claims=300, seed=23))
    items = [to_attribute_values(generator.new_claim(i)) for i in range(300)]
    assert sum(NEW_ATTRIBUTE in item for item in items) >= 3
    when = 1_780_000_000_000_000

    def builders_row(item: dict[str, Any]) -> dict[str, Any]:
        # The processors' own Pseudonymize row, from the same record the reconciliation decodes.
        from claimflow.demo.bridge import encode_image

        image = encode_image(item)
        record = {
            "awsRegion": "us-east-1", "eventID": "reconcile", "eventName": "INSERT", "userIdentity": None,
            "recordFormat": "application/json", "tableName": TABLE, "eventSource": "aws:dynamodb",
            "dynamodb": {"ApproximateCreationDateTime": when, "ApproximateCreationDateTimePrecision": "MICROSECOND",
                         "Keys": {"claim_id": image["claim_id"]}, "NewImage": image, "SizeBytes": 0},
        }  # fmt: skip
        return build_row(decode_record(record), keyed, when)

    for item in items:
        expected = expected_row(item, "us-east-1", TABLE, when, keyed)
        assert expected == builders_row(item)
        assert expected["phiMode"] == "pseudonymized"
    carrying = next(item for item in items if NEW_ATTRIBUTE in item)
    tokens = expected_row(carrying, "us-east-1", TABLE, when, keyed)["extraAttributes"]
    assert tokens and all(TOKEN.fullmatch(token) for token in tokens.values())

    real_apply_phi = phi_module.apply_phi

    def also_blanks_the_payer(row: dict[str, Any], settings: ClaimSettings) -> None:
        real_apply_phi(row, settings)
        if settings.phi_mode is PhiMode.PSEUDONYMIZE:
            row["payerName"] = None  # a fault: Pseudonymize must leave non-identifiers alone

    from claimflow.claims import build as build_module

    monkeypatch.setattr(build_module, "apply_phi", also_blanks_the_payer)
    faulty = builders_row(items[0])
    assert compare_rows(expected_row(items[0], "us-east-1", TABLE, when, keyed), faulty) == ["payerName"]


def _small_run(tmp_path: Path, name: str, phi_handling: str | None = None) -> Any:
    # Own table and stream names: moto's backends are per process, so runs in one process must not share names.
    return run_demo(DemoOptions(
        claims=30, seed=5, shards=2, batch_size=40, workdir=tmp_path / name, table_name=f"PhiClaims{name}",
        stream_name=f"phi-claims-{name}", phi_handling=phi_handling,
    ))  # fmt: skip


def test_demo_pseudonymises_by_default_and_passes_through_on_request(tmp_path: Path) -> None:
    default = _small_run(tmp_path, "keyed")
    assert default.reconciliation.ok, default.reconciliation.problems
    assert default.reconciliation.source_claims > 0 and "demo-only" in default.pipeline.phi
    plain = _small_run(tmp_path, "plain", "Pass Through")
    assert plain.reconciliation.ok, plain.reconciliation.problems
    assert plain.pipeline.phi.startswith("Pass Through")
    # The same claims: what Snowflake holds differs exactly by the PHI handling.
    for workdir, mode, tokens in (("keyed", "pseudonymized", True), ("plain", "passthrough", False)):
        found = _live_identifiers(tmp_path / workdir)
        assert len(found) == default.reconciliation.source_claims
        assert {row[0] for row in found} == {mode}
        values = [v for row in found for v in row[1:] if v is not None]
        assert values and all(bool(TOKEN.fullmatch(str(v))) is tokens for v in values), workdir


def test_demo_cli_uses_the_given_key_and_never_prints_or_writes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    key = secrets.token_urlsafe(48)
    monkeypatch.setenv("CLAIMFLOW_DEMO_HMAC_KEY", key)
    workdir = tmp_path / "demo"
    names = ["--table", "PhiCliClaims", "--stream", "phi-cli-claims"]  # not shared with other runs in this process
    assert main(["demo", "--claims", "20", "--seed", "8", "--shards", "1", "--workdir", str(workdir), *names]) == 0
    out = capsys.readouterr()
    assert out.out.rstrip().endswith("reconciled")
    assert "PHI Handling: Pseudonymize (HMAC key: given by the caller)" in out.out
    assert key not in out.out + out.err
    written = [p for p in workdir.rglob("*") if p.is_file()]
    assert written and all(key.encode() not in p.read_bytes() for p in written)

    monkeypatch.setenv("CLAIMFLOW_DEMO_HMAC_KEY", "0" * 48)
    assert main(["demo", "--claims", "5", "--workdir", str(workdir)]) == 2
    refused = capsys.readouterr().out
    assert "$CLAIMFLOW_DEMO_HMAC_KEY" in refused and "too little variety" in refused and "0" * 48 not in refused
