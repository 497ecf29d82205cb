"""Progress of a TensorRT engine build: heartbeat lines and TensorRT's ``IProgressMonitor``."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Optional

LOG = logging.getLogger(__name__)


class BuildProgress:
    """A progress indication while TensorRT builds (minutes on a Jetson).

    A timer thread reports an "N s elapsed" line every ``interval_s``; where TensorRT has
    ``IProgressMonitor`` (9.1+), the current top-level phase is added to it and phase starts
    are reported as they happen.

    :param label: what is being built (model file name).
    :param report: where lines go (``LOG.info`` by default; the CLI prints them).
    :param interval_s: seconds between heartbeat lines.
    :param clock: monotonic clock (tests pass a fake).
    """

    def __init__(self, label: str, report: Optional[Callable[[str], None]] = None,
                 interval_s: float = 15.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.label = label
        self.report: Callable[[str], None] = report or (lambda line: LOG.info('%s', line))
        self.interval_s = interval_s
        self._clock = clock
        self._start = clock()
        self._lock = threading.Lock()
        self._phases: dict[str, list[int]] = {}  # name -> [step, num_steps]
        self._top: list[str] = []
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self.cancelled = False

    def elapsed_s(self) -> float:
        """Seconds since the build started."""
        return self._clock() - self._start

    def heartbeat_line(self) -> str:
        """Return the periodic line: elapsed time and the current phase if known."""
        line = f'building TensorRT engine for {self.label}: {self.elapsed_s():.0f} s elapsed'
        with self._lock:
            if self._top:
                name = self._top[-1]
                step, total = self._phases.get(name, [0, 0])
                line += f' ({name}: {step}/{total})'
        return line

    def phase_started(self, name: str, parent: Optional[str], num_steps: int) -> None:
        """Record a phase (IProgressMonitor.phase_start); report top-level phases."""
        with self._lock:
            self._phases[name] = [0, int(num_steps)]
            if parent is None:
                self._top.append(name)
        if parent is None:
            self.report(f'building {self.label}: {name} ({num_steps} steps)')

    def step_completed(self, name: str, step: int) -> bool:
        """Record a step (IProgressMonitor.step_complete); False cancels the build."""
        with self._lock:
            if name in self._phases:
                self._phases[name][0] = int(step) + 1
        return not self.cancelled

    def phase_finished(self, name: str) -> None:
        """Forget a finished phase (IProgressMonitor.phase_finish)."""
        with self._lock:
            self._phases.pop(name, None)
            if name in self._top:
                self._top.remove(name)

    def _beat(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.report(self.heartbeat_line())

    def __enter__(self) -> BuildProgress:
        self._start = self._clock()
        self.report(f'building TensorRT engine for {self.label} (minutes on a Jetson; the '
                    'result is cached)')
        self._thread = threading.Thread(target=self._beat, name='trt-build-progress',
                                        daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        outcome = 'failed' if exc and exc[0] is not None else 'done'
        self.report(f'building TensorRT engine for {self.label}: {outcome} after '
                    f'{self.elapsed_s():.0f} s')


def make_progress_monitor(trt: Any, progress: BuildProgress) -> Optional[Any]:
    """Return a ``trt.IProgressMonitor`` feeding ``progress``, or None before TensorRT 9.1."""
    base: Any = getattr(trt, 'IProgressMonitor', None)
    if base is None:
        return None

    class _Monitor(base):  # type: ignore[misc]
        def __init__(self) -> None:
            base.__init__(self)  # pybind11 trampolines need the explicit base init

        def phase_start(self, phase_name: str, parent_phase: Optional[str],
                        num_steps: int) -> None:
            progress.phase_started(phase_name, parent_phase, num_steps)

        def step_complete(self, phase_name: str, step: int) -> bool:
            return progress.step_completed(phase_name, step)

        def phase_finish(self, phase_name: str) -> None:
            progress.phase_finished(phase_name)

    return _Monitor()
