"""A progress line on a terminal (rewritten in place); nothing otherwise, where the report's
one-line summary is what a log keeps."""

from __future__ import annotations

import time
from typing import TextIO


class Progress:
    """People done of `total`, at most a few redraws a second."""

    def __init__(self, total: int, *, stream: TextIO) -> None:
        self.total = total
        self.done = 0
        self.stream = stream
        self.live = stream.isatty()
        self._drawn = 0.0

    def advance(self, count: int) -> None:
        """`count` more people done; redraw when a terminal shows it."""
        self.done += count
        now = time.monotonic()
        if self.live and (now - self._drawn > 0.2 or self.done >= self.total):
            self._drawn = now
            share = self.done / self.total if self.total else 1.0
            bar = "#" * int(share * 30)
            self.stream.write(f"\rimport-legacy [{bar:<30}] {self.done}/{self.total} people")
            self.stream.flush()

    def finish(self) -> None:
        """End the progress line, so the report starts on a line of its own."""
        if self.live:
            self.stream.write("\n")
            self.stream.flush()
