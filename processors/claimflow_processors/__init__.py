"""ClaimFlow's NiFi Python processors: thin adapters over the claimflow core, one class per file.

See docs/processors.md.
"""
