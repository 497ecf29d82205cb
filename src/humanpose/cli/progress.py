"""A tiny progress line on stderr for the ``humanpose`` commands (no dependency).

On a terminal the line appears once the work has taken more than ``delay_s`` seconds and
is redrawn at most every ``interval_s``; elsewhere (CI logs, pipes) nothing is printed
until :meth:`Progress.close` writes one final summary line. Not a subcommand: the CLI
registry only imports the modules listed in :data:`humanpose.cli.COMMANDS`.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import Optional, TextIO, Type


def format_bytes(count: float) -> str:
    """Return ``count`` bytes as a short human-readable size (``12.3 MB``)."""
    for unit in ('B', 'kB', 'MB', 'GB'):
        if abs(count) < 1000 or unit == 'GB':
            return f'{count:.0f} {unit}' if unit == 'B' else f'{count:.1f} {unit}'
        count /= 1000
    return f'{count:.1f} GB'  # pragma: no cover (loop always returns)


def _format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f'{hours}:{minutes:02d}:{secs:02d}' if hours else f'{minutes}:{secs:02d}'


class Progress:
    """Count work items (frames, bytes) and show how far along the work is.

    ::

        with Progress('frames', total=len(source)) as bar:
            for frame in source:
                ...
                bar.update()

    :param label: what is counted (``frames``, ``download``).
    :param total: expected count, or None when unknown (webcams, servers without a size).
    :param unit_bytes: count bytes (sizes and rates shown as kB/MB).
    :param stream: where to write (default stderr).
    :param delay_s: no line before this many seconds of work (short jobs stay silent).
    :param interval_s: minimum seconds between redraws on a terminal.
    """

    def __init__(self, label: str, total: Optional[int] = None, *, unit_bytes: bool = False,
                 stream: Optional[TextIO] = None, delay_s: float = 1.0,
                 interval_s: float = 0.2) -> None:
        self.label = label
        self.total = total if total is not None and total > 0 else None
        self.unit_bytes = unit_bytes
        self.stream = stream if stream is not None else sys.stderr
        self.delay_s = delay_s
        self.interval_s = interval_s
        self.count = 0
        self.start = time.monotonic()
        self._last_draw = 0.0
        self._drawn = False
        self._closed = False
        isatty = getattr(self.stream, 'isatty', None)
        self.interactive = bool(isatty and isatty())

    def _amount(self, value: float) -> str:
        return format_bytes(value) if self.unit_bytes else f'{value:.0f}'

    def _line(self) -> str:
        elapsed = max(time.monotonic() - self.start, 1e-9)
        rate = self.count / elapsed
        rate_text = f'{format_bytes(rate)}/s' if self.unit_bytes else f'{rate:.1f}/s'
        if self.total is None:
            return f'{self.label}: {self._amount(self.count)} ({rate_text})'
        share = min(self.count / self.total, 1.0)
        eta = (self.total - self.count) / rate if rate > 0 else 0.0
        return (f'{self.label}: {self._amount(self.count)}/{self._amount(self.total)} '
                f'({share:4.0%}) {rate_text}, {_format_duration(eta)} left')

    def update(self, count: int = 1) -> None:
        """Add ``count`` finished items; redraw on a terminal when it is time to."""
        self.count += count
        if not self.interactive:
            return
        now = time.monotonic()
        if now - self.start < self.delay_s or now - self._last_draw < self.interval_s:
            return
        self._last_draw = now
        self.stream.write('\r\033[K' + self._line())
        self.stream.flush()
        self._drawn = True

    def close(self, summary: Optional[str] = None) -> None:
        """Finish the line: clear it on a terminal and write one final line.

        :param summary: the final line; default ``<label>: <count> in <seconds> s``.
        """
        if self._closed:
            return
        self._closed = True
        elapsed = time.monotonic() - self.start
        if self._drawn:
            self.stream.write('\r\033[K')
        if summary is None:
            summary = (f'{self.label}: {self._amount(self.count)} in {elapsed:.1f} s'
                       + (f' ({format_bytes(self.count / elapsed)}/s)'
                          if self.unit_bytes and elapsed > 0 else ''))
        self.stream.write(summary + '\n')
        self.stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, exc_type: Optional[Type[BaseException]],
                 exc: Optional[BaseException], tb: Optional[TracebackType]) -> None:
        self.close()
