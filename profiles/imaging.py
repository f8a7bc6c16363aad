"""Imaging vocabulary: modalities, body sites, the pre-coordinated imaging procedures a
chiropractor may recommend (or a hospital request), and the guideline's imaging
indications.

Data only. SNOMED CT codes are used where they are certain (checked against public FHIR
content); the procedures are a chiroref CodeSystem whose concepts carry the SNOMED CT
modality and body site as properties. The build tool writes the CodeSystems and ValueSets
from these tables; profiles.indications reads them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

# key -> (SNOMED CT code, display)
MODALITIES: Final[Mapping[str, tuple[str, str]]] = {
    "xray": ("168537006", "Plain radiography"),
    "us": ("16310003", "Ultrasonography"),
}
BODY_SITES: Final[Mapping[str, tuple[str, str]]] = {
    "cervical-spine": ("122494005", "Cervical spine structure"),
    "thoracic-spine": ("122495006", "Thoracic spine structure"),
    "lumbar-spine": ("122496007", "Lumbar spine structure"),
    "shoulder": ("16982005", "Shoulder region structure"),
    "elbow": ("127949000", "Elbow region structure"),
    "hip": ("29836001", "Hip region structure"),
    "knee": ("72696002", "Knee region structure"),
    "ankle": ("344001", "Ankle region structure"),
}
_LABELS: Final = {"xray": "X-ray", "us": "Ultrasound"}
_SITES_BY_MODALITY: Final = {
    "xray": ("cervical-spine", "thoracic-spine", "lumbar-spine", "shoulder", "elbow", "hip",
             "knee", "ankle"),
    "us": ("shoulder", "elbow", "hip", "knee", "ankle"),
}
# procedure code -> (modality key, body site key); e.g. "xray-lumbar-spine"
PROCEDURES: Final[Mapping[str, tuple[str, str]]] = {
    f"{m}-{s}": (m, s) for m, sites in _SITES_BY_MODALITY.items() for s in sites
}
LUMBAR_SITE: Final = BODY_SITES["lumbar-spine"][0]
LUMBAR_PROCEDURES: Final = frozenset(p for p, (_m, s) in PROCEDURES.items()
                                     if s == "lumbar-spine")


def procedure_display(code: str) -> str:
    modality, site = PROCEDURES[code]
    return f"{_LABELS[modality]} of the {site.replace('-', ' ')}"


# The guideline box "Billeddiagnostisk udredning" (Sundhedsstyrelsen note on low back pain
# pathways, Region Syddanmark; shared/domain/003_*, box 2): code, display, the Danish text.
INDICATIONS: Final[tuple[tuple[str, str, str], ...]] = (
    ("non-msk-disease", "Suspected underlying non-musculoskeletal disease",
     "Mistanke om underliggende ikke-muskuloskeletal lidelse"),
    ("nerve-root-no-improvement",
     "Nerve root involvement with major function loss and high pain intensity, no "
     "satisfactory improvement after 4-8 weeks",
     "Ved mistanke om nerverodspåvirkning med væsentlig funktionsbegrænsning og høj "
     "smerteintensitet, hvor relevant håndtering og behandling ikke har medført "
     "tilfredsstillende klinisk bedring efter 4-8 uger"),
    ("progressive-neurological-deficit", "Progressive neurological deficit",
     "Progredierende neurologiske udfald"),
    ("new-weakness", "New (within 48 hours) weakness of grade 3 or below",
     "Nyopstået (indenfor 48 timer) nedsat kraft grad 3 eller derunder"),
    ("spinal-stenosis-no-improvement",
     "Suspected spinal stenosis without satisfactory improvement",
     "Ved mistanke om spinalstenose - gangrelaterede bensmerter og/eller betydelig "
     "funktionsbegrænsning, hvor relevant håndtering og behandling ikke har medført "
     "tilfredsstillende klinisk bedring"),
    ("inflammatory-arthritis", "Suspected inflammatory arthritis",
     "Mistanke om inflammatorisk gigtsygdom"),
    ("significant-scoliosis", "Significant scoliosis", "Betydelig skoliose"),
    ("vertebral-collapse", "Suspected new vertebral collapse",
     "Mistanke om nytilkommet sammenfald af ryghvirvler"),
    ("trauma", "Trauma", "Traume"),
)
INDICATION_CODES: Final = frozenset(code for code, _d, _t in INDICATIONS)
