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

# Extensions
RED_FLAG_SCREENING: Final = f"{_SD}/red-flag-screening"

# Code systems and their value sets (same id for both)
TRIAGE_CATEGORY: Final = f"{_CS}/triage-category"
TRIAGE_CATEGORY_VS: Final = f"{_VS}/triage-category"
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

# Diagnosis code systems accepted in ServiceRequest.reasonCode
ICPC2: Final = "http://hl7.org/fhir/sid/icpc-2"
ICPC2_NO: Final = "urn:oid:2.16.578.1.12.4.1.1.7170"
ICD10: Final = "http://hl7.org/fhir/sid/icd-10"

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
