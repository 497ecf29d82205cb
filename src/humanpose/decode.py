"""Decoding network outputs into keypoints in network-input pixels, vectorised.

* SimCC (RTMW / RTMPose / DWPose): argmax per axis, location / split ratio; raw score =
  min(max_x, max_y), non-positive scores mark a keypoint invalid; confidence = the same
  min rule on the softmax of the vectors scaled by beta * sigma (the codec's visibility).
* Heatmaps (MSRA): argmax, then DARK refinement — a second-order Taylor expansion at the
  maximum of the log of the Gaussian-blurred heatmap — and scaling to input pixels.

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

F32 = NDArray[np.float32]
Decoded = tuple[F32, F32, F32]


#: Softmax terms below exp(-_SOFTMAX_CUTOFF) of the maximum are left out of the sum; each
#: is < 2e-9 of it, so the result is exact to ~1e-6.
_SOFTMAX_CUTOFF = 20.0
#: Half-width (bins) of the window around the argmax that holds every term that counts
#: for a unimodal SimCC vector: RTMW's are Gaussian-shaped with sigma ~5 bins, so only
#: about +-1.2 bins lie within the cutoff. Rows with more are summed in full (exact).
_SOFTMAX_WINDOW = 4


def _axis_softmax_max(logits: F32, peak: F32, argmax: NDArray[np.intp], scale: float) -> F32:
    """Return max(softmax(logits * scale)) over the last axis = 1 / sum(exp(s * (v - max))).

    Only terms within ``_SOFTMAX_CUTOFF / scale`` of the maximum count. When all of them lie
    in a small window around the argmax (the largest value outside it is below the
    cutoff), the sum is taken over that window; other rows (several modes) in full.

    :param logits: (N, K, L).
    :param peak: (N, K) maxima of ``logits`` over the last axis.
    :param argmax: (N, K) positions of the maxima.
    :param scale: the softmax's inverse temperature (beta * sigma).
    """
    length = logits.shape[-1]
    flat = np.ascontiguousarray(logits).reshape(-1, length)
    peak_flat = peak.reshape(-1, 1)
    threshold = peak_flat - np.float32(_SOFTMAX_CUTOFF / scale)
    # Flat indices (row * length + column) are far cheaper than 2-D fancy indexing.
    row_start = (np.arange(len(flat)) * length)[:, None]
    column = argmax.reshape(-1, 1) + np.arange(-_SOFTMAX_WINDOW, _SOFTMAX_WINDOW + 1)
    if argmax.size and (argmax.min() < _SOFTMAX_WINDOW
                        or argmax.max() >= length - _SOFTMAX_WINDOW):
        inside = (column >= 0) & (column < length)
        column = np.clip(column, 0, length - 1)
    else:
        inside = None
    index = column + row_start
    window = flat.reshape(-1).take(index)
    near = window > threshold
    if inside is not None:
        near &= inside
    terms = np.exp((window - peak_flat) * np.float32(scale))
    sums = (terms * near).sum(axis=1)
    # Rows with a near-maximal value outside the window (several modes): sum them in full.
    # The window is masked in place and restored at once (a copy would cost a full pass).
    values = flat.reshape(-1)
    if not (values.flags.writeable and np.shares_memory(values, logits)):
        values = values.copy()
    values[index] = -np.inf
    try:
        second = values.take(values.reshape(flat.shape).argmax(axis=1) + row_start[:, 0])
    finally:
        values[index] = window
    spread = np.flatnonzero(second > threshold[:, 0])
    if spread.size:
        full = (flat[spread] - peak_flat[spread]) * np.float32(scale)
        sums[spread] = np.exp(full).sum(axis=1)
    result: F32 = (1.0 / sums).astype(np.float32).reshape(peak.shape)
    return result


def _take_rows(values: F32, column: NDArray[np.intp]) -> F32:
    """Return ``values[..., column]`` per row of the last axis (flat indexing, fast)."""
    length = values.shape[-1]
    flat = np.ascontiguousarray(values).reshape(-1)
    taken: F32 = flat.take(column.reshape(-1) + np.arange(column.size) * length)
    return taken.reshape(column.shape)


def decode_simcc(simcc_x: F32, simcc_y: F32, split_ratio: float,
                 sigma: tuple[float, float] = (4.9, 5.66), beta: float = 150.0) -> Decoded:
    """Decode SimCC vectors.

    :param simcc_x: (N, K, Wx) x-axis logits, Wx = input width * split_ratio.
    :param simcc_y: (N, K, Wy) y-axis logits.
    :param split_ratio: bins per input pixel.
    :param sigma: the codec's label sigma (x, y), in bins.
    :param beta: the codec's decode beta.
    :return: keypoints (N, K, 2) input pixels, raw scores (N, K), confidence (N, K) in [0, 1].
    """
    x_loc = simcc_x.argmax(axis=-1)
    y_loc = simcc_y.argmax(axis=-1)
    max_x = _take_rows(simcc_x, x_loc)
    max_y = _take_rows(simcc_y, y_loc)
    scores = np.minimum(max_x, max_y).astype(np.float32)
    keypoints = np.stack([x_loc, y_loc], axis=-1).astype(np.float32) / np.float32(split_ratio)
    confidence = np.minimum(_axis_softmax_max(simcc_x, max_x, x_loc, beta * sigma[0]),
                            _axis_softmax_max(simcc_y, max_y, y_loc, beta * sigma[1]))
    confidence[scores <= 0] = 0.0
    return keypoints, scores, np.clip(confidence, 0.0, 1.0).astype(np.float32)


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
