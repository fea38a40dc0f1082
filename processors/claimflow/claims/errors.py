"""Errors of the claims core."""

from __future__ import annotations

from collections.abc import Iterable

Failure = tuple[str, str]  # (field: the column or part, rule: the rule it breaks)


class InvalidClaim(ValueError):
    """A change event cannot become a claim row, for one or more reasons.

    ``failures`` lists every rule the claim breaks, in column order, each as (field, rule); ``field`` and ``rule``
    are the first. The message is ``field: rule`` per failure, joined by ``; ``. It never contains a value from
    the claim (values may be PHI).
    """

    def __init__(self, field: str, rule: str) -> None:
        self._set(((field, rule),))

    def _set(self, failures: tuple[Failure, ...]) -> None:
        self.failures = failures
        self.field, self.rule = failures[0]
        self.args = ("; ".join(f"{field}: {rule}" for field, rule in failures),)

    @classmethod
    def of(cls, failures: Iterable[Failure]) -> InvalidClaim:
        """One error for all of ``failures`` (at least one)."""
        collected = tuple(failures)
        if not collected:
            raise ValueError("InvalidClaim.of needs at least one failure")
        error = cls(*collected[0])
        error._set(collected)
        return error

    def prefixed(self, prefix: str) -> InvalidClaim:
        """The same failures with ``prefix`` before each field (a line's fields -> the claim's)."""
        return InvalidClaim.of((prefix + field, rule) for field, rule in self.failures)
