"""Offline stand-in for NiFi's Python runtime: run and test ClaimFlow processors without NiFi."""
