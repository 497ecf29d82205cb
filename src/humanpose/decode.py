"""Decoding network outputs into keypoints in network-input pixels, vectorised.

* SimCC (RTMW / RTMPose / DWPose): argmax per axis, location / split ratio; raw score =
  min(max_x, max_y), non-positive scores mark a keypoint invalid; confidence = the same
  min rule on the softmax of the vectors scaled by beta * sigma (the codec's visibility).
* Heatmaps (MSRA): argmax, then DARK refinement — a second-order Taylor expansion at the
  maximum of the log of the Gaussian-blurred heatmap — and scaling to input pixels.

SimCC decoding runs in a small C kernel (``humanpose._simcc``, one pass over the logits)
when it was built with the package, else in NumPy (two passes); both give the same results.

Decoders are registered by head type (:data:`DECODERS`); each takes the network outputs
and the model card and returns ``(keypoints (N, K, 2) input px, scores (N, K) raw,
confidence (N, K) in [0, 1])``. Invalid keypoints keep their argmax location and get
confidence 0.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import cv2
import numpy as np
from numpy.typing import NDArray

from humanpose.errors import ModelLoadError

try:
    from humanpose import _simcc as _kernel
except ImportError:  # built without a C compiler: the NumPy decoder does the same job
    _kernel = None  # type: ignore[assignment]

F32 = NDArray[np.float32]
Decoded = tuple[F32, F32, F32]


#: Softmax terms below exp(-_SOFTMAX_CUTOFF) of the maximum are negligible: each is
#: < 2.1e-9 of it, so leaving all of them out changes the result by < 1e-6.
_SOFTMAX_CUTOFF = 20.0
#: Width (bins) of the window around the argmax whose softmax terms are summed. RTMW's
#: vectors are Gaussian-shaped (sigma ~5 bins), so every term that counts lies within about
#: +-1.2 bins of the peak. Rows with a term that counts outside the window (several modes)
#: are summed in full, so the result is exact either way.
_SOFTMAX_WINDOW = 9


def _axis_scan(logits: F32, width: int) -> tuple[NDArray[np.intp], F32, F32]:
    """Scan one axis: argmax, the window around it, and the largest value outside it.

    :param logits: (N, K, L) logits.
    :param width: window width, <= L.
    :return: argmax (R,), the window's values (R, width) and the largest value outside the
        window (R,), with R = N * K rows.
    """
    length = logits.shape[-1]
    flat = np.ascontiguousarray(logits).reshape(-1, length)
    argmax = flat.argmax(axis=1)
    # The window starts at argmax - width // 2, shifted to stay inside the row, so it always
    # holds the argmax and needs no masking.
    start = np.clip(argmax - width // 2, 0, length - width)
    row_start = np.arange(0, flat.size, length)
    index = (start + row_start)[:, None] + np.arange(width)
    values = flat.reshape(-1)
    window = values.take(index)
    # The largest value outside the window: mask the window in place, argmax, restore (a
    # copy of the logits would cost a full pass). Inputs we may not write are copied.
    if not (values.flags.writeable and np.shares_memory(values, logits)):
        values = values.copy()
    values[index] = -np.inf
    try:
        outside = values.take(values.reshape(flat.shape).argmax(axis=1) + row_start)
    finally:
        values[index] = window
    return argmax, window, outside


def simcc_implementation() -> str:
    """Name the SimCC decoder this install runs: the C kernel, or NumPy without it."""
    return 'C kernel' if _kernel is not None else 'numpy (C kernel not built)'


def decode_simcc(simcc_x: F32, simcc_y: F32, split_ratio: float,
                 sigma: tuple[float, float] = (4.9, 5.66), beta: float = 150.0) -> Decoded:
    """Decode SimCC vectors.

    Location = argmax / split_ratio per axis; raw score = min(max_x, max_y); confidence =
    min over axes of max(softmax(logits * beta * sigma)) = 1 / sum(exp(s * (v - max))),
    where terms below exp(-_SOFTMAX_CUTOFF) may be left out.

    :param simcc_x: (N, K, Wx) x-axis logits, Wx = input width * split_ratio.
    :param simcc_y: (N, K, Wy) y-axis logits.
    :param split_ratio: bins per input pixel.
    :param sigma: the codec's label sigma (x, y), in bins.
    :param beta: the codec's decode beta.
    :return: keypoints (N, K, 2) input pixels, raw scores (N, K), confidence (N, K) in [0, 1].
    :raises ModelLoadError: outputs that are not (N, K, bins) pairs.
    """
    if (simcc_x.ndim != 3 or simcc_y.ndim != 3 or simcc_y.shape[:2] != simcc_x.shape[:2]
            or not simcc_x.shape[-1] or not simcc_y.shape[-1]):
        raise ModelLoadError(f'SimCC outputs must be (N, K, bins) for the same N and K; got '
                             f'simcc_x {simcc_x.shape} and simcc_y {simcc_y.shape}. Is the '
                             "model card's head type right for this model?")
    scales = (beta * sigma[0], beta * sigma[1])
    if _kernel is not None:
        return _decode_simcc_kernel(simcc_x, simcc_y, split_ratio, scales)
    return _decode_simcc_numpy(simcc_x, simcc_y, split_ratio, scales)


def _decode_simcc_kernel(simcc_x: F32, simcc_y: F32, split_ratio: float,
                         scales: tuple[float, float]) -> Decoded:
    """:func:`decode_simcc` in the C kernel, one pass over the logits."""
    n, k = simcc_x.shape[:2]
    rows, bins_x, bins_y = n * k, simcc_x.shape[-1], simcc_y.shape[-1]
    flat_x = np.ascontiguousarray(simcc_x, np.float32).reshape(rows, bins_x)
    flat_y = np.ascontiguousarray(simcc_y, np.float32).reshape(rows, bins_y)
    keypoints = np.empty((rows, 2), np.float32)
    scores = np.empty(rows, np.float32)
    confidence = np.empty(rows, np.float32)
    _kernel.decode(flat_x, flat_y, rows, bins_x, bins_y, scales[0], scales[1], _SOFTMAX_CUTOFF,
                   1.0 / split_ratio, keypoints, scores, confidence)
    return keypoints.reshape(n, k, 2), scores.reshape(n, k), confidence.reshape(n, k)


def _decode_simcc_numpy(simcc_x: F32, simcc_y: F32, split_ratio: float,
                        scales: tuple[float, float]) -> Decoded:
    """:func:`decode_simcc` in NumPy, two passes over the logits.

    The softmax is summed over a window around the argmax, or over the whole row where a
    term that counts lies outside it.
    """
    n, k = simcc_x.shape[:2]
    rows = n * k
    width = min(_SOFTMAX_WINDOW, simcc_x.shape[-1], simcc_y.shape[-1])
    x_loc, x_window, x_outside = _axis_scan(simcc_x, width)
    y_loc, y_window, y_outside = _axis_scan(simcc_y, width)
    # Both axes side by side, rows last so the reductions below run along contiguous rows:
    # (width, 2R) windows, (2R,) per-row numbers.
    window = np.empty((width, 2 * rows), np.float32)  # C order (concatenate keeps F order)
    window[:, :rows], window[:, rows:] = x_window.T, y_window.T
    peak = window.max(axis=0)
    scale = np.empty(2 * rows, np.float32)
    scale[:rows], scale[rows:] = scales
    with np.errstate(invalid='ignore'):  # infinite maxima: inf - inf; confidence 0 below
        sums = np.exp((window - peak) * scale).sum(axis=0)
    # Rows with a term that counts outside the window (several modes): sum them in full.
    near_outside = np.concatenate([x_outside, y_outside]) > peak - _SOFTMAX_CUTOFF / scale
    for axis, logits in enumerate((simcc_x, simcc_y)):
        full = np.flatnonzero(near_outside[axis * rows:(axis + 1) * rows])
        if full.size:
            at = full + axis * rows
            vectors = logits.reshape(rows, -1)[full]
            sums[at] = np.exp((vectors - peak[at, None]) * scale[at, None]).sum(axis=1)
    scores = np.minimum(peak[:rows], peak[rows:]).reshape(n, k)
    confidence = (1.0 / np.maximum(sums[:rows], sums[rows:])).reshape(n, k)
    confidence[(scores <= 0) | ~np.isfinite(confidence) | ~np.isfinite(scores)] = 0.0
    keypoints = np.empty((n, k, 2), np.float32)
    keypoints[..., 0] = x_loc.reshape(n, k)
    keypoints[..., 1] = y_loc.reshape(n, k)
    keypoints *= np.float32(1.0 / split_ratio)
    return (keypoints, scores.astype(np.float32),
            np.clip(confidence, 0.0, 1.0).astype(np.float32))


def _blur_keep_max(heatmaps: F32, kernel: int) -> F32:
    """Gaussian-blur every map (zero border) and rescale each to its original maximum.

    The maps are stacked into one tall image with ``kernel // 2`` zero rows between them,
    so one separable OpenCV filter blurs them all without bleeding across maps.
    """
    n, k, h, w = heatmaps.shape
    border = (kernel - 1) // 2
    maps = heatmaps.reshape(n * k, h, w)
    padded = np.zeros((n * k, h + 2 * border, w + 2 * border), np.float32)
    padded[:, border:border + h, border:border + w] = maps
    gauss = cv2.getGaussianKernel(kernel, 0).astype(np.float32)
    tall = padded.reshape(-1, w + 2 * border)
    blurred = cv2.sepFilter2D(tall, -1, gauss, gauss, borderType=cv2.BORDER_CONSTANT)
    out = blurred.reshape(padded.shape)[:, border:border + h, border:border + w]
    peak_before = maps.reshape(n * k, -1).max(axis=1)
    peak_after = out.reshape(n * k, -1).max(axis=1)
    ratio = np.divide(peak_before, peak_after, out=np.zeros_like(peak_before),
                      where=peak_after != 0)
    out = out * ratio[:, None, None]
    result: F32 = out.reshape(n, k, h, w).astype(np.float32)
    return result


def refine_dark(locations: F32, heatmaps: F32, blur_kernel: int = 11) -> F32:
    """Refine integer heatmap maxima with DARK (Zhang et al., CVPR 2020).

    :param locations: (N, K, 2) integer (x, y) maxima in heatmap pixels.
    :param heatmaps: (N, K, h, w) heatmaps.
    :param blur_kernel: odd Gaussian kernel size (11 for 64 x 48 heatmaps).
    :return: (N, K, 2) sub-pixel locations in heatmap pixels.
    """
    n, k, h, w = heatmaps.shape
    logs = np.log(np.clip(_blur_keep_max(heatmaps.astype(np.float32), blur_kernel), 1e-3, 50.0))
    padded = np.pad(logs, ((0, 0), (0, 0), (1, 1), (1, 1)), mode='edge')
    x = locations[..., 0].astype(np.intp) + 1
    y = locations[..., 1].astype(np.intp) + 1
    nn, kk = np.meshgrid(np.arange(n), np.arange(k), indexing='ij')

    def at(dx: int, dy: int) -> NDArray[np.float32]:
        return padded[nn, kk, y + dy, x + dx]

    centre = at(0, 0)
    dx = 0.5 * (at(1, 0) - at(-1, 0))
    dy = 0.5 * (at(0, 1) - at(0, -1))
    dxx = at(1, 0) - 2 * centre + at(-1, 0)
    dyy = at(0, 1) - 2 * centre + at(0, -1)
    dxy = 0.5 * (at(1, 1) - at(1, 0) - at(0, 1) + 2 * centre - at(-1, 0) - at(0, -1)
                 + at(-1, -1))
    eps = np.finfo(np.float32).eps
    a, b, d = dxx + eps, dxy, dyy + eps
    det = a * d - b * b
    safe = np.abs(det) > 1e-12
    inv_det = np.divide(1.0, det, out=np.zeros_like(det), where=safe)
    # offset = H^-1 g, with H^-1 = [[d, -b], [-b, a]] / det
    off_x = (d * dx - b * dy) * inv_det
    off_y = (-b * dx + a * dy) * inv_det
    refined: F32 = locations.astype(np.float32).copy()
    refined[..., 0] -= off_x
    refined[..., 1] -= off_y
    return refined


def decode_heatmap(heatmaps: F32, input_size: tuple[int, int], blur_kernel: int = 11,
                   dark: bool = True) -> Decoded:
    """Decode MSRA heatmaps.

    :param heatmaps: (N, K, h, w).
    :param input_size: network input (width, height).
    :param blur_kernel: DARK blur kernel size.
    :param dark: refine with DARK (else integer maxima).
    :return: keypoints (N, K, 2) input pixels, raw scores (N, K) = heatmap maxima,
        confidence (N, K) = scores clipped to [0, 1] (invalid where score <= 0).
    """
    n, k, h, w = heatmaps.shape
    flat = heatmaps.reshape(n, k, h * w)
    index = flat.argmax(axis=-1)
    scores = np.take_along_axis(flat, index[..., None], axis=-1)[..., 0].astype(np.float32)
    locations = np.stack([index % w, index // w], axis=-1).astype(np.float32)
    if dark and n * k:
        locations = refine_dark(locations, heatmaps, blur_kernel)
    scale = np.array([input_size[0] / w, input_size[1] / h], np.float32)
    confidence = np.clip(scores, 0.0, 1.0)
    confidence[scores <= 0] = 0.0
    return (locations * scale).astype(np.float32), scores, confidence.astype(np.float32)


def _simcc(outputs: Mapping[str, F32], head: Mapping[str, Any], input_size: tuple[int, int]
           ) -> Decoded:
    rank3 = [v for v in outputs.values() if v.ndim == 3]
    sx = outputs.get('simcc_x', rank3[0] if len(rank3) == 2 else None)
    sy = outputs.get('simcc_y', rank3[1] if len(rank3) == 2 else None)
    if sx is None or sy is None:
        raise ModelLoadError(f'a SimCC model must output simcc_x and simcc_y; got '
                             f'{", ".join(f"{k} {v.shape}" for k, v in outputs.items())}')
    sigma = tuple(head.get('sigma', (4.9, 5.66)))
    return decode_simcc(sx, sy, float(head['split_ratio']), (float(sigma[0]), float(sigma[1])),
                        float(head.get('beta', 150.0)))


def _heatmap(outputs: Mapping[str, F32], head: Mapping[str, Any], input_size: tuple[int, int]
             ) -> Decoded:
    maps = [v for v in outputs.values() if v.ndim == 4]
    if len(maps) != 1:
        raise ModelLoadError(f'a heatmap model must have one N x K x h x w output; got '
                             f'{", ".join(f"{k} {v.shape}" for k, v in outputs.items())}')
    return decode_heatmap(maps[0], input_size, int(head.get('blur_kernel', 11)),
                          bool(head.get('dark', True)))


Decoder = Callable[[Mapping[str, F32], Mapping[str, Any], tuple[int, int]], Decoded]
#: Pose head type -> decoder(outputs, head fields, input size).
DECODERS: dict[str, Decoder] = {'simcc': _simcc, 'heatmap': _heatmap}


def decode_pose_outputs(outputs: Mapping[str, F32], head: Mapping[str, Any],
                        input_size: tuple[int, int]) -> Decoded:
    """Decode with the decoder registered for ``head['type']``."""
    try:
        decoder = DECODERS[str(head['type'])]
    except KeyError:
        raise ModelLoadError(f'no pose decoder for head type {head.get("type")!r}; known: '
                             f'{", ".join(DECODERS)}') from None
    return decoder(outputs, head, input_size)
