"""The data files of a pack: pack.yaml, sources.yaml, exercises.yaml, phases.yaml (with the adjust
rules its progress criteria compile to) and outcomes.yaml."""

from __future__ import annotations

import re
from typing import Any

from backrx.lang.condition import size_of
from backrx.model.profile import EQUIPMENT, SETTINGS
from backrx.model.untrusted import url_problem
from backrx.model.vocabulary import CATEGORIES, DIRECTIONS, FieldSpec
from backrx.pack.conditions import Scope, check_template, parse_condition
from backrx.pack.limits import MAX_CONDITION_NODES
from backrx.pack.model import (
    CRITERION_PRIORITY,
    DOSE_KINDS,
    LEGACY_SOURCE_KINDS,
    PACK_FORMAT,
    PACK_FORMATS,
    SOURCE_KINDS,
    CatalogEntry,
    CriterionDef,
    Measure,
    PhaseDef,
    Rule,
    RuleEvidence,
    Source,
    Then,
)
from backrx.pack.read import (
    ID,
    Ctx,
    Known,
    check_id,
    check_keys,
    hint,
    int_value,
    join,
    line_of,
    str_list,
    text_value,
)


def read_meta(ctx: Ctx, doc: Any) -> tuple[str, str, str, int]:
    """pack.yaml: name, version, description and the pack format (absent: format 2)."""
    allowed = ("name", "version", "description", "format_version")
    if not check_keys(ctx, doc, "", ("name", "version"), allowed) and not isinstance(doc, dict):
        return ("", "", "", PACK_FORMAT)
    fmt = doc.get("format_version", 2)
    if fmt not in PACK_FORMATS or isinstance(fmt, bool):
        ctx.add(line_of(doc, "format_version"), "unsupported-format",
                f"format_version {fmt!r} is not one this backrx reads "
                f"({', '.join(map(str, PACK_FORMATS))})", "format_version")
        fmt = PACK_FORMAT
    name = text_value(ctx, doc, "name", "") or ""
    version = doc.get("version")
    if isinstance(version, (int, float)) and not isinstance(version, bool):
        version = str(version)
    if not isinstance(version, str) or not version:
        if "version" in doc:
            ctx.add(line_of(doc, "version"), "wrong-type", "version must be text", "version")
        version = ""
    description = text_value(ctx, doc, "description", "", required=False) or ""
    return name, version, description, int(fmt)


def read_list_doc(ctx: Ctx, doc: Any, key: str) -> list[tuple[int, Any]]:
    if not check_keys(ctx, doc, "", (key,), (key,)):
        return []
    items = doc[key]
    if not isinstance(items, list):
        ctx.add(line_of(doc, key), "wrong-type", f"{key} must be a list", key)
        return []
    return list(enumerate(items))


def read_sources(ctx: Ctx, doc: Any) -> dict[str, Source]:
    out: dict[str, Source] = {}
    allowed = ("id", "citation", "year", "kind", "url", "verified", "note", "title", "grade")
    for i, node in read_list_doc(ctx, doc, "sources"):
        where = f"sources[{i}]"
        if not check_keys(ctx, node, where, ("id", "citation", "kind"), allowed):
            continue
        sid = check_id(ctx, node, where, ID)
        citation = text_value(ctx, node, "citation", where)
        kind = node.get("kind")
        legacy = None
        if isinstance(kind, str) and kind in LEGACY_SOURCE_KINDS:
            legacy, kind = kind, LEGACY_SOURCE_KINDS[kind]
        if kind not in SOURCE_KINDS:
            ctx.add(line_of(node, "kind"), "unknown-value",
                    f"kind {kind!r} is not one of {', '.join(SOURCE_KINDS)}"
                    f"{hint(str(kind), SOURCE_KINDS)}", join(where, "kind"))
        grade = text_value(ctx, node, "grade", where, required=False)
        year = node.get("year")
        if year is not None and (isinstance(year, bool) or not isinstance(year, int)):
            ctx.add(line_of(node, "year"), "wrong-type", "year must be a whole number",
                    join(where, "year"))
            year = None
        verified = node.get("verified", False)
        if not isinstance(verified, bool):
            ctx.add(line_of(node, "verified"), "wrong-type", "verified must be true or false",
                    join(where, "verified"))
        url = text_value(ctx, node, "url", where, required=False)
        if url is not None and url_problem(url) is not None:
            ctx.add(line_of(node, "url"), "bad-url", f"the url of source {sid or i} "
                    f"{url_problem(url)}; a link is https:, http: or mailto:", join(where, "url"))
            url = None
        note = text_value(ctx, node, "note", where, required=False) or ""
        if sid is None or citation is None:
            continue
        if sid in out:
            ctx.add(line_of(node, "id"), "duplicate-id", f"source id {sid!r} is defined twice",
                    join(where, "id"))
            continue
        out[sid] = Source(sid, citation, year, str(kind), url, bool(verified), note, grade, legacy)
    return out


_MEDIA_PATH = re.compile(r"^media/(?:[A-Za-z0-9_~-][A-Za-z0-9._~-]*/)*[A-Za-z0-9_~-][A-Za-z0-9._~-]*\Z")


def media_ok(url: str) -> bool:
    """Whether an exercise's media entry is a web link (https:, http:) or a plain path under media/."""
    if _MEDIA_PATH.match(url):
        return ".." not in url
    return url_problem(url) is None and url.lower().startswith(("https://", "http://"))


def read_exercises(ctx: Ctx, doc: Any) -> dict[str, tuple[CatalogEntry, Any, str]]:
    out: dict[str, tuple[CatalogEntry, Any, str]] = {}
    required = ("id", "name", "pattern", "category", "direction", "load", "dose_kind", "settings",
                "instructions", "sources")
    allowed = (*required, "per_side", "equipment", "targets", "tags", "easier", "harder", "media")
    for i, node in read_list_doc(ctx, doc, "exercises"):
        where = f"exercises[{i}]"
        if not check_keys(ctx, node, where, required, allowed):
            continue
        eid = check_id(ctx, node, where, ID)
        name = text_value(ctx, node, "name", where)
        instructions = text_value(ctx, node, "instructions", where)
        enums = {}
        for key, vocab in (("category", CATEGORIES), ("direction", DIRECTIONS), ("dose_kind", DOSE_KINDS)):
            value = node.get(key)
            if value not in vocab:
                ctx.add(line_of(node, key), "unknown-value",
                        f"{key} {value!r} is not one of {', '.join(vocab)}{hint(str(value), vocab)}",
                        join(where, key))
            enums[key] = str(value)
        load = int_value(ctx, node, "load", where, 1, 5)
        equipment = str_list(ctx, node, "equipment", where, vocabulary=EQUIPMENT)
        settings = str_list(ctx, node, "settings", where, vocabulary=SETTINGS)
        if not settings and "settings" in node:
            ctx.add(line_of(node, "settings"), "missing-value", "settings must name at least one place",
                    join(where, "settings"))
        targets = str_list(ctx, node, "targets", where)
        tags = str_list(ctx, node, "tags", where)
        for t in tags:
            if not ID.match(t):
                ctx.add(line_of(node, "tags"), "bad-id", f"tag {t!r} must be kebab-case",
                        join(where, "tags"))
        links = {}
        for key in ("easier", "harder"):
            value = node.get(key)
            if value is not None and not isinstance(value, str):
                ctx.add(line_of(node, key), "wrong-type", f"{key} must be an exercise id or null",
                        join(where, key))
                value = None
            links[key] = value
        sources = str_list(ctx, node, "sources", where)
        pattern = node.get("pattern")
        if not isinstance(pattern, str) or not ID.match(pattern):
            ctx.add(line_of(node, "pattern"), "bad-id",
                    f"pattern {pattern!r} must be a kebab-case movement family (e.g. side-plank)",
                    join(where, "pattern"))
            continue
        per_side = node.get("per_side", False)
        if not isinstance(per_side, bool):
            ctx.add(line_of(node, "per_side"), "wrong-type", "per_side must be true or false",
                    join(where, "per_side"))
            per_side = False
        media = str_list(ctx, node, "media", where)
        for url in media:
            if not media_ok(url):
                ctx.add(line_of(node, "media"), "bad-url",
                        "media must be an https: or http: URL or a plain path under media/ "
                        "(letters, digits, . _ - /; no ..)", join(where, "media"))
        if eid is None or name is None or instructions is None or load is None:
            continue
        if eid in out:
            ctx.add(line_of(node, "id"), "duplicate-id", f"exercise id {eid!r} is defined twice",
                    join(where, "id"))
            continue
        entry = CatalogEntry(eid, name, enums["category"], enums["direction"], load, enums["dose_kind"],
                             equipment, settings, targets, tags, instructions, links["easier"],
                             links["harder"], sources, pattern, per_side, media)
        out[eid] = (entry, node, where)
    return out


CRITERION_KEYS = ("id", "text", "when", "sources")


def read_phases(ctx: Ctx, doc: Any) -> tuple[list[PhaseDef], list[tuple[str, Any, str]]]:
    """The phases, and their criterion nodes (parsed later, once derived names are known)."""
    out: list[PhaseDef] = []
    pending: list[tuple[str, Any, str]] = []
    for i, node in read_list_doc(ctx, doc, "phases"):
        where = f"phases[{i}]"
        if not check_keys(ctx, node, where, ("id", "name", "goal", "weeks", "progress_when"),
                     ("id", "name", "goal", "weeks", "progress_when", "min_days")):
            continue
        pid = check_id(ctx, node, where, ID)
        name = text_value(ctx, node, "name", where)
        goal = text_value(ctx, node, "goal", where)
        weeks = int_value(ctx, node, "weeks", where, 1, 52)
        min_days = int_value(ctx, node, "min_days", where, 0, 366) if "min_days" in node else 0
        items = node["progress_when"]
        texts: list[str] = []
        criteria: list[CriterionDef] = []
        if not isinstance(items, list):
            ctx.add(line_of(node, "progress_when"), "wrong-type",
                    "progress_when is a list of criteria", join(where, "progress_when"))
            items = []
        for k, item in enumerate(items):
            here = join(join(where, "progress_when"), k)
            if isinstance(item, str):
                ctx.add(line_of(node, "progress_when"), "criterion-text-only",
                        "a criterion needs id, text, when and sources: text alone is never checked "
                        "against the feedback", here)
                continue
            if not check_keys(ctx, item, here, CRITERION_KEYS, (*CRITERION_KEYS, "quota")):
                continue
            cid = check_id(ctx, item, here, ID)
            text = text_value(ctx, item, "text", here)
            quota = item.get("quota", False)
            if not isinstance(quota, bool):
                ctx.add(line_of(item, "quota"), "wrong-type", "quota takes true or false",
                        join(here, "quota"))
                continue
            if cid is None or text is None or pid is None:
                continue
            if any(c.id == cid for c in criteria):
                ctx.add(line_of(item, "id"), "duplicate-id", f"criterion id {cid!r} is used twice",
                        join(here, "id"))
                continue
            texts.append(text)
            criteria.append(CriterionDef(cid, text, quota, f"adjust.criterion.{pid}.{cid}"))
            pending.append((pid, item, here))
        if pid is None or name is None or goal is None or weeks is None or min_days is None:
            continue
        if any(p.id == pid for p in out):
            ctx.add(line_of(node, "id"), "duplicate-id", f"phase id {pid!r} is defined twice",
                    join(where, "id"))
            continue
        if min_days > weeks * 7:
            ctx.add(line_of(node, "min_days"), "out-of-range",
                    f"min_days {min_days} is longer than the phase ({weeks} weeks)", join(where, "min_days"))
        out.append(PhaseDef(pid, name, goal, weeks, tuple(texts), min_days, tuple(criteria)))
    if not out and not ctx.problems:
        ctx.add(line_of(doc), "missing-value", "a pack needs at least one phase", "phases")
    return out, pending


def criterion_rule(ctx: Ctx, phase: str, node: Any, where: str, known: Known,
                   derived: dict[str, tuple[str, FieldSpec]], layer: str) -> Rule | None:
    """The rule of ``layer`` (the layer that reads feedback) that checks one progress criterion."""
    cid, text = node["id"], str(node["text"]).strip()
    rid = f"adjust.criterion.{phase}.{cid}"
    ctx.rule_id = rid
    before = len(ctx.problems)
    scope = Scope(layer, derived, "feedback")
    when = parse_condition(ctx, scope, node["when"], join(where, "when"))
    if when is not None and size_of(when) > MAX_CONDITION_NODES:
        ctx.add(line_of(node, "when"), "condition-too-large",
                f"the condition has {size_of(when)} parts; the limit is {MAX_CONDITION_NODES}", where)
    check_template(ctx, scope, text, line_of(node, "text"), join(where, "text"))
    sources = str_list(ctx, node, "sources", where)
    if not sources:
        ctx.add(line_of(node, "sources"), "missing-value", "a criterion cites at least one source",
                join(where, "sources"))
    for s in sources:
        known.refs.append(("source", s, line_of(node, "sources"), join(where, "sources"), rid, ctx.file))
    ctx.rule_id = None
    if when is None or len(ctx.problems) != before:
        return None
    return Rule(rid, text, layer, CRITERION_PRIORITY, when, Then(criterion=f"{phase}.{cid}"), text,
                tuple(sources), ctx.file, line_of(node) or 0, frozenset(scope.read),
                RuleEvidence(None, note="a phase's criterion for moving on: a design choice", design=True),
                text)


_MEASURE_KEYS = ("name", "better", "mcid", "sources")


def read_measures(ctx: Ctx, doc: Any, known: Known) -> dict[str, Measure]:
    """outcomes.yaml: ``measures: {id: {name, better, mcid, percent?, sources}}``."""
    from backrx.model.measures import MEASURES

    out: dict[str, Measure] = {}
    if not check_keys(ctx, doc, "", ("measures",), ("measures", "description")):
        return out
    node = doc["measures"]
    if not isinstance(node, dict):
        ctx.add(line_of(doc, "measures"), "wrong-type", "measures is a mapping of measure: {...}",
                "measures")
        return out
    for mid, item in node.items():
        where = join("measures", str(mid))
        if mid not in MEASURES:
            ctx.add(line_of(node, mid), "unknown-value",
                    f"unknown measure {mid!r}{hint(str(mid), MEASURES)}; measures are {', '.join(MEASURES)}",
                    where)
            continue
        if not check_keys(ctx, item, where, _MEASURE_KEYS, (*_MEASURE_KEYS, "percent")):
            continue
        name = text_value(ctx, item, "name", where)
        better = item["better"]
        if better not in ("lower", "higher"):
            ctx.add(line_of(item, "better"), "unknown-value", "better is lower or higher",
                    join(where, "better"))
            continue
        numbers: dict[str, float | None] = {}
        for key in ("mcid", "percent"):
            value = item.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or not 0 < value <= 100):
                ctx.add(line_of(item, key), "wrong-type", f"{key} is a number above 0 (or null)",
                        join(where, key))
                value = None
            numbers[key] = float(value) if value is not None else None
        sources = str_list(ctx, item, "sources", where)
        for s in sources:
            known.refs.append(("source", s, line_of(item, "sources"), join(where, "sources"), None,
                               ctx.file))
        if name is not None:
            out[str(mid)] = Measure(str(mid), name, str(better), numbers["mcid"], numbers["percent"],
                                    tuple(sources))
    return out

