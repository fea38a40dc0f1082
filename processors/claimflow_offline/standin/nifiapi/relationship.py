"""Relationships a processor routes FlowFiles to (same constructor as the real ``nifiapi.relationship``)."""


class Relationship:
    def __init__(self, name, description, auto_terminated=False):
        self.name = name
        self.description = description
        self.auto_terminated = auto_terminated

    def __repr__(self):
        return f"Relationship({self.name!r})"

    def __eq__(self, other):
        return isinstance(other, Relationship) and other.name == self.name

    def __hash__(self):
        return hash(self.name)
