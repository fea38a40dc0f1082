"""Component state (NiFi 2.1+): the real classes wrap Java's StateManager; offline it is an in-memory store."""

from enum import Enum


class Scope(Enum):
    CLUSTER = 1
    LOCAL = 2


class StateException(Exception):
    """Raised when a state operation fails (the real one wraps a Py4JJavaError)."""


class StateMap:
    """A snapshot of one scope's state: string keys and values plus a version (None when never set)."""

    def __init__(self, values, version):
        self._values = dict(values)
        self._state_version = version

    def getStateVersion(self):
        return self._state_version

    def get(self, key):
        return self._values.get(key)

    def toMap(self):
        return dict(self._values)


class StateManager:
    """In-memory state per scope with NiFi's optimistic ``replace`` (compare the version, then swap)."""

    def __init__(self, store=None):
        # store: {Scope: (values dict, version int)}; shared by the runner so state survives restarts.
        self._store = store if store is not None else {}

    def setState(self, state, scope):
        self._check(state, scope)
        _, version = self._store.get(scope, ({}, -1))
        self._store[scope] = ({str(k): str(v) for k, v in state.items()}, version + 1)

    def getState(self, scope):
        if not isinstance(scope, Scope):
            raise StateException("Get state failed")
        values, version = self._store.get(scope, ({}, None))
        return StateMap(values, version)

    def replace(self, oldValue, newValue, scope):
        """Swap the state only if nobody changed it since ``oldValue`` was read; returns whether it did."""
        self._check(newValue, scope)
        _, current = self._store.get(scope, ({}, None))
        if current != oldValue.getStateVersion():
            return False
        next_version = (current if current is not None else -1) + 1
        self._store[scope] = ({str(k): str(v) for k, v in newValue.items()}, next_version)
        return True

    def clear(self, scope):
        if not isinstance(scope, Scope):
            raise StateException("Clear state failed")
        _, version = self._store.get(scope, ({}, -1))
        self._store[scope] = ({}, version + 1)

    @staticmethod
    def _check(state, scope):
        if not isinstance(scope, Scope) or not isinstance(state, dict):
            raise StateException("Set state failed")
