"""Canonical URLs of chiroref's conformance resources and the identifier systems it knows.

The base is fixed here (`BASE`); a deployment that needs another base rewrites the
definitions at build time, never at run time.
"""

from __future__ import annotations

from typing import Final

BASE: Final = "https://chiroref.example.org/fhir"
VERSION: Final = "0.1.0"

_SD: Final = f"{BASE}/StructureDefinition"
_CS: Final = f"{BASE}/CodeSystem"
_VS: Final = f"{BASE}/ValueSet"

# Profiles
REFERRAL: Final = f"{_SD}/ChiroAssessmentReferral"
REFERRAL_TASK: Final = f"{_SD}/ReferralTask"
PATIENT: Final = f"{_SD}/ChiroPatient"
PRACTITIONER: Final = f"{_SD}/ChiroPractitioner"
PRACTITIONER_ROLE: Final = f"{_SD}/ChiroPractitionerRole"
ORGANIZATION: Final = f"{_SD}/ChiroOrganization"
ENDPOINT: Final = f"{_SD}/ChiroEndpoint"
ASSESSMENT_FEEDBACK: Final = f"{_SD}/AssessmentFeedback"
PROM_OBSERVATION: Final = f"{_SD}/ChiroPromObservation"
YELLOW_FLAGS: Final = f"{_SD}/ChiroYellowFlags"
FUNCTION_SUMMARY: Final = f"{_SD}/ChiroFunctionSummary"
ASSESSMENT_RECOMMENDATION: Final = f"{_SD}/AssessmentRecommendation"

# Extensions
RED_FLAG_SCREENING: Final = f"{_SD}/red-flag-screening"

# Code systems and their value sets (same id for both)
TRIAGE_CATEGORY: Final = f"{_CS}/triage-category"
TRIAGE_CATEGORY_VS: Final = f"{_VS}/triage-category"
TRIAGE_CODES: Final = ("non-msk", "specific-msk", "non-specific")  # its concepts, in order
BUSINESS_STATUS: Final = f"{_CS}/task-business-status"
BUSINESS_STATUS_VS: Final = f"{_VS}/task-business-status"
REJECTION_REASON: Final = f"{_CS}/rejection-reason"
REJECTION_REASON_VS: Final = f"{_VS}/rejection-reason"
RED_FLAG: Final = f"{_CS}/red-flag-screening"
RED_FLAG_VS: Final = f"{_VS}/red-flag-screening"
PRACTITIONER_ROLE_CS: Final = f"{_CS}/practitioner-role"
PRACTITIONER_ROLE_VS: Final = f"{_VS}/practitioner-role"
REFERRAL_REASON_VS: Final = f"{_VS}/referral-reason"
SERVICE_CS: Final = f"{_CS}/service"
FEEDBACK_CODE: Final = f"{_CS}/feedback-code"
PROM_INSTRUMENT: Final = f"{_CS}/prom-instrument"
PROM_INSTRUMENT_VS: Final = f"{_VS}/prom-instrument"
IMAGING_INDICATION: Final = f"{_CS}/imaging-indication"
IMAGING_INDICATION_VS: Final = f"{_VS}/imaging-indication"
IMAGING_PROCEDURE: Final = f"{_CS}/imaging-procedure"
IMAGING_PROCEDURE_VS: Final = f"{_VS}/imaging-procedure"
IMAGING_MODALITY_VS: Final = f"{_VS}/imaging-modality"
IMAGING_BODY_SITE_VS: Final = f"{_VS}/imaging-body-site"
RECOMMENDATION_KIND: Final = f"{_CS}/recommendation-kind"
RECOMMENDATION_VS: Final = f"{_VS}/recommendation"  # recommendation kinds + imaging procedures
RECOMMENDATION_REASON_VS: Final = f"{_VS}/recommendation-reason"
FEEDBACK_CONCLUSION_VS: Final = f"{_VS}/feedback-conclusion"
FEEDBACK_STATUS_VS: Final = f"{_VS}/feedback-status"
YELLOW_FLAG: Final = f"{_CS}/yellow-flag"
YELLOW_FLAG_VS: Final = f"{_VS}/yellow-flag"
ICF_COMPONENT: Final = f"{_CS}/icf-component"
ICF_COMPONENT_VS: Final = f"{_VS}/icf-component"
QUESTIONNAIRE: Final = f"{BASE}/Questionnaire"  # + "/<instrument questionnaire id>"

# Diagnosis code systems accepted in ServiceRequest.reasonCode
ICPC2: Final = "http://hl7.org/fhir/sid/icpc-2"
ICPC2_NO: Final = "urn:oid:2.16.578.1.12.4.1.1.7170"
ICD10: Final = "http://hl7.org/fhir/sid/icd-10"

# External code systems used in the assessment feedback
SNOMED: Final = "http://snomed.info/sct"
UCUM: Final = "http://unitsofmeasure.org"
OBSERVATION_CATEGORY: Final = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERPRETATION: Final = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
DIAGNOSTIC_REPORT_STATUS: Final = "http://hl7.org/fhir/diagnostic-report-status"
V2_0074: Final = "http://terminology.hl7.org/CodeSystem/v2-0074"  # diagnostic service section
SNOMED_IMAGING: Final = "363679005"  # Imaging (procedure): ServiceRequest.category

# National identifier systems (Norway, Denmark)
NO_FNR: Final = "urn:oid:2.16.578.1.12.4.1.4.1"
NO_DNR: Final = "urn:oid:2.16.578.1.12.4.1.4.2"
NO_HPR: Final = "urn:oid:2.16.578.1.12.4.1.4.4"
NO_HER: Final = "urn:oid:2.16.578.1.12.4.1.2"
NO_ORGNR: Final = "urn:oid:2.16.578.1.12.4.1.4.101"
DK_CPR: Final = "urn:oid:1.2.208.176.1.2"
DK_SOR: Final = "urn:oid:1.2.208.176.1.1"

PERSON_ID_SYSTEMS: Final = (NO_FNR, NO_DNR, DK_CPR)
ORGANIZATION_ID_SYSTEMS: Final = (NO_HER, NO_ORGNR, DK_SOR)
