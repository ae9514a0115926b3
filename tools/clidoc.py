"""The command-line reference, generated from the argparse parser (for the docs site).

Read by the docs hooks (tools/docs_hooks.py) and by the docs tests; not part of the package.
"""

from __future__ import annotations

import argparse

from backrx.cli import EXIT_CODES, build_parser


def _cell(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split())


def _arguments(parser: argparse.ArgumentParser) -> list[str]:
    rows = ["| argument | meaning | choices | default |", "|---|---|---|---|"]
    for action in parser._actions:
        if action.help == argparse.SUPPRESS or isinstance(action, (argparse._HelpAction,
                                                                    argparse._SubParsersAction)):
            continue
        name = ", ".join(f"`{s}`" for s in action.option_strings) or f"`{action.dest}`"
        choices = ", ".join(f"`{c}`" for c in action.choices) if action.choices else ""
        default = action.default
        shown = "" if default in (None, False, argparse.SUPPRESS) or not action.option_strings \
            else f"`{default}`"
        rows.append(f"| {name} | {_cell(action.help or '')} | {choices} | {shown} |")
    return rows


def cli_reference() -> str:
    """Markdown for every ``backrx`` command: usage, and each argument's help, choices and default."""
    parser = build_parser()
    out = ["# Command-line reference", "",
           "Generated from the `backrx` argument parser; `backrx COMMAND --help` prints the same.", "",
           f"{_cell(parser.description or '')}", "", "```", parser.format_usage().strip(), "```", ""]
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {c.dest: c.help for c in sub._choices_actions}
    for name, command in sub.choices.items():
        command.formatter_class = lambda prog: argparse.HelpFormatter(prog, width=96)
        out += [f"## backrx {name}", "", _cell(helps.get(name) or ""), "", "```",
                command.format_usage().strip().replace("usage: ", ""), "```", ""]
        out += _arguments(command)
        out.append("")
    out += ["## Exit codes", "",
            "Every failure is reported on stderr, one line per problem with its file or field and its "
            "code (see [Errors and their codes](errors.md)), never as a traceback.", "",
            "| exit | meaning |", "|---|---|"]
    out += [f"| {code} | {_cell(meaning)} |" for code, meaning in EXIT_CODES.items()]
    out.append("")
    return "\n".join(out)
