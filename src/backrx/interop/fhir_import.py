"""FHIR in, with an account: the Profile, the profile fields read from EHR codes, the codes no
value set holds, and the outcome measures of every record (a course of care)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from backrx.interop.fhir_codes import Derived, mapping_of
from backrx.interop.questionnaire_response import read_response
from backrx.model.measures import Outcomes
from backrx.model.profile import Profile

__all__ = ["FhirImport", "read_fhir"]


@dataclass(frozen=True)
class FhirImport:
    """What `read_fhir` read."""

    profile: Profile
    #: each profile field an EHR code set: field, value, value set, resource type, system, code
    derived: tuple[Derived, ...] = ()
    #: the codes no value set of the pack holds, as (resource type, system, code): add them to
    #: the pack's codes.yaml if they matter; none is dropped in silence
    unknown_codes: tuple[tuple[str, str, str], ...] = ()
    #: outcome measures by record: "baseline" (the profile's), "round-1", "round-2", ...
    outcomes: dict[str, Outcomes] = field(default_factory=dict)

    @property
    def derived_fields(self) -> list[str]:
        """The profile fields set from EHR codes, each once."""
        return list(dict.fromkeys(item.field for item in self.derived))


def read_fhir(resource: Any, *, conditions: Iterable[Any] = (), rules: Any = None) -> FhirImport:
    """`backrx.interop.fhir.from_fhir` with an account of what the EHR codes gave.

    ``conditions``: Conditions, MedicationStatements, MedicationRequests and Procedures beside the
    response (a Bundle's own are read too). ``rules``: the RuleSet whose codes.yaml maps codes
    (default: the bundled pack). Raises ``pydantic.ValidationError`` as from_fhir does, also for
    outcome Observations whose values the outcome measures refuse.
    """
    profile, found, by_record = read_response(resource, conditions, None, mapping_of(rules))
    outcomes = {record: Outcomes.model_validate(data) for record, data in by_record.items()}
    return FhirImport(profile, tuple(found.derived), tuple(found.unknown), outcomes)
