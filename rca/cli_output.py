"""What the command line prints besides an answer's own text: one-line errors and notes, where an
answer went, progress bars, and a bug's traceback.

Every error line, note and failure is scrubbed of the configuration's secrets and of
credential-shaped text (:func:`scrubbing`, :func:`configured_scrub`), and is one printable line:
outside text cannot forge a line or drive the terminal. rich loads only for a progress bar on a
terminal.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import typer

from core.errors import printable
from core.secrets import Redactor

Scrub = Callable[[str], str]


def shapes(text: str) -> str:
    """Outside text as one printable line with credential-shaped pieces hidden (no configuration needed)."""
    return printable(Redactor()(str(text)), 2000)


def scrubbing(settings) -> Scrub:
    """What a command's outside text passes through: the settings' secrets and credential shapes hidden, one line."""
    from rca.config import scrubber

    return scrubber(settings)


def error_line(message: str, scrub: Scrub = shapes) -> None:
    typer.echo(f"rca: error: {scrub(message)}", err=True)


def note_line(message: str, scrub: Scrub = shapes) -> None:
    typer.echo(f"rca: note: {scrub(message)}", err=True)


def emit(answer, fmt: str, out: Path | None, what: str, scrub: Scrub = shapes) -> None:
    """Print (or write) an answer (an investigation, an effect, recommendations) in ``fmt``; say on
    stderr where it went and whether it was kept. An answer the store could not keep is written all
    the same, then that is one error line and exit status 1."""
    text = answer.rendered[fmt]
    if out is None:
        sys.stdout.write(text)
    else:
        from results.io import write_text_atomic

        write_text_atomic(out, text)
        typer.echo(f"wrote {printable(str(out))}", err=True)
    if answer.id:
        typer.echo(f"{what} {answer.id} kept in the store", err=True)
    unkept = getattr(answer, "unkept", None)
    if unkept:
        where = f"written to {out}" if out is not None else "printed above"
        error_line(f"the {what} could not be kept in the store ({unkept}); the answer is {where}", scrub)
        raise typer.Exit(1)


def progress_bar(scrub: Scrub | None = None):
    """A rich progress bar on stderr and the ``(stage, done, total)`` callback the pipeline drives; off
    a terminal (a CI log, a cron mail), where rich is not even loaded, a line per stage's start and end
    on stderr instead (and how far it got every 30 s), so a long collection is never silent."""
    import contextlib

    from collectors.base import progress_lines

    def line(text: str) -> None:
        sys.stderr.write(f"rca: progress: {scrub(text) if scrub else text}\n")
        sys.stderr.flush()

    if not sys.stderr.isatty():
        return contextlib.nullcontext(), progress_lines(line)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    if not console.is_terminal:
        return contextlib.nullcontext(), progress_lines(line)

    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=console, transient=True)
    tasks: dict[str, int] = {}

    def update(stage: str, done: int, total: int | None) -> None:
        if stage not in tasks:
            tasks[stage] = bar.add_task(stage, total=total)
        bar.update(tasks[stage], completed=done, total=total)

    return bar, update


def internal(exc: BaseException, scrub: Scrub) -> NoReturn:
    """A bug of ours: one line saying so, then its traceback once (scrubbed line by line), exit 1."""
    import traceback

    error_line(f"internal error: {type(exc).__name__}: {exc} (a bug in rca; the traceback follows)", scrub)
    for block in traceback.format_exception(exc):
        for line in block.rstrip("\n").split("\n"):
            typer.echo(scrub(line) if line.strip() else line, err=True)
    sys.exit(1)


def configured_scrub(argv: list[str] | None) -> Scrub:
    """The scrubber that knows the secrets of the configuration the command was given (``--config``, else
    ``$RCA_CONFIG`` or ``./rca.yaml``); one that hides only credential shapes if it cannot be read."""
    args = list(sys.argv[1:] if argv is None else argv)
    path = None
    for i, arg in enumerate(args):
        if arg in ("--config", "-c") and i + 1 < len(args):
            path = args[i + 1]
        elif arg.startswith("--config="):
            path = arg.partition("=")[2]
    try:
        from rca.config import load_settings

        return scrubbing(load_settings(path))
    except Exception:  # the configuration may be what failed: the shapes are still hidden
        return shapes
