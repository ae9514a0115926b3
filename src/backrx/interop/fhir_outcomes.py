"""Outcome measures (ODI, RMDQ, NPRS, PSFS, walking minutes, MSK-HQ, EQ-5D-5L) as FHIR Observations.

Each measure taken is one Observation (category ``survey``, status ``final``). NPRS carries the
LOINC code 72514-3 beside backrx's own code; the others carry only codes of backrx's code system
``urn:backrx:outcome`` (no LOINC code for them was verified here: docs/fhir.md); the EQ-5D-5L
index also carries its SNOMED CT code 736534008. MSK-HQ and EQ-5D-5L are scores only. PSFS is one
Observation with a component per activity (``valueQuantity`` 0-10, the activity as ``code.text``).
Which record a measure belongs to is an identifier in ``urn:backrx:outcome-record``: ``baseline``
(the profile) or ``round-<n>`` (the n-th feedback round, from 1), so a course of care reads back.

Each measure's title (``code.text``) and the category's text are the pack's ``fhir.outcome.*``
texts in the Bundle's language; the codings keep their code systems' displays (backrx's own
``urn:backrx:outcome`` displays included), whatever the language.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from backrx.interop.questionnaire import LOINC, SYSTEM_PREFIX
from backrx.model.words import Words
from backrx.pack.texts import Texts

__all__ = ["OUTCOME_RECORD_SYSTEM", "OUTCOME_SYSTEM", "observations", "outcomes_by_record"]

OUTCOME_SYSTEM = SYSTEM_PREFIX + "outcome"
OUTCOME_RECORD_SYSTEM = SYSTEM_PREFIX + "outcome-record"
_UCUM = "http://unitsofmeasure.org"
_SURVEY = "http://terminology.hl7.org/CodeSystem/observation-category"
#: measure -> (display in urn:backrx:outcome, LOINC code and display or None, UCUM unit code, unit
#: text). The title a person reads is the pack's text (`_titles`).
MEASURES: dict[str, tuple[str, tuple[str, str] | None, str, str]] = {
    "odi": ("Oswestry Disability Index", None, "{score}", "score"),
    "rmdq": ("Roland-Morris Disability Questionnaire", None, "{score}", "score"),
    "nprs": ("Numeric pain rating, 0-10",
             ("72514-3", "Pain severity - 0-10 verbal numeric rating [Score] - Reported"),
             "{score}", "score"),
    "psfs": ("Patient-Specific Functional Scale", None, "{score}", "score"),
    "walk_minutes": ("Minutes walked without stopping", None, "min", "min"),
    # Licensed questionnaires: the score only. No LOINC code for either was verified (docs/fhir.md).
    "mskhq": ("MSK-HQ total score, 0-56", None, "{score}", "score"),
    "eq5d5l_index": ("EQ-5D-5L index value", None, "{score}", "score"),
    "eq5d5l_vas": ("EQ VAS, 0-100", None, "{score}", "score"),
}
_SNOMED = "http://snomed.info/sct"
#: measure -> SNOMED CT code and display, where one was verified (the MII PRO FHIR guide's EQ-5D-5L
#: scores profile gives 736534008 for the index value).
SNOMED_CODES: dict[str, tuple[str, str]] = {
    "eq5d5l_index": ("736534008", "EuroQol five dimension five level index value"),
}
_READ_STATUSES = ("final", "amended", "corrected")


def _quantity(value: int | float, measure: str) -> dict[str, Any]:
    _, _, code, unit = MEASURES[measure]
    return {"value": value, "unit": unit, "system": _UCUM, "code": code}


def _titles(t: Words) -> dict[str, str]:
    """Each measure's title in the pack's words (``code.text``)."""
    return {"odi": t("fhir.outcome.odi"), "rmdq": t("fhir.outcome.rmdq"), "nprs": t("fhir.outcome.nprs"),
            "psfs": t("fhir.outcome.psfs"), "walk_minutes": t("fhir.outcome.walk_minutes"),
            "mskhq": t("fhir.outcome.mskhq"), "eq5d5l_index": t("fhir.outcome.eq5d5l_index"),
            "eq5d5l_vas": t("fhir.outcome.eq5d5l_vas")}


def _code(measure: str, title: str) -> dict[str, Any]:
    display, loinc, _, _ = MEASURES[measure]
    codings = [{"system": OUTCOME_SYSTEM, "code": measure, "display": display}]
    if loinc is not None:
        codings.insert(0, {"system": LOINC, "code": loinc[0], "display": loinc[1]})
    if measure in SNOMED_CODES:
        snomed = SNOMED_CODES[measure]
        codings.insert(0, {"system": _SNOMED, "code": snomed[0], "display": snomed[1]})
    return {"coding": codings, "text": title}


def observations(outcomes: Any, record: str, subject: Mapping[str, Any], new_id: Callable[[str], str],
                 effective: str | None = None, *, t: Words | None = None) -> list[dict[str, Any]]:
    """The Observations of one set of outcome measures (a backrx Outcomes), for ``record``
    (``baseline`` or ``round-<n>``); ``new_id(key)`` gives each its id. ``t``: the pack's words
    in the Bundle's language (the bundled English by default)."""
    if outcomes is None:
        return []
    t = t if t is not None else Texts()
    titles = _titles(t)
    out: list[dict[str, Any]] = []
    for measure in MEASURES:
        if measure == "psfs":
            if not outcomes.psfs:
                continue
            value: dict[str, Any] = {"component": [
                {"code": {"coding": [{"system": OUTCOME_SYSTEM, "code": "psfs-activity",
                                      "display": "PSFS activity"}], "text": item.activity},
                 "valueQuantity": _quantity(item.score, "psfs")} for item in outcomes.psfs]}
        else:
            taken = getattr(outcomes, measure)
            if taken is None:
                continue
            value = {"valueQuantity": _quantity(taken, measure)}
        resource: dict[str, Any] = {
            "resourceType": "Observation", "id": new_id(f"observation/outcome/{record}/{measure}"),
            "identifier": [{"system": OUTCOME_RECORD_SYSTEM, "value": f"{record}/{measure}"}],
            "status": "final",
            "category": [{"coding": [{"system": _SURVEY, "code": "survey", "display": "Survey"}],
                          "text": t("fhir.category.survey")}],
            "code": _code(measure, titles[measure]), "subject": dict(subject), **value,
        }
        if effective is not None:
            resource["effectiveDateTime"] = effective
        out.append(resource)
    return out


def _measure(resource: Mapping[str, Any]) -> str | None:
    concept = resource.get("code")
    codings = concept.get("coding") if isinstance(concept, Mapping) else None
    for coding in codings if isinstance(codings, list) else []:
        if isinstance(coding, Mapping) and coding.get("system") == OUTCOME_SYSTEM \
                and coding.get("code") in MEASURES:
            return str(coding["code"])
    return None


def _record(resource: Mapping[str, Any]) -> str:
    for identifier in resource.get("identifier") or []:
        if isinstance(identifier, Mapping) and identifier.get("system") == OUTCOME_RECORD_SYSTEM:
            return str(identifier.get("value", "")).split("/")[0] or "baseline"
    return "baseline"


def _number(quantity: Any) -> Any:
    return quantity.get("value") if isinstance(quantity, Mapping) else None


def outcomes_by_record(resources: Iterable[Any]) -> dict[str, dict[str, Any]]:
    """Outcome data (for `backrx.model.measures.Outcomes`) by record, from backrx's outcome
    Observations among ``resources``; other Observations are left alone. A value that is not a
    number is left for the Outcomes model to refuse, naming the field."""
    out: dict[str, dict[str, Any]] = {}
    for resource in resources:
        if not isinstance(resource, Mapping) or resource.get("resourceType") != "Observation" \
                or resource.get("status") not in _READ_STATUSES:
            continue
        measure = _measure(resource)
        if measure is None:
            continue
        data = out.setdefault(_record(resource), {})
        if measure == "psfs":
            data["psfs"] = [{"activity": (c.get("code") or {}).get("text"),
                             "score": _number(c.get("valueQuantity"))}
                            for c in resource.get("component") or [] if isinstance(c, Mapping)]
        else:
            value = _number(resource.get("valueQuantity"))
            data[measure] = int(value) if isinstance(value, float) and value.is_integer() else value
    return out
