"""Translations of a pack's texts: ``locales/<lang>.yaml`` beside the rule files.

The English texts in the pack are the source. A locale file gives the same texts in another
language, under the keys of `catalog`::

    text:                       # the report words of text.yaml
      heading.why: Por qué este plan
    rules:
      triage.cauda-equina.saddle:
        title: ...              # the rule's title (the clinician's trace, CDS cards)
        rationale: ...          # its rationale, with the English rationale's {placeholders}
        warn: ...               # its clinician-facing warning (warn: [..., ...] when it has several)
        patient: ...            # the rule's patient text
        refer: ...              # its referral reason
        safety_net: [..., ...]  # its safety-net advice, item by item
    exercises:
      cat-camel: {name: ..., instructions: ...}
    phases:
      calm: {name: ..., goal: ..., progress_when: [..., ...]}
    tiers:
      emergency: {header: ..., title: ...}   # the wording a referral of the tier carries

Flattened, these are keys such as ``rules.triage.safety-net.safety_net.0``. The loader checks the
file's shape; ``backrx check`` reports, per locale, the keys it misses and the keys the pack does not
have. A missing key falls back to English, so an unfinished translation still renders.

Both readers' texts are translated: the patient's (patient texts, exercises, phases, referral
reasons, safety net) and the clinician's (each rule's title, rationale and warning message, which
the clinician view, the trace, FHIR and CDS Hooks show). A rationale is a template: its translation
must name exactly the fields the English one names, or the pack is refused (``bad-template``); a
warning message is checked the same way against its English message.

The words a rationale shows for a profile value (``{tolerance}`` filled with ``low``) are the
pack's ``value.<field>.<value>`` texts; the catalog lists one for every value of each field a
rule's rationale or patient text names, so ``backrx check`` reports a locale that lacks one.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from backrx.errors import Problem
from backrx.model.vocabulary import ADJUST_FIELDS, FIELDS
from backrx.pack.locale_checks import blocking_words, english_words, placeholders_of
from backrx.pack.model import PACK_FORMAT, CatalogEntry, Pack, PhaseDef, Rule
from backrx.pack.read import Ctx
from backrx.pack.tiers import FILE as TIERS_FILE
from backrx.pack.tiers import URGENCY_ORDER, Tiers
from backrx.readers import safe_yaml

SOURCE_LOCALE = "en"
_LANG = re.compile(r"^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?\Z")
_SECTIONS = ("text", "rules", "exercises", "phases", "tiers")
MAX_LOCALES = 20


def warn_keys(rule: Rule) -> list[tuple[str, str]]:
    """A rule's warning messages by locale key: ``rules.<id>.warn`` for its one warning, or
    ``rules.<id>.warn.<i>`` for each of several (the shape of its ``warn:`` in YAML)."""
    warns = rule.then.warn
    if len(warns) == 1:
        return [(f"rules.{rule.id}.warn", warns[0].message)]
    return [(f"rules.{rule.id}.warn.{i}", w.message) for i, w in enumerate(warns)]


def value_keys(pack: Pack) -> dict[str, str]:
    """The words of each value a rationale or patient text may show (``text.value.<field>.<value>``),
    for every field with a fixed vocabulary that one of the pack's rules names in either; the pack's
    own word where it has one, else the value as the English output shows it."""
    named: set[str] = set()
    for rule in pack.rules:
        for template in (rule.rationale, rule.patient or ""):
            named.update(re.findall(r"\{([^{}:!]+)\}", template))
    out: dict[str, str] = {}
    for field in sorted(named):
        spec = FIELDS.get(field) or ADJUST_FIELDS.get(field)
        for value in spec.values if spec is not None else ():
            key = f"value.{field}.{value}"
            out[f"text.{key}"] = pack.texts.get(key) or str(value).replace("_", " ")
    return out


def catalog(pack: Pack) -> dict[str, str]:
    """Every translatable text of a pack, by locale key, in the pack's own (source) language."""
    out: dict[str, str] = {f"text.{k}": v for k, v in pack.texts.items()}
    out.update(value_keys(pack))
    for rule in pack.rules:
        out[f"rules.{rule.id}.title"] = rule.title
        out[f"rules.{rule.id}.rationale"] = rule.rationale
        out.update(warn_keys(rule))
        if rule.patient:
            out[f"rules.{rule.id}.patient"] = rule.patient
        if rule.then.refer is not None:
            out[f"rules.{rule.id}.refer"] = rule.then.refer.reason
        for i, item in enumerate(rule.then.safety_net):
            out[f"rules.{rule.id}.safety_net.{i}"] = item
    for eid, entry in pack.exercises.items():
        out[f"exercises.{eid}.name"] = entry.name
        out[f"exercises.{eid}.instructions"] = entry.instructions
    for urgency, tier in (pack.tiers.tiers.items() if pack.tiers is not None else ()):
        out[f"tiers.{urgency}.header"] = tier.header
        if tier.title:
            out[f"tiers.{urgency}.title"] = tier.title
    for phase in pack.phases:
        out[f"phases.{phase.id}.name"] = phase.name
        out[f"phases.{phase.id}.goal"] = phase.goal
        for i, item in enumerate(phase.progress_when):
            out[f"phases.{phase.id}.progress_when.{i}"] = item
    return out


def _flatten(ctx_add: Any, node: Any, prefix: str, out: dict[str, str], depth: int = 0,
             lines: dict[str, int | None] | None = None) -> None:
    from backrx.pack.read import line_of as _line_of

    items: list[tuple[str, Any]]
    if isinstance(node, dict):
        items = [(str(k), v) for k, v in node.items()]
    elif isinstance(node, list):
        items = [(str(i), v) for i, v in enumerate(node)]
    else:
        ctx_add(None, "wrong-type", f"{prefix} must be a mapping or a list", prefix)
        return
    for key, value in items:
        path = f"{prefix}.{key}"
        if isinstance(value, str):
            if not value.strip():
                ctx_add(_line_of(node, key if isinstance(node, dict) else int(key)), "wrong-type",
                        f"{path} must be non-empty text", path)
            else:
                out[path] = re.sub(r"\s+", " ", value).strip()
                if lines is not None:
                    lines[path] = _line_of(node, key if isinstance(node, dict) else int(key))
        elif isinstance(value, (dict, list)) and depth < 4:
            _flatten(ctx_add, value, path, out, depth + 1, lines)
        else:
            ctx_add(_line_of(node, key if isinstance(node, dict) else int(key)), "wrong-type",
                    f"{path} must be text", path)


def read_locales(root: Path, problems: list[Problem], *, texts: Mapping[str, str] | None = None,
                 tiers: Tiers | None = None, fmt: int = PACK_FORMAT,
                 patients: Mapping[str, str | None] | None = None,
                 rationales: Mapping[str, str] | None = None,
                 warns: Mapping[str, str] | None = None) -> dict[str, dict[str, str]]:
    """The pack's locale files (``locales/*.yaml``), flattened; problems go to ``problems``.

    Besides the shape, every placeholder is checked (`backrx.pack.locale_checks`) against the
    rules' English ``patients`` texts and ``rationales`` (by rule id) and warning messages
    (``warns``, by locale key: `warn_keys`); given the pack's ``texts``
    and ``tiers``, so is what each blocking tier's words say, in its language and in each locale.
    """
    from backrx.pack.read import Ctx as _Ctx
    from backrx.pack.read import line_of as _line_of
    from backrx.pack.read import read_file as _read_file

    folder = root / "locales"
    if not folder.is_dir():
        return {}
    out: dict[str, dict[str, str]] = {}
    files = sorted(folder.glob("*.yaml"))
    if len(files) > MAX_LOCALES:
        problems.append(Problem("locales", None, None, "too-many-files",
                                f"{len(files)} locale files; the limit is {MAX_LOCALES}"))
        return {}
    for path in files:
        rel = f"locales/{path.name}"
        ctx = _Ctx(problems, rel)
        lang = path.stem
        if not _LANG.match(lang) or lang == SOURCE_LOCALE:
            ctx.add(None, "bad-id", f"a locale file is named by its language code (es, pt-BR), not "
                    f"{lang!r}" + (" (en is the pack's own language)" if lang == SOURCE_LOCALE else ""))
            continue
        doc = _read_file(path, rel, problems)
        if doc is None:
            continue
        if not isinstance(doc, dict):
            ctx.add(_line_of(doc), "wrong-type", "a locale file is a mapping of text, rules, exercises, "
                    "phases")
            continue
        found: dict[str, str] = {}
        lines: dict[str, int | None] = {}
        for section, node in doc.items():
            if section == "description":
                continue
            if section not in _SECTIONS:
                ctx.add(_line_of(doc, section), "unknown-field",
                        f"unknown section {section!r}; sections are {', '.join(_SECTIONS)}", str(section))
                continue
            if section == "text":
                _read_text_section(ctx, doc, node, found, lines)
                continue
            _flatten(ctx.add, node, str(section), found, lines=lines)

        def add(key: str, line: int | None, code: str, message: str, ctx: Ctx = ctx,
                lines: dict[str, int | None] = lines) -> None:
            ctx.add(line if line is not None else lines.get(key), code, message, key)

        for key, text in found.items():
            placeholders_of(add, key, text, lines.get(key), patients, rationales, warns)
        if texts is not None and tiers is not None:
            blocking_words(add, found, english_words(texts, tiers), _blocking(tiers, fmt), URGENCY_ORDER)
        out[lang] = found
    if texts is not None and tiers is not None:  # the pack's own language, by the same rule
        english = english_words(texts, tiers)

        def add_own(key: str, line: int | None, code: str, message: str) -> None:
            rel = "text.yaml" if key.startswith("text.") else TIERS_FILE
            problems.append(Problem(rel, line, None, code, message, key))

        blocking_words(add_own, english, english, _blocking(tiers, fmt), URGENCY_ORDER)
    return out


def _read_text_section(ctx: Ctx, doc: dict[Any, Any], node: Any, found: dict[str, str],
                       lines: dict[str, int | None]) -> None:
    """A locale file's ``text:`` section into ``found``; its keys hold dots themselves, so each is
    kept whole."""
    from backrx.pack.read import line_of as _line_of

    if not isinstance(node, dict):
        ctx.add(_line_of(doc, "text"), "wrong-type", "text must be a mapping", "text")
        return
    for key, value in node.items():
        if isinstance(value, str) and value.strip():
            found[f"text.{key}"] = re.sub(r"\s+", " ", value)
            lines[f"text.{key}"] = _line_of(node, key)
        else:
            ctx.add(_line_of(node, key), "wrong-type", f"text.{key} must be non-empty text", f"text.{key}")


def _blocking(tiers: Tiers, fmt: int) -> tuple[str, ...]:
    """The tiers whose referral replaces the program (as `Pack.blocking_urgencies` says)."""
    if tiers.blocking is not None:
        return tiers.blocking
    return URGENCY_ORDER[:-1] if fmt < 3 else URGENCY_ORDER


def report(pack: Pack) -> dict[str, tuple[list[str], list[str]]]:
    """Per locale: the catalog keys it misses, and the keys it has that the pack does not."""
    source = catalog(pack)
    return {lang: (sorted(k for k in source if k not in texts), sorted(k for k in texts if k not in source))
            for lang, texts in sorted(pack.locales.items())}


def localize(pack: Pack, lang: str) -> Pack:
    """The pack with its texts in ``lang`` (English where the locale misses a key)."""
    tr = pack.locales[lang]

    def get(key: str, english: str) -> str:
        return tr.get(key, english)

    def rule_of(rule: Rule) -> Rule:
        then = rule.then
        refer = then.refer
        if refer is not None:
            refer = dataclasses.replace(refer, reason=get(f"rules.{rule.id}.refer", refer.reason))
        safety = tuple(get(f"rules.{rule.id}.safety_net.{i}", s) for i, s in enumerate(then.safety_net))
        patient = get(f"rules.{rule.id}.patient", rule.patient) if rule.patient else None
        warn = tuple(dataclasses.replace(w, message=get(key, w.message))
                     for w, (key, _) in zip(then.warn, warn_keys(rule), strict=True))
        return dataclasses.replace(rule, then=dataclasses.replace(then, refer=refer, safety_net=safety,
                                                                  warn=warn),
                                   patient=patient, title=get(f"rules.{rule.id}.title", rule.title),
                                   rationale=get(f"rules.{rule.id}.rationale", rule.rationale))

    def exercise_of(entry: CatalogEntry) -> CatalogEntry:
        return dataclasses.replace(entry, name=get(f"exercises.{entry.id}.name", entry.name),
                                   instructions=get(f"exercises.{entry.id}.instructions", entry.instructions))

    def phase_of(phase: PhaseDef) -> PhaseDef:
        return dataclasses.replace(
            phase, name=get(f"phases.{phase.id}.name", phase.name),
            goal=get(f"phases.{phase.id}.goal", phase.goal),
            progress_when=tuple(get(f"phases.{phase.id}.progress_when.{i}", s)
                                for i, s in enumerate(phase.progress_when)))

    texts = dict(pack.texts)
    texts.update({k.removeprefix("text."): v for k, v in tr.items() if k.startswith("text.")})
    tiers = pack.tiers
    if tiers is not None:  # the header and title a referral carries, in the person's language
        tiers = dataclasses.replace(tiers, tiers={
            u: dataclasses.replace(t, header=get(f"tiers.{u}.header", t.header),
                                   title=get(f"tiers.{u}.title", t.title) if t.title else t.title)
            for u, t in tiers.tiers.items()})
    return dataclasses.replace(
        pack,
        tiers=tiers,
        layers=tuple(dataclasses.replace(layer, rules=tuple(rule_of(r) for r in layer.rules))
                     for layer in pack.layers),
        exercises={eid: exercise_of(e) for eid, e in pack.exercises.items()},
        phases=tuple(phase_of(p) for p in pack.phases),
        texts=texts,
    )


def read_yaml(path: Path) -> Any:  # pragma: no cover - a helper for translators' scripts
    """A locale file as plain data."""
    return safe_yaml.load_plain(path.read_text(encoding="utf-8"), path.name)
