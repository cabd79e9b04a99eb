"""The progress display: one line per stage with a bar, on stderr, gone once the stage ends."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn


class RichProgress:
    """Implements :class:`grader.runner.Progress` with rich; use as a context manager."""

    def __init__(self, console: Console | None = None, prefix: str = ""):
        self.console = console or Console(stderr=True)
        self.prefix = prefix
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("[dim]{task.fields[detail]}"),
            console=self.console,
            transient=True,
        )
        self._task = None

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def stage(self, text: str) -> None:
        if self._task is not None:
            self._progress.remove_task(self._task)
        self._task = self._progress.add_task(f"{self.prefix}{text}", total=None, detail="")

    def update(self, done: int, total: int, text: str) -> None:
        if self._task is not None:
            self._progress.update(self._task, completed=done, total=total or None, detail=text)
