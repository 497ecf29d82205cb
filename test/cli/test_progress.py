"""The stderr progress line: silent off a terminal except one final line."""

from __future__ import annotations

import io

import pytest

from humanpose.cli import progress as progress_module
from humanpose.cli.progress import Progress, format_bytes


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_not_a_terminal_prints_only_the_final_line() -> None:
    stream = io.StringIO()
    bar = Progress('frames', total=3, stream=stream, delay_s=0.0, interval_s=0.0)
    for _ in range(3):
        bar.update()
    assert stream.getvalue() == ''
    bar.close()
    bar.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith('frames: 3 in ')


def test_terminal_redraws_one_line_with_share_and_eta(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr(progress_module.time, 'monotonic', lambda: now[0])
    stream = Terminal()
    bar = Progress('frames', total=10, stream=stream, delay_s=1.0, interval_s=0.0)
    now[0] += 0.5
    bar.update()
    assert stream.getvalue() == ''  # quick work stays silent
    now[0] += 1.5  # 2 s for 2 frames
    bar.update()
    assert stream.getvalue() == '\r\033[Kframes: 2/10 ( 20%) 1.0/s, 0:08 left'
    bar.close('done')
    assert stream.getvalue().endswith('\r\033[Kdone\n')


def test_byte_counts_are_human_readable() -> None:
    assert format_bytes(999) == '999 B'
    assert format_bytes(12_345_678) == '12.3 MB'
    assert format_bytes(3.2e9) == '3.2 GB'
