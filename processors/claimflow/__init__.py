"""ClaimFlow: healthcare-claims CDC for Apache NiFi and Snowflake Openflow (engine-agnostic core)."""

__version__ = "0.1.0"
