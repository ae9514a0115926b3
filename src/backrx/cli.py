"""The ``backrx`` command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from backrx._version import __version__
from backrx.errors import EngineError, FeedbackError, RuleError
from backrx.recommendation import Recommendation


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="backrx",
        description="Turn a back-pain profile into a safe, staged exercise program that explains "
        "itself. backrx does not diagnose.",
    )
    parser.add_argument("--version", action="version", version=f"backrx {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    rec = sub.add_parser("recommend", help="recommend a program for a profile (YAML or JSON file)")
    rec.add_argument("profile", help="profile file (.yaml, .yml or .json)")
    rec.add_argument("--rules", metavar="DIR", help="rule pack folder (default: the bundled pack)")
    rec.add_argument("--format", choices=("json", "text", "md"), default="text",
                     help="json: the Recommendation; text: explain(); md: a client handout")
    rec.add_argument("--engine", choices=("auto", "durable", "reference"), default="auto",
                     help=argparse.SUPPRESS)

    adj = sub.add_parser("adjust", help="adjust a recommendation from next-day feedback")
    adj.add_argument("recommendation", help="a Recommendation as JSON (from recommend --format json)")
    adj.add_argument("feedback", nargs="?",
                     help="feedback file (.yaml, .yml or .json); optional with --migrate")
    adj.add_argument("--rules", metavar="DIR", help="the rule pack that made the recommendation")
    adj.add_argument("--format", choices=("json", "text", "md"), default="json")
    adj.add_argument("--migrate", action="store_true",
                     help="first re-plan the recommendation on this (newer) pack, replaying its "
                     "history; what changed is printed to stderr")

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


def _write(rec: Recommendation, fmt: str) -> None:
    if fmt == "json":
        sys.stdout.write(rec.model_dump_json(indent=2) + "\n")
    elif fmt == "md":
        sys.stdout.write(rec.to_markdown())
    else:
        sys.stdout.write(rec.explain() + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    out = sys.stdout
    try:
        if args.command == "recommend":
            from backrx.profile import load_profile
            from backrx.ruleset import load_rules

            rules = load_rules(args.rules, engine=args.engine)
            _write(rules.recommend(load_profile(args.profile)), args.format)
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
            _write(rec, args.format)
            return 0
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
            from backrx.ruleset import load_rules

            rules = load_rules(args.dir)
            out.write(f"ok: {rules.name} {rules.version}, {len(rules.rule_ids)} rules, "
                      f"{len(rules.pack.exercises)} exercises, {len(rules.pack.sources)} sources "
                      f"({rules.digest})\n")
            return 0
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
