"""RecordTransform: NiFi reads the records, Python transforms each one (same names as the real module).

As in NiFi, records cross the boundary as JSON text encoded and decoded with the standard library's ``json``:
fractional numbers arrive as ``float`` and a returned record must be ``json.dumps``-able (a ``Decimal`` is not).
"""

import json
from abc import ABC, abstractmethod

from nifiapi.__jvm__ import ArrayList
from nifiapi.properties import ProcessContext


class RecordTransform(ABC):
    identifier = None
    logger = None

    def __init__(self):
        self.arrayList = ArrayList

    def setContext(self, context):
        self.process_context = ProcessContext(context)

    def transformRecord(self, jsonarray, schema, attributemap):
        parsed_array = json.loads(jsonarray)
        results = self.arrayList()
        caching_attribute_map = CachingAttributeMap(attributemap)
        for record in parsed_array:
            result = self.transform(self.process_context, record, schema, caching_attribute_map)
            result_record = result.getRecord()
            resultjson = None if result_record is None else json.dumps(result_record)
            results.append(__RecordTransformResult__(result, resultjson))
        return results

    @abstractmethod
    def transform(self, context, record, schema, attributemap):
        pass


class CachingAttributeMap:
    cache = None

    def __init__(self, delegate):
        self.delegate = delegate

    def getAttribute(self, attributeName):
        if self.cache is None:
            self.cache = {}
        if attributeName in self.cache:
            return self.cache[attributeName]
        value = self.delegate.getAttribute(attributeName)
        self.cache[attributeName] = value
        return value

    def getAttributes(self):
        return self.delegate.getAttributes()


class __RecordTransformResult__:
    class Java:
        implements = ["org.apache.nifi.python.processor.RecordTransformResult"]

    def __init__(self, processor_result, recordJson):
        self.processor_result = processor_result
        self.recordJson = recordJson

    def getRecordJson(self):
        return self.recordJson

    def getSchema(self):
        return self.processor_result.schema

    def getRelationship(self):
        return self.processor_result.relationship

    def getPartition(self):
        if self.processor_result.partition is None:
            return None
        return dict(self.processor_result.partition.items())


class RecordTransformResult:
    def __init__(self, record=None, schema=None, relationship="success", partition=None):
        self.record = record
        self.schema = schema
        self.relationship = relationship
        self.partition = partition

    def getRecord(self):
        return self.record

    def getSchema(self):
        return self.schema

    def getRelationship(self):
        return self.relationship

    def getPartition(self):
        return self.partition
