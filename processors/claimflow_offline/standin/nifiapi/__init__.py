"""ClaimFlow's offline stand-in for NiFi's ``nifiapi`` package.

The real package ships with NiFi (``$NIFI_HOME/python/api``) and reaches into the JVM through Py4J at import time,
so it cannot be imported outside NiFi. This stand-in keeps the real module, class and method names and
semantics, minus the JVM. It lives under ``claimflow_offline/standin/`` and is put on ``sys.path`` only by
``claimflow_offline.install_standin()``: it must never be importable from a NAR's root.
"""

STANDIN = True
