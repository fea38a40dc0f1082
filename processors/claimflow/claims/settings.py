"""How claim rows are built: PHI handling, strictness, and how the event times of raw records are read."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from claimflow.event_time import DEFAULT_TIME_RULES, EventTimeRules, time_rules_from_strings

MIN_HMAC_KEY_BYTES = 32
MIN_HMAC_KEY_DISTINCT = 8  # distinct byte values: 48 random bytes in base64 have about 40; 'password' * 4 has 7
KEY_GENERATION_HINT = "generate one with: openssl rand -base64 48"


class PhiMode(StrEnum):
    PASSTHROUGH = "passthrough"  # direct identifiers kept as written (protect them in Snowflake by masking policy)
    PSEUDONYMIZE = "pseudonymize"  # direct identifiers replaced by keyed HMAC-SHA256 tokens
    SAFE_HARBOR = "safe-harbor"  # HIPAA Safe Harbor de-identification of the row (claimflow.claims.phi)


KEYED_MODES = frozenset({PhiMode.PSEUDONYMIZE, PhiMode.SAFE_HARBOR})


def hmac_key_problem(key: bytes | None) -> str | None:
    """Why ``key`` cannot key the pseudonyms (None: it can). Catches missing, short and low-variety keys (32 spaces,
    'a' * 32, '0' * 32, 'password' * 4: fewer than 8 distinct bytes); it cannot tell a random key from a guessable
    phrase, so generate keys (KEY_GENERATION_HINT). The message never repeats the key."""
    if key is None or len(key) < MIN_HMAC_KEY_BYTES:
        return f"an HMAC key of at least {MIN_HMAC_KEY_BYTES} bytes is needed (a random secret kept outside the data)"
    distinct = len(set(key))
    if distinct < MIN_HMAC_KEY_DISTINCT:
        return (
            f"the HMAC key has too little variety ({distinct} distinct characters, at least {MIN_HMAC_KEY_DISTINCT} "
            "needed): it must be random"
        )
    return None


@dataclass(frozen=True, slots=True)
class ClaimSettings:
    """Row-building settings.

    ``hmac_key`` must come from a secret store (a NiFi sensitive property, an environment variable), never from a
    command-line argument or a plain property; pseudonymize and safe-harbor modes need one that passes
    :func:`hmac_key_problem`. Safe-harbor mode implies ``generalize_zip3`` and ``generalize_birth_year``.
    ``generalize_zip3`` keeps only the first three ZIP digits (000 for the
    sparsely populated ZIP3 areas) and drops the city; ``generalize_birth_year`` keeps only the year of birth and
    caps ages at 90. ``strict`` turns every data-quality finding into a rejection. A key given with passthrough mode
    is accepted and unused (a processor may keep its sensitive key property set while its mode is switched).
    ``time_rules`` bound and place the event time of a raw Kinesis record the claim path decodes itself
    (:class:`claimflow.event_time.EventTimeRules`); a change event's time was read by the decoder already.

    Raises:
        ValueError: pseudonymize or safe-harbor mode without a usable key (or an unknown mode).
    """

    phi_mode: PhiMode = PhiMode.PASSTHROUGH
    hmac_key: bytes | None = None
    generalize_zip3: bool = False
    generalize_birth_year: bool = False
    strict: bool = False
    time_rules: EventTimeRules = DEFAULT_TIME_RULES

    def __post_init__(self) -> None:
        object.__setattr__(self, "phi_mode", PhiMode(self.phi_mode))
        if self.phi_mode in KEYED_MODES:
            problem = hmac_key_problem(self.hmac_key)
            if problem is not None:
                raise ValueError(f"{self.phi_mode.value} mode: {problem}; {KEY_GENERATION_HINT}")
        if self.phi_mode is PhiMode.SAFE_HARBOR:
            object.__setattr__(self, "generalize_zip3", True)
            object.__setattr__(self, "generalize_birth_year", True)

    def __repr__(self) -> str:  # never show the key
        key = "set" if self.hmac_key else "unset"
        return (
            f"ClaimSettings(phi_mode={self.phi_mode.value!r}, hmac_key=<{key}>, "
            f"generalize_zip3={self.generalize_zip3}, generalize_birth_year={self.generalize_birth_year}, "
            f"strict={self.strict}, time_rules={self.time_rules!r})"
        )

    @classmethod
    def from_strings(
        cls,
        phi_mode: str | None = None,
        hmac_key: str | None = None,
        generalize_zip3: str | bool | None = None,
        generalize_birth_year: str | bool | None = None,
        strict: str | bool | None = None,
        max_clock_skew: str | None = None,
        millisecond_since: str | None = None,
    ) -> ClaimSettings:
        """Settings from property-style strings ("true"/"false", mode names, a time period such as "15 min", an
        ISO 8601 date-time), as NiFi or the CLI hand them over.

        Raises:
            ValueError: an unknown mode or flag value, a missing or weak key in a keyed mode, or an unreadable or
                out-of-bounds event-time setting (:func:`claimflow.event_time.time_rules_from_strings`).
        """
        return cls(
            phi_mode=PhiMode((phi_mode or PhiMode.PASSTHROUGH.value).strip().lower()),
            hmac_key=hmac_key.encode() if hmac_key else None,
            generalize_zip3=_flag(generalize_zip3),
            generalize_birth_year=_flag(generalize_birth_year),
            strict=_flag(strict),
            time_rules=time_rules_from_strings(max_clock_skew, millisecond_since),
        )


def _flag(value: str | bool | None) -> bool:
    if value is None or isinstance(value, bool):
        return bool(value)
    text = value.strip().lower()
    if text in ("true", "yes", "1", "on"):
        return True
    if text in ("false", "no", "0", "off", ""):
        return False
    raise ValueError("expected true or false")
