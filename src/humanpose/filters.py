"""One-Euro smoothing of keypoints, per track id, on image stamps.

The One-Euro filter (Casiez, Roussel and Vogel, CHI 2012) is an exponential smoother
whose cutoff frequency rises with speed: still keypoints are smoothed hard (little
jitter), fast ones lightly (little lag). Per sample, with ``dt`` from the image stamps::

    alpha(f) = r / (r + 1),  r = 2 * pi * f * dt
    dx       = (x - x_hat_prev) / dt
    dx_hat   = dx_hat_prev + alpha(d_cutoff) * (dx - dx_hat_prev)
    cutoff   = min_cutoff + beta * |dx_hat| / speed_scale
    x_hat    = x_hat_prev + alpha(cutoff) * (x - x_hat_prev)

Choices made here:

* A keypoint is filtered as one point: ``|dx_hat|`` is its speed (the norm over x, y
  (, z)), so x and y get the same cutoff and the lag does not depend on the direction.
* 2D speeds are measured in person sizes per second (pixels per second divided by the
  longer side of the person's box), so one ``beta`` fits people near and far: both the
  network's jitter and the motion in pixels scale with the person's size in the image.
  3D speeds are in metres per second (``beta_3d``).
* Every point keeps its own timing: a point that is skipped (invalid) for a while
  resumes with the elapsed time as ``dt``, so its ``alpha`` is near 1 and it catches up
  at once instead of dragging from a stale position.
* Keypoints with confidence below ``min_confidence`` are published as measured and do
  not update the filter (a hidden keypoint's guesses would drag the state around). NaN
  3D points (no depth) stay NaN and do not touch the state either.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
import logging
from typing import Any, Iterable, Optional

import numpy as np
from numpy.typing import NDArray

from humanpose.errors import InvalidInputError
from humanpose.types import Poses

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]
B = NDArray[np.bool_]

_log = logging.getLogger(__name__)


def smoothing_factor(cutoff_hz: NDArray[Any] | float, dt_s: NDArray[Any] | float) -> F64:
    """Return the exponential smoothing factor of a first-order low-pass at ``cutoff_hz``.

    :param cutoff_hz: cutoff frequency in Hz (array or scalar).
    :param dt_s: sampling interval in seconds (array or scalar, > 0).
    :return: ``alpha`` in (0, 1): the weight of the new sample.
    """
    r = 2.0 * np.pi * np.asarray(cutoff_hz, np.float64) * np.asarray(dt_s, np.float64)
    alpha: F64 = r / (r + 1.0)
    return alpha


@dataclass(frozen=True)
class OneEuroParams:
    """Parameters of one One-Euro filter.

    :param min_cutoff: cutoff frequency at rest, Hz. Lower: less jitter, more lag.
    :param beta: cutoff increase per unit of speed (speed in units per second divided by
        the ``speed_scale`` given to the filter). Higher: less lag when moving.
    :param d_cutoff: cutoff frequency of the speed estimate, Hz.
    """

    min_cutoff: float = 0.5
    beta: float = 4.0
    d_cutoff: float = 1.0

    def __post_init__(self) -> None:
        if self.min_cutoff <= 0 or self.d_cutoff <= 0 or self.beta < 0:
            raise InvalidInputError(
                f'One-Euro needs min_cutoff > 0, d_cutoff > 0 and beta >= 0, got '
                f'{self.min_cutoff}, {self.d_cutoff}, {self.beta}')


class OneEuroFilter:
    """A One-Euro filter over M points of D coordinates each, vectorised.

    :param params: cutoffs and beta.
    """

    def __init__(self, params: OneEuroParams) -> None:
        self.params = params
        self._x: Optional[F64] = None      # (M, D) filtered value
        self._dx: Optional[F64] = None     # (M, D) filtered speed, units per second
        self._t: Optional[NDArray[np.int64]] = None  # (M,) stamp of the last update, ns
        self._seen: Optional[B] = None     # (M,) the point has state

    def reset(self) -> None:
        """Forget all state; the next sample passes through unchanged."""
        self._x = self._dx = self._t = self._seen = None

    def __call__(self, x: NDArray[Any], stamp_ns: int, valid: Optional[NDArray[Any]] = None,
                 speed_scale: float = 1.0) -> F64:
        """Filter one sample of every point.

        :param x: (M, D) the measured points (NaN allowed).
        :param stamp_ns: the sample's stamp, nanoseconds (image stamp, not wall clock).
        :param valid: (M,) bool, points that may update the filter; None = all finite
            points. Other points are returned as measured and leave the state alone.
        :param speed_scale: speeds are divided by this before ``beta`` applies (e.g. the
            person's size in pixels); must be > 0.
        :return: (M, D) float64 filtered points. A point's first valid sample, and a
            repeated stamp, return the measurement and the last output respectively.
        :raises InvalidInputError: ``x`` is not (M, D) or ``valid`` is not (M,).
        """
        x = np.asarray(x, np.float64)
        if x.ndim != 2:
            raise InvalidInputError(f'One-Euro input must be (M, D), got {x.shape}')
        ok = np.isfinite(x).all(axis=1)
        if valid is not None:
            valid = np.asarray(valid, bool)
            if valid.shape != ok.shape:
                raise InvalidInputError(
                    f'valid must have shape {ok.shape}, got {valid.shape}')
            ok &= valid
        if self._x is None or self._x.shape != x.shape:
            self._x = np.zeros_like(x)
            self._dx = np.zeros_like(x)
            self._t = np.zeros(len(x), np.int64)
            self._seen = np.zeros(len(x), bool)
        assert self._dx is not None and self._t is not None and self._seen is not None
        stamp = np.int64(stamp_ns)
        dt = (stamp - self._t) * 1e-9
        first = ok & ~self._seen
        step = ok & self._seen & (dt > 0)
        if step.any():
            p = self.params
            dts = dt[step, None]
            x_prev, dx_prev = self._x[step], self._dx[step]
            dx = (x[step] - x_prev) / dts
            dx_hat = dx_prev + smoothing_factor(p.d_cutoff, dts) * (dx - dx_prev)
            speed = np.linalg.norm(dx_hat, axis=1, keepdims=True) / max(speed_scale, 1e-9)
            alpha = smoothing_factor(p.min_cutoff + p.beta * speed, dts)
            self._x[step] = x_prev + alpha * (x[step] - x_prev)
            self._dx[step] = dx_hat
            self._t[step] = stamp
        if first.any():
            self._x[first] = x[first]
            self._dx[first] = 0.0
            self._t[first] = stamp
            self._seen[first] = True
        out: F64 = x.copy()
        out[ok] = self._x[ok]  # repeated stamps (dt <= 0) give the last output
        return out


@dataclass(frozen=True)
class SmootherConfig:
    """Parameters of :class:`PoseSmoother`.

    :param min_cutoff: cutoff at rest, Hz (2D and 3D).
    :param beta: 2D speed coefficient, per (person sizes per second).
    :param d_cutoff: cutoff of the speed estimate, Hz (2D and 3D).
    :param beta_3d: 3D speed coefficient, per (metres per second).
    :param min_confidence: keypoints below this confidence are not smoothed.
    :param forget_after_s: state of an id not seen for this long (stamp time) is dropped.
    """

    min_cutoff: float = 0.5
    beta: float = 4.0
    d_cutoff: float = 1.0
    beta_3d: float = 2.5
    min_confidence: float = 0.1
    forget_after_s: float = 1.0

    def __post_init__(self) -> None:
        # Check the parameters where they are made, not on the first person.
        OneEuroParams(self.min_cutoff, self.beta, self.d_cutoff)
        OneEuroParams(self.min_cutoff, self.beta_3d, self.d_cutoff)
        if self.forget_after_s <= 0:
            raise InvalidInputError(
                f'forget_after_s must be > 0 seconds, got {self.forget_after_s}')

    @property
    def params_2d(self) -> OneEuroParams:
        return OneEuroParams(self.min_cutoff, self.beta, self.d_cutoff)

    @property
    def params_3d(self) -> OneEuroParams:
        return OneEuroParams(self.min_cutoff, self.beta_3d, self.d_cutoff)


class _TrackFilters:
    """The 2D and 3D filters of one track id."""

    def __init__(self, config: SmootherConfig) -> None:
        self.f2d = OneEuroFilter(config.params_2d)
        self.f3d = OneEuroFilter(config.params_3d)
        self.last_ns = 0


class PoseSmoother:
    """Smooth the keypoints of tracked people with One-Euro filters keyed by track id.

    Use after :class:`humanpose.track.Tracker` (the poses must carry ids) and after 3D
    lifting, so 3D keypoints are smoothed too::

        poses = tracker.update(poses, stamp_ns)
        smoother.forget(tracker.lost_this_frame)
        poses = smoother.update(lift_poses(poses, depth, camera), stamp_ns)

    :param config: filter parameters.
    """

    def __init__(self, config: Optional[SmootherConfig] = None) -> None:
        self.config = config or SmootherConfig()
        self._state: dict[str, _TrackFilters] = {}
        self._last_ns: Optional[int] = None

    @property
    def ids(self) -> tuple[str, ...]:
        """Track ids that currently have filter state."""
        return tuple(self._state)

    def reconfigure(self, config: SmootherConfig) -> None:
        """Apply new parameters; the filters restart from the next frame."""
        self.config = config
        self._state.clear()

    def forget(self, ids: Iterable[str]) -> None:
        """Drop the state of ``ids`` (call with the tracker's lost ids: reset on loss)."""
        for track_id in ids:
            self._state.pop(track_id, None)

    def reset(self) -> None:
        """Drop all state."""
        self._state.clear()
        self._last_ns = None

    def update(self, poses: Poses, stamp_ns: int) -> Poses:
        """Return ``poses`` with smoothed ``keypoints`` (and ``keypoints_3d`` if present).

        :param poses: this frame's tracked poses (ids set; empty poses are fine).
        :param stamp_ns: the image stamp in nanoseconds.
        :return: the same people in the same order; confidences, boxes and ids unchanged.
        :raises InvalidInputError: poses without track ids.
        """
        stamp_ns = int(stamp_ns)
        if self._last_ns is not None and stamp_ns < self._last_ns:
            _log.warning('image stamp went back in time; resetting keypoint smoothing')
            self.reset()
        self._last_ns = stamp_ns
        horizon = stamp_ns - int(self.config.forget_after_s * 1e9)
        for track_id in [i for i, s in self._state.items() if s.last_ns < horizon]:
            del self._state[track_id]
        if not len(poses):
            return poses
        if not poses.ids or not all(poses.ids):
            raise InvalidInputError(
                'keypoint smoothing needs track ids; run the tracker first (enable tracking '
                'or turn smoothing off)')
        cfg = self.config
        keypoints = poses.keypoints.copy()
        keypoints_3d = None if poses.keypoints_3d is None else poses.keypoints_3d.copy()
        for i, track_id in enumerate(poses.ids):
            state = self._state.get(track_id)
            if state is None:
                state = self._state[track_id] = _TrackFilters(cfg)
            state.last_ns = stamp_ns
            box = poses.boxes[i]
            size = float(max(box[2] - box[0], box[3] - box[1], 1.0))
            keypoints[i] = state.f2d(poses.keypoints[i], stamp_ns,
                                     poses.confidence[i] >= cfg.min_confidence, size)
            if keypoints_3d is not None and poses.confidence_3d is not None:
                keypoints_3d[i] = state.f3d(keypoints_3d[i], stamp_ns,
                                            poses.confidence_3d[i] >= cfg.min_confidence)
        return replace(poses, keypoints=keypoints, keypoints_3d=keypoints_3d)
