"""How the ``chainrule`` command fails: one line saying what is wrong and how to fix it.

A user error (a bad option value, a malformed CSV, a missing run folder, a checkpoint that
doesn't fit) raises ``CLIError``; ``main`` prints ``chainrule <command>: error: <message>``
on stderr and exits with status 2, as argparse does for bad options.  Every command checks
its inputs before it writes anything, so a failed command leaves no files behind.
"""

from __future__ import annotations

USAGE = 2  # exit status for user errors (argparse's)
FAILED = 1  # exit status for failures that are not the user's input (e.g. a failed download)
INTERRUPTED = 130  # exit status after Ctrl-C (128 + SIGINT), as shells report it


class CLIError(Exception):
    """A user error: ``message`` says what is wrong and how to fix it (one line)."""

    def __init__(self, message: str, status: int = USAGE, prog: str | None = None):
        super().__init__(one_line(message))
        self.status = status
        self.prog = prog  # "chainrule train"; None: the command being run


def one_line(message) -> str:
    """``message`` with newlines and tabs folded into single spaces (errors are one line)."""
    return " ".join(str(message).split())


def reason(exc: BaseException) -> str:
    """An exception's message without the ``who:`` prefix chainrule's loaders put first."""
    text = one_line(exc)
    head, sep, rest = text.partition(": ")
    if sep and " " not in head and rest:
        return rest
    return text
