"""Definitions of the assessment feedback: AssessmentFeedback (DiagnosticReport), the
PROM, yellow-flag and ICF function Observations, AssessmentRecommendation (CarePlan), their
CodeSystems and ValueSets, and the PROM Questionnaires. Written by build_definitions."""

from __future__ import annotations

from typing import Any, Final

from profiles import canonical as c
from profiles import imaging, prom_codes
from profiles.tools.build_definitions import (
    CORE,
    DATE,
    card,
    code_system,
    el,
    ref,
    required,
    sd,
    value_set,
    whole,
)

MIN_VALUE: Final = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE: Final = "http://hl7.org/fhir/StructureDefinition/maxValue"
ICPC_ICD: Final = [{"system": c.ICPC2}, {"system": c.ICPC2_NO}, {"system": c.ICD10}]


def _imaging_procedures() -> dict[str, Any]:
    concepts = [(code, imaging.procedure_display(code),
                 f"{imaging.procedure_display(code)} (pre-coordinated modality and body site)")
                for code in imaging.PROCEDURES]
    cs = code_system("imaging-procedure", "Imaging procedure",
                     "Imaging a chiropractor clinic may recommend or perform: modality + "
                     "body site in one code; properties give both as SNOMED CT.", concepts)
    cs["property"] = [
        {"code": "modality", "type": "Coding", "description": "Imaging modality (SNOMED CT)"},
        {"code": "body-site", "type": "Coding", "description": "Body site (SNOMED CT)"}]
    for concept in cs["concept"]:
        modality, site = imaging.PROCEDURES[concept["code"]]
        concept["property"] = [
            {"code": "modality", "valueCoding": _snomed(*imaging.MODALITIES[modality])},
            {"code": "body-site", "valueCoding": _snomed(*imaging.BODY_SITES[site])}]
    return cs


def _snomed(code: str, display: str) -> dict[str, str]:
    return {"system": c.SNOMED, "code": code, "display": display}


CODE_SYSTEMS: Final = [
    code_system("feedback-code", "Assessment feedback code",
                "Codes of the chiropractor's assessment feedback and its findings.", [
        ("assessment-feedback", "Chiropractor assessment feedback",
         "The written assessment returned to the referring GP (DiagnosticReport.code)."),
        ("icf-function-summary", "ICF function summary",
         "Summary of the patient's functioning by ICF component (Observation.code)."),
        ("yellow-flags", "Yellow flags",
         "Psychosocial risk factors for a long-lasting course (Observation.code)."),
    ]),
    code_system("prom-instrument", "PROM instrument",
                "Patient-reported outcome scores in the feedback (NNRR instruments); the "
                "ChiroPromObservation profile states each one's value range.",
                [(i.code, i.display, i.definition) for i in prom_codes.INSTRUMENTS]),
    code_system("imaging-indication", "Imaging indication",
                "Indications for imaging of the low back, from the box 'Billeddiagnostisk "
                "udredning' (Sundhedsstyrelsen note on low back pain pathways, Region "
                "Syddanmark). The definition quotes the Danish text.",
                [(k, d, f"{d}. ({t})") for k, d, t in imaging.INDICATIONS]),
    _imaging_procedures(),
    code_system("recommendation-kind", "Recommendation kind",
                "Follow-up the chiropractor recommends to the GP (CarePlan.activity.detail).", [
        ("self-management", "Supported self-management",
         "Advice and information; the patient manages the condition with support."),
        ("gp-follow-up", "Follow-up by the GP", "The GP follows up; the GP coordinates."),
        ("chiropractor-treatment", "Chiropractor treatment",
         "A course of treatment at a chiropractor clinic."),
        ("physiotherapy", "Physiotherapy", "Referral to physiotherapy / supervised exercise."),
        ("imaging", "Imaging (unspecified)",
         "Imaging whose modality and site are not coded; prefer an imaging-procedure code."),
        ("specialist-referral", "Referral to specialist care",
         "Referral to a hospital department, spine centre or specialist."),
        ("other", "Other", "Another recommendation, described in detail.description."),
    ]),
    code_system("yellow-flag", "Yellow flag",
                "Psychosocial risk factors assessed in the feedback (yellow flags).", [
        ("fear-avoidance", "Fear-avoidance beliefs", "Fear of movement or of harm, avoidance."),
        ("catastrophizing", "Catastrophizing", "Expecting the worst; pain as a threat."),
        ("low-mood", "Low mood or distress", "Depressed mood, anxiety, distress."),
        ("work-problems", "Work-related problems",
         "Low job satisfaction, sick leave, conflict or fear of losing work."),
        ("passive-coping", "Passive coping", "Reliance on passive treatment, rest."),
        ("negative-expectations", "Negative expectations", "Expects a poor outcome."),
        ("social-problems", "Social problems", "Lacking support, family or financial strain."),
    ]),
    code_system("icf-component", "ICF component",
                "Components of the WHO International Classification of Functioning, "
                "Disability and Health, the frame of the assessment.", [
        ("body-functions", "Body functions", "Physiological and psychological functions (b)."),
        ("body-structures", "Body structures", "Anatomical parts of the body (s)."),
        ("activities-participation", "Activities and participation",
         "Execution of tasks and involvement in life situations (d)."),
        ("environmental-factors", "Environmental factors",
         "Physical, social and attitudinal environment (e)."),
        ("personal-factors", "Personal factors", "Background of the person's life and living."),
    ]),
]

VALUE_SETS: Final = [
    value_set("imaging-modality", "Imaging modality",
              "X-ray and ultrasound (SNOMED CT procedures).", [{
                  "system": c.SNOMED, "concept": [
                      {"code": k, "display": d} for k, d in imaging.MODALITIES.values()]}]),
    value_set("imaging-body-site", "Imaging body site",
              "Body sites a chiropractor clinic images (SNOMED CT body structures).", [{
                  "system": c.SNOMED, "concept": [
                      {"code": k, "display": d} for k, d in imaging.BODY_SITES.values()]}]),
    value_set("recommendation", "Recommendation",
              "A recommendation kind, or an imaging procedure (modality + body site).",
              [{"system": c.RECOMMENDATION_KIND}, {"system": c.IMAGING_PROCEDURE}]),
    value_set("recommendation-reason", "Recommendation reason",
              "Why a recommendation is made: an imaging indication, or a diagnosis "
              "(ICPC-2, ICD-10).", [{"system": c.IMAGING_INDICATION}, *ICPC_ICD]),
    value_set("feedback-conclusion", "Feedback conclusion",
              "Coded conclusions of the assessment: the triage category (exactly one, "
              "chiro-dr-1) and any diagnosis (ICPC-2, ICD-10).",
              [{"system": c.TRIAGE_CATEGORY}, *ICPC_ICD]),
    value_set("feedback-status", "Feedback status",
              "Statuses of a feedback report the GP may receive.", [{
                  "system": c.DIAGNOSTIC_REPORT_STATUS, "concept": [
                      {"code": s} for s in ("preliminary", "final", "amended", "corrected")]}]),
]


def _one_of(codes: tuple[str, ...] | frozenset[str]) -> str:
    return "(" + " or ".join(f"code = '{k}'" for k in sorted(codes)) + ")"


def _is(system: str, code: str) -> str:
    return f"coding.where(system = '{system}' and code = '{code}').exists()"


def _constraint(key: str, human: str, expression: str,
                severity: str = "error") -> dict[str, Any]:
    return {"key": key, "severity": severity, "human": human, "expression": expression}


TRIAGE_ONE: Final = _constraint(
    "chiro-dr-1", "Exactly one conclusionCode is a triage category",
    f"conclusionCode.where(coding.where(system = '{c.TRIAGE_CATEGORY}' and "
    f"{_one_of(c.TRIAGE_CODES)}).exists()).count() = 1")


def feedback() -> dict[str, Any]:
    return sd("AssessmentFeedback", "DiagnosticReport", "Chiropractor assessment feedback",
              "The chiropractor's written assessment for the referring GP: triage category "
              "(conclusionCode), the assessment text (conclusion), PROM, yellow-flag and ICF "
              "function Observations (result). Recommendations are an AssessmentRecommendation "
              "CarePlan citing this report and the referral.", [
        el("DiagnosticReport", constraint=[TRIAGE_ONE]),
        el("DiagnosticReport.basedOn", **card(1, "1"), type=ref(c.REFERRAL),
           short="The referral answered"),
        el("DiagnosticReport.status", **required(c.FEEDBACK_STATUS_VS)),
        el("DiagnosticReport.code", patternCodeableConcept={
            "coding": [{"system": c.FEEDBACK_CODE, "code": "assessment-feedback"}]}),
        el("DiagnosticReport.subject", **card(1, "1"), type=ref(c.PATIENT)),
        el("DiagnosticReport.issued", **card(1, "1")),
        el("DiagnosticReport.performer", **card(1, "*"),
           type=ref(c.ORGANIZATION, c.PRACTITIONER_ROLE), short="The clinic / chiropractor"),
        el("DiagnosticReport.result",
           type=ref(c.PROM_OBSERVATION, c.YELLOW_FLAGS, c.FUNCTION_SUMMARY)),
        el("DiagnosticReport.conclusion", **card(1, "1"),
           short="The written assessment for the GP"),
        el("DiagnosticReport.conclusionCode", **card(1, "*"),
           **required(c.FEEDBACK_CONCLUSION_VS), short="Triage category (+ diagnoses)"),
    ])


def _prom_range(i: prom_codes.Instrument) -> dict[str, Any]:
    whole_ = " and value.floor() = value" if i.integer else ""
    return _constraint(
        i.invariant_key, i.describe(),
        f"%resource.code.{_is(c.PROM_INSTRUMENT, i.code)} implies "
        f"(value >= {i.low:g} and value <= {i.high:g}{whole_})")


HSCL_FLAG: Final = _constraint(
    "chiro-prom-hscl", "An HSCL-10 mean has interpretation H (high) exactly when above 1.85",
    f"code.{_is(c.PROM_INSTRUMENT, 'hscl10-mean')} implies "
    f"((value as Quantity).value > {prom_codes.HSCL10_CUTOFF_VALUE:g}) = "
    f"interpretation.{_is(c.INTERPRETATION, 'H')}")


def _observation(name: str, title: str, description: str,
                 code: list[dict[str, Any]], value: str,
                 more: list[dict[str, Any]]) -> dict[str, Any]:
    return sd(name, "Observation", title, description, [
        *code,
        el("Observation.subject", **card(1, "1"), type=ref(c.PATIENT)),
        el("Observation.basedOn", type=ref(CORE + "ServiceRequest"), short="The referral"),
        el("Observation.effective[x]", **card(1, "1"), type=[{"code": "dateTime"}]),
        el("Observation.value[x]", **card(1, "1"), type=[{"code": value}],
           constraint=[_prom_range(i) for i in prom_codes.INSTRUMENTS]
           if value == "Quantity" else []),
        *more,
    ])


def observations() -> list[dict[str, Any]]:
    prom = _observation(
        "ChiroPromObservation", "PROM score",
        "A patient-reported outcome score: code from prom-instrument, valueQuantity in the "
        "instrument's range (chiro-prom-<code>), optionally derived from the "
        "QuestionnaireResponse it was scored from.",
        [el("Observation", constraint=[HSCL_FLAG]),
         el("Observation.code", **required(c.PROM_INSTRUMENT_VS))], "Quantity",
        [el("Observation.value[x].value", **card(1, "1")),
         el("Observation.derivedFrom", type=ref(CORE + "QuestionnaireResponse"))])
    flags = _observation(
        "ChiroYellowFlags", "Yellow flags",
        "Whether psychosocial risk factors (yellow flags) are present (valueBoolean), with "
        "one component per flag assessed.",
        [el("Observation.code", patternCodeableConcept={
            "coding": [{"system": c.FEEDBACK_CODE, "code": "yellow-flags"}]})], "boolean",
        [el("Observation.component.code", **required(c.YELLOW_FLAG_VS)),
         el("Observation.component.value[x]", **card(1, "1"), type=[{"code": "boolean"}])])
    function = _observation(
        "ChiroFunctionSummary", "ICF function summary",
        "The patient's functioning in words (valueString), optionally by ICF component.",
        [el("Observation.code", patternCodeableConcept={
            "coding": [{"system": c.FEEDBACK_CODE, "code": "icf-function-summary"}]})],
        "string",
        [el("Observation.component.code", **required(c.ICF_COMPONENT_VS)),
         el("Observation.component.value[x]", **card(1, "1"), type=[{"code": "string"}])])
    return [prom, flags, function]


CITES_REFERRAL: Final = _constraint(
    "chiro-cp-2", "supportingInfo names the referral (a ServiceRequest)",
    "supportingInfo.where(reference.startsWith('ServiceRequest/') or type = 'ServiceRequest'"
    " or resolve() is ServiceRequest).exists()")
INDICATED: Final = _constraint(
    "chiro-cp-1", "Lumbar spine imaging names a guideline indication (imaging-indication) "
    "in reasonCode; without one it is accepted but flagged",
    f"code.coding.where(system = '{c.IMAGING_PROCEDURE}' and "
    f"{_one_of(imaging.LUMBAR_PROCEDURES)}).exists() implies "
    f"reasonCode.coding.where(system = '{c.IMAGING_INDICATION}').exists()", "warning")


def recommendation() -> dict[str, Any]:
    return sd("AssessmentRecommendation", "CarePlan", "Assessment recommendations",
              "The follow-up the chiropractor recommends to the GP, one activity each; "
              "imaging as an imaging-procedure code with its indication in reasonCode. "
              "R4 CarePlan.basedOn only targets CarePlan: the referral (and the feedback "
              "report) are cited in supportingInfo.", [
        el("CarePlan", constraint=[CITES_REFERRAL]),
        el("CarePlan.intent", fixedCode="proposal"),
        el("CarePlan.subject", **card(1, "1"), type=ref(c.PATIENT)),
        el("CarePlan.created", **card(1, "1")),
        el("CarePlan.author", **card(1, "1"), type=ref(c.ORGANIZATION, c.PRACTITIONER_ROLE)),
        el("CarePlan.supportingInfo", **card(1, "*"),
           type=ref(c.REFERRAL, c.ASSESSMENT_FEEDBACK),
           short="The referral (required) and the AssessmentFeedback report"),
        el("CarePlan.activity", **card(1, "*")),
        el("CarePlan.activity.reference", **card(0, "0")),
        el("CarePlan.activity.detail", **card(1, "1"), constraint=[INDICATED]),
        el("CarePlan.activity.detail.code", **card(1, "1"), **required(c.RECOMMENDATION_VS)),
        el("CarePlan.activity.detail.reasonCode", **required(c.RECOMMENDATION_REASON_VS)),
    ])


# --- Questionnaires -------------------------------------------------------------------

ODI_SECTIONS: Final = ("Pain intensity", "Personal care", "Lifting", "Walking", "Sitting",
                       "Standing", "Sleeping", "Sex life", "Social life", "Travelling")
NDI_SECTIONS: Final = ("Pain intensity", "Personal care", "Lifting", "Reading", "Headaches",
                       "Concentration", "Work", "Driving", "Sleeping", "Recreation")
EQ5D_DIMENSIONS: Final = ("Mobility", "Self-care", "Usual activities", "Pain / discomfort",
                          "Anxiety / depression")
Item = tuple[str, str, int, int]  # linkId, text, min, max
QUESTIONNAIRES: Final[list[tuple[str, str, list[Item]]]] = [
    ("odi", "Oswestry Disability Index v2.1a",
     [(f"odi-{n}", t, 0, 5) for n, t in enumerate(ODI_SECTIONS, 1)]),
    ("ndi", "Neck Disability Index",
     [(f"ndi-{n}", t, 0, 5) for n, t in enumerate(NDI_SECTIONS, 1)]),
    ("nrs-pain", "Pain numeric rating scale",
     [("nrs-rest", "Pain at rest, 0-10", 0, 10), ("nrs-activity", "Pain in activity, 0-10",
                                                   0, 10)]),
    ("hscl10", "Hopkins Symptom Checklist-10",
     [(f"hscl10-{n}", f"HSCL-10 item {n}", 1, 4) for n in range(1, 11)]),
    ("fabq", "Fear-Avoidance Beliefs Questionnaire",
     [(f"fabq-{n}", f"FABQ item {n}", 0, 6) for n in range(1, 17)]),
    ("eq5d5l", "EQ-5D-5L with EQ VAS",
     [*((f"eq5d5l-{n}", t, 1, 5) for n, t in enumerate(EQ5D_DIMENSIONS, 1)),
      ("eq-vas", "EQ VAS: your health today, 0-100", 0, 100)]),
    ("pgic", "Patient Global Impression of Change",
     [("pgic-1", "Change since the start of care, 1 (completely recovered) - 7", 1, 7)]),
]


def _item(link_id: str, text: str, low: int, high: int) -> dict[str, Any]:
    return {"extension": [{"url": MIN_VALUE, "valueInteger": low},
                          {"url": MAX_VALUE, "valueInteger": high}],
            "linkId": link_id, "text": text, "type": "integer"}


def questionnaires() -> list[dict[str, Any]]:
    return [{
        "resourceType": "Questionnaire", "id": id_, "url": f"{c.QUESTIONNAIRE}/{id_}",
        "version": c.VERSION, "name": id_.replace("-", "").upper(), "title": title,
        "status": "draft", "date": DATE, "publisher": "chiroref",
        "description": f"{title}: item structure for scoring by chiroref (linkIds and answer "
                       "ranges; answers valueInteger, or valueCoding with an ordinalValue "
                       "or an integer code). The licensed item wording is not shipped.",
        "subjectType": ["Patient"],
        "item": [_item(*i) for i in items],
    } for id_, title, items in QUESTIONNAIRES]


def resources() -> list[tuple[str, dict[str, Any]]]:
    """(folder, resource) of everything this module defines."""
    out = [("terminology", cs) for cs in CODE_SYSTEMS]
    out += [("terminology", whole(cs)) for cs in CODE_SYSTEMS]
    out += [("terminology", vs) for vs in VALUE_SETS]
    out += [("profiles", p) for p in (feedback(), *observations(), recommendation())]
    return out + [("questionnaires", q) for q in questionnaires()]
