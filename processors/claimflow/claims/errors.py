"""Errors of the claims core."""

from __future__ import annotations


class InvalidClaim(ValueError):
    """A change event cannot become a claim row. ``field`` names the column or part, ``rule`` the rule broken.

    The message never contains a value from the claim (values may be PHI).
    """

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: {rule}")
        self.field = field
        self.rule = rule
