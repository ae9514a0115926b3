"""Parts of CDS cards: suggestions whose references all resolve, and the card that lists the EHR
codes the rule pack does not map.

A suggestion is accepted or declined whole, and on its own: every reference in its resources
must name a resource the same suggestion creates, or a server-side resource the hook names (the
patient, the user). The Bundle of `backrx.interop.fhir.to_fhir` says more (backrx's Device
as author, links between the referral and the program); a card keeps only what resolves.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from backrx.pack.texts import Texts

#: A user of the hook who may author a CarePlan or request a referral (CDS Hooks 2.0 ``userId``).
_CLINICIAN = re.compile(r"(Practitioner|PractitionerRole)/[A-Za-z0-9\-.]{1,64}")
#: Codes and systems shown on a card: plain identifiers, never free text.
_PLAIN_CODE = re.compile(r"[A-Za-z0-9.\-_:]{1,40}")
_PLAIN_SYSTEM = re.compile(r"(https?://|urn:)[A-Za-z0-9.\-_:/]{1,120}")
#: How many unknown codes a card lists by name.
CODES_SHOWN = 20


def clinician(user_id: str | None) -> dict[str, str] | None:
    """The hook's user as a Reference, when ``userId`` names a Practitioner or PractitionerRole."""
    return {"reference": user_id} if user_id is not None and _CLINICIAN.fullmatch(user_id) else None


def name(resource: Mapping[str, Any]) -> str:
    """``Type/id`` of a resource."""
    return f"{resource['resourceType']}/{resource['id']}"


def references(node: Any) -> list[str]:
    """Every ``Reference.reference`` in a JSON tree, in document order (without recursion)."""
    found: list[str] = []
    stack: list[Any] = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping):
            found.extend(v for k, v in item.items() if k == "reference" and isinstance(v, str))
            stack.extend(reversed([v for k, v in item.items() if k != "reference"]))
        elif isinstance(item, list):
            stack.extend(reversed(item))
    return found


def authored(resource: Mapping[str, Any], field: str, by: Mapping[str, str] | None) -> dict[str, Any]:
    """The resource with ``field`` (backrx's Device in the Bundle) naming the user, or left out:
    the clinician who accepts the suggestion authors what it creates."""
    out = {key: value for key, value in resource.items() if key != field}
    if by is not None and field in resource:
        out[field] = dict(by)
    return out


def without_links(resource: Mapping[str, Any], made: set[str]) -> dict[str, Any]:
    """The resource without the links to resources another card creates: a CarePlan activity
    naming the referral, a ServiceRequest based on the program."""
    out = dict(resource)
    activity = [a for a in out.get("activity", []) if a.get("reference", {}).get("reference", "") in made
                or "reference" not in a]
    if activity:
        out["activity"] = activity
    else:
        out.pop("activity", None)
    based = [ref for ref in out.get("basedOn", []) if ref.get("reference") in made]
    if based:
        out["basedOn"] = based
    else:
        out.pop("basedOn", None)
    return out


def supporting(seeds: Iterable[Mapping[str, Any]], pool: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The Observations the seeds reach by reference (the STarT Back panel and its members), in
    the order they are reached: created beside the CarePlan that rests on them."""
    observations = {name(r): dict(r) for r in pool if r["resourceType"] == "Observation"}
    out: list[dict[str, Any]] = []
    queue = [ref for seed in seeds for ref in references(seed)]
    while queue:
        ref = queue.pop(0)
        found = observations.pop(ref, None)
        if found is not None:
            out.append(found)
            queue.extend(references(found))
    return out


def codes_card(unknown: Iterable[tuple[str, str, str]], source: Mapping[str, str],
               key: str, t: Texts | None = None) -> dict[str, Any]:
    """An info card listing the EHR codes no value set of the pack holds (type, system, code):
    they changed nothing. Codes only, never a display or a note; a code that is not a plain
    identifier is counted, not shown. ``t`` gives the pack's words (the bundled English by default)."""
    t = t if t is not None else Texts()
    listed = list(dict.fromkeys(unknown))
    plain = [(kind, system, code) for kind, system, code in listed
             if _PLAIN_CODE.fullmatch(code) and _PLAIN_SYSTEM.fullmatch(system)]
    lines = [f"{kind}: `{code}` ({system})" for kind, system, code in plain[:CODES_SHOWN]]
    hidden = len(listed) - len(lines)
    if hidden:
        lines.append(t("cds.more", n=hidden))
    return {
        "uuid": key,
        "summary": t("cds.codes.summary", n=len(listed)),
        "indicator": "info",
        "detail": "\n\n".join([t("cds.codes.detail"), "\n".join(f"- {line}" for line in lines)]),
        "source": dict(source),
    }
