"""The structural check: fhir.resources R4B models, with pydantic errors as Issues.

R4B models read R4 JSON for every type chiroref stores (the types and elements used
are unchanged between R4 4.0.1 and R4B 4.3.0). fhir.resources does not check codes
(ServiceRequest.status = 'foo' passes) nor most cardinalities of complex elements;
those are the rule trees' job.

Nor does it hold FHIR's JSON format (json.html) everywhere: pydantic's lax mode takes
`"true"` for a boolean, `"3"` for an integer, a number for a dateTime, and it lets `null`,
`[]` and `{}` through. The lean check (`profiles.lean_structure`) does hold them, so a
resource fhir.resources passes and the lean check faults is refused with the lean check's
issues: nothing is stored that a strict FHIR parser could not read back.
"""

from __future__ import annotations

import os
import re
from functools import cache
from typing import Any, Final

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from profiles import lean_structure
from profiles.issues import Issue
from profiles.lean_structure import json_type

_REQUIRED: Final = ("missing", "model_field_validation.missing")
_UNKNOWN: Final = ("extra_forbidden",)
_NAMES: Final = {"resource_type": "resourceType"}


def model_class(resource_type: str) -> Any:
    """The R4B model class, or None for a name that is not a FHIR model (only hits are
    cached, by fhir.resources: names come from requests and must not grow a cache)."""
    try:
        cls = get_fhir_model_class(resource_type)
    except (ValueError, KeyError, TypeError):
        return None
    return cls if cls.__name__ == resource_type else None


@cache
def reference_targets(resource_type: str, path: tuple[str, ...]) -> frozenset[str] | None:
    """The resource types the Reference at `path` (JSON names from the resource) may point
    at, as the R4 definitions give them (`enum_reference_types` of the R4B models); None for
    any type (`Reference(Any)`) or a path that does not end at a Reference."""
    cls = model_class(resource_type)
    for depth, name in enumerate(path):
        fields = {(f.alias or n): f for n, f in cls.model_fields.items()} if cls else {}
        if name not in fields:
            return None
        if depth == len(path) - 1:
            return targets_of(fields[name])
        _, kind, cls = lean_structure.classify(fields[name].annotation)
        if kind != "cplx":
            return None
    return None


def targets_of(field: Any) -> frozenset[str] | None:
    """The target types a Reference field of an R4B model lists (`enum_reference_types`);
    None when it takes any type (`Resource`) or is not a Reference."""
    extra = field.json_schema_extra
    types = extra.get("enum_reference_types") if isinstance(extra, dict) else None
    if not isinstance(types, list) or not types or "Resource" in types:
        return None
    return frozenset(str(t) for t in types)


def fhirpath(root: str, loc: tuple[int | str, ...]) -> str:
    """('identifier', 1, 'value') -> 'Root.identifier[1].value'; '_x' -> 'x'."""
    out = root
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            name = _NAMES.get(part, part).lstrip("_").removesuffix("__ext")
            out += f".{name.removesuffix('_fhir')}"
    return out


def code_of(error_type: str) -> str:
    if error_type in _REQUIRED:
        return "required"
    if error_type in _UNKNOWN:
        return "structure"
    return "value"


def message_of(error: Any) -> str:
    """pydantic's message in JSON's words: no `Value error, ` prefix, no Python types."""
    if error["type"] in _UNKNOWN:
        return "unknown element"
    if error["type"] == "model_validation_format":
        expected = (error.get("ctx") or {}).get("model_class", "complex datatype")
        return f"expected {expected} (a JSON object), got {json_type(error.get('input'))}"
    message = str(error["msg"]).split("\n")[0].removeprefix("Value error, ")
    found = error.get("input")
    if error["type"].startswith(("date", "time")) and not isinstance(found, str):
        return f"expected a string, got {json_type(found)}"
    return message


def check_resource_type(resource: Any) -> Issue | None:
    if not isinstance(resource, dict):
        return Issue("error", "structure", None, "a resource must be a JSON object")
    rtype = resource.get("resourceType")
    if not isinstance(rtype, str) or not rtype:
        return Issue("error", "required", "Resource.resourceType", "resourceType is missing")
    if model_class(rtype) is None:
        return Issue("error", "structure", "Resource.resourceType",
                     f"unknown resourceType {rtype!r}")
    return None


_fast_path = False


def use_fast_path(enabled: bool) -> None:
    """Whether `check_structure` skips `model_validate` when the lean check
    (`profiles.lean_structure`) finds no fault (`CHIROREF_STRUCTURE_FAST_PATH`; off by
    default). The lean check is stricter, never laxer (bench/structure_check.py), so a
    resource it passes is one fhir.resources passes, and the issues of a faulty one are
    the same either way. Process-wide: `create_app` sets it from its settings, so the last
    app created decides."""
    global _fast_path
    _fast_path = enabled


def check_structure(resource: dict[str, Any], root: str) -> list[Issue]:
    """Structural issues of a resource whose resourceType is known (see check_resource_type):
    fhir.resources' issues when it finds any, else the lean check's (the JSON-format rules
    fhir.resources does not hold), else none."""
    lean_passes = _lean_passes(resource)
    if _fast_path and lean_passes:
        return []
    try:
        model_class(resource["resourceType"]).model_validate(resource)
    except ValidationError as exc:
        return [_issue(root, e) for e in exc.errors()]
    except Exception as exc:  # fhir_core raises KeyError etc. for some malformed input
        return [Issue("error", "structure", root, f"malformed resource ({type(exc).__name__})")]
    return [] if lean_passes else _lean_issues(resource, root)


def _lean_passes(resource: dict[str, Any]) -> bool:
    try:
        return lean_structure.passes(resource)
    except Exception:  # a prototype's bug must not decide: model_validate does
        return False


def _lean_issues(resource: dict[str, Any], root: str) -> list[Issue]:
    """The lean check's faults in a resource fhir.resources passed; its depth limit is
    where it stops looking, not a fault, and a bug in it refuses nothing."""
    try:
        found = lean_structure.validate(resource, root)
    except Exception:
        return []
    return [Issue("error", code, path, message) for code, path, message in found
            if message != lean_structure.TOO_DEEP]


def _issue(root: str, error: Any) -> Issue:
    loc = tuple(error["loc"])
    if loc and loc[-1] == "root":  # pydantic's name for a RootModel's value, not FHIR's
        loc = loc[:-1]
    message = str(error["msg"])
    many = _ONE_OF_MANY.search(message) if error["type"] == "value_error" else None
    none = _NONE_OF_MANY.search(message) if error["type"] == "value_error" else None
    if many is not None or none is not None:  # fhir_core's checks of a choice element
        names = _NAME_IN_LIST.findall((many or none)[1])  # type: ignore[index]
        stem = _common_stem(names)
        where = fhirpath(root, (*loc, stem) if stem else loc)
        if none is not None:
            return Issue("error", "required", where, f"{stem or 'the choice'}[x] is required")
        given = error.get("input")
        present = [n for n in names if isinstance(given, dict) and n in given] or names
        return Issue("error", code_of(error["type"]), where,
                     f"only one of {', '.join(present)} may be present")
    return Issue("error", code_of(error["type"]), fhirpath(root, loc), message_of(error))


_ONE_OF_MANY: Final = re.compile(r"from this list \[(.*)\], but got multiple")
_NONE_OF_MANY: Final = re.compile(r"Expect any of field value from this list \[(.*)\]")
_NAME_IN_LIST: Final = re.compile(r"'([A-Za-z0-9_]+)'")


def _common_stem(names: list[str]) -> str:
    """occurrenceDateTime, occurrencePeriod -> occurrence: the longest common start that
    every name continues with a capital (valueDate, valueDateTime -> value)."""
    prefix = os.path.commonprefix(names) if names else ""  # noqa: RUF071 (names, not paths)
    for end in range(len(prefix), 0, -1):
        if all(len(name) > end and name[end].isupper() for name in names):
            return prefix[:end]
    return ""
