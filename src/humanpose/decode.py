"""Decoding network outputs into keypoints in network-input pixels, vectorised.

* SimCC (RTMW / RTMPose / DWPose): argmax per axis, location / split ratio; raw score =
  min(max_x, max_y), non-positive scores mark a keypoint invalid; confidence = the same
  min rule on the softmax of the vectors scaled by beta * sigma (the codec's visibility).
* SimCC 3D (RTMW3D): x and y as above, plus a third SimCC axis for depth relative to the
  root (the mid-hip): ``z_rel = (argmax_z / split_ratio / (depth_size / 2) - 1) * z_range``
  metres, MMPose's ``SimCC3DLabel`` codec (depth_size 288, z_range 2.1744869 m); z
  confidence is the softmax maximum of the z vector, like x and y's.
* Heatmaps (MSRA): argmax, then DARK refinement — a second-order Taylor expansion at the
  maximum of the log of the Gaussian-blurred heatmap — and scaling to input pixels.

SimCC decoding runs in a small C kernel (``humanpose._simcc``, one pass over the logits)
when it was built with the package, else in NumPy (two passes); both give the same results.

Decoders are registered by head type (:data:`DECODERS`); each takes the network outputs
and the model card and returns a :class:`PoseDecoding`: keypoints (N, K, 2) input px,
scores (N, K) raw, confidence (N, K) in [0, 1], and for 3D heads the root-relative depth
(N, K) metres with its confidence. Invalid keypoints keep their argmax location and get
confidence 0.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, NamedTuple, Optional, Sequence

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


class PoseDecoding(NamedTuple):
    """What a pose head's outputs decode to.

    :param keypoints: (N, K, 2) float32, network-input pixels.
    :param scores: (N, K) float32, raw maxima (not probabilities).
    :param confidence: (N, K) float32 in [0, 1].
    :param relative_depth: (N, K) float32 metres along the optical axis relative to the
        root (3D heads), else None.
    :param relative_depth_confidence: (N, K) float32 in [0, 1] (3D heads), else None.
    """

    keypoints: F32
    scores: F32
    confidence: F32
    relative_depth: Optional[F32] = None
    relative_depth_confidence: Optional[F32] = None


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


def _decode_axis_kernel(logits: F32, split_ratio: float, scale: float) -> Decoded:
    """One SimCC axis in the C kernel: locations (input px), peaks, confidence (N, K)."""
    n, k, bins = logits.shape
    rows = n * k
    flat = np.ascontiguousarray(logits, np.float32).reshape(rows, bins)
    out = np.empty((3, rows), np.float32)
    _kernel.decode_axis(flat, rows, bins, scale, _SOFTMAX_CUTOFF, 1.0 / split_ratio, out[0],
                        out[1], out[2])
    return out[0].reshape(n, k), out[1].reshape(n, k), out[2].reshape(n, k)


def _decode_axis_numpy(logits: F32, split_ratio: float, scale: float) -> Decoded:
    """One SimCC axis in NumPy, the same definitions as :func:`decode_simcc` per axis."""
    n, k, bins = logits.shape
    rows = n * k
    width = min(_SOFTMAX_WINDOW, bins)
    loc, window, outside = _axis_scan(logits, width)
    peak = window.max(axis=1)
    with np.errstate(invalid='ignore', over='ignore'):
        sums = np.exp((window - peak[:, None]) * np.float32(scale)).sum(axis=1)
        full = np.flatnonzero(outside > peak - _SOFTMAX_CUTOFF / scale)
    if full.size:
        vectors = np.ascontiguousarray(logits, np.float32).reshape(rows, bins)[full]
        with np.errstate(invalid='ignore', over='ignore'):
            sums[full] = np.exp((vectors - peak[full, None]) * np.float32(scale)).sum(axis=1)
    with np.errstate(divide='ignore'):
        confidence = 1.0 / sums
    confidence[(peak <= 0) | ~np.isfinite(confidence) | ~np.isfinite(peak)] = 0.0
    locations = loc.astype(np.float32) * np.float32(1.0 / split_ratio)
    return (locations.reshape(n, k), peak.astype(np.float32).reshape(n, k),
            np.clip(confidence, 0.0, 1.0).astype(np.float32).reshape(n, k))


#: MMPose's SimCC3DLabel codec: the z axis covers +-Z_RANGE_M metres around the root in
#: ``depth_size`` input units (288 for RTMW3D), times the split ratio bins.
Z_RANGE_M = 2.1744869
DEPTH_SIZE = 288


def simcc_z_to_metres(z_input: F32, depth_size: float = DEPTH_SIZE,
                      z_range_m: float = Z_RANGE_M) -> F32:
    """Return root-relative depth in metres from z in input units (argmax_z / split ratio).

    ``z_rel = (z / (depth_size / 2) - 1) * z_range_m`` (MMPose's codec; rtmlib divides by
    the input height 384 / 2 instead, which stretches depths by 384 / 288).
    """
    metres: F32 = ((z_input / np.float32(depth_size / 2.0) - np.float32(1.0))
                   * np.float32(z_range_m)).astype(np.float32)
    return metres


def decode_simcc3d(simcc_x: F32, simcc_y: F32, simcc_z: F32, split_ratio: float,
                   sigma: Sequence[float] = (6.0, 6.93, 6.0), beta: float = 150.0,
                   depth_size: float = DEPTH_SIZE, z_range_m: float = Z_RANGE_M
                   ) -> PoseDecoding:
    """Decode RTMW3D's three SimCC axes.

    x and y exactly as :func:`decode_simcc`; z: location = argmax_z / split_ratio, turned
    into metres by :func:`simcc_z_to_metres`; its confidence is the softmax maximum of the
    z vector scaled by beta * sigma_z (0 where the z maximum is not > 0).

    :param simcc_x: (N, K, Wx) logits.
    :param simcc_y: (N, K, Wy) logits.
    :param simcc_z: (N, K, Wz) logits, Wz = depth_size * split_ratio.
    :param split_ratio: bins per input unit (all three axes).
    :param sigma: the codec's label sigma (x, y, z), in bins.
    :param beta: the codec's decode beta.
    :param depth_size: the codec's depth extent in input units (288).
    :param z_range_m: metres that half the z axis spans (2.1744869).
    :return: keypoints, scores, confidence and the root-relative depth (metres) with its
        confidence.
    :raises ModelLoadError: shapes that do not match (the message shows them).
    """
    expected = int(round(depth_size * split_ratio))
    if simcc_z.ndim != 3 or simcc_z.shape[:2] != simcc_x.shape[:2] \
            or simcc_z.shape[-1] != expected:
        raise ModelLoadError(
            f'simcc_z must be (N, K, {expected}) (depth_size {depth_size:g} x split ratio '
            f'{split_ratio:g}) like simcc_x {simcc_x.shape}; got {simcc_z.shape}. Is the '
            "model card's head (depth_size, split_ratio) right for this model?")
    keypoints, scores, confidence = decode_simcc(simcc_x, simcc_y, split_ratio,
                                                 (float(sigma[0]), float(sigma[1])), beta)
    scale = beta * float(sigma[2])
    axis = _decode_axis_kernel if _kernel is not None else _decode_axis_numpy
    z_input, _, z_confidence = axis(simcc_z, split_ratio, scale)
    return PoseDecoding(keypoints, scores, confidence,
                        simcc_z_to_metres(z_input, depth_size, z_range_m), z_confidence)


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


def _describe(outputs: Mapping[str, F32]) -> str:
    return ', '.join(f'{k} {tuple(v.shape)}' for k, v in outputs.items())


def simcc_outputs(outputs: Mapping[str, F32], names: Sequence[str]) -> list[F32]:
    """Pick a SimCC head's outputs: by the card's names, else by order among rank-3 outputs.

    Published exports name them generically (``output``, ``1554``, ...), so where the card's
    names are absent the rank-3 outputs are taken in the model's order (x, y[, z]).

    :param outputs: the backend's outputs by name, in the model's order.
    :param names: the names the card gives the axes (x, y[, z]).
    :raises ModelLoadError: another number of rank-3 outputs than axes (e.g. a 3D model
        with a 2D card, or the reverse).
    """
    rank3 = [v for v in outputs.values() if v.ndim == 3]
    if len(rank3) != len(names):
        axes = ', '.join(names)
        hint = {3: ' A model with three SimCC outputs is a 3D (RTMW3D) model: give it a card '
                   'with head type simcc3d (e.g. pose_card rtmw3d-l-384x288).',
                2: ' A two-output model is a 2D model: give it a card with head type simcc.',
                }.get(len(rank3), '')
        raise ModelLoadError(f'a {"simcc3d" if len(names) == 3 else "simcc"} head needs '
                             f'{len(names)} outputs ({axes}: N x K x bins each); the model '
                             f'has {_describe(outputs)}.{hint}')
    if all(name in outputs for name in names):
        return [outputs[name] for name in names]
    return rank3


def check_head_outputs(head: Mapping[str, Any], shapes: Mapping[str, Sequence[Any]],
                       input_size: tuple[int, int]) -> None:
    """Check, when a model is loaded, that its outputs fit the card's SimCC head.

    A 3D (three-output) model with a 2D card or the reverse, or a ``simcc_z`` whose length
    is not the codec's, fails here with one clear message instead of decoding wrongly.

    :param head: the card's head fields.
    :param shapes: output name -> shape (dynamic dimensions as strings or None).
    :param input_size: (width, height) of the network input.
    :raises ModelLoadError: the outputs do not fit.
    """
    kind = head.get('type')
    if kind not in ('simcc', 'simcc3d'):
        return
    names = tuple(head.get('outputs') or (('simcc_x', 'simcc_y', 'simcc_z') if
                                          kind == 'simcc3d' else ('simcc_x', 'simcc_y')))
    dummy = {name: np.zeros((1,) * len(shape), np.float32) for name, shape in shapes.items()}
    picked = simcc_outputs(dummy, names)  # raises on a wrong number of outputs
    order = [name for name, value in dummy.items() for p in picked if value is p]
    split = float(head['split_ratio'])
    want = [input_size[0] * split, input_size[1] * split]
    if kind == 'simcc3d':
        want.append(float(head.get('depth_size', DEPTH_SIZE)) * split)
    for name, bins in zip(order, want):
        length = tuple(shapes[name])[-1]
        if isinstance(length, (int, np.integer)) and int(length) != int(round(bins)):
            axis = 'xyz'[order.index(name)]
            raise ModelLoadError(
                f'output {name} (the {axis} axis) has {length} bins, but the card '
                f'({kind}, input {input_size[0]} x {input_size[1]}, split ratio {split:g}'
                + (f', depth_size {head.get("depth_size", DEPTH_SIZE)}' if axis == 'z' else '')
                + f') needs {int(round(bins))}; give the model its own card')


def _simcc(outputs: Mapping[str, F32], head: Mapping[str, Any], input_size: tuple[int, int]
           ) -> PoseDecoding:
    sx, sy = simcc_outputs(outputs, tuple(head.get('outputs') or ('simcc_x', 'simcc_y')))
    sigma = tuple(head.get('sigma', (4.9, 5.66)))
    return PoseDecoding(*decode_simcc(sx, sy, float(head['split_ratio']),
                                      (float(sigma[0]), float(sigma[1])),
                                      float(head.get('beta', 150.0))))


def _simcc3d(outputs: Mapping[str, F32], head: Mapping[str, Any], input_size: tuple[int, int]
             ) -> PoseDecoding:
    names = tuple(head.get('outputs') or ('simcc_x', 'simcc_y', 'simcc_z'))
    sx, sy, sz = simcc_outputs(outputs, names)
    split = float(head['split_ratio'])
    want = (int(round(input_size[0] * split)), int(round(input_size[1] * split)))
    if (sx.shape[-1], sy.shape[-1]) != want:
        raise ModelLoadError(f'simcc_x and simcc_y must have {want[0]} and {want[1]} bins '
                             f'(input {input_size[0]} x {input_size[1]} x split ratio '
                             f'{split:g}); the model has {_describe(outputs)}')
    return decode_simcc3d(sx, sy, sz, split, tuple(head.get('sigma', (6.0, 6.93, 6.0))),
                          float(head.get('beta', 150.0)),
                          float(head.get('depth_size', DEPTH_SIZE)),
                          float(head.get('z_range_m', Z_RANGE_M)))


def _heatmap(outputs: Mapping[str, F32], head: Mapping[str, Any], input_size: tuple[int, int]
             ) -> PoseDecoding:
    maps = [v for v in outputs.values() if v.ndim == 4]
    if len(maps) != 1:
        raise ModelLoadError(f'a heatmap model must have one N x K x h x w output; got '
                             f'{_describe(outputs)}')
    return PoseDecoding(*decode_heatmap(maps[0], input_size, int(head.get('blur_kernel', 11)),
                                        bool(head.get('dark', True))))


Decoder = Callable[[Mapping[str, F32], Mapping[str, Any], tuple[int, int]], PoseDecoding]
#: Pose head type -> decoder(outputs, head fields, input size).
DECODERS: dict[str, Decoder] = {'simcc': _simcc, 'simcc3d': _simcc3d, 'heatmap': _heatmap}


def decode_pose(outputs: Mapping[str, F32], head: Mapping[str, Any],
                input_size: tuple[int, int]) -> PoseDecoding:
    """Decode with the decoder registered for ``head['type']`` (2D and 3D heads).

    :raises ModelLoadError: unknown head type, or outputs that do not fit it.
    """
    try:
        decoder = DECODERS[str(head['type'])]
    except KeyError:
        raise ModelLoadError(f'no pose decoder for head type {head.get("type")!r}; known: '
                             f'{", ".join(DECODERS)}') from None
    return decoder(outputs, head, input_size)


def decode_pose_outputs(outputs: Mapping[str, F32], head: Mapping[str, Any],
                        input_size: tuple[int, int]) -> Decoded:
    """Decode with the decoder registered for ``head['type']``: keypoints, scores, confidence.

    The 2D part of :func:`decode_pose`.
    """
    decoded = decode_pose(outputs, head, input_size)
    return decoded.keypoints, decoded.scores, decoded.confidence
