"""FlowFileTransform: one FlowFile in, exactly one result out (same names as the real module)."""

from abc import ABC, abstractmethod

from nifiapi.__jvm__ import ArrayList
from nifiapi.properties import ProcessContext


class FlowFileTransform(ABC):
    # Set by the runtime after construction (NiFi: PythonProcessorAdapter.initialize); not usable in __init__.
    identifier = None
    logger = None

    def __init__(self):
        self.arrayList = ArrayList

    def setContext(self, context):
        self.process_context = ProcessContext(context)

    def transformFlowFile(self, flowfile):
        return self.transform(self.process_context, flowfile)

    @abstractmethod
    def transform(self, context, flowFile):
        pass


class FlowFileTransformResult:
    class Java:
        implements = ["org.apache.nifi.python.processor.FlowFileTransformResult"]

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
        # Java copies into a HashMap<String, String>: keys and values must be strings.
        return {key: value for key, value in self.attributes.items()}
