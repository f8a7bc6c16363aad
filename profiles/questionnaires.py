"""Score a PROM QuestionnaireResponse into ChiroPromObservations. Pure.

The Questionnaires are chiroref's own (definitions/questionnaires/, canonical
`{BASE}/Questionnaire/<id>`): flat integer items whose linkIds (`odi-1` .. `odi-10`) and
answer ranges (minValue / maxValue) this module reads. An answer is a `valueInteger`, or a
`valueCoding` with an `ordinalValue` extension or an integer code. The arithmetic is
profiles.prom's.

`score_questionnaire_response` returns the Observations, or raises `UnscorableResponse`
carrying every problem as an Issue whose expression points into the response
(`QuestionnaireResponse.item[3].answer[0]`). A subscale or optional instrument part left
wholly unanswered (FABQ work for someone without paid work, the EQ VAS, NRS at rest) is
skipped; a partly answered one is scored by the instrument's missing-item rule or refused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from profiles import canonical as c
from profiles import prom
from profiles.checks import reference_type
from profiles.issues import Issue
from profiles.package import package
from profiles.prom_codes import BY_CODE

__all__ = ["ORDINAL_VALUE", "UnscorableResponse", "questionnaire_url",
           "score_questionnaire_response"]

ORDINAL_VALUE: Final = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
_MIN: Final = "http://hl7.org/fhir/StructureDefinition/minValue"
_MAX: Final = "http://hl7.org/fhir/StructureDefinition/maxValue"
_QR: Final = "QuestionnaireResponse"
_SCORABLE_STATUS: Final = ("completed", "amended")

Answers = Mapping[str, int | None]  # linkId -> answer (None: not answered)
Result = prom.Score | prom.Eq5dIndex
Scored = list[tuple[str, Result]]  # (prom-instrument code, score)


class UnscorableResponse(ValueError):
    """The response cannot be scored; `issues` say where and why."""

    def __init__(self, issues: Sequence[Issue]) -> None:
        super().__init__("; ".join(f"{i.expression}: {i.message}" for i in issues))
        self.issues = list(issues)


def questionnaire_url(questionnaire_id: str) -> str:
    return f"{c.QUESTIONNAIRE}/{questionnaire_id}"


# --- the instruments ------------------------------------------------------------------


def _items(answers: Answers, prefix: str, n: int) -> list[int | None]:
    return [answers.get(f"{prefix}-{i}") for i in range(1, n + 1)]


def _any(answers: Answers, links: Sequence[str]) -> bool:
    return any(answers.get(k) is not None for k in links)


def _single(answers: Answers, link: str, code: str, scorer: Callable[[int], Result]) -> Scored:
    value = answers.get(link)
    return [] if value is None else [(code, scorer(value))]


def _nrs(a: Answers) -> Scored:
    return (_single(a, "nrs-rest", "nrs-pain-rest", prom.nrs_pain)
            + _single(a, "nrs-activity", "nrs-pain-activity", prom.nrs_pain))


def _fabq(a: Answers) -> Scored:
    items = {n: a.get(f"fabq-{n}") for n in range(1, 17)}
    out: Scored = []
    for code, numbers, scorer in (
            ("fabq-physical", prom.FABQ_PHYSICAL_ITEMS, prom.fabq_physical),
            ("fabq-work", prom.FABQ_WORK_ITEMS, prom.fabq_work)):
        if _any(a, [f"fabq-{n}" for n in numbers]):
            out.append((code, scorer(items)))
    return out


def _eq5d(a: Answers, value_set: str) -> Scored:
    levels = _items(a, "eq5d5l", 5)
    out: Scored = []
    if any(v is not None for v in levels):
        out.append(("eq5d5l-index", prom.eq5d5l_index(levels, value_set)))
    return out + _single(a, "eq-vas", "eq-vas", prom.eq_vas)


SCORERS: Final[Mapping[str, Callable[[Answers, str], Scored]]] = {
    "odi": lambda a, _vs: [("odi", prom.odi(_items(a, "odi", 10)))],
    "ndi": lambda a, _vs: [("ndi", prom.ndi(_items(a, "ndi", 10)))],
    "nrs-pain": lambda a, _vs: _nrs(a),
    "hscl10": lambda a, _vs: [("hscl10-mean", prom.hscl10(_items(a, "hscl10", 10)))],
    "fabq": lambda a, _vs: _fabq(a),
    "eq5d5l": _eq5d,
    "pgic": lambda a, _vs: _single(a, "pgic-1", "pgic", prom.pgic),
}


# --- reading the response -------------------------------------------------------------


def _questionnaire(qr: Mapping[str, Any], issues: list[Issue]) -> dict[str, Any] | None:
    url = qr.get("questionnaire")
    found = package().resources.get(url.split("|")[0]) if isinstance(url, str) else None
    if found is None or found.get("resourceType") != "Questionnaire":
        issues.append(Issue("error", "not-supported", f"{_QR}.questionnaire",
                            f"not a chiroref PROM questionnaire: {url!r}; expected one of "
                            + ", ".join(questionnaire_url(q) for q in SCORERS)))
        return None
    return found


def _ranges(questionnaire: Mapping[str, Any]) -> dict[str, tuple[int, int]]:
    out = {}
    for item in questionnaire["item"]:
        ext = {e["url"]: e["valueInteger"] for e in item.get("extension", [])}
        out[item["linkId"]] = (ext[_MIN], ext[_MAX])
    return out


def _ordinal(coding: Any) -> int | None:
    if not isinstance(coding, dict):
        return None
    extensions = coding.get("extension")
    for ext in extensions if isinstance(extensions, list) else []:
        if isinstance(ext, dict) and ext.get("url") == ORDINAL_VALUE:
            value = ext.get("valueDecimal")
            if isinstance(value, int | float) and not isinstance(value, bool):
                return int(value) if float(value).is_integer() else None
            return None
    code = coding.get("code")
    return int(code) if isinstance(code, str) and code.lstrip("-").isdigit() else None


def _answer(answer: Any, at: str, issues: list[Issue]) -> int | None:
    """The integer an answer stands for, or None with an issue."""
    if isinstance(answer, dict) and "valueInteger" in answer:
        value = answer["valueInteger"]
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif isinstance(answer, dict) and "valueCoding" in answer:
        found = _ordinal(answer["valueCoding"])
        if found is None:
            issues.append(Issue("error", "code-invalid", f"{at}.valueCoding",
                                "a coded answer needs an ordinalValue extension or an "
                                "integer code"))
        return found
    issues.append(Issue("error", "value", at, "expected valueInteger or valueCoding"))
    return None


def _read_item(item: Any, at: str, ranges: Mapping[str, tuple[int, int]],
               answers: dict[str, int | None], issues: list[Issue]) -> None:
    link = item.get("linkId") if isinstance(item, dict) else None
    if not isinstance(link, str) or link not in ranges:
        issues.append(Issue("error", "value", f"{at}.linkId",
                            f"unknown linkId {link!r} for this questionnaire"))
        return
    if link in answers:
        issues.append(Issue("error", "structure", at, f"linkId {link} answered twice"))
        return
    given = item.get("answer") if isinstance(item.get("answer"), list) else []
    answers[link] = None
    if len(given) > 1:
        issues.append(Issue("error", "structure", f"{at}.answer[1]", "one answer expected"))
    if not given:
        return
    value = _answer(given[0], f"{at}.answer[0]", issues)
    low, high = ranges[link]
    if value is not None and not low <= value <= high:
        issues.append(Issue("error", "value", f"{at}.answer[0]",
                            f"{link}: {value} is outside {low}-{high}"))
        value = None
    answers[link] = value


def _header_issues(qr: Mapping[str, Any], reference: str | None) -> list[Issue]:
    out = []
    if qr.get("status") not in _SCORABLE_STATUS:
        out.append(Issue("error", "business-rule", f"{_QR}.status",
                         f"only a completed response is scored, not {qr.get('status')!r}"))
    for name in ("subject", "authored"):
        if not qr.get(name):
            out.append(Issue("error", "required", f"{_QR}.{name}", f"{name} is needed"))
    # the scores become Observations (ChiroPromObservation) of the same subject and basedOn:
    # a Patient, and the referral (ServiceRequest) the response answers
    out += _referring(qr.get("subject"), f"{_QR}.subject", "Patient")
    based_on = qr.get("basedOn")
    for i, item in enumerate(based_on if isinstance(based_on, list) else []):
        out += _referring(item, f"{_QR}.basedOn[{i}]", "ServiceRequest")
    if reference is None and not isinstance(qr.get("id"), str):
        out.append(Issue("error", "required", f"{_QR}.id",
                         "an id (or a reference given by the caller) is needed for "
                         "derivedFrom"))
    return out


def _referring(value: Any, at: str, wanted: str) -> list[Issue]:
    """An issue when the reference `value` names a type other than `wanted`."""
    ref = value.get("reference") if isinstance(value, dict) else None
    kind = reference_type(ref) if isinstance(ref, str) else None
    if kind is None or kind == wanted:
        return []
    return [Issue("error", "business-rule", f"{at}.reference",
                  f"a scored response must refer to a {wanted} here, not {kind}")]


def _answers(qr: Mapping[str, Any], ranges: Mapping[str, tuple[int, int]],
             issues: list[Issue]) -> dict[str, int | None]:
    answers: dict[str, int | None] = {}
    items = qr.get("item")
    for i, item in enumerate(items if isinstance(items, list) else []):
        _read_item(item, f"{_QR}.item[{i}]", ranges, answers, issues)
    return answers


# --- building the Observations --------------------------------------------------------


def _instant(now: datetime) -> str:
    if now.tzinfo is None:
        raise ValueError("naive datetime given as `now`")
    return now.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _value(code: str, result: Result) -> int | float:
    if BY_CODE[code].integer:
        return int(result.value)
    return result.value if isinstance(result, prom.Eq5dIndex) else round(result.value, 2)


def _interpretation(result: Result) -> list[dict[str, Any]]:
    if isinstance(result, prom.Eq5dIndex):
        return []
    if result.flagged:
        return [{"coding": [{"system": c.INTERPRETATION, "code": "H", "display": "High"}],
                 "text": "Above 1.85: further assessment or treatment should be considered"}]
    return [{"text": result.band}] if result.band and result.instrument != "PGIC" else []


def _notes(result: Result) -> dict[str, Any]:
    if isinstance(result, prom.Eq5dIndex):
        return {"method": {"text": f"EQ-5D-5L index, {result.value_set} value set "
                                   f"(profiles.prom), health state {result.state}"}}
    if result.substituted:
        return {"note": [{"text": f"{result.substituted} unanswered item(s); scored over "
                                  f"the {result.items_used} answered (mean substitution)"}]}
    return {}


def observation(qr: Mapping[str, Any], code: str, result: Result, reference: str,
                issued: str) -> dict[str, Any]:
    instrument = BY_CODE[code]
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "meta": {"profile": [c.PROM_OBSERVATION]},
        "status": "final",
        "category": [{"coding": [{"system": c.OBSERVATION_CATEGORY, "code": "survey",
                                  "display": "Survey"}]}],
        "code": {"coding": [{"system": c.PROM_INSTRUMENT, "code": code,
                             "display": instrument.display}]},
        "subject": dict(qr["subject"]),
        "effectiveDateTime": qr["authored"],
        "issued": issued,
        "valueQuantity": {"value": _value(code, result), "unit": "score",
                          "system": c.UCUM, "code": "{score}"},
        "derivedFrom": [{"reference": reference}],
    }
    if isinstance(qr.get("basedOn"), list):
        obs["basedOn"] = [dict(r) for r in qr["basedOn"] if isinstance(r, dict)]
    if interpretation := _interpretation(result):
        obs["interpretation"] = interpretation
    return obs | _notes(result)


def score_questionnaire_response(qr: Mapping[str, Any], now: datetime, *,
                                 reference: str | None = None,
                                 eq5d_value_set: str = "DK") -> list[dict[str, Any]]:
    """PROM Observations scored from `qr` (a QuestionnaireResponse to a chiroref PROM
    Questionnaire). `now`: Observation.issued (timezone-aware); `reference`: what
    derivedFrom points to (default `QuestionnaireResponse/<qr.id>`, e.g. a urn:uuid
    fullUrl inside a transaction). Raises UnscorableResponse."""
    issues = _header_issues(qr, reference)
    questionnaire = _questionnaire(qr, issues)
    if questionnaire is None:
        raise UnscorableResponse(issues)
    answers = _answers(qr, _ranges(questionnaire), issues)
    if issues:
        raise UnscorableResponse(issues)
    try:
        scored = SCORERS[questionnaire["id"]](answers, eq5d_value_set)
    except prom.ScoringError as exc:
        raise UnscorableResponse([Issue("error", "required", f"{_QR}.item", str(exc))]) from exc
    if not scored:
        raise UnscorableResponse([Issue("error", "required", f"{_QR}.item",
                                        "nothing answered that can be scored")])
    ref = reference or f"{_QR}/{qr['id']}"
    issued = _instant(now)
    return [observation(qr, code, result, ref, issued) for code, result in scored]
