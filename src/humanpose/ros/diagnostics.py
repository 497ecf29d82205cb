"""Counters and rates of the node's pipeline, and their diagnostic_msgs form (pure, no ROS).

:class:`PipelineStats` is fed by the node's threads (image callback, worker) and read by
the diagnostics timer; it is thread-safe. :func:`diagnostic_array` turns one
:class:`StatsSnapshot` into a ``diagnostic_msgs/DiagnosticArray`` through a message
namespace. ``DiagnosticStatus.level`` is a ``byte``: rclpy wants ``bytes`` of length 1
and rosbags an ``int``; the level is taken from the namespace's own constants
(``DiagnosticStatus.OK`` ...) so both get what they expect.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
import threading
from typing import Any, Deque, Mapping, Optional

from humanpose.ros.messages import MessageNamespace, make_header

#: Name of the node's one diagnostic status.
STATUS_NAME = 'pose_estimator: pipeline'
#: Seconds over which rates and mean latency are measured.
WINDOW_S = 5.0
#: Seconds without an image after which the status warns.
STALE_AFTER_S = 3.0

#: Node states: loading the models, running, or failed to load (no frames processed).
LOADING, RUNNING, FAILED = 'loading', 'running', 'failed'


class RateMeter:
    """Events per second over the last ``window_s`` seconds.

    :param window_s: length of the window, seconds.
    """

    def __init__(self, window_s: float = WINDOW_S) -> None:
        self.window_s = window_s
        self._times: Deque[float] = deque()

    def tick(self, now_s: float) -> None:
        """Record one event at ``now_s`` (monotonic seconds)."""
        self._times.append(now_s)
        self._trim(now_s)

    def _trim(self, now_s: float) -> None:
        while self._times and self._times[0] < now_s - self.window_s:
            self._times.popleft()

    def rate_hz(self, now_s: float) -> float:
        """Return events per second in the window ending at ``now_s`` (0 with < 2 events)."""
        self._trim(now_s)
        if len(self._times) < 2:
            return 0.0
        span = max(self._times[-1] - self._times[0], 1e-9)
        return (len(self._times) - 1) / span


@dataclass(frozen=True)
class StatsSnapshot:
    """The pipeline's counters at one moment.

    :param state: ``loading``, ``running`` or ``failed`` (models could not be loaded).
    :param input_hz: images received per second (recent window).
    :param output_hz: HumanPoseArray messages published per second (recent window).
    :param latency_s: image stamp to publication of the last frame, seconds; None before
        the first.
    :param mean_latency_s: mean latency over the recent window, seconds; None if none.
    :param received: images received since start.
    :param published: frames processed and published since start.
    :param dropped: images replaced by a newer one before the worker took them.
    :param failed: frames skipped because of an error (bad encoding, inference error).
    :param people: people in the last published frame.
    :param seconds_since_image: seconds since the last image; None if none yet.
    :param last_error: the most recent error message ('' if none).
    :param seconds_since_error: seconds since that error; None if none.
    :param fatal_error: why the models could not be loaded ('' unless state is failed).
    :param info: fixed facts shown as they are (backend, models, skeleton, topics).
    :param timings_s: seconds per pipeline stage of the last frame.
    """

    state: str
    input_hz: float
    output_hz: float
    latency_s: Optional[float]
    mean_latency_s: Optional[float]
    received: int
    published: int
    dropped: int
    failed: int
    people: int
    seconds_since_image: Optional[float]
    last_error: str
    seconds_since_error: Optional[float]
    fatal_error: str
    info: Mapping[str, str] = field(default_factory=dict)
    timings_s: Mapping[str, float] = field(default_factory=dict)


class PipelineStats:
    """Thread-safe counters of the node (image callback, worker and timer threads).

    :param window_s: window of rates and mean latency, seconds.
    """

    def __init__(self, window_s: float = WINDOW_S) -> None:
        self._lock = threading.Lock()
        self._window_s = window_s
        self._input = RateMeter(window_s)
        self._output = RateMeter(window_s)
        self._latencies: Deque[tuple[float, float]] = deque()
        self._state = LOADING
        self._received = self._published = self._dropped = self._failed = 0
        self._people = 0
        self._last_image_s: Optional[float] = None
        self._latency_s: Optional[float] = None
        self._last_error = ''
        self._error_s: Optional[float] = None
        self._fatal = ''
        self._info: dict[str, str] = {}
        self._timings: dict[str, float] = {}

    def image_received(self, now_s: float) -> None:
        """Count an image that arrived at ``now_s`` (monotonic seconds)."""
        with self._lock:
            self._received += 1
            self._last_image_s = now_s
            self._input.tick(now_s)

    def frames_dropped(self, count: int = 1) -> None:
        """Count images that were replaced before processing."""
        with self._lock:
            self._dropped += count

    def frame_published(self, now_s: float, latency_s: float, people: int,
                        timings_s: Optional[Mapping[str, float]] = None) -> None:
        """Count a processed frame.

        :param now_s: monotonic seconds at publication.
        :param latency_s: image stamp to publication, seconds.
        :param people: people in the frame.
        :param timings_s: seconds per pipeline stage.
        """
        with self._lock:
            self._published += 1
            self._people = people
            self._latency_s = latency_s
            self._output.tick(now_s)
            self._latencies.append((now_s, latency_s))
            while self._latencies and self._latencies[0][0] < now_s - self._window_s:
                self._latencies.popleft()
            self._timings = dict(timings_s or {})

    def frame_failed(self, now_s: float, error: str) -> None:
        """Count a frame skipped because of ``error``."""
        with self._lock:
            self._failed += 1
            self._last_error = error
            self._error_s = now_s

    def set_running(self, info: Mapping[str, str]) -> None:
        """Mark the models loaded; ``info`` (backend, models ...) is shown on diagnostics."""
        with self._lock:
            self._state = RUNNING
            self._info.update(info)

    def set_failed(self, now_s: float, error: str) -> None:
        """Mark the models as not loadable because of ``error``."""
        with self._lock:
            self._state = FAILED
            self._fatal = error
            self._last_error = error
            self._error_s = now_s

    def set_info(self, **info: str) -> None:
        """Add fixed facts to show on diagnostics."""
        with self._lock:
            self._info.update(info)

    def snapshot(self, now_s: float) -> StatsSnapshot:
        """Return the counters as of ``now_s`` (monotonic seconds)."""
        with self._lock:
            recent = [lat for t, lat in self._latencies if t >= now_s - self._window_s]
            return StatsSnapshot(
                state=self._state,
                input_hz=self._input.rate_hz(now_s),
                output_hz=self._output.rate_hz(now_s),
                latency_s=self._latency_s,
                mean_latency_s=sum(recent) / len(recent) if recent else None,
                received=self._received, published=self._published,
                dropped=self._dropped, failed=self._failed, people=self._people,
                seconds_since_image=(None if self._last_image_s is None
                                     else now_s - self._last_image_s),
                last_error=self._last_error,
                seconds_since_error=None if self._error_s is None else now_s - self._error_s,
                fatal_error=self._fatal, info=dict(self._info), timings_s=dict(self._timings))


def status_level(snap: StatsSnapshot, stale_after_s: float = STALE_AFTER_S,
                 window_s: float = WINDOW_S) -> tuple[str, str]:
    """Return the level name (``OK``, ``WARN``, ``ERROR``) and the one-line message.

    ERROR: the models could not be loaded (the message is the reason). WARN: still
    loading, no image for ``stale_after_s``, or a frame failed within ``window_s``. OK
    otherwise.
    """
    if snap.state == FAILED:
        return 'ERROR', snap.fatal_error
    if snap.state == LOADING:
        return 'WARN', 'loading models'
    if snap.seconds_since_image is None:
        return 'WARN', 'waiting for images'
    if snap.seconds_since_image > stale_after_s:
        return 'WARN', f'no image for {snap.seconds_since_image:.0f} s'
    if snap.seconds_since_error is not None and snap.seconds_since_error <= window_s:
        return 'WARN', f'frames failing: {snap.last_error}'
    latency = '' if snap.latency_s is None else f', latency {snap.latency_s * 1e3:.0f} ms'
    return 'OK', (f'{snap.output_hz:.1f} of {snap.input_hz:.1f} images/s processed{latency}, '
                  f'{snap.people} people')


def _ms(seconds: Optional[float]) -> str:
    return '' if seconds is None else f'{seconds * 1e3:.1f}'


def status_values(snap: StatsSnapshot) -> list[tuple[str, str]]:
    """Return the (key, value) strings of a snapshot, in display order."""
    values = [
        ('state', snap.state),
        ('input rate (Hz)', f'{snap.input_hz:.2f}'),
        ('output rate (Hz)', f'{snap.output_hz:.2f}'),
        ('latency (ms)', _ms(snap.latency_s)),
        ('mean latency (ms)', _ms(snap.mean_latency_s)),
        ('images received', str(snap.received)),
        ('frames published', str(snap.published)),
        ('frames dropped', str(snap.dropped)),
        ('frames failed', str(snap.failed)),
        ('people', str(snap.people)),
        ('last error', snap.last_error),
    ]
    values += list(snap.info.items())
    values += [(f'{stage} (ms)', _ms(seconds)) for stage, seconds in snap.timings_s.items()]
    return values


def level_value(ns: MessageNamespace, level: str) -> Any:
    """Return ``DiagnosticStatus.<level>`` of the namespace (bytes in rclpy, int in rosbags)."""
    return getattr(ns.DiagnosticStatus, level)


def level_number(value: Any) -> int:
    """Return a DiagnosticStatus level (bytes or int) as an int: 0 OK ... 3 STALE."""
    if isinstance(value, (bytes, bytearray)):
        return int(value[0])
    return int(value)


def diagnostic_array(snap: StatsSnapshot, ns: MessageNamespace, stamp_ns: int,
                     hardware_id: str = '', name: str = STATUS_NAME) -> Any:
    """Build the node's ``diagnostic_msgs/DiagnosticArray`` (one status).

    :param snap: the counters to report.
    :param ns: message namespace (rclpy or rosbags).
    :param stamp_ns: header stamp, nanoseconds (the node clock's now).
    :param hardware_id: e.g. the inference device.
    :param name: status name.
    """
    level, message = status_level(snap)
    # Every field is given, so the class is called directly (``ns.new``'s own first
    # parameter is called ``name``, like a field of DiagnosticStatus).
    status = ns.DiagnosticStatus(
        level=level_value(ns, level), name=name, message=message, hardware_id=hardware_id,
        values=[ns.new('KeyValue', key=k, value=v) for k, v in status_values(snap)])
    return ns.new('DiagnosticArray', header=make_header(ns, stamp_ns, ''), status=[status])
