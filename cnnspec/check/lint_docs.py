"""The table of check's warnings in docs/warnings.md, generated from the lints' catalogue
(:mod:`cnnspec.check.lint_catalogue`), and the ways to silence them, from the comments'
forms (:mod:`cnnspec.check.silence`) and the commands that take ``--ignore``.
``python tools/generate.py`` writes each between its marker lines; a test fails when the
shipped page differs from what they give.
"""
from __future__ import annotations

from cnnspec.check.lint_catalogue import LINTS, UNUSED_IGNORE
from cnnspec.check.silence import FORMS
from cnnspec.kinds.docs import begin_marker, end_marker
from cnnspec.markdown import cell

LINT_TABLE = ("lints", "cnnspec/check/lint_catalogue.py")
LINT_MARKERS = (begin_marker(*LINT_TABLE), end_marker(LINT_TABLE[0]))
SILENCE_LIST = ("silencing", "cnnspec/check/silence.py and the commands' options")
SILENCE_MARKERS = (begin_marker(*SILENCE_LIST), end_marker(SILENCE_LIST[0]))


def silence_list(commands: list[str]) -> str:
    """The markdown list of the ways to silence a lint: ``--ignore`` of ``commands`` (those
    that take it), then each comment form, with what they have in common."""
    taking = ", ".join(f"`{command}`" for command in commands)
    ignore = (f"- `--ignore NAME[,NAME]`, which {taking} take, leaves out the warnings of "
              "those lints everywhere, in what each prints (and draws); `--strict`, which "
              "makes warnings errors, does not fail on them. A name no lint has is an error "
              "(exit 2), with the closest name.")
    items = [ignore]
    items += [f"- `{form.written()}` (several names separated by commas) leaves out "
              f"{form.reach}:\n\n  ```\n  {form.example}\n  ```" for form in FORMS]
    items.append("- A comment's name that no lint has is an error at the name, with a caret "
                 "and the closest name; so is such a comment written without its brackets. "
                 "The `fmt` command keeps these comments.")
    later = ", ".join(f"`{lint.name}`" for lint in LINTS if lint.found_later)
    items.append("- A comment's name that silences no warning check finds is a warning at the "
                 f"name, `{UNUSED_IGNORE}` (below); not for the lints whose warnings may come "
                 f"only once `train` reads the data or knows the machine ({later}).")
    return "\n".join(items)


def lint_table() -> str:
    """The markdown table: each lint's name, what it warns of, and why it matters."""
    rows = ["| lint | warns of | why |", "|---|---|---|"]
    rows += [f"| `{lint.name}` | {cell(lint.summary)} | {cell(lint.explanation)} |"
             for lint in LINTS]
    return "\n".join(rows)
