"""JSON Patch (RFC 6902) with JSON Pointers (RFC 6901). Pure: a document and a patch in, a
new document out; the input is never changed.

Every operation is supported: add, remove, replace, move, copy, test. A malformed patch
(not a list, unknown op, missing member, bad pointer) is 400; a patch that does not apply
(missing path, failed `test`) is 422, as FHIR servers answer (HAPI: 422 for a patch whose
result or application fails, 400 for one that cannot be read).
"""

from __future__ import annotations

import copy
from typing import Any

from service.errors import BadRequest, FhirError, Unprocessable

__all__ = ["PATCH_MEDIA_TYPE", "apply_patch", "without_empties"]

PATCH_MEDIA_TYPE = "application/json-patch+json"
_SHAPE = "each operation needs an op (add/remove/replace/move/copy/test) and a path"
_OPS = frozenset({"add", "remove", "replace", "move", "copy", "test"})


def _bad(message: str, index: int | None = None) -> FhirError:
    where = f"Patch[{index}]" if index is not None else None
    return BadRequest.of(message, where, code="structure")


def _fails(message: str, index: int) -> FhirError:
    return Unprocessable.of(message, f"Patch[{index}]", code="processing")


def pointer(text: Any, index: int) -> list[str]:
    """`/a/0/b~1c` -> ["a", "0", "b/c"]; "" is the whole document."""
    if not isinstance(text, str) or (text and not text.startswith("/")):
        raise _bad(f"path {text!r} is not a JSON Pointer", index)
    return [p.replace("~1", "/").replace("~0", "~") for p in text.split("/")[1:]]


def _index(parent: list[Any], token: str, index: int, *, insert: bool) -> int:
    if token == "-" and insert:
        return len(parent)
    if not token.isdigit() or (token != "0" and token.startswith("0")):
        raise _fails(f"{token!r} is not an array index", index)
    at = int(token)
    if at > len(parent) or (at == len(parent) and not insert):
        raise _fails(f"array index {at} is out of range", index)
    return at


def _parent(doc: Any, path: list[str], index: int) -> Any:
    node = doc
    for token in path[:-1]:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token, index, insert=False)]
        else:
            raise _fails(f"/{'/'.join(path)} does not exist", index)
    return node


def _get(doc: Any, path: list[str], index: int) -> Any:
    if not path:
        return doc
    parent, last = _parent(doc, path, index), path[-1]
    if isinstance(parent, dict) and last in parent:
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(parent, last, index, insert=False)]
    raise _fails(f"/{'/'.join(path)} does not exist", index)


def _remove(doc: Any, path: list[str], index: int) -> Any:
    if not path:
        raise _fails("cannot remove the whole document", index)
    parent, last = _parent(doc, path, index), path[-1]
    if isinstance(parent, dict) and last in parent:
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_index(parent, last, index, insert=False))
    raise _fails(f"/{'/'.join(path)} does not exist", index)


def _add(doc: Any, path: list[str], value: Any, index: int) -> Any:
    if not path:
        return value
    parent, last = _parent(doc, path, index), path[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, index, insert=True), value)
    else:
        raise _fails(f"cannot add below a {type(parent).__name__}", index)
    return doc


def _value(op: dict[str, Any], index: int) -> Any:
    if "value" not in op:
        raise _bad(f"{op['op']} needs a value", index)
    return copy.deepcopy(op["value"])


def _apply_one(doc: Any, op: dict[str, Any], index: int) -> Any:
    path, kind = pointer(op.get("path"), index), op["op"]
    if kind == "add":
        return _add(doc, path, _value(op, index), index)
    if kind == "remove":
        _remove(doc, path, index)
        return doc
    if kind == "replace":
        _get(doc, path, index)
        return _value(op, index) if not path else _replace(doc, path, op, index)
    if kind == "test":
        if _get(doc, path, index) != op.get("value", object()):
            raise _fails(f"test failed at {op.get('path')}", index)
        return doc
    source = pointer(op.get("from"), index)
    if kind == "move":
        if path[: len(source)] == source and path != source:
            raise _bad("cannot move a value into itself", index)
        return _add(doc, path, _remove(doc, source, index), index)
    return _add(doc, path, copy.deepcopy(_get(doc, source, index)), index)  # copy


def _replace(doc: Any, path: list[str], op: dict[str, Any], index: int) -> Any:
    parent, last = _parent(doc, path, index), path[-1]
    if isinstance(parent, list):
        parent[_index(parent, last, index, insert=False)] = _value(op, index)
    else:
        parent[last] = _value(op, index)
    return doc


def apply_patch(document: dict[str, Any], patch: Any) -> dict[str, Any]:
    """The patched copy; BadRequest (400) or Unprocessable (422), see the module docstring."""
    if not isinstance(patch, list):
        raise _bad("a JSON Patch is a JSON array of operations")
    doc: Any = copy.deepcopy(document)
    for index, op in enumerate(patch):
        if not isinstance(op, dict) or op.get("op") not in _OPS or "path" not in op:
            raise _bad(_SHAPE, index)
        doc = _apply_one(doc, op, index)
    if not isinstance(doc, dict):
        raise Unprocessable.of("the patched document is not a JSON object", code="processing")
    return doc


def without_empties(value: Any) -> Any:
    """A patched FHIR resource as a FHIR parser reads it back: elements left empty (`[]` or
    `{}`, e.g. by removing the last telecom) are dropped, innermost first, as HAPI's parser
    drops them, so that removing an array's last item is not refused by FHIR's JSON rules.
    The items of a `_x` array stay where they are: they line up with `x`'s."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            kept = _without_empties_in(key, item)
            if kept != [] and kept != {}:
                out[key] = kept
        return out
    return value


def _without_empties_in(key: str, value: Any) -> Any:
    if isinstance(value, list):
        items = [without_empties(v) for v in value]
        return items if key.startswith("_") else [v for v in items if v != {}]
    return without_empties(value)
