"""Shipping ClaimFlow: the NiFi / Openflow flow definitions (one Python description, exported as the JSON NiFi
imports), the reader that gives the demo the Python stages in wiring order, and the NAR builder."""
