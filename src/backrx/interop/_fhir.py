"""What backrx's FHIR modules share: code systems, identifiers, and the lazy fhir.resources import."""

from __future__ import annotations

import importlib
import uuid
from types import ModuleType

from backrx.interop.questionnaire import SYSTEM_PREFIX

INSTALL_HINT = "pip install 'backrx[fhir]'"
UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
PARTICIPANT_TYPE = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
DATA_ABSENT_REASON = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
PA_CODES = "http://hl7.org/fhir/us/physical-activity/CodeSystem/pa-temporary-codes"
#: backrx's local code systems and identifier systems (URNs; registered nowhere).
EXERCISE_SYSTEM = SYSTEM_PREFIX + "exercise"
WARNING_SYSTEM = SYSTEM_PREFIX + "warning"
RED_FLAG_SYSTEM = SYSTEM_PREFIX + "red_flags"
RULE_PREFIX = SYSTEM_PREFIX + "rule:"
PROFILE_ID_SYSTEM = SYSTEM_PREFIX + "profile-digest"
PACK_ID_SYSTEM = SYSTEM_PREFIX + "rule-pack-digest"
#: Namespace of the deterministic resource ids (uuid5).
NAMESPACE = uuid.UUID("5b1f3c2e-7d4a-5e8f-9a6b-0c1d2e3f4a5b")

PRIORITY = {"emergency": "stat", "urgent": "urgent", "routine": "routine"}
RISK_ANSWER = {"low": ("LA9194-7", "Low"), "medium": ("LA8982-6", "Medium"), "high": ("LA9193-9", "High")}
LOINC_DISPLAY = {
    "91349-1": "STarT Back Screening Tool panel",
    "91350-9": "Distress subscore [STarT Back]",
    "91351-7": "Total score [STarT Back]",
    "91352-5": "STarT Back Screening risk level",
}
#: SNOMED CT code the HL7 Physical Activity IG uses for an exercise prescription.
EXERCISE_THERAPY = {"system": SNOMED, "code": "229065009", "display": "Exercise therapy (regime/therapy)"}


class FhirUnavailableError(ImportError):
    """``fhir.resources`` is not installed: ``pip install 'backrx[fhir]'``."""


def models() -> ModuleType:
    """The fhir.resources R4B package, or FhirUnavailableError."""
    try:
        return importlib.import_module("fhir.resources.R4B")
    except ImportError as exc:
        raise FhirUnavailableError(
            f"FHIR support needs the optional fhir.resources package: {INSTALL_HINT}") from exc
