"""The real module holds the Py4J gateway. Offline there is no JVM: both handles stay None."""


class JvmHolder:
    jvm = None
    gateway = None
    java_gateway = None


def ArrayList(items=None):
    """A Python list stands in for java.util.ArrayList."""
    return list(items or [])
