"""Reading a whole pack: every file, then the checks across files, into one `Pack`."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from backrx import _yaml
from backrx.errors import Problem, RuleError
from backrx.lang.condition import alternatives, fields_of
from backrx.model.profile import RED_FLAGS
from backrx.model.vocabulary import CATEGORIES, FieldSpec
from backrx.pack import parsecache
from backrx.pack.conditions import tests_of
from backrx.pack.donotdo import FILE as DONOTDO_FILE
from backrx.pack.donotdo import DoNotDoBook, read_donotdo
from backrx.pack.education import FILE as EDUCATION_FILE
from backrx.pack.education import EducationBook, read_education
from backrx.pack.fields import FILE as FIELDS_FILE
from backrx.pack.fields import read_field_notes
from backrx.pack.figures import FILE as FIGURES_FILE
from backrx.pack.figures import read_figures
from backrx.pack.limits import (
    MAX_DERIVED,
    MAX_FILE_BYTES,
    MAX_FILES,
    MAX_PACK_BYTES,
    MAX_PATTERNS,
    MAX_RULES,
    MAX_YAML_ITEMS,
)
from backrx.pack.model import DOSE_KINDS, LAYERS, NON_RULE_FILES, PACK_FORMAT, SOURCE_KINDS, Layer, Pack, Rule
from backrx.pack.parts import (
    criterion_rule,
    read_exercises,
    read_measures,
    read_meta,
    read_phases,
    read_sources,
)
from backrx.pack.planspec import read_planner
from backrx.pack.populations import FILE as POPULATIONS_FILE
from backrx.pack.populations import PopulationBook, read_populations
from backrx.pack.read import (
    MAX_HINTS,
    Ctx,
    Known,
    Problems,
    bundled_path,
    hint,
    hints_left,
    join,
    line_of,
    pack_too_large,
    read_file,
)
from backrx.pack.rules import layer_inputs, parse_rule, read_rule_file
from backrx.pack.tiers import FILE as TIERS_FILE
from backrx.pack.tiers import check_wording, read_tiers

REQUIRED_FILES = ("pack.yaml", "sources.yaml", "exercises.yaml", "phases.yaml", "planner.yaml")
TEXT_FILES = ("text.yaml",)  # not rule files: read by backrx.pack.texts
#: Data files that are not rule files.
#: codes.yaml (optional): EHR codes -> profile fields, read by backrx.interop.fhir_codes.
#: fields.yaml (optional): profile fields declared informational, read by backrx audit.
#: cert.yaml (optional): the CERT report's items, read by backrx.render.cert.
DATA_FILES = (*REQUIRED_FILES, "outcomes.yaml", *TEXT_FILES, TIERS_FILE, FIGURES_FILE, "codes.yaml",
              FIELDS_FILE, POPULATIONS_FILE, DONOTDO_FILE, "cert.yaml", EDUCATION_FILE)

def _reads_through_states(when: Any, states: list[Rule]) -> list[Any]:
    """The field tests a condition can be made true by: its own, and for each clinical state it
    tests (``derived.<name>``), the tests of the states rules that set that state."""
    out = []
    for test in tests_of(when):
        out.append(test)
        if test.field.startswith("derived."):
            name = test.field[len("derived."):]
            out += [t for rule in states for key, _ in rule.then.set if key == name
                    for t in tests_of(rule.when)]
    return out


def digest_of(docs: dict[str, Any]) -> str:
    """A hash of the pack's parsed content: every top-level YAML file, by name and data.

    It is computed from the parsed documents in a canonical JSON form, so comments, key order,
    quoting and line breaks do not change it; any change of a value does.
    """
    canonical = json.dumps(docs, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def digest_of_bytes(files: Iterable[tuple[str, bytes]], folder: Path | None = None) -> str:
    """The pack digest of top-level files given as bytes (parsed as the loader parses them).

    ``folder``, where the files came from, changes nothing: a parse is kept by the bytes alone
    (`backrx.pack.parsecache`), never by a folder's cache. It stays for existing callers.
    """
    docs: dict[str, Any] = {}
    for name, data in sorted(files):
        try:
            doc = parsecache.parse(data, data.decode("utf-8"), name)
        except (UnicodeDecodeError, _yaml.YamlError):
            doc = {"unparsed": hashlib.sha256(data).hexdigest()}  # never the digest of a loaded pack
        if doc is not None:
            docs[name] = doc
    return digest_of(docs)


def read_pack(path: str | os.PathLike[str] | None = None) -> Pack:
    """Read and validate a rule pack; raise `RuleError` listing every problem
    (at most MAX_PROBLEMS_PER_FILE per file, and how many more)."""
    token = hints_left.set([MAX_HINTS])
    try:
        return _read_pack(path)
    finally:
        hints_left.reset(token)


def _read_pack(path: str | os.PathLike[str] | None) -> Pack:
    root = Path(path) if path is not None else bundled_path()
    problems = Problems()
    if not root.is_dir():
        raise RuleError([Problem(str(root), None, None, "not-a-pack", "no such folder")])
    files = sorted(root.glob("*.yaml"))
    for other in sorted(root.glob("*.yml")) + sorted(root.glob("*.json")):
        # A rule file the loader would silently skip could be a whole layer (triage!) gone.
        problems.append(Problem(other.name, None, None, "wrong-extension",
                                f"rule-pack files end in .yaml; rename {other.name} or move it out"))
    if len(files) > MAX_FILES:
        raise RuleError([Problem(str(root), None, None, "too-many-files",
                                 f"{len(files)} YAML files; the limit is {MAX_FILES}")])
    for required in REQUIRED_FILES:
        if not (root / required).is_file():
            problems.append(Problem(required, None, None, "missing-file",
                                    f"a pack needs {required}"))
    docs: dict[str, Any] = {}
    contents: dict[str, bytes] = {}
    real_root = root.resolve()
    items = [MAX_YAML_ITEMS]
    for f in files:
        if f.name in NON_RULE_FILES:
            continue
        left = MAX_PACK_BYTES - sum(len(data) for data in contents.values())
        if left < MAX_FILE_BYTES and pack_too_large(f, left, problems):
            break
        doc = read_file(f, f.name, problems, real_root, contents, items)
        if doc is not None:
            docs[f.name] = doc
        elif f.name not in [p.file for p in problems]:
            problems.append(Problem(f.name, None, None, "empty-file", "the file is empty"))

    meta_ctx = Ctx(problems, "pack.yaml")
    name, version, description, fmt = (
        read_meta(meta_ctx, docs["pack.yaml"]) if "pack.yaml" in docs else ("", "", "", PACK_FORMAT)
    )
    sources = read_sources(Ctx(problems, "sources.yaml"), docs["sources.yaml"]) \
        if "sources.yaml" in docs else {}
    ex_ctx = Ctx(problems, "exercises.yaml")
    catalog = read_exercises(ex_ctx, docs["exercises.yaml"]) if "exercises.yaml" in docs else {}
    phases_ctx = Ctx(problems, "phases.yaml")
    phases, pending_criteria = read_phases(phases_ctx, docs["phases.yaml"]) \
        if "phases.yaml" in docs else ([], [])

    planner = read_planner(docs["planner.yaml"], problems, phases={p.id for p in phases},
                           categories=CATEGORIES, dose_kinds=DOSE_KINDS, sources=set(sources)) \
        if "planner.yaml" in docs else None
    known = Known(set(catalog), {p.id for p in phases},
                   {t for entry, _, _ in catalog.values() for t in entry.tags}, [],
                   planner.fill_order if planner is not None else ())
    for eid, (entry, node, where) in catalog.items():
        ex_ctx.rule_id = None
        for key in ("easier", "harder"):
            target = getattr(entry, key)
            if target is not None and target not in catalog:
                ex_ctx.add(line_of(node, key), "unknown-exercise",
                           f"{eid}.{key} names {target!r}, which is not in the catalog"
                           f"{hint(target, catalog)}", join(where, key))
            if target == eid:
                ex_ctx.add(line_of(node, key), "bad-link", f"{eid}.{key} names the exercise itself",
                           join(where, key))
        for s in entry.sources:
            if s not in sources:
                ex_ctx.add(line_of(node, "sources"), "unknown-source",
                           f"{eid} cites {s!r}, which is not in sources.yaml{hint(s, sources)}",
                           join(where, "sources"))

    # Rule files: first every file's layer and derived names, then the rules themselves.
    derived: dict[str, tuple[str, FieldSpec]] = {}
    rule_files: list[tuple[Ctx, str, str, list[tuple[Any, str]]]] = []
    tiers = read_tiers(docs[TIERS_FILE], problems, fmt) if TIERS_FILE in docs else None
    for tier in tiers.tiers.values() if tiers is not None else ():
        known.refs += [("source", s, None, f"tiers.{tier.urgency}.sources", None, TIERS_FILE)
                       for s in tier.sources]
    for fname, doc in docs.items():
        if fname in DATA_FILES or fname in NON_RULE_FILES:
            continue
        ctx = Ctx(problems, fname)
        found = read_rule_file(ctx, doc, known, derived, fmt)
        if found is not None:
            rule_files.append((ctx, *found))
    inputs = layer_inputs(rule_files, fmt)
    populations = None
    if POPULATIONS_FILE in docs:  # each population's limits become rules of two layers
        pop_ctx = Ctx(problems, POPULATIONS_FILE)
        populations, excl_nodes, comp_nodes = read_populations(pop_ctx, docs[POPULATIONS_FILE], derived,
                                                               {p.id for p in phases})
        rule_files += [(pop_ctx, "exclusions", inputs["exclusions"], excl_nodes),
                       (pop_ctx, "components", inputs["components"], comp_nodes)]
    education: EducationBook = EducationBook()
    education_texts: dict[str, str] = {}
    if EDUCATION_FILE in docs:  # each module's condition becomes a components-layer rule
        edu_ctx = Ctx(problems, EDUCATION_FILE)
        kinds_of = ({k: v.kind for k, v in sources.items()}, SOURCE_KINDS)
        education, edu_nodes, education_texts = read_education(edu_ctx, docs[EDUCATION_FILE], known, kinds_of,
                                                               [p.id for p in phases])
        rule_files.append((edu_ctx, "components", inputs["components"], edu_nodes))
    if len(derived) > MAX_DERIVED:
        problems.append(Problem("", None, None, "too-many-derived",
                                f"{len(derived)} derived names; the limit is {MAX_DERIVED}"))
    by_layer: dict[str, list[Rule]] = {layer: [] for layer in LAYERS}
    seen: dict[str, tuple[str, int | None]] = {}
    total = patterns = 0
    for ctx, layer, _, nodes in rule_files:
        for node, where in nodes:
            total += 1
            if total > MAX_RULES:
                ctx.add(line_of(node), "too-many-rules", f"a pack holds at most {MAX_RULES} rules", where)
                break
            if patterns > MAX_PATTERNS:
                ctx.rule_id = None
                ctx.add(line_of(node), "pack-too-complex",
                        f"the rules up to here already spread into more than {MAX_PATTERNS} "
                        "alternatives (any, in and at_least multiply them); the limit keeps loading "
                        "and memory bounded: simplify or split the conditions", where)
                break
            rule = parse_rule(ctx, node, where, layer, known, derived, ctx.file, inputs[layer])
            if rule is None:
                continue
            patterns += alternatives(rule.when)
            if rule.id in seen:
                first_file, first_line = seen[rule.id]
                ctx.rule_id = rule.id
                ctx.add(rule.line, "duplicate-id",
                        f"rule id {rule.id!r} is already used at {first_file}:{first_line}", "id")
                continue
            seen[rule.id] = (ctx.file, rule.line)
            by_layer[layer].append(rule)
    # Progress criteria are checked against feedback: by the last layer that reads it.
    feedback = [layer for layer in LAYERS if inputs[layer] == "feedback"]
    if pending_criteria and not feedback:
        phases_ctx.add(None, "no-feedback-layer", "progress criteria are checked against feedback, but "
                       "no rule file declares `inputs: feedback`", "phases")
    for phase_id, node, where in pending_criteria if feedback else ():
        criterion = criterion_rule(phases_ctx, phase_id, node, where, known, derived, feedback[-1])
        if criterion is not None:
            by_layer[feedback[-1]].append(criterion)
    measures = read_measures(Ctx(problems, "outcomes.yaml"), docs["outcomes.yaml"], known) \
        if "outcomes.yaml" in docs else {}
    donotdo, donotdo_texts = read_donotdo(Ctx(problems, DONOTDO_FILE), docs[DONOTDO_FILE], known) \
        if DONOTDO_FILE in docs else (DoNotDoBook(), {})

    # References into the catalog, the tags and the bibliography.
    for kind, ref, line, where, rule_id, file in known.refs:
        pool: set[str] | dict[str, Any]
        pool, code = {"exercise": (known.exercises, "unknown-exercise"),
                      "tag": (known.tags, "unknown-tag"),
                      "source": (set(sources), "unknown-source")}[kind]
        if ref not in pool:
            problems.append(Problem(file, line, rule_id, code,
                                    f"{kind} {ref!r} is not defined in the pack{hint(ref, pool)}", where))

    # Evidence: no rule claims stronger evidence than the strongest source it cites. A rule that
    # takes its grade from no text of its own shows the grades its sources of that kind give.
    for layer_rules in by_layer.values():
        for i, rule in enumerate(layer_rules):
            ev = rule.evidence
            kinds = [sources[s].kind for s in rule.sources
                     if s in sources and sources[s].kind in SOURCE_KINDS]
            if ev is None or ev.kind is None or not kinds:
                continue
            best = min(kinds, key=SOURCE_KINDS.index)
            if SOURCE_KINDS.index(ev.kind) < SOURCE_KINDS.index(best):
                problems.append(Problem(rule.file, rule.line, rule.id, "evidence-above-sources",
                                        f"the rule states {ev.kind} evidence but its strongest source is "
                                        f"{best}: cite the {ev.kind} or state the weaker kind", "evidence"))
            elif ev.grade is None:
                grades = [f"{s}: {sources[s].grade}" for s in rule.sources
                          if s in sources and sources[s].grade and sources[s].kind == ev.kind]
                if grades:
                    layer_rules[i] = dataclasses.replace(
                        rule, evidence=dataclasses.replace(ev, grade="; ".join(grades)))

    # Derived names that no later layer reads are dead conclusions.
    read_by_later: set[str] = set()
    set_by_loaded: set[str] = set()
    for layer_rules in by_layer.values():
        for rule in layer_rules:
            read_by_later |= rule.reads
            set_by_loaded |= {f"derived.{n}" for n, _ in rule.then.set}
    for path, (layer, _) in derived.items():
        # A setter that failed to load has its own problem already.
        if path in set_by_loaded and path not in read_by_later:
            setter = next((r for r in by_layer[layer] if any(f"derived.{n}" == path for n, _ in r.then.set)),
                          None)
            problems.append(Problem(setter.file if setter else "?", setter.line if setter else None,
                                    setter.id if setter else None, "unused-conclusion",
                                    f"{path} is set but no later layer reads it", "then.set"))

    # Safety: every red-flag code must be able to lead to a referral. A triage rule that failed to
    # load may be the missing referral, so the check waits until its problems are fixed.
    triage_files = {ctx.file for ctx, layer, _, _ in rule_files if layer == "triage"}
    triage_broken = any(p.rule_id and p.file in triage_files for p in problems)
    referring = [r for r in by_layer["triage"] if r.then.refer is not None]
    read = [t for r in referring for t in _reads_through_states(r.when, by_layer["states"])]
    named = {t.value for t in read if t.field == "red_flags" and t.op == "contains"}
    missing = [code for code in RED_FLAGS if code not in named]
    if missing and not triage_broken:
        problems.append(Problem("", None, None, "red-flag-without-referral",
                                f"no triage rule refers for {', '.join(missing)}: every red flag must "
                                "lead to a referral"))
    # An unsure answer is not a "no": each code in red_flags_unsure must be able to refer too.
    unsure = {t.value for t in read if t.field == "red_flags_unsure" and t.op == "contains"}
    missing_unsure = [code for code in RED_FLAGS if code not in unsure]
    if missing_unsure and not triage_broken:
        problems.append(Problem("", None, None, "unsure-red-flag-without-referral",
                                f"no triage rule refers when the person is unsure of "
                                f"{', '.join(missing_unsure)}: an unsure answer must lead to a review"))
    if tiers is not None:
        worded: list[tuple[str, int, str, str | None, str, str]] = []
        for layer_rules in by_layer.values():
            for rule in layer_rules:
                if rule.then.refer is not None:
                    refer = rule.then.refer
                    worded.append((rule.file, rule.line, rule.id, refer.urgency, "then.refer.reason",
                                   refer.reason))
                worded += [(rule.file, rule.line, rule.id, None, "then.safety_net", line)
                           for line in rule.then.safety_net]
                if rule.patient and rule.layer == "triage":
                    worded.append((rule.file, rule.line, rule.id, None, "patient", rule.patient))

    from backrx.pack.texts import read_texts

    texts = read_texts(Ctx(problems, "text.yaml"), docs.get("text.yaml"), root)
    figures, figure_texts = read_figures(Ctx(problems, FIGURES_FILE), docs.get(FIGURES_FILE),
                                         {eid: node for eid, (_, node, _) in catalog.items()})
    texts = {**texts, **figure_texts}  # plain names and figure words: translated like any text
    texts.update(donotdo_texts)  # the do-not-do list's plain sentences, likewise
    texts.update(education_texts)  # the education modules, flare plan and pathway, likewise
    if tiers is not None:
        for urgency in tiers.tiers:  # the report words of each tier say the tier's phrase too
            both = " ".join(texts.get(f"urgency.{urgency}.{part}", "") for part in ("heading", "advice"))
            if both.strip():
                worded.append(("text.yaml", 0, f"urgency.{urgency}", urgency, "text", both))
        check_wording(tiers, worded, problems)
    from backrx.pack.locale import read_locales

    locales = read_locales(root, problems, texts=texts, tiers=tiers, fmt=fmt,
                           patients={r.id: r.patient for rs in by_layer.values() for r in rs})

    read_field_notes(docs.get(FIELDS_FILE), problems)  # checked here; backrx audit reads it
    if problems:
        raise RuleError(problems.summarised())

    layers = tuple(
        Layer(layer, tuple(sorted(rules, key=lambda r: (r.priority, r.id))),
              tuple(sorted({f for r in rules for f in fields_of(r.when)})), inputs[layer])
        for layer, rules in by_layer.items()
    )
    return Pack(name, version, description, digest_of(docs), str(root), layers,
                {eid: entry for eid, (entry, _, _) in catalog.items()}, sources, tuple(phases),
                {path: spec for path, (_, spec) in derived.items()}, planner=planner, measures=measures,
                texts=texts, locales=locales, tiers=tiers, format_version=fmt, figures=figures,
                populations=populations or PopulationBook(), donotdo=donotdo, education=education)
