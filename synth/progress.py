"""A dependency-free progress bar for long commands (dataset generation, offline renders).

On a terminal it redraws one line; otherwise (CI logs, pipes) it prints a line every tenth
of the way, so logs stay short.
"""

from __future__ import annotations

import sys
import time


class Progress:
    """Report progress of `total` units of work under `label` to a stream (stderr)."""

    def __init__(self, total: float, label: str, unit: str = "", stream=None,
                 enabled: bool = True) -> None:
        self.enabled = enabled
        self.total = max(float(total), 1e-12)
        self.places = 0 if isinstance(total, int) else 1  # "3/10 strings", "1.6/16.2 s"
        self.label = label
        self.unit = unit
        self.done = 0.0
        self.stream = stream if stream is not None else sys.stderr
        self.interactive = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = time.monotonic()
        self._last_draw = 0.0
        self._last_decile = -1

    def update(self, amount: float = 1.0) -> None:
        self.done = min(self.done + amount, self.total)
        if not self.enabled:
            return
        now = time.monotonic()
        if self.interactive:
            if now - self._last_draw >= 0.1 or self.done >= self.total:
                self._last_draw = now
                self.stream.write("\r" + self._line(now))
                self.stream.flush()
        else:
            decile = int(10 * self.done / self.total)
            if decile > self._last_decile:
                self._last_decile = decile
                self.stream.write(self._line(now) + "\n")
                self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.interactive:
            self.stream.write("\n")
            self.stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _line(self, now: float) -> str:
        fraction = self.done / self.total
        width = 30
        filled = int(width * fraction)
        bar = "=" * filled + (">" if filled < width else "") + " " * max(width - filled - 1, 0)
        elapsed = now - self.start
        eta = elapsed * (1.0 - fraction) / fraction if fraction > 0 else float("nan")
        unit = f" {self.unit.strip()}" if self.unit.strip() else ""
        count = f"{self.done:.{self.places}f}/{self.total:.{self.places}f}{unit}"
        left = f"{eta:5.0f} s left" if eta == eta else "   ?  s left"
        return f"{self.label} [{bar}] {100 * fraction:3.0f}% {count} {elapsed:5.0f} s, {left}"


class Bars:
    """One `Progress` bar of a unit's work for each part of a job in turn: calling it with a
    part's title closes the bar before and returns the new one's `update`; `close` closes
    the last."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.bar: Progress | None = None

    def __call__(self, title: str):
        self.close()
        self.bar = Progress(1.0, title, enabled=self.enabled)
        return self.bar.update

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
