"""How claim rows are built: PHI handling and strictness."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

MIN_HMAC_KEY_BYTES = 32


class PhiMode(StrEnum):
    PASSTHROUGH = "passthrough"  # direct identifiers kept as written (protect them in Snowflake by masking policy)
    PSEUDONYMIZE = "pseudonymize"  # direct identifiers replaced by keyed HMAC-SHA256 tokens


@dataclass(frozen=True, slots=True)
class ClaimSettings:
    """Row-building settings.

    ``hmac_key`` must come from a secret store (a NiFi sensitive property, an environment variable), never from a
    command-line argument or a plain property. ``generalize_zip3`` keeps only the first three ZIP digits (000 for the
    sparsely populated ZIP3 areas) and drops the city; ``generalize_birth_year`` keeps only the year of birth and
    caps ages at 90. ``strict`` turns every data-quality finding into a rejection. A key given with passthrough mode
    is accepted and unused (a processor may keep its sensitive key property set while its mode is switched).

    Raises:
        ValueError: pseudonymize mode without a key of at least 32 bytes (or an unknown mode).
    """

    phi_mode: PhiMode = PhiMode.PASSTHROUGH
    hmac_key: bytes | None = None
    generalize_zip3: bool = False
    generalize_birth_year: bool = False
    strict: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "phi_mode", PhiMode(self.phi_mode))
        short_key = self.hmac_key is None or len(self.hmac_key) < MIN_HMAC_KEY_BYTES
        if self.phi_mode is PhiMode.PSEUDONYMIZE and short_key:
            raise ValueError(
                f"pseudonymize mode needs an HMAC key of at least {MIN_HMAC_KEY_BYTES} bytes "
                "(a random secret kept outside the data)"
            )

    def __repr__(self) -> str:  # never show the key
        key = "set" if self.hmac_key else "unset"
        return (
            f"ClaimSettings(phi_mode={self.phi_mode.value!r}, hmac_key=<{key}>, "
            f"generalize_zip3={self.generalize_zip3}, generalize_birth_year={self.generalize_birth_year}, "
            f"strict={self.strict})"
        )

    @classmethod
    def from_strings(
        cls,
        phi_mode: str | None = None,
        hmac_key: str | None = None,
        generalize_zip3: str | bool | None = None,
        generalize_birth_year: str | bool | None = None,
        strict: str | bool | None = None,
    ) -> ClaimSettings:
        """Settings from property-style strings ("true"/"false", mode names), as NiFi or the CLI hand them over.

        Raises:
            ValueError: an unknown mode or flag value, or a missing or short key in pseudonymize mode.
        """
        return cls(
            phi_mode=PhiMode((phi_mode or PhiMode.PASSTHROUGH.value).strip().lower()),
            hmac_key=hmac_key.encode() if hmac_key else None,
            generalize_zip3=_flag(generalize_zip3),
            generalize_birth_year=_flag(generalize_birth_year),
            strict=_flag(strict),
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
