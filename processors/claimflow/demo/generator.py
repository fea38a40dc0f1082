"""Synthetic insurance claims with a lifecycle, written into DynamoDB through boto3.

What a claim holds (codes, NPIs, patients, providers, payers, money) is ``claimflow.claims.content``'s, the one
source the tests and the benchmark draw from too; this module adds patient and provider pools, lifecycles and the
writes.

Lifecycle (each step a full PutItem, so DynamoDB emits INSERT then MODIFY events): Submitted -> In Review ->
Approved -> Paid, or Denied, sometimes followed by a corrected Resubmitted claim that goes through review
again. Some claims stay pending; some are deleted by a user (submitted in error); some reach the end of their
retention: the claim gets a TTL attribute (``expires_at``, epoch seconds) in the past and the demo then plays
DynamoDB's TTL service by deleting it, which the bridge reports with the TTL service ``userIdentity``.

Determinism: the same ``seed`` (and ``as_of``) gives the same items in the same order. Claims are produced in
chunks whose lifecycle steps are written in waves (one wave never holds the same claim twice, so BatchWriteItem
accepts it); memory does not grow with the number of claims.
"""

from __future__ import annotations

import functools
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeSerializer

from claimflow.claims import content
from claimflow.claims.content import APPROVED, DENIED, IN_REVIEW, PAID, PAYMENT_FOR_STATUS, RESUBMITTED, SUBMITTED
from claimflow.demo.aws import TTL_ATTRIBUTE

DEFAULT_AS_OF = date(2026, 10, 1)

# The attribute outside the claim schema some claims carry (see ClaimGenerator.new_claim).
NEW_ATTRIBUTE = "referral_source"
REFERRAL_SOURCES: tuple[Any, ...] = (
    "self", "primary care", "emergency department", {"channel": "web", "campaign": "flu-2025"},
)
PATIENT_POOL = 5000
PROVIDER_POOL = 150


# Patients and providers come from seeded pools, so claims share them as real ones do (cached: a pool member is
# drawn once per run).
@functools.cache
def _patient(seed: int, index: int, as_of: date) -> dict[str, Any]:
    return content.patient(random.Random(f"{seed}/patient/{index}"), index, as_of)


@functools.cache
def _provider(seed: int, index: int) -> dict[str, Any]:
    return content.provider(random.Random(f"{seed}/provider/{index}"))


@dataclass(frozen=True)
class GeneratorConfig:
    claims: int = 1000
    seed: int = 42
    as_of: date = DEFAULT_AS_OF  # "today" of the synthetic business: all claim dates lie before it
    chunk_size: int = 250
    stay_submitted: float = 0.08
    stay_in_review: float = 0.12
    denial_rate: float = 0.18
    resubmission_rate: float = 0.45  # of denied claims
    user_deletion_rate: float = 0.03
    ttl_expiry_rate: float = 0.05  # of finalized claims


@dataclass
class Write:
    """One step of one claim: a full item to put, or a key to delete (``ttl`` marks the simulated TTL service)."""

    claim_id: str
    item: dict[str, Any] | None
    ttl: bool = False


@dataclass
class GenerateStats:
    claims: int = 0
    puts: int = 0
    deletes: int = 0
    ttl_deletes: int = 0
    statuses: Counter[str] = field(default_factory=Counter)

    def count(self, wave: Sequence[Write]) -> None:
        for write in wave:
            if write.item is None:
                self.deletes += 1
                self.ttl_deletes += int(write.ttl)
            else:
                self.puts += 1
        self.claims += new_claims_in(wave)


def new_claims_in(wave: Sequence[Write]) -> int:
    """How many writes of ``wave`` put a new claim (its first, Submitted version)."""
    return sum(
        1 for write in wave
        if write.item is not None and write.item["claim_status"] == SUBMITTED and TTL_ATTRIBUTE not in write.item
    )  # fmt: skip


class ClaimGenerator:
    """Deterministic claims and their lifecycles. ``waves()`` yields lists of writes, each list safe for one batch."""

    def __init__(self, config: GeneratorConfig) -> None:
        self.config = config
        self._rng = random.Random(config.seed)

    def new_claim(self, index: int) -> dict[str, Any]:
        rng, cfg = self._rng, self.config
        patient = _patient(cfg.seed, rng.randrange(PATIENT_POOL), cfg.as_of)
        provider = _provider(cfg.seed, rng.randrange(PROVIDER_POOL))
        claim = content.submitted_claim(rng, patient, provider, cfg.as_of)
        # About one claim in 16 carries an attribute the claim schema does not know, as when the application starts
        # writing a new one: it must reach Snowflake in extraAttributes. Chosen from the id, so no random draw of
        # the other fields moves.
        if claim["claim_id"].endswith("0"):
            claim[NEW_ATTRIBUTE] = REFERRAL_SOURCES[int(claim["claim_id"][-2], 16) % len(REFERRAL_SOURCES)]
        return claim

    def lifecycle(self, index: int) -> list[Write]:
        """All writes of one claim, in order."""
        rng, cfg = self._rng, self.config
        claim = self.new_claim(index)
        cid = claim["claim_id"]
        steps: list[Write] = [Write(cid, dict(claim))]

        def move(status: str, **changes: Any) -> None:
            claim.update(changes, claim_status=status, payment_status=PAYMENT_FOR_STATUS[status])
            steps.append(Write(cid, dict(claim)))

        roll = rng.random()
        if roll >= cfg.stay_submitted:
            move(IN_REVIEW)
            if roll >= cfg.stay_submitted + cfg.stay_in_review:
                if rng.random() < cfg.denial_rate:
                    move(DENIED)
                    if rng.random() < cfg.resubmission_rate:
                        corrected = content.diagnoses(rng)
                        move(RESUBMITTED, diagnosis_codes=corrected)
                        move(IN_REVIEW)
                        move(APPROVED)
                        move(PAID)
                else:
                    move(APPROVED)
                    if rng.random() < 0.9:
                        move(PAID)
        final = claim["claim_status"] in (PAID, DENIED)
        fate = rng.random()
        if fate < cfg.user_deletion_rate:
            steps.append(Write(cid, None))
        elif final and fate < cfg.user_deletion_rate + cfg.ttl_expiry_rate:
            # Retention ended: the TTL attribute is set in the past, then the TTL service deletes the item.
            expiry = datetime.combine(date.fromisoformat(claim["bill_submit_date"]), datetime.min.time(), UTC)
            expiry += timedelta(days=rng.randint(30, 90))
            claim[TTL_ATTRIBUTE] = Decimal(int(expiry.timestamp()))
            steps.append(Write(cid, dict(claim)))
            steps.append(Write(cid, None, ttl=True))
        return steps

    def waves(self) -> Iterator[list[Write]]:
        """Writes grouped in waves: chunk by chunk, step by step. A wave never touches a claim twice."""
        cfg = self.config
        for start in range(0, cfg.claims, cfg.chunk_size):
            lifecycles = [self.lifecycle(i) for i in range(start, min(cfg.claims, start + cfg.chunk_size))]
            depth = max(len(steps) for steps in lifecycles)
            for step in range(depth):
                wave = [steps[step] for steps in lifecycles if step < len(steps)]
                if wave:
                    yield wave


_SERIALIZER = TypeSerializer()


def to_attribute_values(item: dict[str, Any]) -> dict[str, Any]:
    """A Python item (Decimal numbers) as DynamoDB attribute values, through boto3's own serializer."""
    return {k: _SERIALIZER.serialize(v) for k, v in item.items()}


# BatchWriteItem requests in flight at once: while the endpoint handles one, the next is built and serialised.
WRITERS = 2


def write_wave(
    dynamodb: Any, table_name: str, wave: Sequence[Write], max_attempts: int = 10, pool: Executor | None = None
) -> None:
    """BatchWriteItem in groups of 25, retrying unprocessed items with backoff; with ``pool``, the groups go out
    concurrently (a wave never touches a claim twice, so their order does not matter). Returns when every
    group is written.

    Raises:
        RuntimeError: when items remain unprocessed after ``max_attempts``.
    """
    groups = [wave[start : start + 25] for start in range(0, len(wave), 25)]
    if pool is None:
        for group in groups:
            _write_group(dynamodb, table_name, group, max_attempts)
        return
    for done in [pool.submit(_write_group, dynamodb, table_name, group, max_attempts) for group in groups]:
        done.result()  # re-raises the group's error


def _write_group(dynamodb: Any, table_name: str, group: Sequence[Write], max_attempts: int) -> None:
    requests: list[dict[str, Any]] = []
    for write in group:
        if write.item is None:
            requests.append({"DeleteRequest": {"Key": {"claim_id": {"S": write.claim_id}}}})
        else:
            requests.append({"PutRequest": {"Item": to_attribute_values(write.item)}})
    pending: dict[str, Any] = {table_name: requests}
    for attempt in range(max_attempts):
        unprocessed = dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
        if not unprocessed:
            return
        pending = unprocessed
        time.sleep(min(2.0, 0.05 * 2**attempt))
    raise RuntimeError(f"{len(pending[table_name])} writes still unprocessed after {max_attempts} attempts")


def generate(
    dynamodb: Any,
    table_name: str,
    config: GeneratorConfig,
    after_wave: Callable[[list[Write]], None] | None = None,
) -> GenerateStats:
    """Write ``config.claims`` claims with their lifecycles into the table; ``after_wave`` runs after each wave.

    Raises:
        ValueError: when ``config.as_of`` lies in the future (TTL expiries must be in the past).
    """
    if config.as_of > datetime.now(UTC).date():
        raise ValueError(f"--as-of {config.as_of} is in the future; simulated TTL expiries must lie in the past")
    stats = GenerateStats()
    with ThreadPoolExecutor(max_workers=WRITERS, thread_name_prefix="claimflow-writer") as pool:
        for wave in ClaimGenerator(config).waves():
            write_wave(dynamodb, table_name, wave, pool=pool)
            stats.count(wave)
            if after_wave:
                after_wave(wave)
    return stats
