"""Documentation decorators. NiFi reads them from the source with ``ast``; at run time they change nothing."""

from nifiapi.__jvm__ import ArrayList


class ProcessorConfiguration:
    class Java:
        implements = ["org.apache.nifi.python.processor.documentation.ProcessorConfigurationDetails"]

    def __init__(self, processor_type: str, configuration: str):
        self.processor_type = processor_type
        self.configuration = configuration

    def getProcessorType(self):
        return self.processor_type

    def getConfiguration(self):
        return self.configuration


def use_case(description: str, configuration: str | None = None, notes: str | None = None,
             keywords: list[str] | None = None):
    """Describe how to configure the decorated processor for one use case (must be used call-style)."""

    def decorator(cls):
        return cls

    return decorator


def multi_processor_use_case(description: str, configurations: list[ProcessorConfiguration], notes: str | None = None,
                             keywords: list[str] | None = None):
    """Describe a use case spanning several processors (must be used call-style)."""

    def decorator(cls):
        return cls

    return decorator


class UseCaseDetails:
    def __init__(self, description: str, notes: str, keywords: list[str], configuration: str):
        self.description = description
        self.notes = notes
        self.keywords = keywords
        self.configuration = configuration

    def getDescription(self):
        return self.description

    def getNotes(self):
        return self.notes

    def getKeywords(self):
        return ArrayList(self.keywords)

    def getConfiguration(self):
        return self.configuration


class MultiProcessorUseCaseDetails:
    def __init__(self, description: str, notes: str, keywords: list[str], configurations: list):
        self.description = description
        self.notes = notes
        self.keywords = keywords
        self.configurations = configurations

    def getDescription(self):
        return self.description

    def getNotes(self):
        return self.notes

    def getKeywords(self):
        return ArrayList(self.keywords)

    def getConfigurations(self):
        return ArrayList(self.configurations)
