"""The ``backrx`` command line."""

from __future__ import annotations

import argparse
import inspect
import json
import sys
import typing
from collections.abc import Callable, Sequence
from datetime import date, time
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from backrx._version import __version__
from backrx.errors import BackrxError, EngineError, InputError, RuleError, errors_of, format_errors
from backrx.model.profile import Profile
from backrx.model.recommendation import Recommendation

if TYPE_CHECKING:
    from backrx.ruleset import RuleSet


def build_parser() -> argparse.ArgumentParser:
    """The command line's parser (its help is also the source of docs/cli.md): one sub-command a
    line, each with a function that adds its options."""
    parser = argparse.ArgumentParser(
        prog="backrx",
        description="Turn a back-pain profile into a safe, staged exercise program that explains "
        "itself. backrx does not diagnose.",
    )
    parser.add_argument("--version", action="version", version=f"backrx {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _recommend_options(sub.add_parser(
        "recommend", help="recommend a program for a profile (YAML or JSON file)"))
    _adjust_options(sub.add_parser("adjust", help="adjust a recommendation from next-day feedback"))
    _cert_options(sub.add_parser(
        "cert", help="write the 16 CERT items (Slade 2016) of a recommendation, for a trial protocol"))
    _example_options(sub.add_parser("example", help="print (or write) one of the bundled example profiles"))
    _override_options(sub.add_parser(
        "override", help="apply a clinician's changes to a recommendation, on the record"))
    _audit_options(sub.add_parser(
        "audit", help="audit a rule pack with generated profiles (needs hypothesis)"))
    _test_options(sub.add_parser(
        "test", help="run a rule pack's golden cases (cases/): PASS, FAIL or ERROR per case; exit 1 on "
        "any FAIL or ERROR"))
    _safety_case_options(sub.add_parser(
        "safety-case", help="check a pack's hazard log (safety.yaml) and print it as Markdown; exit 1 "
        "naming the hazard when a control points at nothing"))
    _check_options(sub.add_parser("check", help="validate a rule pack; exit 1 listing every problem"))
    _batch_options(sub.add_parser(
        "batch", help="run many profiles (.jsonl .json .csv .parquet) to a result table (.parquet or "
        ".jsonl); invalid rows get an error code"))
    _diff_options(sub.add_parser("diff", help="which profiles two pack versions treat differently, and why"))
    _schema_options(sub.add_parser(
        "schema", help="print JSON Schemas (Profile, Feedback, Recommendation, rule file)"))
    return parser


def _recommend_options(cmd: argparse.ArgumentParser) -> None:
    """The options of ``backrx recommend``."""
    from backrx.model.formats import FORMATS

    cmd.add_argument("profile", nargs="+",
                     help="profile file(s) (.yaml, .yml or .json), or - to read YAML or JSON from "
                          "standard input; with several, json and fhir write one document per line (NDJSON)")
    cmd.add_argument("--rules", metavar="DIR", help="rule pack folder (default: the bundled pack)")
    cmd.add_argument("--format", choices=("json", *FORMATS), default="text",
                     help="json: the Recommendation; text: explain(); md: a client handout; "
                     "html: a printable handout; fhir: a FHIR R4 Bundle (needs backrx[fhir]); "
                     "cert: a CERT report (Slade 2016); ics: a reminder calendar of the current phase "
                     "(needs backrx[calendar]; one profile)")
    _view_options(cmd)
    cmd.add_argument("--locale", default="en", metavar="LANG",
                     help="language of the patient-facing texts: en, or a locale the pack ships (es)")
    cmd.add_argument("--engine", choices=("auto", "durable", "reference"), default="auto",
                     help=argparse.SUPPRESS)


def _adjust_options(cmd: argparse.ArgumentParser) -> None:
    """The options of ``backrx adjust``."""
    cmd.add_argument("recommendation", help="a Recommendation as JSON (from recommend --format json)")
    cmd.add_argument("feedback", nargs="?",
                     help="feedback file (.yaml, .yml or .json); optional with --migrate")
    cmd.add_argument("--rules", metavar="DIR", help="the rule pack that made the recommendation")
    cmd.add_argument("--format", choices=("json", "text", "md", "html", "ics"), default="json",
                     help="json: the adjusted Recommendation (store it for the next round); text, md "
                     "or html: a report of it; ics: a reminder calendar of its current phase")
    cmd.add_argument("--migrate", action="store_true",
                     help="first re-plan the recommendation on this (newer) pack, replaying its "
                     "history; what changed is printed to stderr")
    _view_options(cmd)


def _cert_options(cmd: argparse.ArgumentParser) -> None:
    """The options of ``backrx cert``."""
    cmd.add_argument("recommendation", help="a Recommendation as JSON (from recommend --format json)")
    cmd.add_argument("--rules", metavar="DIR", help="rule pack folder (default: the bundled pack)")
    cmd.add_argument("--format", choices=("md", "json"), default="md",
                     help="md: Markdown to paste into a protocol; json: the items as data")


def _example_options(cmd: argparse.ArgumentParser) -> None:
    """The options of ``backrx example``."""
    cmd.add_argument("name", nargs="?", help="the example's name (see --list)")
    cmd.add_argument("--list", action="store_true", help="list the bundled examples")
    cmd.add_argument("-o", "--output", metavar="FILE", help="write the example to FILE instead")


def _override_options(cmd: argparse.ArgumentParser) -> None:
    """The options of ``backrx override``."""
    cmd.add_argument("recommendation", help="a Recommendation as JSON")
    cmd.add_argument("changes", help="the changes (.yaml, .yml or .json): add, remove, dose, phase, accept")
    cmd.add_argument("--reason", required=True, help="why (recorded)")
    cmd.add_argument("--by", required=True, help="who (recorded)")
    cmd.add_argument("--at", help="when, ISO 8601 with an offset (default: now, UTC)")
    cmd.add_argument("--rules", metavar="DIR", help="the rule pack that made the recommendation")
    cmd.add_argument("--format", choices=("json", "text", "md"), default="json",
                     help="json: the Recommendation with the override on record; text or md: a report")


def _audit_options(cmd: argparse.ArgumentParser) -> None:
    """The options of ``backrx audit``."""
    cmd.add_argument("dir", nargs="?", help="rule pack folder (default: the bundled pack)")
    cmd.add_argument("--examples", type=int, default=500, help="generated profiles (default 500)")
    cmd.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    cmd.add_argument("--format", choices=("text", "json"), default="text",
                     help="text: a summary for a reader; json: the findings as data")


def _test_options(cmd: argparse.ArgumentParser) -> None:
    """The options of ``backrx test``."""
    cmd.add_argument("dir", nargs="?", help="rule pack folder (default: the bundled pack)")
    cmd.add_argument("--format", choices=("text", "json"), default="text",
                    help="text: one line per case (PASS, FAIL or ERROR) and a summary; json: the "
                         "results as data, each with its status")


def _safety_case_options(cmd: argparse.ArgumentParser) -> None:
    """The options of ``backrx safety-case``."""
    cmd.add_argument("dir", nargs="?", help="rule pack folder (default: the bundled pack)")
    cmd.add_argument("--tests", metavar="DIR",
                     help="the tests folder that test controls name (default: tests/ beside the pack)")
    cmd.add_argument("--format", choices=("md", "check"), default="md",
                     help="md: the document on stdout; check: only the check summary")


def _check_options(cmd: argparse.ArgumentParser) -> None:
    """The options of ``backrx check``."""
    cmd.add_argument("dir", nargs="?", help="rule pack folder (default: the bundled pack)")


def _batch_options(cmd: argparse.ArgumentParser) -> None:
    """The options of ``backrx batch``."""
    cmd.add_argument("input", help="profiles: .jsonl, .json (a list), .csv or .parquet")
    cmd.add_argument("output", help="results: .parquet (needs pyarrow) or .jsonl")
    cmd.add_argument("--rules", metavar="DIR", help="rule pack folder (default: the bundled pack)")
    cmd.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    cmd.add_argument("--id-field", metavar="NAME", help="a field of each profile that identifies it")
    cmd.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                     help="show a progress bar (default: when stderr is a terminal; needs tqdm)")


def _diff_options(cmd: argparse.ArgumentParser) -> None:
    """The options of ``backrx diff``."""
    cmd.add_argument("old", help="the old rule pack folder")
    cmd.add_argument("new", help="the new rule pack folder")
    cohort = cmd.add_mutually_exclusive_group()
    cohort.add_argument("--profiles", metavar="FILE", help="profiles (.jsonl .json .csv .parquet)")
    cohort.add_argument("--generated", type=int, metavar="N",
                        help="N synthetic profiles (default 2000 when no --profiles)")
    cmd.add_argument("--seed", type=int, default=0, help="seed of the synthetic profiles (default 0)")
    cmd.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    cmd.add_argument("--id-field", metavar="NAME", help="a field of each profile that identifies it")
    cmd.add_argument("--examples", type=int, default=3, help="examples per group (default 3)")
    cmd.add_argument("--format", choices=("text", "json"), default="text",
                     help="text: the groups of changed profiles with examples; json: the report as data")


def _schema_options(cmd: argparse.ArgumentParser) -> None:
    """The options of ``backrx schema``."""
    cmd.add_argument("which", nargs="?", default="all",
                     choices=("all", "profile", "feedback", "recommendation", "rules", "vocabulary",
                              "questionnaire"),
                     help="which schema (default: all but the questionnaire)")


def _view_options(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("--view", choices=("patient", "clinician"), default=None,
                     help="who reads it (text, md, html only: refused with json and fhir, which carry "
                     "everything). Without it, text and md are the combined account of earlier versions "
                     "and html is the patient handout")
    cmd.add_argument("--template-dir", metavar="DIR",
                     help="a folder of templates that replace the bundled ones of the same name")
    cmd.add_argument("--paper", choices=("a4", "letter"), default="a4", help="html: the print page size")
    cmd.add_argument("--start", type=_day, default=None, metavar="YYYY-MM-DD",
                     help="ics: day 1 of the week of sessions (default: the coming Monday, or today on a "
                     "Monday)")
    cmd.add_argument("--time", type=_clock, default=None, metavar="HH:MM",
                     help="ics: the time of day of each session, local time (default: 08:00)")


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError("give a date as YYYY-MM-DD") from None


def _clock(text: str) -> time:
    try:
        return time.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError("give a time as HH:MM") from None


def _write(rec: Recommendation, fmt: str, args: argparse.Namespace | None = None,
           rules: RuleSet | None = None, *, line: bool = False) -> None:
    """Write ``rec`` in format ``fmt``: json is the record itself; every other format is looked up
    in the one format registry (`backrx.model.formats`) and given the options it takes."""
    if fmt == "json":
        sys.stdout.write((json.dumps(rec.model_dump(mode="json"), ensure_ascii=False) if line
                          else rec.model_dump_json(indent=2)) + "\n")
        return
    from backrx.model.formats import FORMATS

    found = FORMATS[fmt]  # argparse offers only registered formats
    options: dict[str, Any] = {"rules": rules}
    if found.views and args is not None:
        options.update(view=getattr(args, "view", None), template_dir=getattr(args, "template_dir", None),
                       paper=getattr(args, "paper", "a4"))
    asked = (("start", getattr(args, "start", None)), ("at", getattr(args, "time", None)))
    options.update({k: v for k, v in asked if v is not None})
    draw = found.renderer()
    written = draw(rec, **_taken(draw, options))
    if not isinstance(written, str):  # data (a FHIR Bundle): JSON, one line per record with several
        written = json.dumps(written, ensure_ascii=False, indent=None if line else 2)
    sys.stdout.write(_ended(written))


def _ended(text: str) -> str:
    """``text`` ending in exactly the line break it has, or one (every format ends its last line)."""
    return text if text.endswith("\n") else text + "\n"


def _taken(draw: Callable[..., Any], options: dict[str, Any]) -> dict[str, Any]:
    """The options a renderer takes (all of them when it takes ``**kwargs``)."""
    params = inspect.signature(draw).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return options
    names = {p.name for p in params}
    return {k: v for k, v in options.items() if k in names}


def _read_profile(name: str, args: argparse.Namespace) -> Profile:
    from backrx.model.profile import load_profile
    from backrx.readers.safe_yaml import load_plain

    args.reading = "<stdin>" if name == "-" else name  # named by every error about this input
    if name != "-":
        return load_profile(name)
    from backrx.readers.documents import MAX_INPUT_BYTES

    text = sys.stdin.read(MAX_INPUT_BYTES + 1)
    if len(text) > MAX_INPUT_BYTES:
        raise InputError("file-too-large", f"the profile is longer than {MAX_INPUT_BYTES} characters",
                         ("<stdin>",))
    return Profile.model_validate(load_plain(text, "<stdin>"))


def _read_recommendation(name: str, args: argparse.Namespace) -> Recommendation:
    """A stored Recommendation (JSON); a YAML file or a profile is refused, saying what was expected."""
    from backrx.readers.documents import loads, read_text

    args.reading = name
    text = read_text(name)  # a regular file, at most 5 MB
    expected = "a Recommendation as JSON (from backrx recommend PROFILE --format json)"
    try:
        data = loads(text, name)  # refuses a repeated key, naming it
    except InputError as exc:
        if exc.code != "json-syntax":
            raise
        raise InputError("not-a-recommendation", f"is not JSON; expected {expected}", (name,)) from None
    if isinstance(data, dict) and "program" not in data and "red_flags" in data:
        raise InputError("not-a-recommendation", f"holds a profile; expected {expected}", (name,))
    return Recommendation.model_validate_json(text)


def _check(folder: str | None) -> int:
    """Validate a pack (RuleError when broken); then each locale must hold every text, no more."""
    from pathlib import Path

    from backrx.interop.text_keys import missing_keys
    from backrx.pack.locale import catalog
    from backrx.pack.locale import report as locale_report
    from backrx.pack.read import bundled_path
    from backrx.ruleset import load_rules

    rules = load_rules(folder)
    locales = locale_report(rules.pack)
    # a key the code reads that the pack's text.yaml lacks [code=text-key-missing]
    lacking = [p for p in missing_keys(rules.pack, Path(folder) if folder else bundled_path())
               if p.code == "text-key-missing"]
    sys.stderr.writelines(f"{problem}\n" for problem in lacking)
    incomplete = bool(lacking)
    for lang, (missing, extra) in locales.items():
        if not missing and not extra:
            continue
        incomplete = True
        sys.stderr.write(f"locale {lang}: {len(missing)} missing, {len(extra)} extra (locales/{lang}.yaml)\n")
        sys.stderr.writelines(f"  missing  {key}  [code=translation-missing]\n" for key in missing)
        sys.stderr.writelines(f"  extra    {key}\n" for key in extra)
    if incomplete:
        return 1
    sys.stdout.write(f"ok: {rules.name} {rules.version}, {len(rules.rule_ids)} rules, "
                     f"{len(rules.pack.exercises)} exercises, {len(rules.pack.sources)} sources "
                     f"({rules.digest})\n")
    sys.stdout.writelines(f"locale {lang}: complete ({len(catalog(rules.pack))} texts)\n" for lang in locales)
    from backrx.run.evidence import evidence_warnings

    warnings = sorted(evidence_warnings(rules.pack),
                      key=lambda p: (p.file, p.line if p.line is not None else -1, p.code))
    if warnings:
        sys.stdout.write(f"{len(warnings)} evidence warning{'s' if len(warnings) != 1 else ''} "
                         "(rules resting on design choices or seed articles only; not errors):\n")
        sys.stdout.writelines(f"  warning: {p}\n" for p in warnings)
    return 0


def _example(args: argparse.Namespace) -> int:
    from backrx.pack.examples import example_names, example_text

    if args.list:
        sys.stdout.write("".join(f"{name}\n" for name in example_names()))
        return 0
    if not args.name:
        sys.stderr.write("backrx example: name an example, or use --list\n")
        return 2
    text = example_text(args.name)
    if args.output:
        from pathlib import Path

        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


#: Exit statuses (the table in docs/errors.md and the command-line reference): 0 done;
#: 1 the rule pack has problems (or a check it runs fails); 2 a usage error, invalid input, a file
#: that cannot be read, or an optional extra that is not installed; 3 anything else (an engine
#: failure, out of memory, a bug); 130 interrupted. A failure is reported on stderr, one line per
#: problem, never as a traceback.
EXIT_RULES, EXIT_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED = 1, 2, 3, 130
EXIT_CODES: dict[int, str] = {
    0: "done",
    EXIT_RULES: "the rule pack has problems, or a check it runs (test, check, safety-case) fails",
    EXIT_INPUT: "a usage error, invalid input, a file that cannot be read, or a missing optional extra",
    EXIT_INTERNAL: "an engine failure, out of memory, or a bug (please report it)",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C)",
}

#: The optional packages a command may need, and the extra that installs each.
EXTRAS = {"pyarrow": "batch", "pandas": "batch", "tqdm": "batch", "fhir": "fhir", "hypothesis": "audit",
          "icalendar": "calendar", "fastapi": "cds-hooks", "uvicorn": "cds-hooks", "jwt": "cds-hooks",
          "dask": "dask"}


def _one_line(text: str, limit: int = 500) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[:limit] + " ..."


def _usage(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse option combinations that would be silently ignored (argparse exits 2)."""
    fmt = getattr(args, "format", None)
    if getattr(args, "view", None) is not None and fmt is not None:
        from backrx.model.formats import FORMATS

        found = FORMATS.get(fmt)
        if found is None or not found.views:  # json, fhir, ics...: the registry says which have views
            with_views = [name for name, f in FORMATS.items() if f.views]
            names = ", ".join(with_views[:-1]) + " and " + with_views[-1] if len(with_views) > 1 else \
                "".join(with_views)
            parser.error(f"--view applies to {names}; --format {fmt} has one view, with everything in it")
    if fmt == "ics" and len(getattr(args, "profile", [])) > 1:
        parser.error("--format ics makes one calendar: give one profile")
    if fmt != "ics" and (getattr(args, "start", None) or getattr(args, "time", None)):
        parser.error("--start and --time apply to --format ics")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status. Every failure becomes a message on stderr
    and an exit status, never a traceback."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _usage(parser, args)
    try:
        return _main(args)
    except KeyboardInterrupt:
        sys.stderr.write("backrx: interrupted\n")
        return EXIT_INTERRUPTED
    except RecursionError:
        sys.stderr.write("backrx: the input is nested too deeply\n")
        return EXIT_INPUT
    except MemoryError:
        sys.stderr.write("backrx: out of memory\n")
        return EXIT_INTERNAL
    except Exception as exc:  # the last line of defence: no traceback reaches the user
        return _report(exc, getattr(args, "reading", ""))


def _report(exc: Exception, where: str) -> int:
    """Write one line per problem of ``exc`` to stderr and return its exit status.

    ``where`` is the input file being read when it failed (it prefixes each line)."""
    err = sys.stderr
    if isinstance(exc, RuleError):
        err.write(str(exc) + "\n")
        return EXIT_RULES
    if isinstance(exc, EngineError):
        err.write(f"backrx: {_one_line(str(exc))} [code={exc.code}]\n")
        return EXIT_INTERNAL
    if isinstance(exc, InputError) and exc.loc:  # it names its file (and line)
        err.write(_one_line(str(exc)) + "\n")
        return EXIT_INPUT
    if isinstance(exc, (BackrxError, ValidationError)):
        err.writelines(f"{_one_line(line)}\n" for line in format_errors(errors_of(exc), where))
        return EXIT_INPUT
    if isinstance(exc, ModuleNotFoundError):
        top = (exc.name or "").split(".")[0]
        if top in EXTRAS:
            err.write(f"backrx: this needs the optional package {top}: pip install 'backrx[{EXTRAS[top]}]' "
                      "[code=missing-extra]\n")
            return EXIT_INPUT
    elif isinstance(exc, OSError):
        name = f"{exc.filename}: " if exc.filename else ""
        err.write(f"backrx: {name}{exc.strerror or _one_line(str(exc))}\n")
        return EXIT_INPUT
    elif isinstance(exc, ValueError):
        err.write(f"{where}: " if where else "backrx: ")
        err.write(f"{_one_line(str(exc))}\n")
        return EXIT_INPUT
    err.write(f"backrx: internal error ({type(exc).__name__}): {_one_line(str(exc))}\n")
    return EXIT_INTERNAL


def _main(args: argparse.Namespace) -> int:
    out = sys.stdout
    if args.command == "recommend":
        from backrx.ruleset import load_rules

        rules = load_rules(args.rules, engine=args.engine)
        if args.locale not in rules.locales:
            sys.stderr.write(f"backrx recommend: --locale {_one_line(args.locale, 20)}: the pack has no "
                             f"such locale; available: {', '.join(rules.locales)} [code=unknown-locale]\n")
            return EXIT_INPUT
        for path in args.profile:
            _write(rules.recommend(_read_profile(path, args), locale=args.locale), args.format, args, rules,
                   line=len(args.profile) > 1)
        return 0
    if args.command == "adjust":
        from backrx.followup.apply import adjust
        from backrx.model.feedback import load_feedback
        from backrx.ruleset import load_rules

        rec = _read_recommendation(args.recommendation, args)
        pack = load_rules(args.rules) if args.rules else None
        if args.migrate:
            from backrx.followup.apply import migrate

            rec = migrate(rec, pack)
            assert rec.migration is not None
            for line in rec.migration.changes or ["no difference in the plan"]:
                sys.stderr.write(f"migrated: {line}\n")
            for line in rec.migration.skipped:
                sys.stderr.write(f"migrated, skipped: {line}\n")
        elif args.feedback is None:
            sys.stderr.write("backrx adjust: give a feedback file (or --migrate)\n")
            return EXIT_INPUT
        if args.feedback is not None:
            args.reading = args.feedback
            rec = adjust(rec, load_feedback(args.feedback), rules=pack)
        _write(rec, args.format, args, pack)
        return 0
    if args.command == "override":
        from datetime import datetime, timezone

        from backrx.overrides.override import override
        from backrx.readers import safe_yaml
        from backrx.readers.documents import read_text
        from backrx.ruleset import load_rules

        rec = _read_recommendation(args.recommendation, args)
        args.reading = args.changes
        changes = safe_yaml.load(read_text(args.changes), args.changes)
        at = args.at or datetime.now(timezone.utc).replace(microsecond=0).isoformat()
        pack = load_rules(args.rules) if args.rules else None
        _write(override(rec, changes or {}, reason=args.reason, by=args.by, at=at, rules=pack),
               args.format)
        return 0
    if args.command == "example":
        return _example(args)
    if args.command == "cert":
        from backrx.render.cert import cert_markdown, cert_report
        from backrx.ruleset import load_rules

        rec = _read_recommendation(args.recommendation, args)
        pack = load_rules(args.rules) if args.rules else None
        out.write(json.dumps(cert_report(rec, rules=pack), ensure_ascii=False, indent=2) + "\n"
                  if args.format == "json" else _ended(cert_markdown(rec, rules=pack)))
        return 0
    if args.command == "audit":
        from backrx.audit.run import audit_command

        return audit_command(args.dir, args.examples, args.seed, args.format)
    return _tools(args, out)


def _tools(args: argparse.Namespace, out: typing.TextIO) -> int:
    """The commands about packs and many profiles: test, safety-case, check, batch, diff, schema."""
    if args.command == "test":
        from backrx.audit.cases import run_cases
        from backrx.ruleset import load_rules

        report = run_cases(load_rules(args.dir))
        out.write((report.to_json() if args.format == "json" else report.to_text(every=True)) + "\n")
        return 0 if report.ok else 1
    if args.command == "safety-case":
        from backrx.audit.safety_case import safety_case_command

        return safety_case_command(args.dir, args.tests, args.format)
    if args.command == "check":
        return _check(args.dir)
    if args.command == "batch":
        from backrx.batch.commands import batch_command

        return batch_command(args)
    if args.command == "diff":
        from backrx.batch.commands import diff_command

        return diff_command(args)
    if args.which == "questionnaire":
        from backrx.interop.questionnaire import questionnaire

        out.write(json.dumps(questionnaire(), indent=2, ensure_ascii=False) + "\n")
        return 0
    from backrx.pack.schema import schemas

    found = schemas()
    data = found if args.which == "all" else found[args.which]
    out.write(json.dumps(data, indent=2) + "\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
