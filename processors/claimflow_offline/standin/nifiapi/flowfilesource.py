"""FlowFileSource (NiFi 2.0.0-M4+): create FlowFiles without input (same names as the real module)."""

from abc import ABC, abstractmethod

from nifiapi.__jvm__ import ArrayList
from nifiapi.properties import ProcessContext


class FlowFileSource(ABC):
    identifier = None
    logger = None

    def __init__(self):
        self.arrayList = ArrayList

    def setContext(self, context):
        self.process_context = ProcessContext(context)

    def createFlowFile(self):
        return self.create(self.process_context)

    @abstractmethod
    def create(self, context):
        pass


class FlowFileSourceResult:
    class Java:
        implements = ["org.apache.nifi.python.processor.FlowFileSourceResult"]

    def __init__(self, relationship, attributes=None, contents=None):
        self.relationship = relationship
        self.attributes = attributes
        if contents is not None and isinstance(contents, str):
            self.contents = str.encode(contents)
        else:
            self.contents = contents

    def getRelationship(self):
        return self.relationship

    def getContents(self):
        return self.contents

    def getAttributes(self):
        if self.attributes is None:
            return None
        return {key: value for key, value in self.attributes.items()}
