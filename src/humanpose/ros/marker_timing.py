"""How long RViz keeps the markers of one frame: long enough never to blink, short enough to go.

The node replaces every marker of the previous frame with each new frame (a ``DELETEALL``
comes first, see :class:`~humanpose.ros.markers.MarkerBuilder`), so the lifetime only
matters when no new frame comes: a person who leaves disappears with the next frame, and
when the node stops, the camera stalls or the node crashes the last skeletons vanish after
their lifetime. The lifetime must therefore outlast the gap between two published frames
(or the markers blink at every slow frame) and be no longer than that: a fixed 0.2 s blinks
below 5 Hz, a fixed 5 s leaves ghosts for 5 s.

The rule (pure, tested): ``lifetime = max(floor_s, factor * period)``, where ``period`` is
the median of the last publication intervals, so one long pause does not stretch it and
ordinary jitter (up to ``factor`` times the usual interval) never makes markers blink.
RViz times a marker's lifetime from when it receives it, on its wall clock: the intervals
are measured on the node's monotonic clock, where it publishes.
"""

from __future__ import annotations

from collections import deque
import statistics
from typing import Deque, Optional

#: Publication intervals the median is taken over (a few seconds at camera rates).
PERIOD_WINDOW = 15
#: Period assumed before two frames were published (a slow camera: one frame a second).
INITIAL_PERIOD_S = 1.0
#: Defaults of the node (``marker_lifetime_periods``, ``marker_lifetime_s``) and of
#: recorded bags: two frames may be late before markers go; half a second at least.
DEFAULT_PERIODS = 3.0
DEFAULT_FLOOR_S = 0.5


def marker_lifetime_s(period_s: Optional[float], factor: float, floor_s: float) -> float:
    """Return the marker lifetime, seconds, for frames published every ``period_s``.

    :param period_s: typical seconds between two published frames; None = not measured
        yet (:data:`INITIAL_PERIOD_S` is assumed).
    :param factor: lifetime in frame periods (e.g. 3: two frames may be late or lost
        before the markers go); 0 = the floor alone.
    :param floor_s: shortest lifetime, seconds (covers delivery and render jitter at high
        frame rates). ``factor`` 0 and ``floor_s`` 0 give 0, which RViz reads as forever.
    :return: ``max(floor_s, factor * period_s)``.
    :raises ValueError: a negative factor, floor or period.
    """
    period = INITIAL_PERIOD_S if period_s is None else float(period_s)
    if factor < 0 or floor_s < 0 or period < 0:
        raise ValueError(f'marker lifetime needs factor, floor and period >= 0, got factor '
                         f'{factor}, floor {floor_s} s, period {period} s')
    return max(float(floor_s), float(factor) * period)


class FramePeriod:
    """The typical interval between published frames: median of the last few.

    :param window: how many intervals the median is taken over.
    """

    def __init__(self, window: int = PERIOD_WINDOW) -> None:
        if window < 1:
            raise ValueError(f'the period window must hold at least one interval, got {window}')
        self._intervals: Deque[float] = deque(maxlen=window)
        self._last_s: Optional[float] = None

    def tick(self, now_s: float) -> Optional[float]:
        """Record a frame published at ``now_s`` (monotonic seconds); return the period.

        :return: median of the recorded intervals, seconds; None before the second frame.
        """
        if self._last_s is not None:
            self._intervals.append(max(0.0, now_s - self._last_s))
        self._last_s = now_s
        return self.period_s

    @property
    def period_s(self) -> Optional[float]:
        """Return the median interval, seconds, or None before two frames were recorded."""
        return statistics.median(self._intervals) if self._intervals else None

    def reset(self) -> None:
        """Forget every interval (e.g. after the input was paused on purpose)."""
        self._intervals.clear()
        self._last_s = None
