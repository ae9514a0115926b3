"""The ``backrx`` command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from backrx._version import __version__
from backrx.errors import EngineError, RuleError
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
    adj.add_argument("feedback", help="feedback file (.yaml, .yml or .json)")
    adj.add_argument("--rules", metavar="DIR", help="the rule pack that made the recommendation")
    adj.add_argument("--format", choices=("json", "text", "md"), default="json")

    aud = sub.add_parser("audit", help="audit a rule pack with generated profiles (needs hypothesis)")
    aud.add_argument("dir", nargs="?", help="rule pack folder (default: the bundled pack)")
    aud.add_argument("--examples", type=int, default=500, help="generated profiles (default 500)")
    aud.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    aud.add_argument("--format", choices=("text", "json"), default="text")

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


#: Exit statuses (docs/index.md): 0 done; 1 the rule pack has problems; 2 invalid input, or a
#: file that cannot be read; 3 anything else (an engine failure, out of memory, a bug);
#: 130 interrupted. A failure is reported on stderr, never as a traceback.
EXIT_RULES, EXIT_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED = 1, 2, 3, 130


def _one_line(text: str, limit: int = 500) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[:limit] + " ..."


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status. Every failure becomes a message on stderr
    and an exit status, never a traceback."""
    args = _parser().parse_args(argv)
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
        sys.stderr.write(f"backrx: internal error ({type(exc).__name__}): {_one_line(str(exc))}\n")
        return EXIT_INTERNAL


def _main(args: argparse.Namespace) -> int:
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

            from backrx._input import loads, read_text
            from backrx.adjust import adjust
            from backrx.feedback import load_feedback
            from backrx.ruleset import load_rules

            text = read_text(Path(args.recommendation))  # a regular file, at most 5 MB
            loads(text, args.recommendation)  # refuses a repeated key, naming it
            rec = Recommendation.model_validate_json(text)
            pack = load_rules(args.rules) if args.rules else None
            _write(adjust(rec, load_feedback(args.feedback), rules=pack), args.format)
            return 0
        if args.command == "audit":
            from backrx.audit import audit_command

            return audit_command(args.dir, args.examples, args.seed, args.format)
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
    except EngineError as exc:
        sys.stderr.write(f"backrx: {_one_line(str(exc))}\n")
        return EXIT_INTERNAL
    except OSError as exc:
        name = f"{exc.filename}: " if exc.filename else ""
        sys.stderr.write(f"backrx: {name}{exc.strerror or _one_line(str(exc))}\n")
        return EXIT_INPUT
    except ValueError as exc:
        sys.stderr.write(f"backrx: {_one_line(str(exc))}\n")
        return EXIT_INPUT


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
