"""Lean structural validator for FHIR R4 JSON. It runs in front of fhir.resources
(`profiles.structure.check_structure`): with the opt-in fast path
(`CHIROREF_STRUCTURE_FAST_PATH`) a resource it passes skips `model_validate`; either way,
its faults in a resource fhir.resources passes (the JSON-format rules below that
fhir.resources does not hold) refuse that resource.

Tables are compiled once per model class from fhir.resources' R4B pydantic models
(`cls.model_fields`); validation walks the parsed JSON with those tables and never
builds a pydantic object.

Checks: unknown elements, array vs single, JSON type of primitives, FHIR R4 lexical
formats (XSD semantics: \\s means [ \\t\\n\\r]; regexes are anchored), calendar validity of
dates, integer ranges, required elements (pydantic-required complex fields and
`element_required` primitives, which `_x.extension` can stand in for), at most one / at
least one type of a choice element, nulls in arrays of complex types, resourceType
dispatch for Resource-typed fields (contained, Bundle.entry.resource, ...), `_x`
primitive-extension siblings. Where fhir.resources is stricter than the FHIR regexes, its
checks too (`_CORE_PATTERNS`: Unicode whitespace in string and code, base64 that decodes,
UUIDs of version 4), so that this check never accepts what fhir.resources refuses.

FHIR rules that fhir.resources does not enforce and this does (STRICT = True):
empty objects / arrays (ele-1, JSON format), null outside primitive arrays, `_x` arrays
of a different length than `x`, a null in `x` without an extension in `_x`; and the JSON
type of each primitive, where pydantic's lax mode converts (`"true"` for a boolean, `"3"`
for an integer, a number for a date or dateTime).

validate(resource) -> list of (code, expression, message); code is
'structure' | 'value' | 'required'.
"""

from __future__ import annotations

import base64
import math
import re
import types
from collections.abc import Callable, Iterable
from typing import Annotated, Any, Final, TypeAlias, Union, get_args, get_origin

from fhir.resources.R4B import get_fhir_model_class
from fhir_core.types import FhirBase, FhirElementOrResourceBase

STRICT = True
ALLOW_FHIR_COMMENTS = True  # fhir.resources has a `fhir_comments` field on every model
_NoneType = type(None)

# ---------------------------------------------------------------- primitive checkers
# FHIR R4 regexes (datatypes.html), with XSD's \s = [ \t\n\r]; all fullmatch.
_NWS = r"[^ \t\n\r]"
_YEAR = r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)"
_TZ = r"(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))"
_TIME = r"([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?"
_PATTERNS = {
    "code": rf"{_NWS}+([ \t\n\r]{_NWS}+)*",
    "id": r"[A-Za-z0-9\-.]{1,64}",
    "uri": rf"{_NWS}+",          # \S* ; empty values are not allowed anywhere in FHIR
    "url": rf"{_NWS}+",
    "canonical": rf"{_NWS}+",
    "oid": r"urn:oid:[0-2](\.(0|[1-9][0-9]*))+",
    # fhir.resources takes pydantic's UUID4: version 4, RFC 4122 variant
    "uuid": r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
    # R4: (\s*([0-9a-zA-Z\+/=]){4}\s*)+ rewritten without the ambiguous \s*\s* (no
    # catastrophic backtracking); same language.
    "base64Binary": r"[ \t\n\r]*([0-9a-zA-Z+/=]{4}[ \t\n\r]*)+",
    "date": rf"{_YEAR}(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?",
    "dateTime": rf"{_YEAR}(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])(T{_TIME}{_TZ})?)?)?",
    "instant": rf"{_YEAR}-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])T{_TIME}{_TZ}",
    "time": _TIME,
}
_DATES = {"date", "dateTime", "instant"}
# fhir.resources' own checks where they are stricter than the FHIR regexes above, so that this
# check never accepts what fhir.resources refuses. pydantic runs its patterns with Rust's
# regex, whose \s and \S are Unicode (White_Space); Python's Unicode \s is a superset of
# that set, so a Python match here implies a match there.
# - string: `[ \r\n\t\S]+` searched (unanchored): at least one character that is not
#   other whitespace (a value of only U+00A0 or U+000B is refused);
# - code: `^[^\s]+(\s[^\s]+)*$`: no leading, trailing or doubled Unicode whitespace;
# - base64Binary: pydantic's Base64Bytes decodes with `base64.b64decode` (padding rules).
_STRING_CONTENT = re.compile(r"[ \r\n\t\S]").search
_CORE_PATTERNS = {"code": re.compile(r"[^\s]+(\s[^\s]+)*").fullmatch}


def _decodes(v: str) -> bool:
    try:
        base64.b64decode(v.encode())
    except ValueError:  # binascii.Error
        return False
    return True


def _matcher(ptype: str) -> Callable[[str], bool]:
    """Whether a string is lexically a `ptype` for both the FHIR regex and fhir.resources."""
    fullmatch = re.compile(_PATTERNS[ptype]).fullmatch
    core = _CORE_PATTERNS.get(ptype)
    if core is not None:
        return lambda v: fullmatch(v) is not None and core(v) is not None
    if ptype == "base64Binary":
        return lambda v: fullmatch(v) is not None and _decodes(v)
    return lambda v: fullmatch(v) is not None
_INT_RANGE = {
    "integer": (-2147483648, 2147483647),
    "unsignedInt": (0, 2147483647),
    "positiveInt": (1, 2147483647),
    "integer64": (-9223372036854775808, 9223372036854775807),
}
_MONTH_DAYS = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def json_type(value: Any) -> str:
    """The JSON name of a parsed value's type: an object, an array, a string, a number, ..."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return _JSON_TYPES.get(type(value), "a value")


_JSON_TYPES: Final = {dict: "an object", list: "an array", str: "a string", type(None): "null"}


def _bad_calendar(v: str) -> bool:
    """Day beyond the month's length (the regex already bounds it by 31)."""
    if len(v) < 10 or v[8:10] <= "28":
        return False
    month, day = int(v[5:7]), int(v[8:10])
    if day > _MONTH_DAYS[month]:
        return True
    if month == 2 and day == 29:
        year = int(v[0:4])
        return not (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0))
    return False


Check: TypeAlias = Callable[[Any], str | None]


def _unpaired(v: str) -> str | None:
    """A lone surrogate (possible from Python's json, not from orjson) is not UTF-8 text;
    pydantic refuses it, so must this check."""
    if v.isascii():
        return None
    try:
        v.encode()
    except UnicodeEncodeError:
        return "not valid unicode text"
    return None


def _make_checker(ptype: str) -> Check:
    """A function value -> None | message, for one FHIR primitive type."""
    if ptype == "boolean":
        def check(v: Any) -> str | None:
            if v is True or v is False:
                return None
            return f"expected a boolean, got {json_type(v)}"
    elif ptype in _INT_RANGE:
        lo, hi = _INT_RANGE[ptype]

        def check(v: Any) -> str | None:
            if type(v) is not int:  # bool is not int here (type(True) is bool)
                return f"expected an integer ({ptype}), got {json_type(v)}"
            if v < lo or v > hi:
                return f"{ptype} out of range: {v}"
            return None
    elif ptype == "decimal":
        def check(v: Any) -> str | None:
            t = type(v)
            if t is int:
                return None
            if t is float:
                return None if math.isfinite(v) else "decimal must be finite"
            return f"expected a number (decimal), got {json_type(v)}"
    elif ptype in ("string", "markdown", "xhtml"):
        # string: [ \r\n\t\S]+ in XSD terms is any non-empty string;
        # markdown \s*(\S|\s)* and xhtml: any string, but FHIR values are never empty.
        def check(v: Any) -> str | None:
            if type(v) is not str:
                return f"expected a string ({ptype}), got {json_type(v)}"
            if not v:
                return f"empty {ptype}"
            if ptype == "string" and _STRING_CONTENT(v) is None:
                return "a string of only whitespace other than space, tab, CR and LF"
            return _unpaired(v)
    elif ptype in _DATES:
        fullmatch = re.compile(_PATTERNS[ptype]).fullmatch

        def check(v: Any) -> str | None:
            if type(v) is not str:
                return f"expected a string ({ptype}), got {json_type(v)}"
            if fullmatch(v) is None:
                return f"invalid {ptype}: {v!r}"
            if _bad_calendar(v):
                return f"invalid {ptype} (no such day): {v!r}"
            return None
    elif ptype in _PATTERNS:
        matches = _matcher(ptype)

        def check(v: Any) -> str | None:
            if type(v) is not str:
                return f"expected a string ({ptype}), got {json_type(v)}"
            if not matches(v):
                return f"invalid {ptype}: {v[:80]!r}"
            return _unpaired(v)
    else:
        raise NotImplementedError(ptype)
    return check


_CHECKERS: dict[str, Check] = {}


def checker(ptype: str) -> Check:
    c = _CHECKERS.get(ptype)
    if c is None:
        c = _CHECKERS[ptype] = _make_checker(ptype)
    return c


# annotation metadata class name -> FHIR primitive
_META_PRIMS = {
    "String": "string", "Code": "code", "Id": "id", "Uri": "uri", "Canonical": "canonical",
    "Url": "url", "Oid": "oid", "Markdown": "markdown", "Xhtml": "xhtml",
    "Decimal": "decimal", "Integer": "integer", "Integer64": "integer64",
    "UnsignedInt": "unsignedInt", "PositiveInt": "positiveInt", "Date": "date",
    "DateTime": "dateTime", "Instant": "instant", "Time": "time",
    "EncodedBytes": "base64Binary", "Base64Binary": "base64Binary", "UuidVersion": "uuid",
}

# ---------------------------------------------------------------- compiled tables
# field spec kinds
(PRIM, PRIM_LIST, CPLX, CPLX_LIST, RES, RES_LIST, EXT, EXT_LIST, COMMENTS, RTYPE, STR,
 PAT) = range(12)
_PLAIN_STRINGS = {"string", "markdown", "xhtml"}


class Table:
    __slots__ = (
        "choice_keys",
        "choices",
        "fields",
        "is_resource",
        "name",
        "required",
    )

    def __init__(self, name: str):
        self.name = name
        self.fields: dict[str, tuple] = {}
        self.required: tuple = ()   # (alias, ext alias or None)
        self.choices: tuple = ()    # required choices: (stem, frozenset of aliases)
        self.choice_keys: frozenset | None = None  # every choice alias, None if none
        self.is_resource = False


_TABLES: dict[type, Table] = {}
_RESOURCE_TABLES: dict[str, Table | None] = {}


def _unwrap(annotation: Any) -> tuple[bool, Any]:
    """(is_list, element annotation) with Optional/Union[..., None] removed."""
    is_list = False
    a = annotation
    while True:
        origin = get_origin(a)
        if origin is Union or origin is types.UnionType:
            args = [x for x in get_args(a) if x is not _NoneType]
            a = args[0]  # only FHIRResourceModel.id has 2 (Id | String); Resource overrides it
            continue
        if origin is list:
            is_list = True
            (a,) = get_args(a)
            continue
        return is_list, a


def classify(annotation: Any) -> tuple[bool, str, Any]:
    """(is_list, 'prim' | 'cplx' | 'res', primitive name | model class)."""
    is_list, a = _unwrap(annotation)
    if a is bool:
        return is_list, "prim", "boolean"
    if get_origin(a) is Annotated:
        for meta in a.__metadata__:
            name = _META_PRIMS.get(type(meta).__name__)
            if name is not None:
                return is_list, "prim", name
        raise NotImplementedError(f"primitive annotation {a!r}")
    if isinstance(a, type) and issubclass(a, FhirBase):
        if issubclass(a, FhirElementOrResourceBase):
            if not a._model_klass.endswith(".resource.Resource"):
                raise NotImplementedError(f"Element-typed field {a!r}")
            return is_list, "res", None
        return is_list, "cplx", a.get_model_klass()
    raise NotImplementedError(f"annotation {annotation!r}")


def table_for(cls: Any) -> Table:
    """The compiled table of a model class (and, lazily, of everything it reaches)."""
    tab = _TABLES.get(cls)
    if tab is not None:
        return tab
    tab = _TABLES[cls] = Table(cls.__name__)  # registered first: the type graph has cycles
    tab.is_resource = bool(cls.has_resource_base())
    fields: dict[str, tuple] = {}
    required: list[tuple] = []
    choices: dict[str, list] = {}
    choice_required: dict[str, bool] = {}
    model_fields = cls.model_fields
    for fname, f in model_fields.items():
        alias = f.alias or fname
        extra = f.json_schema_extra or {}
        if fname == "fhir_comments":
            if ALLOW_FHIR_COMMENTS:
                fields[alias] = (COMMENTS, None, None, None)
            continue
        is_list, kind, arg = classify(f.annotation)
        stem = extra.get("one_of_many") or None
        if fname.endswith("__ext"):
            sub = table_for(arg)
            base = alias[1:]
            fields[alias] = (EXT_LIST if is_list else EXT, sub, base, None)
        elif kind == "prim":
            if is_list:
                fields[alias] = (PRIM_LIST, checker(arg), "_" + alias, stem)
            elif arg in _PLAIN_STRINGS:
                fields[alias] = (STR, arg, None, stem)
            elif arg in _PATTERNS and arg not in _DATES:
                fields[alias] = (PAT, _matcher(arg), arg, stem)
            else:
                fields[alias] = (PRIM, checker(arg), None, stem)
        elif kind == "cplx":
            fields[alias] = (CPLX_LIST if is_list else CPLX, table_for(arg), None, stem)
        else:
            fields[alias] = (RES_LIST if is_list else RES, None, None, stem)
        if extra.get("element_required"):
            ext = fname + "__ext"
            required.append((alias, model_fields[ext].alias if ext in model_fields else None))
        elif f.is_required():
            required.append((alias, None))
        if stem:
            choices.setdefault(stem, []).append(alias)
            choice_required[stem] = choice_required.get(stem, False) or (
                extra.get("one_of_many_required") is True)
    if tab.is_resource:
        fields["resourceType"] = (RTYPE, cls.__resource_type__, None, None)
    tab.fields = fields
    tab.required = tuple(required)
    tab.choices = tuple((s, frozenset(a)) for s, a in choices.items() if choice_required[s])
    tab.choice_keys = frozenset(a for v in choices.values() for a in v) or None
    return tab


_ABSTRACT = {"Resource", "DomainResource"}


def resource_table(rtype: Any) -> Table | None:
    """The table of a concrete resource type, None for anything else."""
    try:
        return _RESOURCE_TABLES[rtype]
    except KeyError:
        pass
    except TypeError:  # unhashable
        return None
    if not isinstance(rtype, str) or rtype in _ABSTRACT:
        return None
    try:
        cls = get_fhir_model_class(rtype)
    except (ValueError, KeyError, AttributeError, ImportError):
        return None  # not cached: arbitrary input must not grow the cache
    if cls.__name__ != rtype or not cls.has_resource_base():
        return None
    tab = _RESOURCE_TABLES[rtype] = table_for(cls)
    return tab


# ---------------------------------------------------------------- the walk
MAX_DEPTH = 48  # objects deep; deeper is a fault here, so fhir.resources judges it (its
# own recursion gives out at ~130 nested extensions in a server's stack)
EMPTY_OBJECT: Final = "empty object (ele-1)"
TOO_DEEP: Final = "nested too deeply"  # the walk's own limit: never a verdict on its own


def _walk(obj: dict, tab: Table, path: str, out: list, depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        out.append(("structure", path, TOO_DEEP))
        return
    fields = tab.fields
    for key, val in obj.items():
        spec = fields.get(key)
        if spec is None:
            out.append(("structure", f"{path}.{key}", "unknown element"))
            continue
        kind, arg, aux, _ = spec
        if val is None:
            if STRICT:
                out.append(("structure", f"{path}.{key.lstrip('_')}", "null is not allowed here"))
            continue
        if kind == STR:
            if type(val) is not str or not val:
                out.append(("structure" if type(val) is not str else "value", f"{path}.{key}",
                            f"expected a string ({arg}), got {json_type(val)}"
                            if type(val) is not str else f"empty {arg}"))
            elif arg == "string" and _STRING_CONTENT(val) is None:
                out.append(("value", f"{path}.{key}", "a string of only whitespace other than "
                            "space, tab, CR and LF"))
            elif (bad := _unpaired(val)) is not None:
                out.append(("value", f"{path}.{key}", bad))
        elif kind == PAT:
            if type(val) is not str:
                out.append(("structure", f"{path}.{key}",
                            f"expected a string ({aux}), got {json_type(val)}"))
            elif not arg(val):
                out.append(("value", f"{path}.{key}", f"invalid {aux}: {val[:80]!r}"))
            elif (bad := _unpaired(val)) is not None:
                out.append(("value", f"{path}.{key}", bad))
        elif kind == CPLX:
            if type(val) is dict and (val or not STRICT):
                _walk(val, arg, f"{path}.{key}", out, depth + 1)
            else:
                _not_object(val, f"{path}.{key}", out)
        elif kind == PRIM:
            msg = arg(val)
            if msg is not None:
                out.append(("structure" if msg.startswith("expected") else "value",
                            f"{path}.{key}", msg))
        elif kind == CPLX_LIST:
            if type(val) is list and val:
                sub = arg
                p = f"{path}.{key}"
                for i, item in enumerate(val):
                    if type(item) is dict and (item or not STRICT):
                        _walk(item, sub, f"{p}[{i}]", out, depth + 1)
                    else:
                        _not_object(item, f"{p}[{i}]", out)
            else:
                _not_array(val, f"{path}.{key}", out)
        elif kind == PRIM_LIST:
            if type(val) is list and val:
                check = arg
                exts = None
                for i, item in enumerate(val):
                    if item is None:  # a placeholder lining up with `_key`
                        if exts is None:
                            exts = obj.get(aux)
                        if STRICT and not (type(exts) is list and i < len(exts)
                                           and exts[i] is not None):
                            out.append(("structure", f"{path}.{key}[{i}]",
                                        "null without an extension in " + aux))
                    else:
                        msg = check(item)
                        if msg is not None:
                            out.append(("structure" if msg.startswith("expected") else "value",
                                        f"{path}.{key}[{i}]", msg))
            else:
                _not_array(val, f"{path}.{key}", out)
        elif kind == EXT:
            base = aux
            if type(val) is dict and (val or not STRICT):
                _walk(val, arg, f"{path}.{base}", out, depth + 1)
                _prim_ext_content(val, f"{path}.{base}", out)
            else:
                _not_object(val, f"{path}.{base}", out)
        elif kind == EXT_LIST:
            base = aux
            if type(val) is list and val:
                sub = arg
                for i, item in enumerate(val):
                    if item is None:
                        continue
                    if type(item) is dict and (item or not STRICT):
                        p = f"{path}.{base}[{i}]"
                        _walk(item, sub, p, out, depth + 1)
                        _prim_ext_content(item, p, out)
                    else:
                        _not_object(item, f"{path}.{base}[{i}]", out)
                values = obj.get(base)
                if STRICT and type(values) is list and len(values) != len(val):
                    out.append(("structure", f"{path}.{base}",
                                f"{key} has {len(val)} items, {base} has {len(values)}"))
            else:
                _not_array(val, f"{path}.{base}", out)
        elif kind == RES:
            _resource(val, f"{path}.{key}", out, depth + 1)
        elif kind == RES_LIST:
            if type(val) is list and val:
                p = f"{path}.{key}"
                for i, item in enumerate(val):
                    _resource(item, f"{p}[{i}]", out, depth + 1)
            else:
                _not_array(val, f"{path}.{key}", out)
        elif kind == RTYPE:
            if val != arg:
                out.append(("structure", f"{path}.resourceType",
                            f"expected resourceType {arg!r}, got {val!r}"))
        elif kind == COMMENTS and not (
            type(val) is str or (type(val) is list and all(type(x) is str for x in val))
        ):
            out.append(("structure", f"{path}.fhir_comments", "expected string(s)"))
    if tab.required:
        for alias, ext in tab.required:
            if obj.get(alias) is None:
                e = obj.get(ext) if ext else None
                if not (type(e) is dict and e.get("extension")):
                    out.append(("required", f"{path}.{alias}", f"{alias} is required"))
    if tab.choice_keys is not None:
        hit = tab.choice_keys.intersection(obj)
        if len(hit) > 1:
            _many_choices(obj, hit, fields, path, out)
        for stem, aliases in tab.choices:  # the required ones
            if hit.isdisjoint(aliases) or all(obj[k] is None for k in hit & aliases):
                out.append(("required", f"{path}.{stem}", f"{stem}[x] is required"))


def _many_choices(obj: dict, hit: set | frozenset, fields: dict, path: str, out: list) -> None:
    stems: dict[str, list[str]] = {}
    for key in obj:  # document order
        if key in hit and obj[key] is not None:
            stems.setdefault(fields[key][3], []).append(key)
    for stem, present in stems.items():
        if len(present) > 1:
            out.append(("structure", f"{path}.{stem}",
                        f"only one of {', '.join(present)} may be present"))


def _prim_ext_content(val: dict, path: str, out: list) -> None:
    if val.get("id") is None and val.get("extension") is None and val.get("fhir_comments") is None:
        out.append(("structure", path, "a primitive extension needs id or extension"))


def _not_object(val: Any, path: str, out: list) -> None:
    if type(val) is dict:  # empty
        if STRICT:
            out.append(("structure", path, EMPTY_OBJECT))
    elif val is None:
        out.append(("structure", path, "null is not allowed in an array of complex types"))
    else:
        out.append(("structure", path, f"expected an object, got {json_type(val)}"))


def _not_array(val: Any, path: str, out: list) -> None:
    if type(val) is list:  # empty
        if STRICT:
            out.append(("structure", path, "empty array"))
    else:
        out.append(("structure", path, f"expected an array, got {json_type(val)}"))


def _resource(val: Any, path: str, out: list, depth: int) -> None:
    if type(val) is not dict:
        out.append(("structure", path,
                    "null is not allowed in an array of complex types" if val is None
                    else f"expected a resource (an object), got {json_type(val)}"))
        return
    rtype = val.get("resourceType")
    tab = resource_table(rtype)
    if tab is None:
        out.append(("structure", f"{path}.resourceType",
                    "resourceType is missing" if rtype is None
                    else f"unknown resourceType {rtype!r}"))
        return
    _walk(val, tab, path, out, depth)


def validate(resource: Any, root: str | None = None) -> list[tuple[str, str, str]]:
    """Structural issues of a FHIR R4 JSON resource (parsed), as (code, path, message)."""
    out: list = []
    _check(resource, root, out)
    return out


class _Faulted(Exception):
    """Raised by `_FirstFault.append`: the walk stops at the first fault."""


class _FirstFault(list):
    """An issue list that ends the walk at its first issue (`passes`)."""

    def append(self, item: Any) -> None:
        raise _Faulted


def passes(resource: Any) -> bool:
    """Whether `resource` has no structural fault: `validate(resource) == []`, but the walk
    stops at the first fault, so a faulty resource costs at most one partial walk and
    builds no issue list (the fast path asks only this; fhir.resources words the faults)."""
    try:
        _check(resource, None, _FirstFault())
    except _Faulted:
        return False
    return True


def prepare(resource_types: Iterable[str]) -> None:
    """Compile the tables of `resource_types` (and of the datatypes they reach) now, at
    start-up, rather than on the first request of each type (~0.1-0.4 s in all). A
    resource of another type met inside one (contained, Bundle.entry.resource) is compiled
    when first met."""
    for rtype in resource_types:
        resource_table(rtype)


def _check(resource: Any, root: str | None, out: list) -> None:
    if type(resource) is not dict:
        out.append(("structure", root or "Resource", "a resource must be a JSON object"))
        return
    rtype = resource.get("resourceType")
    tab = resource_table(rtype)
    if tab is None:
        out.append(("required" if rtype is None else "structure",
                    f"{root or 'Resource'}.resourceType",
                    "resourceType is missing" if rtype is None
                    else f"unknown resourceType {rtype!r}"))
        return
    try:
        _walk(resource, tab, root or str(rtype), out)
    except RecursionError:
        out.append(("structure", root or str(rtype), TOO_DEEP))
