"""What every import_* and export_* command shares: reading the file, the progress bar,
printing every bad row as `line N: column: reason`, and writing to stdout or --output.

(A leading underscore keeps Django from listing this module as a command.)
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO, cast

from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper
from tqdm import tqdm

from leadowner.csvio import ImportFailed, ImportReport, Progress
from leadowner.errors import ServiceError

PROGRESS_ABOVE_ROWS = 1000

ImportService = Callable[..., ImportReport]


def add_import_arguments(parser: CommandParser, *, filename: str) -> None:
    parser.add_argument("file", help=f"the {filename} to import ('-' reads standard input)")
    parser.add_argument("--actor", default=f"import: {filename}", help="who the history names (default: %(default)s)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on standard error")


def add_output_argument(parser: CommandParser) -> None:
    parser.add_argument("--output", "-o", help="write to this file instead of standard output")


def read_input(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror or exc}") from None


class ProgressBars:
    """A tqdm bar per phase ("checking", "writing") on stderr, for files over ~1,000 rows."""

    def __init__(self, stream: TextIO, *, enabled: bool) -> None:
        self.stream = stream
        self.enabled = enabled
        self.bars: dict[str, tqdm[Any]] = {}

    def __call__(self, phase: str, done: int, total: int) -> None:
        if not self.enabled or total <= PROGRESS_ABOVE_ROWS:
            return
        bar = self.bars.get(phase)
        if bar is None:
            self.close()  # one phase at a time
            bar = self.bars[phase] = tqdm(total=total, desc=phase, unit="rows", file=self.stream, leave=False)
        bar.update(done - bar.n)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()
        self.bars.clear()


def run_import(
    command: BaseCommand,
    service: ImportService,
    *,
    filename: str,
    options: dict[str, Any],
    now: datetime,
) -> ImportReport:
    """Run an import service on the file; print every bad row and exit non-zero on failure."""
    data = read_input(options["file"])
    bars = ProgressBars(cast(TextIO, _Unstyled(command.stderr)), enabled=not options["no_progress"])
    progress: Progress = bars
    try:
        report = service(data, actor=options["actor"], now=now, progress=progress)
    except ImportFailed as exc:
        bars.close()
        for error in exc.errors:
            command.stderr.write(str(error))
        raise CommandError(exc.message) from None
    except ServiceError as exc:
        bars.close()
        raise CommandError(exc.message) from None
    bars.close()
    command.stdout.write(f"{filename}: {report}")
    return report


class _Unstyled:
    """The command's stdout as a plain stream: no newline added after each write."""

    def __init__(self, wrapper: OutputWrapper) -> None:
        self.wrapper = wrapper

    def write(self, text: str) -> int:
        self.wrapper.write(text, ending="")
        return len(text)

    def flush(self) -> None:
        self.wrapper.flush()


def write_output(command: BaseCommand, options: dict[str, Any], write: Callable[[TextIO], Any]) -> Any:
    """Call `write(stream)` with the --output file (UTF-8, `\\n` line endings) or stdout.

    Returns what `write` returned, or None when stdout was closed early.
    """
    target = options.get("output")
    if not target:
        try:
            return write(cast(TextIO, _Unstyled(command.stdout)))
        except BrokenPipeError:
            # The reader went away (`export_accounts | head`): not an error. Point stdout
            # at /dev/null so the interpreter's final flush does not complain either.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return None
    try:
        with open(target, "w", encoding="utf-8", newline="") as out:
            return write(out)
    except OSError as exc:
        raise CommandError(f"cannot write {target}: {exc.strerror or exc}") from None
