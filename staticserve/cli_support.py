"""What the ``staticserve`` commands share: errors as one-line messages with an exit code,
the progress bar, and how numbers, paths and sizes are read and shown."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from .errors import StaticServeError

__all__ = [
    "config_option",
    "errors_as_messages",
    "number",
    "prefix_option",
    "progress_bar",
    "shown",
    "size_text",
]

# The options several commands take, worded once.
config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="TOML file with a [tool.staticserve] table.  [default: ./pyproject.toml]",
)
prefix_option = click.option(
    "--prefix", help="URL prefix the files are served under.  [config: prefix; default: /static/]"
)


def number(ctx: click.Context, param: click.Parameter, text: str | None) -> object:
    """An option's callback: a number given as text, as a number. The build checks it like any
    other value (a word stays a word, so that its error reads as it does from the config file
    or the API)."""
    if text is None:
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


@contextmanager
def errors_as_messages(
    interrupted: str = "Interrupted; nothing was published.",
) -> Iterator[None]:
    try:
        yield
    except StaticServeError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except OSError as exc:
        click.echo(f"Error: {exc.filename or ''}: {exc.strerror or exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo(interrupted, err=True)
        sys.exit(130)


@contextmanager
def progress_bar(enabled: bool) -> Iterator[Any]:
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=True,
        console=None,
    ) as bar:
        tasks: dict[str, Any] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield update


def shown(path: Path) -> str:
    """A path relative to the current folder when it is below it: shorter to read."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def size_text(count: int) -> str:
    value = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")
