"""The ``backrx`` command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pydantic import ValidationError

from backrx._version import __version__
from backrx.errors import EngineError, FeedbackError, RuleError
from backrx.profile import Profile
from backrx.recommendation import Recommendation

if TYPE_CHECKING:
    from backrx.ruleset import RuleSet


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="backrx",
        description="Turn a back-pain profile into a safe, staged exercise program that explains "
        "itself. backrx does not diagnose.",
    )
    parser.add_argument("--version", action="version", version=f"backrx {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    rec = sub.add_parser("recommend", help="recommend a program for a profile (YAML or JSON file)")
    rec.add_argument("profile", help="profile file (.yaml, .yml or .json), or - to read YAML or JSON "
                     "from standard input")
    rec.add_argument("--rules", metavar="DIR", help="rule pack folder (default: the bundled pack)")
    rec.add_argument("--format", choices=("json", "text", "md", "html"), default="text",
                     help="json: the Recommendation; text: explain(); md: a client handout; "
                     "html: a printable handout")
    _view_options(rec)
    rec.add_argument("--locale", default="en", metavar="LANG",
                     help="language of the patient-facing texts: en, or a locale the pack ships (es)")
    rec.add_argument("--engine", choices=("auto", "durable", "reference"), default="auto",
                     help=argparse.SUPPRESS)

    adj = sub.add_parser("adjust", help="adjust a recommendation from next-day feedback")
    adj.add_argument("recommendation", help="a Recommendation as JSON (from recommend --format json)")
    adj.add_argument("feedback", nargs="?",
                     help="feedback file (.yaml, .yml or .json); optional with --migrate")
    adj.add_argument("--rules", metavar="DIR", help="the rule pack that made the recommendation")
    adj.add_argument("--format", choices=("json", "text", "md", "html"), default="json")
    adj.add_argument("--migrate", action="store_true",
                     help="first re-plan the recommendation on this (newer) pack, replaying its "
                     "history; what changed is printed to stderr")
    _view_options(adj)

    ex = sub.add_parser("example", help="print (or write) one of the bundled example profiles")
    ex.add_argument("name", nargs="?", help="the example's name (see --list)")
    ex.add_argument("--list", action="store_true", help="list the bundled examples")
    ex.add_argument("-o", "--output", metavar="FILE", help="write the example to FILE instead")

    aud = sub.add_parser("audit", help="audit a rule pack with generated profiles (needs hypothesis)")
    aud.add_argument("dir", nargs="?", help="rule pack folder (default: the bundled pack)")
    aud.add_argument("--examples", type=int, default=500, help="generated profiles (default 500)")
    aud.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    aud.add_argument("--format", choices=("text", "json"), default="text")

    test = sub.add_parser("test", help="run a rule pack's golden cases (cases/); exit 1 on any failure")
    test.add_argument("dir", nargs="?", help="rule pack folder (default: the bundled pack)")
    test.add_argument("--format", choices=("text", "json"), default="text")

    check = sub.add_parser("check", help="validate a rule pack; exit 1 listing every problem")
    check.add_argument("dir", nargs="?", help="rule pack folder (default: the bundled pack)")

    schema = sub.add_parser("schema", help="print JSON Schemas (Profile, Recommendation, rule file)")
    schema.add_argument("which", nargs="?", default="all",
                        choices=("all", "profile", "recommendation", "rules", "vocabulary"))
    return parser


def _view_options(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("--view", choices=("patient", "clinician"), default=None,
                     help="who reads it (text, md, html). Without it, text and md are the combined "
                     "account of earlier versions and html is the patient handout")
    cmd.add_argument("--template-dir", metavar="DIR",
                     help="a folder of templates that replace the bundled ones of the same name")
    cmd.add_argument("--paper", choices=("a4", "letter"), default="a4", help="html: the print page size")


def _write(rec: Recommendation, fmt: str, args: argparse.Namespace | None = None,
           rules: RuleSet | None = None) -> None:
    view = getattr(args, "view", None)
    if fmt == "json":
        sys.stdout.write(rec.model_dump_json(indent=2) + "\n")
    elif fmt in ("md", "text") and view is None:
        sys.stdout.write(rec.to_markdown() if fmt == "md" else rec.explain() + "\n")
    else:
        from backrx.render import render

        assert args is not None
        sys.stdout.write(render(rec, fmt, view=view or "patient", rules=rules,
                                template_dir=args.template_dir, paper=args.paper))


def _read_profile(name: str) -> Profile:
    from backrx._yaml import YamlError, load_plain
    from backrx.profile import load_profile

    if name != "-":
        return load_profile(name)
    try:
        data = load_plain(sys.stdin.read(), "<stdin>")
    except YamlError as exc:
        raise ValueError(str(exc)) from None
    return Profile.model_validate(data)


def _check(folder: str | None) -> int:
    """Validate a pack (RuleError when broken); then each locale must hold every text, no more."""
    from backrx.locale import catalog
    from backrx.locale import report as locale_report
    from backrx.ruleset import load_rules

    rules = load_rules(folder)
    locales = locale_report(rules.pack)
    incomplete = False
    for lang, (missing, extra) in locales.items():
        if not missing and not extra:
            continue
        incomplete = True
        sys.stderr.write(f"locale {lang}: {len(missing)} missing, {len(extra)} extra (locales/{lang}.yaml)\n")
        sys.stderr.writelines(f"  missing  {key}\n" for key in missing)
        sys.stderr.writelines(f"  extra    {key}\n" for key in extra)
    if incomplete:
        return 1
    sys.stdout.write(f"ok: {rules.name} {rules.version}, {len(rules.rule_ids)} rules, "
                     f"{len(rules.pack.exercises)} exercises, {len(rules.pack.sources)} sources "
                     f"({rules.digest})\n")
    sys.stdout.writelines(f"locale {lang}: complete ({len(catalog(rules.pack))} texts)\n" for lang in locales)
    return 0


def _example(args: argparse.Namespace) -> int:
    from backrx.example import example_names, example_text

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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    out = sys.stdout
    try:
        if args.command == "recommend":
            from backrx.ruleset import load_rules

            rules = load_rules(args.rules, engine=args.engine)
            _write(rules.recommend(_read_profile(args.profile), locale=args.locale), args.format, args, rules)
            return 0
        if args.command == "adjust":
            from pathlib import Path

            from backrx.adjust import adjust
            from backrx.feedback import load_feedback
            from backrx.ruleset import load_rules

            rec = Recommendation.model_validate_json(Path(args.recommendation).read_text(encoding="utf-8"))
            pack = load_rules(args.rules) if args.rules else None
            if args.migrate:
                from backrx.migrate import migrate

                rec = migrate(rec, pack)
                assert rec.migration is not None
                for line in rec.migration.changes or ["no difference in the plan"]:
                    sys.stderr.write(f"migrated: {line}\n")
                for line in rec.migration.skipped:
                    sys.stderr.write(f"migrated, skipped: {line}\n")
            elif args.feedback is None:
                sys.stderr.write("backrx adjust: give a feedback file (or --migrate)\n")
                return 2
            if args.feedback is not None:
                rec = adjust(rec, load_feedback(args.feedback), rules=pack)
            _write(rec, args.format, args, pack)
            return 0
        if args.command == "example":
            return _example(args)
        if args.command == "audit":
            from backrx.audit import audit_command

            return audit_command(args.dir, args.examples, args.seed, args.format)
        if args.command == "test":
            from backrx.cases import run_cases
            from backrx.ruleset import load_rules

            report = run_cases(load_rules(args.dir))
            out.write((report.to_json() if args.format == "json" else report.to_text()) + "\n")
            return 0 if report.ok else 1
        if args.command == "check":
            return _check(args.dir)
        from backrx.schema import schemas

        found = schemas()
        data = found if args.which == "all" else found[args.which]
        out.write(json.dumps(data, indent=2) + "\n")
        return 0
    except RuleError as exc:
        sys.stderr.write(str(exc) + "\n")
        return 1
    except ValidationError as exc:
        sys.stderr.write(f"invalid input:\n{exc}\n")
        return 2
    except FeedbackError as exc:
        where = ".".join(str(part) for part in exc.loc)
        sys.stderr.write(f"backrx: {exc.message}  [code={exc.code}{', at ' + where if where else ''}]\n")
        return 2
    except (OSError, ValueError, EngineError) as exc:
        sys.stderr.write(f"backrx: {exc}\n")
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
