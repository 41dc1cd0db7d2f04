"""What every reader gives and raises: rows, a progress callback, and ``UnusableFile``."""

from __future__ import annotations

from collections.abc import Callable, Iterator

Rows = Iterator[tuple[int, list[str]]]
Progress = Callable[[int, int], None]


class UnusableFile(Exception):
    """The file cannot be read at all; ``message`` says what to do about it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
