"""Properties, validators and contexts: the offline counterpart of the real ``nifiapi.properties``.

Same public names and semantics as NiFi 2.x: ``PropertyDescriptor`` with the real keyword arguments,
``StandardValidators`` that really validate, ``ProcessContext.getProperty`` returning ``None`` when a property's
dependencies are unmet, and ``PythonPropertyValue`` with the real accessors. What needs Java in NiFi is done
here in Python: validation, time-period and data-size parsing, and Expression Language limited to attribute
references (``${attr}`` / ``${'attr name'}``) from a FlowFile's attributes, then the environment.
"""

import os
import re
import urllib.parse
from enum import Enum

from nifiapi.componentstate import StateManager


class ExpressionLanguageScope(Enum):
    NONE = 1
    ENVIRONMENT = 2
    FLOWFILE_ATTRIBUTES = 3


class ValidationResult:
    def __init__(self, subject="", explanation="", valid=False, input=None):
        self.subject = subject
        self.explanation = explanation
        self.valid = valid
        self.input = input

    def __repr__(self):
        state = "valid" if self.valid else "invalid"
        return f"ValidationResult({self.subject!r} {state}: {self.explanation})"


_EL_REFERENCE = re.compile(r"\$\{([^{}]*)}")


def is_expression_language_present(value):
    """True when the value holds a ``${...}`` expression (NiFi's test: an unescaped ``${``)."""
    return value is not None and _EL_REFERENCE.search(value) is not None


class Validator:
    """One of NiFi's standard validators: ``check(value)`` returns None when valid, else the reason."""

    def __init__(self, name, check, skips_expression_language=True):
        self.name = name
        self._check = check
        self._skips_el = skips_expression_language

    def validate(self, subject, value, el_supported):
        # Like Java's StandardValidators: a value holding EL is judged only after evaluation, at run time.
        if self._skips_el and el_supported and is_expression_language_present(value):
            return ValidationResult(subject, "Expression Language Present", True, value)
        reason = self._check(value)
        return ValidationResult(subject, reason or "Valid", reason is None, value)

    def __repr__(self):
        return f"StandardValidators.{self.name}"


def _integer_in(low, high, what):
    def check(value):
        try:
            number = int(value.strip())
        except (ValueError, AttributeError):
            return f"not a valid {what}"
        return None if low <= number <= high else f"{what} must be between {low} and {high}"

    return check


def _number(value):
    try:
        float(value)
    except (TypeError, ValueError):
        return "not a valid number"
    return None


def _boolean(value):
    return None if value is not None and value.lower() in ("true", "false") else "must be true or false"


def _non_empty(value):
    return None if value else "cannot be empty"


def _url(value):
    parsed = urllib.parse.urlparse(value or "")
    return None if parsed.scheme and parsed.netloc else "not a valid URL"


def _uri(value):
    parsed = urllib.parse.urlparse(value or "")
    return None if parsed.scheme else "not a valid URI"


def _regex(value):
    try:
        re.compile(value)
    except (re.error, TypeError) as error:
        return f"not a valid regular expression: {error}"
    return None


def _hostname_port_list(value):
    for item in (value or "").split(","):
        host, sep, port = item.strip().rpartition(":")
        if not sep or not host or _integer_in(1, 65535, "port")(port) is not None:
            return f"'{item.strip()}' is not a valid hostname:port"
    return None


def _file_exists(value):
    return None if value and os.path.exists(value) else "file does not exist"


_JAVA_INT = (-(2**31), 2**31 - 1)
_JAVA_LONG = (-(2**63), 2**63 - 1)


class StandardValidators:
    ALWAYS_VALID = Validator("ALWAYS_VALID", lambda value: None, skips_expression_language=False)
    NON_EMPTY_VALIDATOR = Validator("NON_EMPTY_VALIDATOR", _non_empty, skips_expression_language=False)
    INTEGER_VALIDATOR = Validator("INTEGER_VALIDATOR", _integer_in(*_JAVA_INT, "integer"))
    POSITIVE_INTEGER_VALIDATOR = Validator(
        "POSITIVE_INTEGER_VALIDATOR", _integer_in(1, _JAVA_INT[1], "positive integer")
    )
    POSITIVE_LONG_VALIDATOR = Validator("POSITIVE_LONG_VALIDATOR", _integer_in(1, _JAVA_LONG[1], "positive long"))
    NON_NEGATIVE_INTEGER_VALIDATOR = Validator(
        "NON_NEGATIVE_INTEGER_VALIDATOR", _integer_in(0, _JAVA_INT[1], "non-negative integer")
    )
    NUMBER_VALIDATOR = Validator("NUMBER_VALIDATOR", _number)
    LONG_VALIDATOR = Validator("LONG_VALIDATOR", _integer_in(*_JAVA_LONG, "long"))
    PORT_VALIDATOR = Validator("PORT_VALIDATOR", _integer_in(1, 65535, "port"))
    NON_EMPTY_EL_VALIDATOR = Validator("NON_EMPTY_EL_VALIDATOR", _non_empty)
    HOSTNAME_PORT_LIST_VALIDATOR = Validator("HOSTNAME_PORT_LIST_VALIDATOR", _hostname_port_list)
    BOOLEAN_VALIDATOR = Validator("BOOLEAN_VALIDATOR", _boolean)
    URL_VALIDATOR = Validator("URL_VALIDATOR", _url)
    URI_VALIDATOR = Validator("URI_VALIDATOR", _uri)
    REGULAR_EXPRESSION_VALIDATOR = Validator("REGULAR_EXPRESSION_VALIDATOR", _regex, skips_expression_language=False)
    REGULAR_EXPRESSION_WITH_EL_VALIDATOR = Validator("REGULAR_EXPRESSION_WITH_EL_VALIDATOR", _regex)
    TIME_PERIOD_VALIDATOR = Validator(
        "TIME_PERIOD_VALIDATOR", lambda value: None if _parse_time_period(value) else "not a valid time period"
    )
    DATA_SIZE_VALIDATOR = Validator(
        "DATA_SIZE_VALIDATOR", lambda value: None if _parse_data_size(value) else "not a valid data size"
    )
    FILE_EXISTS_VALIDATOR = Validator("FILE_EXISTS_VALIDATOR", _file_exists)


class PropertyDependency:
    def __init__(self, property_descriptor, *dependent_values):
        self.property_descriptor = property_descriptor
        self.dependent_values = dependent_values


class ResourceDefinition:
    def __init__(self, allow_multiple=False, allow_file=True, allow_url=False, allow_directory=False, allow_text=False):
        self.allow_multiple = allow_multiple
        self.allow_file = allow_file
        self.allow_url = allow_url
        self.allow_directory = allow_directory
        self.allow_text = allow_text


class PropertyDescriptor:
    def __init__(self, name, description, required=False, sensitive=False,
                 display_name=None, default_value=None, allowable_values=None,
                 dependencies=None, expression_language_scope=ExpressionLanguageScope.NONE,
                 dynamic=False, validators=None,
                 resource_definition=None, controller_service_definition=None):
        if validators is None:
            validators = [StandardValidators.ALWAYS_VALID]
        self.name = name
        self.description = description
        self.required = required
        self.sensitive = sensitive
        self.displayName = display_name
        self.defaultValue = None if default_value is None else str(default_value)
        self.allowableValues = allowable_values
        self.dependencies = dependencies
        self.expressionLanguageScope = expression_language_scope
        self.dynamic = dynamic
        self.validators = validators
        self.resourceDefinition = resource_definition
        self.controllerServiceDefinition = controller_service_definition

    def isExpressionLanguageSupported(self):
        return self.expressionLanguageScope not in (None, ExpressionLanguageScope.NONE)

    def validate(self, value):
        """Check one configured value (not None) as Java's PropertyDescriptor.validate does: allowable values
        first, then the validators up to the first failure. A ``${...}`` in a property without Expression Language
        support is plain text, as in NiFi."""
        subject = self.displayName or self.name
        if self.allowableValues is not None and value not in [str(v) for v in self.allowableValues]:
            allowed = ", ".join(str(v) for v in self.allowableValues)
            return [ValidationResult(subject, f"Given value not found in allowed set '{allowed}'", False, value)]
        results = []
        for validator in self.validators:
            results.append(validator.validate(subject, value, self.isExpressionLanguageSupported()))
            if not results[-1].valid:
                break
        return results

    def __repr__(self):
        return f"PropertyDescriptor({self.name!r})"


def dependencies_satisfied(descriptor, descriptor_lookup, value_lookup, cache=None, visiting=None):
    """NiFi's rule: every dependency's property is itself satisfied and holds one of the dependent values
    (or any value, when none are listed). A cycle counts as unsatisfied."""
    cache = {} if cache is None else cache
    visiting = set() if visiting is None else visiting
    name = descriptor.name
    if name in cache:
        return cache[name]
    if name in visiting:
        cache[name] = False
        return False
    visiting.add(name)
    satisfied = True
    for dependency in descriptor.dependencies or []:
        target = dependency.property_descriptor
        target_name = target if isinstance(target, str) else target.name
        target_descriptor = descriptor_lookup.get(target_name)
        if target_descriptor is None or not dependencies_satisfied(
            target_descriptor, descriptor_lookup, value_lookup, cache, visiting
        ):
            satisfied = False
            break
        value = value_lookup.get(target_name)
        values = list(dependency.dependent_values or [])
        if (not values and value is None) or (values and value not in values):
            satisfied = False
            break
    visiting.discard(name)
    cache[name] = satisfied
    return satisfied


class OfflineComponentContext:
    """What the Java ProcessContext provides, offline: the supported descriptors, the configured values,
    the component name, its state and its controller services. Built by claimflow_offline's TestRunner."""

    def __init__(self, descriptors, configured, name=None, state_manager=None, controller_services=None):
        self.descriptors = list(descriptors)
        self.configured = dict(configured)
        self.name = name
        self.state_manager = state_manager if state_manager is not None else StateManager()
        self.controller_services = dict(controller_services or {})
        self.yielded = False

    def value_lookup(self):
        return {d.name: self.configured.get(d.name, d.defaultValue) for d in self.descriptors}


class PropertyContext:
    def _build(self, component_context):
        self.java_context = component_context
        lookup = {d.name: d for d in component_context.descriptors}
        values = component_context.value_lookup()
        cache = {}
        self.property_values = {}
        self.descriptor_value_map = {}
        for descriptor in component_context.descriptors:
            if not dependencies_satisfied(descriptor, lookup, values, cache):
                continue
            string_value = values.get(descriptor.name)
            self.property_values[descriptor.name] = self.create_python_property_value(
                descriptor.isExpressionLanguageSupported(), component_context, string_value, descriptor
            )
            self.descriptor_value_map[descriptor] = string_value

    def create_python_property_value(self, el_supported, component_context, string_value, descriptor=None):
        scope = ExpressionLanguageScope.FLOWFILE_ATTRIBUTES
        if descriptor is not None:
            scope = descriptor.expressionLanguageScope
        return PythonPropertyValue(
            component_context, string_value, el_supported, is_expression_language_present(string_value), scope
        )

    def getProperty(self, descriptor):
        property_name = descriptor if isinstance(descriptor, str) else descriptor.name
        return self.property_values.get(property_name)

    def getProperties(self):
        return self.descriptor_value_map

    def newPropertyValue(self, value):
        return self.create_python_property_value(True, self.java_context, value)


class ProcessContext(PropertyContext):
    def __init__(self, java_context):
        self._build(java_context)
        self.name = java_context.name

    def getName(self):
        return self.name

    def yield_resources(self):
        self.java_context.yielded = True

    def getStateManager(self):
        return self.java_context.state_manager


class ValidationContext(PropertyContext):
    def __init__(self, java_context):
        self._build(java_context)


class TimeUnit(Enum):
    NANOSECONDS = "NANOSECONDS"
    MICROSECONDS = "MICROSECONDS"
    MILLISECONDS = "MILLISECONDS"
    SECONDS = "SECONDS"
    MINUTES = "MINUTES"
    HOURS = "HOURS"
    DAYS = "DAYS"


class DataUnit(Enum):
    B = "B"
    KB = "KB"
    MB = "MB"
    GB = "GB"
    TB = "TB"


# Units NiFi's FormatUtils accepts, in nanoseconds.
_TIME_UNITS_NS = {}
for _names, _ns in (
    (("ns", "nano", "nanos", "nanosecond", "nanoseconds"), 1),
    (("micros", "microsecond", "microseconds"), 1_000),
    (("ms", "milli", "millis", "millisecond", "milliseconds"), 1_000_000),
    (("s", "sec", "secs", "second", "seconds"), 1_000_000_000),
    (("m", "min", "mins", "minute", "minutes"), 60 * 1_000_000_000),
    (("h", "hr", "hrs", "hour", "hours"), 3_600 * 1_000_000_000),
    (("d", "day", "days"), 86_400 * 1_000_000_000),
    (("w", "wk", "wks", "week", "weeks"), 7 * 86_400 * 1_000_000_000),
):
    for _name in _names:
        _TIME_UNITS_NS[_name] = _ns
_UNIT_NS = {
    TimeUnit.NANOSECONDS: 1,
    TimeUnit.MICROSECONDS: 1_000,
    TimeUnit.MILLISECONDS: 1_000_000,
    TimeUnit.SECONDS: 1_000_000_000,
    TimeUnit.MINUTES: 60 * 1_000_000_000,
    TimeUnit.HOURS: 3_600 * 1_000_000_000,
    TimeUnit.DAYS: 86_400 * 1_000_000_000,
}
_DATA_UNITS_B = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
_AMOUNT_UNIT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]+)\s*$")


def _parse_time_period(value):
    """Nanoseconds in a NiFi time period such as '30 sec' or '5 mins'; None when unparseable."""
    match = _AMOUNT_UNIT.match(value or "")
    if not match or match.group(2).lower() not in _TIME_UNITS_NS:
        return None
    return float(match.group(1)) * _TIME_UNITS_NS[match.group(2).lower()]


def _parse_data_size(value):
    """Bytes in a NiFi data size such as '1 MB'; None when unparseable."""
    match = _AMOUNT_UNIT.match(value or "")
    if not match or match.group(2).upper() not in _DATA_UNITS_B:
        return None
    return float(match.group(1)) * _DATA_UNITS_B[match.group(2).upper()]


class ExpressionLanguageNotSupportedOffline(NotImplementedError):
    """The offline runtime evaluates only attribute references; functions need real NiFi."""


_ATTRIBUTE_NAME = re.compile(r"^(?:'([^']+)'|([^\s:'(){}\[\],;/*\\$][^\s:'(){}\[\],;/*\\$]*))$")


# Same effective character classes as NiFi's: the first character may not be a backslash or a "d" (NiFi's
# pattern spells "\\d" inside a raw string), so ${db} goes the full-evaluation way while ${filename} short-cuts.
_LEADING_REFERENCE = re.compile(
    r"\$\{(?:([^${}\[\],:;/*' \t\r\n\\d][^${}\[\],:;/*' \t\r\n]*)"
    r"|'([^${}\[\],:;/*' \t\r\n\\d][^${}\[\],:;/*'\t\r\n]*)')}"
)


def evaluate_attribute_references(value, attribute_map, scope):
    """Replace each ``${name}`` with the FlowFile attribute (FLOWFILE_ATTRIBUTES scope) or environment variable;
    an unknown name becomes the empty string, as in NiFi.

    Raises:
        ExpressionLanguageNotSupportedOffline: the expression uses a function or anything but a name.
    """

    # NiFi's Python side short-cuts a value that *starts* with a plain attribute reference: it evaluates to that
    # attribute alone (anything after the reference is dropped, a missing attribute gives ""), without Java.
    trivial = _LEADING_REFERENCE.match(value)
    if scope == ExpressionLanguageScope.FLOWFILE_ATTRIBUTES and trivial is not None:
        name = trivial.group(1) or trivial.group(2)
        found = None if attribute_map is None else attribute_map.getAttribute(name)
        return "" if found is None else found

    def replace(match):
        name_match = _ATTRIBUTE_NAME.match(match.group(1).strip())
        if name_match is None:
            raise ExpressionLanguageNotSupportedOffline(
                f"offline Expression Language supports only attribute references, not '{match.group(0)}'"
            )
        name = name_match.group(1) or name_match.group(2)
        found = None
        if scope == ExpressionLanguageScope.FLOWFILE_ATTRIBUTES and attribute_map is not None:
            found = attribute_map.getAttribute(name)
        if found is None:
            found = os.environ.get(name)
        return "" if found is None else found

    return _EL_REFERENCE.sub(replace, value)


class PythonPropertyValue:
    def __init__(self, property_value, string_value, el_supported, el_present, referenced_attribute):
        # property_value: the offline component context (NiFi: the Java PropertyValue);
        # referenced_attribute: here the Expression Language scope, used to evaluate offline.
        self.value = string_value
        self.property_value = property_value
        self.el_supported = el_supported
        self.el_present = el_present
        self.referenced_attribute = referenced_attribute

    def getValue(self):
        return self.value

    def isSet(self):
        return self.value is not None

    def isExpressionLanguagePresent(self):
        return self.el_present

    def asInteger(self):
        if self.value is None:
            return None
        return int(self.value)

    def asBoolean(self):
        if self.value is None:
            return None
        return self.value.lower() == "true"

    def asFloat(self):
        if self.value is None:
            return None
        return float(self.value)

    def asTimePeriod(self, time_unit):
        """The period converted to ``time_unit``, truncated like Java's long arithmetic."""
        if self.value is None:
            return None
        nanos = _parse_time_period(self.value)
        if nanos is None:
            raise ValueError(f"'{self.value}' is not a valid time period")
        return int(nanos // _UNIT_NS[time_unit])

    def asDataSize(self, data_unit):
        if self.value is None:
            return None
        size = _parse_data_size(self.value)
        if size is None:
            raise ValueError(f"'{self.value}' is not a valid data size")
        return size / _DATA_UNITS_B[data_unit.value]

    def asControllerService(self):
        services = getattr(self.property_value, "controller_services", {})
        if self.value not in services:
            raise LookupError(f"no controller service with identifier '{self.value}' registered offline")
        return services[self.value]

    def asResource(self):
        return self.value

    def asResources(self):
        return [] if self.value is None else [v.strip() for v in self.value.split(",")]

    def evaluateAttributeExpressions(self, attributeMap=None):
        """A new value with ``${...}`` references resolved from ``attributeMap`` (a FlowFile or attribute map
        offering ``getAttribute``); self when Expression Language is unsupported or absent."""
        if self.el_supported and self.el_present:
            evaluated = evaluate_attribute_references(self.value, attributeMap, self.referenced_attribute)
            return PythonPropertyValue(self.property_value, evaluated, self.el_supported, False, None)
        return self
