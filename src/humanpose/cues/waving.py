"""Waving: a hand oscillating sideways at 1-3 Hz over the last ~1.5 s of a track.

The signal of each hand is the wrist's horizontal offset from its own elbow, divided by
the person's torso length: the elbow moves with the body, so walking, swaying or the
camera panning cancel out, and the size does not depend on the distance. A sample counts
only while the forearm is up (wrist above elbow, both visible): arms swinging while
walking hang down, a waving hand does not.

Over the samples of the window (image stamps), the detector fits, for each frequency of a
grid, ``x(t) = a cos(2 pi f t) + b sin(2 pi f t) + c + d t`` by weighted least squares
(the linear term absorbs slow drifts of the arm; missing samples simply have no weight, so
dropouts and uneven frame times need no resampling: the generalised Lomb-Scargle
periodogram). The best frequency waves when

* it lies in [min_hz, max_hz],
* the sinusoid explains at least ``min_fit`` of the variance the linear trend leaves,
* its amplitude ``hypot(a, b)`` is at least ``min_amplitude`` torso lengths,
* the valid samples span at least ``min_span_s`` and number at least ``min_samples``.

A track keeps waving for ``hold_s`` after its last detection (see :class:`WaveConfig`).

All hands of all tracks are fitted at once: (hands, frequencies) closed-form 2x2 solves
after removing the trend (the Frisch-Waugh-Lovell theorem), no per-hand Python. The C
kernel (``csrc/waving.c``, see :mod:`humanpose.cues.kernel`) runs the same fit signal by
signal, cos and sin of the evenly spaced grid by angle addition.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from humanpose.cues import kernel

F64 = NDArray[np.float64]
B = NDArray[np.bool_]


@dataclass(frozen=True)
class WaveConfig:
    """Thresholds of the waving cue (see the module docstring).

    :param window_s: seconds of history looked at.
    :param min_hz: lowest waving frequency.
    :param max_hz: highest waving frequency.
    :param min_amplitude: smallest amplitude, torso lengths (0.08 = about 4 cm).
    :param min_fit: smallest share of the variance the sinusoid must explain.
    :param min_span_s: the valid samples must span this long.
    :param min_samples: and be at least this many.
    :param grid_hz: (low, high, step) of the frequencies tried; wider than the band so
        that slower and faster motions are recognised as such. The best one is refined
        between its neighbours (parabola through the three fits).
    :param hold_s: a track keeps waving this long after its last detection (the estimate
        wobbles at the band's edges; a behaviour tree should not see a wave flicker).
    """

    window_s: float = 1.5
    min_hz: float = 0.7
    max_hz: float = 3.5
    min_amplitude: float = 0.08
    min_fit: float = 0.4
    min_span_s: float = 0.7
    min_samples: int = 8
    grid_hz: tuple[float, float, float] = (0.3, 5.05, 0.25)
    hold_s: float = 0.5

    def frequencies(self) -> F64:
        """Return the frequency grid, Hz."""
        low, high, step = self.grid_hz
        out: F64 = np.arange(low, high + step / 2, step)
        return out


@dataclass(frozen=True)
class Oscillation:
    """Fit results of M signals: ``waving`` (M,), ``frequency_hz``, ``amplitude``, ``fit``."""

    waving: B
    frequency_hz: F64
    amplitude: F64
    fit: F64


@lru_cache(maxsize=8)
def kernel_grid(config: WaveConfig) -> tuple[F64, F64]:
    """Return the frequency grid and the thresholds as the C kernel reads them.

    :return: (F,) frequencies, Hz; (6,) min_fit, min_amplitude, min_hz, max_hz,
        min_span_s, min_samples.
    """
    params = np.array([config.min_fit, config.min_amplitude, config.min_hz, config.max_hz,
                       config.min_span_s, config.min_samples], np.float64)
    freqs = config.frequencies()
    freqs.flags.writeable = params.flags.writeable = False  # shared by every call
    return freqs, params


def detect_oscillation(t_s: NDArray[np.floating], x: NDArray[np.floating], valid: B,
                       config: WaveConfig) -> Oscillation:
    """Fit sinusoids to M signals of T samples; say which oscillate in the waving band.

    Signals with too few valid samples (or too short a span) are not fitted at all, so
    people with their hands down cost nothing here.

    :param t_s: (M, T) sample times, seconds (any origin; unused samples anything finite).
    :param x: (M, T) the signal (torso lengths).
    :param valid: (M, T) which samples count.
    :param config: thresholds.
    """
    if kernel.KERNEL is not None:
        return _detect_oscillation_kernel(t_s, x, valid, config)
    t = np.asarray(t_s, np.float64)
    x = np.asarray(x, np.float64)
    w = np.asarray(valid, bool) & np.isfinite(x) & np.isfinite(t)
    m = len(t)
    waving = np.zeros(m, bool)
    frequency, amplitude, fit = np.full(m, np.nan), np.full(m, np.nan), np.full(m, np.nan)
    if m == 0 or t.shape[1] == 0:
        return Oscillation(waving, frequency, amplitude, fit)
    count = w.sum(axis=1)
    with np.errstate(invalid='ignore'):
        span = np.where(w, t, -np.inf).max(axis=1) - np.where(w, t, np.inf).min(axis=1)
    enough = (count >= config.min_samples) & (span >= config.min_span_s)
    if not enough.any():
        return Oscillation(waving, frequency, amplitude, fit)
    w, t, x = w[enough], t[enough], x[enough]
    weights = w.astype(np.float64)
    # Time centred on each signal's weighted mean (conditioning of the linear term).
    t0 = np.where(w, t, 0.0).sum(axis=1) / weights.sum(axis=1)
    tc = np.where(w, t - t0[:, None], 0.0)
    xs = np.where(w, x, 0.0)
    wt, wx = weights * tc, weights * xs
    sw, swt, swx = weights.sum(1), wt.sum(1), wx.sum(1)
    swtt, swxt = (wt * tc).sum(1), (wx * tc).sum(1)

    # Linear trend alone: the variance the sinusoid has to explain.
    det = sw * swtt - swt * swt
    det = np.where(np.abs(det) > 1e-12, det, 1e-12)
    a0 = (swtt * swx - swt * swxt) / det
    b0 = (sw * swxt - swt * swx) / det
    resid = np.where(w, xs - a0[:, None] - b0[:, None] * tc, 0.0)             # (M, T)
    rss_lin = np.sum(weights * resid * resid, axis=1)

    # Sinusoid + trend at every frequency. By the Frisch-Waugh-Lovell theorem the sinusoid's
    # coefficients are those of the detrended signal on the detrended cos and sin, so the
    # 4x4 normal equations reduce to 2x2 ones, solved in closed form for all (M, F).
    freqs = config.frequencies()
    # The sinusoid's span does not depend on the time origin, so cos and sin are taken of
    # the raw times, and only once when all signals share their sample times (the two
    # hands of a track, and the tracks seen in every image, do): (1, F, T), broadcast.
    ref = np.where(np.isfinite(t[0]), t[0], 0.0)
    shared = bool(((t == ref) | ~w).all())
    c, s = _cos_sin(freqs, ref[None] if shared else np.where(w, t, 0.0))     # (M|1, F, T)
    moments = np.stack([weights, wt, weights * resid], axis=-1)                 # (M, T, 3)
    cm, sm = c @ moments, s @ moments                                           # (M, F, 3)
    wcol = weights[..., None]
    cc, ss, cs = (c * c) @ wcol, (s * s) @ wcol, (c * s) @ wcol
    cc, ss, cs = cc[..., 0], ss[..., 0], cs[..., 0]
    # Remove the projection on (1, t): v'u' = vu - [v1, vt] L^-1 [u1, ut]^T.
    inv = np.stack([swtt, -swt, -swt, sw], axis=-1) / det[:, None]             # (M, 4)

    def proj(u1: F64, ut: F64, v1: F64, vt: F64) -> F64:
        out: F64 = (v1 * (inv[:, None, 0] * u1 + inv[:, None, 1] * ut)
                    + vt * (inv[:, None, 2] * u1 + inv[:, None, 3] * ut))
        return out

    ccd = cc - proj(cm[..., 0], cm[..., 1], cm[..., 0], cm[..., 1])
    ssd = ss - proj(sm[..., 0], sm[..., 1], sm[..., 0], sm[..., 1])
    csd = cs - proj(sm[..., 0], sm[..., 1], cm[..., 0], cm[..., 1])
    cx, sx = cm[..., 2], sm[..., 2]
    det2 = ccd * ssd - csd * csd
    det2 = np.where(np.abs(det2) > 1e-12, det2, np.inf)
    a = (ssd * cx - csd * sx) / det2
    b = (ccd * sx - csd * cx) / det2
    rss = rss_lin[:, None] - (a * cx + b * sx)
    with np.errstate(invalid='ignore', divide='ignore'):
        share = 1.0 - rss / rss_lin[:, None]
    share = np.where(np.isfinite(share), share, 0.0)
    best = np.argmax(share, axis=1)
    rows = np.arange(len(best))
    fit[enough] = share[rows, best]
    amplitude[enough] = np.hypot(a[rows, best], b[rows, best])
    # Parabolic refinement of the peak between its grid neighbours.
    inner = (best > 0) & (best < len(freqs) - 1)
    left = share[rows, np.maximum(best - 1, 0)]
    right = share[rows, np.minimum(best + 1, len(freqs) - 1)]
    curve = left - 2.0 * share[rows, best] + right
    with np.errstate(invalid='ignore', divide='ignore'):
        shift = np.where(inner & (curve < 0), 0.5 * (left - right) / curve, 0.0)
    step = freqs[1] - freqs[0] if len(freqs) > 1 else 0.0
    frequency[enough] = freqs[best] + np.clip(shift, -0.5, 0.5) * step
    waving[enough] = (fit[enough] >= config.min_fit) & \
        (amplitude[enough] >= config.min_amplitude) & \
        (frequency[enough] >= config.min_hz - 1e-9) & (frequency[enough] <= config.max_hz + 1e-9)
    return Oscillation(waving, frequency, amplitude, fit)


def _detect_oscillation_kernel(t_s: NDArray[np.floating], x: NDArray[np.floating], valid: B,
                               config: WaveConfig) -> Oscillation:
    """Return :func:`detect_oscillation` computed by the C kernel."""
    assert kernel.KERNEL is not None
    t = np.ascontiguousarray(t_s, np.float64)
    xs = np.ascontiguousarray(x, np.float64)
    ok = np.ascontiguousarray(valid, np.bool_)
    if t.ndim != 2 or xs.shape != t.shape or ok.shape != t.shape:
        raise ValueError(f'detect_oscillation needs (M, T) times, signal and validity, got '
                         f'{t.shape}, {xs.shape} and {ok.shape}')
    m, samples = t.shape
    freqs, params = kernel_grid(config)
    waving = np.empty(m, np.bool_)
    frequency, amplitude, fit = np.empty(m), np.empty(m), np.empty(m)
    kernel.KERNEL.oscillation(t, xs, ok, m, samples, freqs, params, waving, frequency, amplitude,
                              fit)
    return Oscillation(waving, frequency, amplitude, fit)


def _cos_sin(freqs: F64, t: F64) -> tuple[F64, F64]:
    """Return cos and sin of 2 pi f t, (M, F, T), for frequencies (F,) and times (M, T)."""
    phase = (2.0 * np.pi) * freqs[None, :, None] * t[:, None, :]
    return np.cos(phase), np.sin(phase)


def wave_signal(keypoints: NDArray[np.floating], confidence: NDArray[np.floating],
                elbow_ids: NDArray[np.intp], wrist_ids: NDArray[np.intp], scale: F64,
                threshold: float) -> tuple[F64, B]:
    """Return (N, 2) the waving signal of the left / right hand, and where it is valid.

    :param keypoints: (N, K, 2) pixels.
    :param confidence: (N, K) in [0, 1].
    :param elbow_ids: (2,) elbow keypoint ids (left, right).
    :param wrist_ids: (2,) wrist keypoint ids.
    :param scale: (N,) torso length, pixels.
    :param threshold: elbow and wrist must reach this confidence.
    """
    kp = np.asarray(keypoints, np.float64)
    conf = np.asarray(confidence)
    elbow, wrist = kp[:, elbow_ids], kp[:, wrist_ids]                          # (N, 2, 2)
    with np.errstate(invalid='ignore', divide='ignore'):
        x = (wrist[..., 0] - elbow[..., 0]) / scale[:, None]
        valid = (conf[:, elbow_ids] >= threshold) & (conf[:, wrist_ids] >= threshold) & \
            (wrist[..., 1] < elbow[..., 1]) & np.isfinite(x)
    return x, valid
