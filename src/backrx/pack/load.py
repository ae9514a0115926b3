"""Reading a whole pack: every file, then the checks across files, into one `Pack`."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from backrx.errors import Problem, RuleError
from backrx.lang.condition import alternatives, fields_of
from backrx.model.profile import RED_FLAGS
from backrx.model.vocabulary import CATEGORIES, FieldSpec
from backrx.pack import parsecache, snapshot
from backrx.pack.conditions import alone_tests, tests_of
from backrx.pack.donotdo import FILE as DONOTDO_FILE
from backrx.pack.donotdo import DoNotDoBook, read_donotdo
from backrx.pack.education import FILE as EDUCATION_FILE
from backrx.pack.education import EducationBook, read_education
from backrx.pack.fields import FILE as FIELDS_FILE
from backrx.pack.fields import read_field_notes
from backrx.pack.figures import FILE as FIGURES_FILE
from backrx.pack.figures import FigureBook, read_figures
from backrx.pack.limits import MAX_DERIVED, MAX_FILES
from backrx.pack.limits import active as active_limits
from backrx.pack.model import (
    DOSE_KINDS,
    LAYERS,
    NON_RULE_FILES,
    PACK_FORMAT,
    SOURCE_KINDS,
    CatalogEntry,
    Layer,
    Measure,
    Pack,
    PhaseDef,
    Rule,
    Source,
)
from backrx.pack.parts import (
    criterion_rule,
    read_exercises,
    read_measures,
    read_meta,
    read_phases,
    read_sources,
)
from backrx.pack.planspec import PlannerSpec, read_planner
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
from backrx.pack.tiers import Tiers, check_wording, read_tiers
from backrx.readers import safe_yaml

REQUIRED_FILES = ("pack.yaml", "sources.yaml", "exercises.yaml", "phases.yaml", "planner.yaml")
TEXT_FILES = ("text.yaml",)  # not rule files: read by backrx.pack.texts
#: Data files that are not rule files.
#: codes.yaml (optional): EHR codes -> profile fields, read by backrx.interop.fhir_codes.
#: fields.yaml (optional): profile fields declared informational, read by backrx audit.
#: cert.yaml (optional): the CERT report's items, read by backrx.render.cert.
DATA_FILES = (*REQUIRED_FILES, "outcomes.yaml", *TEXT_FILES, TIERS_FILE, FIGURES_FILE, "codes.yaml",
              FIELDS_FILE, POPULATIONS_FILE, DONOTDO_FILE, "cert.yaml", EDUCATION_FILE)

def _reads_through_states(when: Any, states: list[Rule]) -> list[Any]:
    """The field tests a condition can be made true by: its own, and for each clinical state that
    alone makes it true (``derived.<name>``, not one combined with other tests), the tests of the
    states rules that set that state."""
    out: list[Any] = list(tests_of(when))
    for test in alone_tests(when):
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
        except (UnicodeDecodeError, safe_yaml.YamlError):
            doc = {"unparsed": hashlib.sha256(data).hexdigest()}  # never the digest of a loaded pack
        if doc is not None:
            docs[name] = doc
    return digest_of(docs)


def read_pack(path: str | os.PathLike[str] | None = None) -> Pack:
    """Read and validate a rule pack; raise `RuleError` listing every problem
    (at most MAX_PROBLEMS_PER_FILE per file, and how many more).

    The pack is read by one `_Reader` that the passes of `PASSES` fill in turn, each a small
    function with its own problem codes; a pass may stop the load at once (``not-a-pack``,
    ``too-many-files``), otherwise every pass runs and all problems are raised together.
    """
    root = Path(path) if path is not None else bundled_path()
    key, kept = snapshot.load(root, Pack)  # a pack read before, from these very bytes and this code
    if kept is not None:
        return kept  # type: ignore[no-any-return]
    token = hints_left.set([MAX_HINTS])
    try:
        r = _Reader(root)
        for check in PASSES:
            check(r)
        if r.problems:
            raise RuleError(r.problems.summarised())
        pack = _pack_of(r)
    finally:
        hints_left.reset(token)
    if key is not None and snapshot.key_of(root) == key:  # unchanged while it was read
        snapshot.store(key, pack)
    return pack


RuleFile = tuple[Ctx, str, str, list[tuple[Any, str]]]  # its reader, layer, inputs, rule nodes


@dataclasses.dataclass
class _Reader:
    """One pack being read: its problems so far, and what each pass has read."""

    root: Path
    problems: Problems = dataclasses.field(default_factory=Problems)
    files: list[Path] = dataclasses.field(default_factory=list)
    docs: dict[str, Any] = dataclasses.field(default_factory=dict)
    name: str = ""
    version: str = ""
    description: str = ""
    fmt: int = PACK_FORMAT
    sources: dict[str, Source] = dataclasses.field(default_factory=dict)
    catalog: dict[str, tuple[CatalogEntry, Any, str]] = dataclasses.field(default_factory=dict)
    phases: list[PhaseDef] = dataclasses.field(default_factory=list)
    pending_criteria: list[tuple[str, Any, str]] = dataclasses.field(default_factory=list)
    planner: PlannerSpec | None = None
    known: Known = dataclasses.field(default_factory=lambda: Known(set(), set(), set(), []))
    derived: dict[str, tuple[str, FieldSpec]] = dataclasses.field(default_factory=dict)
    rule_files: list[RuleFile] = dataclasses.field(default_factory=list)
    inputs: dict[str, str] = dataclasses.field(default_factory=dict)
    tiers: Tiers | None = None
    populations: PopulationBook | None = None
    education: EducationBook = dataclasses.field(default_factory=EducationBook)
    education_texts: dict[str, str] = dataclasses.field(default_factory=dict)
    by_layer: dict[str, list[Rule]] = dataclasses.field(
        default_factory=lambda: {layer: [] for layer in LAYERS})
    measures: dict[str, Measure] = dataclasses.field(default_factory=dict)
    donotdo: DoNotDoBook = dataclasses.field(default_factory=DoNotDoBook)
    donotdo_texts: dict[str, str] = dataclasses.field(default_factory=dict)
    texts: dict[str, str] = dataclasses.field(default_factory=dict)
    figures: FigureBook | None = None
    locales: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        self.phases_ctx = Ctx(self.problems, "phases.yaml")  # progress criteria report here too


def _find_files(r: _Reader) -> None:
    """Codes: not-a-pack, wrong-extension, too-many-files, missing-file."""
    if not r.root.is_dir():
        raise RuleError([Problem(str(r.root), None, None, "not-a-pack", "no such folder")])
    r.files = sorted(r.root.glob("*.yaml"))
    for other in sorted(r.root.glob("*.yml")) + sorted(r.root.glob("*.json")):
        # A rule file the loader would silently skip could be a whole layer (triage!) gone.
        r.problems.append(Problem(other.name, None, None, "wrong-extension",
                                  f"rule-pack files end in .yaml; rename {other.name} or move it out"))
    if len(r.files) > MAX_FILES:
        raise RuleError([Problem(str(r.root), None, None, "too-many-files",
                                 f"{len(r.files)} YAML files; the limit is {MAX_FILES}")])
    for required in REQUIRED_FILES:
        if not (r.root / required).is_file():
            r.problems.append(Problem(required, None, None, "missing-file", f"a pack needs {required}"))


def _read_files(r: _Reader) -> None:
    """Codes: pack-too-large, empty-file, and those of `read_file` (unreadable-file, outside-pack,
    not-a-file, file-too-large, the YAML codes, control-character)."""
    contents: dict[str, bytes] = {}
    real_root = r.root.resolve()
    limits = active_limits()
    items = [limits.yaml_items]
    for f in r.files:
        if f.name in NON_RULE_FILES:
            continue
        left = limits.pack_bytes - sum(len(data) for data in contents.values())
        if left < limits.file_bytes and pack_too_large(f, left, r.problems):
            break
        doc = read_file(f, f.name, r.problems, real_root, contents, items)
        if doc is not None:
            r.docs[f.name] = doc
        elif f.name not in [p.file for p in r.problems]:
            r.problems.append(Problem(f.name, None, None, "empty-file", "the file is empty"))


def _read_parts(r: _Reader) -> None:
    """pack.yaml, sources.yaml, exercises.yaml, phases.yaml and planner.yaml, each with its reader's
    codes; then what rules may name (exercises, phases, tags, roles)."""
    docs = r.docs
    if "pack.yaml" in docs:
        r.name, r.version, r.description, r.fmt = read_meta(Ctx(r.problems, "pack.yaml"), docs["pack.yaml"])
    if "sources.yaml" in docs:
        r.sources = read_sources(Ctx(r.problems, "sources.yaml"), docs["sources.yaml"])
    if "exercises.yaml" in docs:
        r.catalog = read_exercises(Ctx(r.problems, "exercises.yaml"), docs["exercises.yaml"])
    if "phases.yaml" in docs:
        r.phases, r.pending_criteria = read_phases(r.phases_ctx, docs["phases.yaml"])
    if "planner.yaml" in docs:
        r.planner = read_planner(docs["planner.yaml"], r.problems, phases={p.id for p in r.phases},
                                 categories=CATEGORIES, dose_kinds=DOSE_KINDS, sources=set(r.sources))
    r.known = Known(set(r.catalog), {p.id for p in r.phases},
                    {t for entry, _, _ in r.catalog.values() for t in entry.tags}, [],
                    r.planner.fill_order if r.planner is not None else ())


def _check_catalog_links(r: _Reader) -> None:
    """Codes: unknown-exercise (easier/harder), bad-link, unknown-source (in exercises.yaml)."""
    ctx = Ctx(r.problems, "exercises.yaml")
    for eid, (entry, node, where) in r.catalog.items():
        for key in ("easier", "harder"):
            target = getattr(entry, key)
            if target is not None and target not in r.catalog:
                ctx.add(line_of(node, key), "unknown-exercise",
                        f"{eid}.{key} names {target!r}, which is not in the catalog"
                        f"{hint(target, r.catalog)}", join(where, key))
            if target == eid:
                ctx.add(line_of(node, key), "bad-link", f"{eid}.{key} names the exercise itself",
                        join(where, key))
        for s in entry.sources:
            if s not in r.sources:
                ctx.add(line_of(node, "sources"), "unknown-source",
                        f"{eid} cites {s!r}, which is not in sources.yaml{hint(s, r.sources)}",
                        join(where, "sources"))


def _read_rule_files(r: _Reader) -> None:
    """The urgency tiers, then every rule file's layer and derived names, and the rule nodes that
    populations.yaml and education.yaml add. Codes: those of the tiers, rule-file and book readers,
    and too-many-derived."""
    if TIERS_FILE in r.docs:
        r.tiers = read_tiers(r.docs[TIERS_FILE], r.problems, r.fmt)
    for tier in r.tiers.tiers.values() if r.tiers is not None else ():
        r.known.refs += [("source", s, None, f"tiers.{tier.urgency}.sources", None, TIERS_FILE)
                         for s in tier.sources]
    for fname, doc in r.docs.items():
        if fname in DATA_FILES or fname in NON_RULE_FILES:
            continue
        ctx = Ctx(r.problems, fname)
        found = read_rule_file(ctx, doc, r.known, r.derived, r.fmt)
        if found is not None:
            r.rule_files.append((ctx, *found))
    r.inputs = layer_inputs(r.rule_files, r.fmt)
    phase_ids = [p.id for p in r.phases]
    if POPULATIONS_FILE in r.docs:  # each population's limits become rules of two layers
        pop_ctx = Ctx(r.problems, POPULATIONS_FILE)
        r.populations, excl_nodes, comp_nodes = read_populations(pop_ctx, r.docs[POPULATIONS_FILE], r.derived,
                                                                 set(phase_ids))
        r.rule_files += [(pop_ctx, "exclusions", r.inputs["exclusions"], excl_nodes),
                         (pop_ctx, "components", r.inputs["components"], comp_nodes)]
    if EDUCATION_FILE in r.docs:  # each module's condition becomes a components-layer rule
        edu_ctx = Ctx(r.problems, EDUCATION_FILE)
        kinds_of = ({k: v.kind for k, v in r.sources.items()}, SOURCE_KINDS)
        r.education, edu_nodes, r.education_texts = read_education(edu_ctx, r.docs[EDUCATION_FILE], r.known,
                                                                   kinds_of, phase_ids)
        r.rule_files.append((edu_ctx, "components", r.inputs["components"], edu_nodes))
    if len(r.derived) > MAX_DERIVED:
        r.problems.append(Problem("", None, None, "too-many-derived",
                                  f"{len(r.derived)} derived names; the limit is {MAX_DERIVED}"))


def _parse_rules(r: _Reader) -> None:
    """Every rule node, into its layer. Codes: those of `parse_rule`, too-many-rules,
    pack-too-complex, duplicate-id."""
    seen: dict[str, tuple[str, int | None]] = {}
    total = patterns = 0
    limits = active_limits()
    for ctx, layer, _, nodes in r.rule_files:
        for node, where in nodes:
            total += 1
            if total > limits.rules:
                ctx.add(line_of(node), "too-many-rules", f"a pack holds at most {limits.rules} rules", where)
                break
            if patterns > limits.patterns:
                ctx.rule_id = None
                ctx.add(line_of(node), "pack-too-complex",
                        f"the rules up to here already spread into more than {limits.patterns} "
                        "alternatives (any, in and at_least multiply them); the limit keeps loading "
                        "and memory bounded: simplify or split the conditions", where)
                break
            rule = parse_rule(ctx, node, where, layer, r.known, r.derived, ctx.file, r.inputs[layer])
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
            r.by_layer[layer].append(rule)


def _add_criteria(r: _Reader) -> None:
    """Progress criteria become rules of the last layer that reads feedback. Codes:
    no-feedback-layer, and those of `criterion_rule`."""
    feedback = [layer for layer in LAYERS if r.inputs[layer] == "feedback"]
    if r.pending_criteria and not feedback:
        r.phases_ctx.add(None, "no-feedback-layer", "progress criteria are checked against feedback, but "
                         "no rule file declares `inputs: feedback`", "phases")
    for phase_id, node, where in r.pending_criteria if feedback else ():
        criterion = criterion_rule(r.phases_ctx, phase_id, node, where, r.known, r.derived, feedback[-1])
        if criterion is not None:
            r.by_layer[feedback[-1]].append(criterion)


def _read_books(r: _Reader) -> None:
    """outcomes.yaml and the do-not-do list, with their readers' codes."""
    if "outcomes.yaml" in r.docs:
        r.measures = read_measures(Ctx(r.problems, "outcomes.yaml"), r.docs["outcomes.yaml"], r.known)
    if DONOTDO_FILE in r.docs:
        ctx = Ctx(r.problems, DONOTDO_FILE)
        r.donotdo, r.donotdo_texts = read_donotdo(ctx, r.docs[DONOTDO_FILE], r.known)


def _check_refs(r: _Reader) -> None:
    """References into the catalog, the tags and the bibliography. Codes: unknown-exercise,
    unknown-tag, unknown-source."""
    for kind, ref, line, where, rule_id, file in r.known.refs:
        pool: set[str] | dict[str, Any]
        pool, code = {"exercise": (r.known.exercises, "unknown-exercise"),
                      "tag": (r.known.tags, "unknown-tag"),
                      "source": (set(r.sources), "unknown-source")}[kind]
        if ref not in pool:
            r.problems.append(Problem(file, line, rule_id, code,
                                      f"{kind} {ref!r} is not defined in the pack{hint(ref, pool)}", where))


def _check_evidence(r: _Reader) -> None:
    """No rule claims stronger evidence than the strongest source it cites. A rule that takes its
    grade from no text of its own shows the grades its sources of that kind give. Code:
    evidence-above-sources."""
    sources = r.sources
    for layer_rules in r.by_layer.values():
        for i, rule in enumerate(layer_rules):
            ev = rule.evidence
            kinds = [sources[s].kind for s in rule.sources
                     if s in sources and sources[s].kind in SOURCE_KINDS]
            if ev is None or ev.kind is None or not kinds:
                continue
            best = min(kinds, key=SOURCE_KINDS.index)
            if SOURCE_KINDS.index(ev.kind) < SOURCE_KINDS.index(best):
                r.problems.append(Problem(rule.file, rule.line, rule.id, "evidence-above-sources",
                                          f"the rule states {ev.kind} evidence but its strongest source is "
                                          f"{best}: cite the {ev.kind} or state the weaker kind", "evidence"))
            elif ev.grade is None:
                grades = [f"{s}: {sources[s].grade}" for s in rule.sources
                          if s in sources and sources[s].grade and sources[s].kind == ev.kind]
                if grades:
                    layer_rules[i] = dataclasses.replace(
                        rule, evidence=dataclasses.replace(ev, grade="; ".join(grades)))


def _check_unused_conclusions(r: _Reader) -> None:
    """Derived names that no later layer reads are dead conclusions. Code: unused-conclusion."""
    read_by_later: set[str] = set()
    set_by_loaded: set[str] = set()
    for layer_rules in r.by_layer.values():
        for rule in layer_rules:
            read_by_later |= rule.reads
            set_by_loaded |= {f"derived.{n}" for n, _ in rule.then.set}
    for path, (layer, _) in r.derived.items():
        # A setter that failed to load has its own problem already.
        if path in set_by_loaded and path not in read_by_later:
            setter = next((rule for rule in r.by_layer[layer]
                           if any(f"derived.{n}" == path for n, _ in rule.then.set)), None)
            r.problems.append(Problem(setter.file if setter else "?", setter.line if setter else None,
                                      setter.id if setter else None, "unused-conclusion",
                                      f"{path} is set but no later layer reads it", "then.set"))


def _check_red_flags(r: _Reader) -> None:
    """Safety: every red-flag code, and every code the person is unsure of, must be able to lead
    to a referral. A triage rule that failed to load may be the missing referral, so the check
    waits until its problems are fixed. Codes: red-flag-without-referral,
    unsure-red-flag-without-referral."""
    triage_files = {ctx.file for ctx, layer, _, _ in r.rule_files if layer == "triage"}
    if any(p.rule_id and p.file in triage_files for p in r.problems):
        return
    referring = [rule for rule in r.by_layer["triage"] if rule.then.refer is not None]
    read = [t for rule in referring for t in _reads_through_states(rule.when, r.by_layer["states"])]
    named = {t.value for t in read if t.field == "red_flags" and t.op == "contains"}
    missing = [code for code in RED_FLAGS if code not in named]
    if missing:
        r.problems.append(Problem("", None, None, "red-flag-without-referral",
                                  f"no triage rule refers for {', '.join(missing)}: every red flag must "
                                  "lead to a referral"))
    # An unsure answer is not a "no": each code in red_flags_unsure must be able to refer too.
    unsure = {t.value for t in read if t.field == "red_flags_unsure" and t.op == "contains"}
    missing_unsure = [code for code in RED_FLAGS if code not in unsure]
    if missing_unsure:
        r.problems.append(Problem("", None, None, "unsure-red-flag-without-referral",
                                  f"no triage rule refers when the person is unsure of "
                                  f"{', '.join(missing_unsure)}: an unsure answer must lead to a review"))


def _read_texts(r: _Reader) -> None:
    """text.yaml and figures.yaml, with their readers' codes; the texts the other books add join
    them (translated like any text)."""
    from backrx.pack.texts import read_texts

    texts = read_texts(Ctx(r.problems, "text.yaml"), r.docs.get("text.yaml"), r.root)
    r.figures, figure_texts = read_figures(Ctx(r.problems, FIGURES_FILE), r.docs.get(FIGURES_FILE),
                                           {eid: node for eid, (_, node, _) in r.catalog.items()})
    r.texts = {**texts, **figure_texts}  # plain names and figure words
    r.texts.update(r.donotdo_texts)  # the do-not-do list's plain sentences
    r.texts.update(r.education_texts)  # the education modules, flare plan and pathway


def _check_tier_wording(r: _Reader) -> None:
    """Referral reasons, safety nets, triage patient words and each tier's report words say their
    tier's phrase. Codes: those of `check_wording`."""
    if r.tiers is None:
        return
    worded: list[tuple[str, int, str, str | None, str, str]] = []
    for layer_rules in r.by_layer.values():
        for rule in layer_rules:
            if rule.then.refer is not None:
                refer = rule.then.refer
                worded.append((rule.file, rule.line, rule.id, refer.urgency, "then.refer.reason",
                               refer.reason))
            worded += [(rule.file, rule.line, rule.id, None, "then.safety_net", line)
                       for line in rule.then.safety_net]
            if rule.patient and rule.layer == "triage":
                worded.append((rule.file, rule.line, rule.id, None, "patient", rule.patient))
    for urgency in r.tiers.tiers:  # the report words of each tier say the tier's phrase too
        both = " ".join(r.texts.get(f"urgency.{urgency}.{part}", "") for part in ("heading", "advice"))
        if both.strip():
            worded.append(("text.yaml", 0, f"urgency.{urgency}", urgency, "text", both))
    check_wording(r.tiers, worded, r.problems)


def _read_locales(r: _Reader) -> None:
    """The locale files (locales/*.yaml), with `read_locales`' codes."""
    from backrx.pack.locale import read_locales, warn_keys

    rules = [rule for rs in r.by_layer.values() for rule in rs]
    r.locales = read_locales(r.root, r.problems, texts=r.texts, tiers=r.tiers, fmt=r.fmt,
                             patients={rule.id: rule.patient for rule in rules},
                             rationales={rule.id: rule.rationale for rule in rules},
                             warns=dict(pair for rule in rules for pair in warn_keys(rule)))


def _read_field_notes(r: _Reader) -> None:
    """fields.yaml: checked here; backrx audit reads it."""
    read_field_notes(r.docs.get(FIELDS_FILE), r.problems)


#: The loader's passes, in order. Each reads or checks one thing and adds its own problem codes.
PASSES: tuple[Callable[[_Reader], None], ...] = (
    _find_files, _read_files, _read_parts, _check_catalog_links, _read_rule_files, _parse_rules,
    _add_criteria, _read_books, _check_refs, _check_evidence, _check_unused_conclusions,
    _check_red_flags, _read_texts, _check_tier_wording, _read_locales, _read_field_notes,
)


def _pack_of(r: _Reader) -> Pack:
    """The loaded pack, from a reader whose passes found no problem."""
    layers = tuple(
        Layer(layer, tuple(sorted(rules, key=lambda rule: (rule.priority, rule.id))),
              tuple(sorted({f for rule in rules for f in fields_of(rule.when)})), r.inputs[layer])
        for layer, rules in r.by_layer.items()
    )
    return Pack(r.name, r.version, r.description, digest_of(r.docs), str(r.root), layers,
                {eid: entry for eid, (entry, _, _) in r.catalog.items()}, r.sources, tuple(r.phases),
                {path: spec for path, (_, spec) in r.derived.items()}, planner=r.planner, measures=r.measures,
                texts=r.texts, locales=r.locales, tiers=r.tiers, format_version=r.fmt, figures=r.figures,
                populations=r.populations or PopulationBook(), donotdo=r.donotdo, education=r.education)
