"""ClaimFlow's NiFi Python processors: thin adapters over the claimflow core, one class per file (see docs/processors.md)."""
