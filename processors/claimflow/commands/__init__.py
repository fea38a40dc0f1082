"""Subcommands of the claimflow command line (one module each)."""
