"""Generated ONNX models with the real networks' input/output contracts.

* :func:`analytic_pose_model` — RTMW's I/O (``input`` N x 3 x H x W, ``simcc_x`` N x K x 2W,
  ``simcc_y`` N x K x 2H, dynamic batch) or an MSRA-heatmap head (``heatmaps``
  N x K x H/4 x W/4). It finds the colour anchors that :mod:`humanpose.testing.scene`
  paints on each person, recovers the person's affine and emits sharp SimCC vectors (or
  Gaussian heatmaps) at the template keypoints: its outputs really locate the drawn
  keypoints in the crop.
* :func:`analytic_pose_model` with ``head='simcc3d'`` — RTMW3D's I/O (input N x 3 x 384 x
  288, ``simcc_x`` N x K x 576, ``simcc_y`` N x K x 768, ``simcc_z`` N x K x 576): x and y
  as above, and a z vector per keypoint that encodes its known depth relative to the root
  (:func:`humanpose.testing.scene.person_relief`, MMPose's codec), so decoding and
  metric 3D are checked end to end against the drawn scene.
* :func:`compute_pose_model` — random weights, about RTMW-m's compute (4.3 GFLOPs at
  256 x 192, counted as multiply-adds like MMPose's tables), same I/O; for benchmarks.
* :func:`analytic_detector_model` — RTMDet-style exported detector (``dets`` N x D x 5,
  ``labels`` N x D) that finds the drawn people by their red torso anchor.

Every model carries its model card in the ONNX metadata (key ``humanpose_card``) and is
generated into :func:`humanpose.paths.generated_dir` on first use; nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
import tempfile
from typing import Any, Callable

import numpy as np
import onnx
from onnx import TensorProto

from humanpose.paths import generated_dir
from humanpose.testing.onnxgraph import GraphBuilder, tensor
from humanpose.testing.scene import ANCHORS, person_relief, person_template, relief_bins

#: Bump when a generator changes, so cached files are regenerated.
GENERATOR_VERSION = 3

MMPOSE_MEAN_RGB = (123.675, 116.28, 103.53)
MMPOSE_STD_RGB = (58.395, 57.12, 57.375)
RTMDET_MEAN_BGR = (103.53, 116.28, 123.675)
RTMDET_STD_BGR = (57.375, 57.12, 58.395)

#: Person box around the torso anchor in template units (x0, y0, x1, y1): the keypoint
#: extents of the template plus the head top and a little margin, like a detector's box.
PERSON_BOX_TEMPLATE = (-0.235, -0.40, 0.235, 0.66)

# SimCC output shape: amplitude, width (crop pixels) and the offset that makes far-away
# bins negative (so keypoints far outside the crop decode as invalid, as real models do).
_SIMCC_AMPLITUDE = 1.0
_SIMCC_SIGMA_PX = 1.0
_SIMCC_OFFSET = 0.02
_HEATMAP_SIGMA = 2.0
_MIN_ANCHOR_MASS = 10.0  # red mask sum (pixels) for full confidence


def _template(num_keypoints: int) -> np.ndarray:
    if num_keypoints not in (17, 133):
        raise ValueError(f'the template has 133 (wholebody) or 17 (coco) keypoints, '
                         f'not {num_keypoints}')
    return person_template()[:num_keypoints]


def _colour_masks(g: GraphBuilder, x: str, mean: tuple[float, ...], std: tuple[float, ...],
                  rgb_order: bool) -> tuple[str, str, str]:
    """Denormalise ``x`` (N, 3, H, W) and return (N, 1, H, W) red, green, blue anchor masks."""
    raw = g.op('Add', g.op('Mul', x, g.const(np.reshape(std, (1, 3, 1, 1)))),
               g.const(np.reshape(mean, (1, 3, 1, 1))))
    order = (0, 1, 2) if rgb_order else (2, 1, 0)
    chans = [g.op('Gather', raw, g.const(np.array([i]), dtype=np.int64), axis=1) for i in order]
    inv = g.const(1.0 / 255.0)
    masks = []
    for i in range(3):
        others = g.op('Add', chans[(i + 1) % 3], chans[(i + 2) % 3])
        masks.append(g.op('Relu', g.op('Mul', g.op('Sub', chans[i], others), inv)))
    return masks[0], masks[1], masks[2]


def _centroid(g: GraphBuilder, mask: str, window: str, xs: str, ys: str
              ) -> tuple[str, str, str]:
    """Return (N, 1) x, y centroid and mass of ``mask * window`` (both (N, HW))."""
    weighted = g.op('Mul', mask, window)
    axes = g.const(np.array([1]), dtype=np.int64)
    mass = g.op('ReduceSum', weighted, axes, keepdims=1)
    safe = g.op('Add', mass, g.const(1e-6))
    cx = g.op('Div', g.op('ReduceSum', g.op('Mul', weighted, xs), axes, keepdims=1), safe)
    cy = g.op('Div', g.op('ReduceSum', g.op('Mul', weighted, ys), axes, keepdims=1), safe)
    return cx, cy, mass


def _box_window(g: GraphBuilder, xs: str, ys: str, cx: str, cy: str, radius: str | float
                ) -> str:
    """(N, HW) 1 inside the square of half-size ``radius`` around (cx, cy), else 0."""
    r = g.const(radius) if isinstance(radius, float) else radius
    inside_x = g.op('Less', g.op('Abs', g.op('Sub', xs, cx)), r)
    inside_y = g.op('Less', g.op('Abs', g.op('Sub', ys, cy)), r)
    return g.op('Cast', g.op('And', inside_x, inside_y), to=TensorProto.FLOAT)


def build_analytic_pose_model(input_size: tuple[int, int] = (192, 256), num_keypoints: int = 133,
                              split_ratio: float = 2.0, head: str = 'simcc',
                              output_names: tuple[str, ...] | None = None) -> onnx.ModelProto:
    """Build the analytic pose model.

    :param input_size: (width, height) of the network input.
    :param num_keypoints: 133 (coco_wholebody) or 17 (coco).
    :param split_ratio: SimCC bins per input pixel.
    :param head: ``simcc`` (RTMW/RTMPose/DWPose), ``simcc3d`` (RTMW3D: plus ``simcc_z``,
        depth extent 288 like its codec) or ``heatmap`` (MSRA, heatmap = input / 4).
    :param output_names: names of the SimCC outputs instead of simcc_x, simcc_y[, simcc_z]
        (published RTMW3D exports have generic ones); the embedded card then names none.
    """
    w, h = input_size
    g = GraphBuilder('analytic_pose')
    red, green, blue = _colour_masks(g, 'input', MMPOSE_MEAN_RGB, MMPOSE_STD_RGB, rgb_order=True)
    flat = g.const(np.array([-1, h * w]), dtype=np.int64)
    red, green, blue = (g.op('Reshape', m, flat) for m in (red, green, blue))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    xs, ys = g.const(xx.reshape(1, -1)), g.const(yy.reshape(1, -1))
    # The target person's red anchor: the strongest red pixel under a broad prior centred
    # on the crop (top-down crops are centred on their person), then its local centroid.
    prior = np.exp(-0.5 * (((xx - (w - 1) / 2) / (0.3 * w)) ** 2
                           + ((yy - (h - 1) / 2) / (0.3 * h)) ** 2))
    pick = g.op('ArgMax', g.op('Mul', red, g.const(prior.reshape(1, -1))), axis=1, keepdims=1)
    px = g.op('Gather', g.const(xx.reshape(-1)), pick)
    py = g.op('Gather', g.const(yy.reshape(-1)), pick)
    ax, ay, mass = _centroid(g, red, _box_window(g, xs, ys, px, py, 0.06 * h), xs, ys)
    # Person height in crop pixels from the red disc's area (radius = ANCHORS[0, 2] heights);
    # the green and blue anchors are then looked for where the template puts them.
    height = g.op('Div', g.op('Sqrt', g.op('Div', mass, g.const(np.pi))),
                  g.const(float(ANCHORS[0, 2])))

    def anchor(mask: str, index: int, spread: float) -> tuple[str, str]:
        ex = g.op('Add', ax, g.op('Mul', height, g.const(float(ANCHORS[index, 0]))))
        ey = g.op('Add', ay, g.op('Mul', height, g.const(float(ANCHORS[index, 1]))))
        sigma = g.op('Add', g.op('Mul', height, g.const(spread)), g.const(1.0))
        dx2 = g.op('Div', g.op('Sub', xs, ex), sigma)
        dy2 = g.op('Div', g.op('Sub', ys, ey), sigma)
        near = g.op('Exp', g.op('Mul', g.const(-0.5), g.op(
            'Add', g.op('Mul', dx2, dx2), g.op('Mul', dy2, dy2))))
        best = g.op('ArgMax', g.op('Mul', mask, near), axis=1, keepdims=1)
        bx0 = g.op('Gather', g.const(xx.reshape(-1)), best)
        by0 = g.op('Gather', g.const(yy.reshape(-1)), best)
        half = g.op('Add', g.op('Mul', height, g.const(2.2 * float(ANCHORS[index, 2]))),
                    g.const(2.0))
        cx, cy, _ = _centroid(g, mask, _box_window(g, xs, ys, bx0, by0, half), xs, ys)
        return cx, cy

    bx, by = anchor(green, 1, 0.12)
    cx, cy = anchor(blue, 2, 0.04)
    # Template axes in crop pixels: e_x = (C - A) / dx, e_y = (B - A) / dy.
    dx = float(ANCHORS[2, 0] - ANCHORS[0, 0])
    dy = float(ANCHORS[1, 1] - ANCHORS[0, 1])
    exx = g.op('Div', g.op('Sub', cx, ax), g.const(dx))
    exy = g.op('Div', g.op('Sub', cy, ay), g.const(dx))
    eyx = g.op('Div', g.op('Sub', bx, ax), g.const(dy))
    eyy = g.op('Div', g.op('Sub', by, ay), g.const(dy))
    template = _template(num_keypoints)
    tx = g.const(template[:, 0].reshape(1, -1))
    ty = g.const(template[:, 1].reshape(1, -1))
    kx = g.op('Add', ax, g.op('Add', g.op('Mul', tx, exx), g.op('Mul', ty, eyx)))  # (N, K)
    ky = g.op('Add', ay, g.op('Add', g.op('Mul', tx, exy), g.op('Mul', ty, eyy)))
    # Evidence: no red anchor in the crop -> all-negative outputs (invalid keypoints).
    evidence = g.op('Clip', g.op('Div', mass, g.const(_MIN_ANCHOR_MASS)), g.const(0.0),
                    g.const(1.0))
    amplitude = g.op('Unsqueeze', g.op('Mul', evidence, g.const(_SIMCC_AMPLITUDE)),
                     g.const(np.array([2]), dtype=np.int64))
    axis2 = g.const(np.array([2]), dtype=np.int64)

    def bump(k: str, bins: np.ndarray, sigma: float) -> str:
        d = g.op('Sub', g.const(bins.reshape(1, 1, -1)), g.op('Unsqueeze', k, axis2))
        return g.op('Exp', g.op('Mul', g.op('Mul', d, d), g.const(-0.5 / sigma ** 2)))

    k = num_keypoints
    if head in ('simcc', 'simcc3d'):
        names = tuple(output_names or ('simcc_x', 'simcc_y', 'simcc_z'))
        for name, key, size in ((names[0], kx, w), (names[1], ky, h)):
            n_bins = int(round(size * split_ratio))
            vec = bump(key, np.arange(n_bins) / split_ratio, _SIMCC_SIGMA_PX)
            g.op('Sub', g.op('Mul', vec, amplitude), g.const(_SIMCC_OFFSET), name=name)
        outputs = [tensor(names[0], ['batch', k, int(round(w * split_ratio))]),
                   tensor(names[1], ['batch', k, int(round(h * split_ratio))])]
        card: dict[str, Any] = {'head': {'type': 'simcc', 'split_ratio': split_ratio,
                                         'sigma': [4.9, 5.66], 'beta': 150.0}}
        if head == 'simcc3d':
            # z: a bump at each keypoint's known relative depth (MMPose's codec, depth
            # extent 288), the same for every person, scaled by the anchor evidence.
            z_bins = int(round(288 * split_ratio))
            centre = relief_bins(np.asarray(person_relief()[:k])) * split_ratio / 2.0
            d = np.arange(z_bins)[None, :] - centre[:, None]
            vec_z = np.exp(-0.5 * (d / (_SIMCC_SIGMA_PX * split_ratio)) ** 2)[None]
            g.op('Sub', g.op('Mul', g.const(vec_z.astype(np.float32)), amplitude),
                 g.const(_SIMCC_OFFSET), name=names[2])
            outputs.append(tensor(names[2], ['batch', k, z_bins]))
            card = {'head': {'type': 'simcc3d', 'split_ratio': split_ratio,
                             'sigma': [6.0, 6.93, 6.0], 'beta': 150.0, 'depth_size': 288,
                             'z_range_m': 2.1744869, 'root': [11, 12]}}
        if output_names is None:
            card['head']['outputs'] = list(names[:len(outputs)])
    elif head == 'heatmap':
        hw, hh = w // 4, h // 4
        hx = bump(g.op('Mul', kx, g.const(hw / w)), np.arange(hw, dtype=np.float32),
                  _HEATMAP_SIGMA)
        hy = bump(g.op('Mul', ky, g.const(hh / h)), np.arange(hh, dtype=np.float32),
                  _HEATMAP_SIGMA)
        outer = g.op('Mul', g.op('Unsqueeze', hy, g.const(np.array([3]), dtype=np.int64)),
                     g.op('Unsqueeze', hx, axis2))  # (N, K, hh, hw)
        g.op('Mul', outer, g.op('Unsqueeze', amplitude, g.const(np.array([3]), dtype=np.int64)),
             name='heatmaps')
        outputs = [tensor('heatmaps', ['batch', k, hh, hw])]
        card = {'head': {'type': 'heatmap', 'heatmap_size': [hw, hh], 'blur_kernel': 11}}
    else:
        raise ValueError(f'head must be simcc, simcc3d or heatmap, not {head!r}')
    card.update({'name': f'analytic-pose-{head}-{w}x{h}', 'task': 'pose',
                 'input_size': [w, h], 'color': 'rgb', 'mean': list(MMPOSE_MEAN_RGB),
                 'std': list(MMPOSE_STD_RGB),
                 'skeleton': 'coco_wholebody' if k == 133 else 'coco'})
    return g.model([tensor('input', ['batch', 3, h, w])], outputs,
                   metadata={'humanpose_card': json.dumps(card)})


def build_compute_pose_model(input_size: tuple[int, int] = (192, 256), num_keypoints: int = 133,
                             split_ratio: float = 2.0, seed: int = 0,
                             stage_blocks: tuple[int, ...] = (6, 8, 12, 8)) -> onnx.ModelProto:
    """Build a random-weight conv net with RTMW's I/O and about RTMW-m's compute.

    Stem (two stride-2 3x3 convs), four stages of 3x3 conv + ReLU blocks (channels 64, 128,
    256, 512, stride 2 between stages), then a SimCC head (1x1 conv to K maps, a shared
    hidden layer, and linear layers to 2W and 2H bins). The multiply-add count is stored
    in the metadata (``macs``).
    """
    w, h = input_size
    rng = np.random.default_rng(seed)
    g = GraphBuilder('compute_pose')
    macs = 0

    def conv(x: str, cin: int, cout: int, stride: int, hw: tuple[int, int],
             kernel: int = 3) -> tuple[str, tuple[int, int]]:
        nonlocal macs
        weight = rng.normal(0, np.sqrt(2.0 / (cin * kernel * kernel)),
                            (cout, cin, kernel, kernel)).astype(np.float32)
        out_hw = (-(-hw[0] // stride), -(-hw[1] // stride))
        macs += out_hw[0] * out_hw[1] * cout * cin * kernel * kernel
        pad = kernel // 2
        y = g.op('Conv', x, g.const(weight), g.const(np.zeros(cout)), strides=[stride, stride],
                 pads=[pad] * 4, kernel_shape=[kernel, kernel])
        return g.op('Relu', y), out_hw

    x, hw = conv('input', 3, 32, 2, (h, w))
    x, hw = conv(x, 32, 64, 2, hw)
    channels = 64
    for stage, blocks in enumerate(stage_blocks):
        if stage:
            x, hw = conv(x, channels, channels * 2, 2, hw)
            channels *= 2
        for _ in range(blocks):
            x, hw = conv(x, channels, channels, 1, hw)
    k = num_keypoints
    x, hw = conv(x, channels, k, 1, hw, kernel=1)
    feat = g.op('Reshape', x, g.const(np.array([0, k, hw[0] * hw[1]]), dtype=np.int64))
    hidden = 256

    def linear(x: str, n_in: int, n_out: int) -> str:
        nonlocal macs
        macs += k * n_in * n_out
        weight = rng.normal(0, np.sqrt(1.0 / n_in), (n_in, n_out)).astype(np.float32)
        return g.op('MatMul', x, g.const(weight))

    z = g.op('Relu', linear(feat, hw[0] * hw[1], hidden))
    nx, ny = int(round(w * split_ratio)), int(round(h * split_ratio))
    # Trained SimCC heads emit Gaussian-shaped vectors (KL-trained on Gaussian labels);
    # shape the random logits likewise: a bump of the codec's sigma at their soft-argmax,
    # plus a little of the logits, so decoding costs what it costs on a real network.
    for name, n_bins, sigma in (('simcc_x', nx, 4.9), ('simcc_y', ny, 5.66)):
        logits = linear(z, hidden, n_bins)
        bins = np.arange(n_bins, dtype=np.float32)
        weights = g.op('Softmax', g.op('Mul', logits, g.const(4.0)), axis=-1)
        centre = g.op('ReduceSum', g.op('Mul', weights, g.const(bins)),
                      g.const(np.array([-1]), dtype=np.int64), keepdims=1)
        offset = g.op('Sub', g.const(bins.reshape(1, 1, -1)), centre)
        bump = g.op('Exp', g.op('Mul', g.op('Mul', offset, offset),
                                g.const(-0.5 / sigma ** 2)))
        g.op('Add', bump, g.op('Mul', g.op('Tanh', logits), g.const(0.02)), name=name)
    card = {'name': f'compute-pose-{w}x{h}', 'task': 'pose', 'input_size': [w, h],
            'color': 'rgb', 'mean': list(MMPOSE_MEAN_RGB), 'std': list(MMPOSE_STD_RGB),
            'skeleton': 'coco_wholebody' if k == 133 else 'coco',
            'head': {'type': 'simcc', 'split_ratio': split_ratio, 'sigma': [4.9, 5.66],
                     'beta': 150.0}}
    return g.model([tensor('input', ['batch', 3, h, w])],
                   [tensor('simcc_x', ['batch', k, nx]), tensor('simcc_y', ['batch', k, ny])],
                   metadata={'humanpose_card': json.dumps(card), 'macs': str(macs)})


def build_analytic_detector_model(input_size: tuple[int, int] = (640, 640),
                                  max_detections: int = 100) -> onnx.ModelProto:
    """Build an RTMDet-style detector (NMS inside) that finds people by their red anchor.

    Input: ``input`` (N, 3, H, W), BGR normalised with RTMDet's mean/std, letterboxed with
    pad value 114. Outputs: ``dets`` (N, D, 5) x_min, y_min, x_max, y_max, score in input
    pixels; ``labels`` (N, D) int64, 0 = person. Unused rows have score 0.

    The red anchor's area gives the person's size (anchor radius = 0.03 person heights);
    anchors below about 1.5 px radius in the network input are not found.
    """
    w, h = input_size
    g = GraphBuilder('analytic_detector')
    red, _, _ = _colour_masks(g, 'input', RTMDET_MEAN_BGR, RTMDET_STD_BGR, rgb_order=False)
    half = 24  # larger than the biggest anchor radius (0.03 * 640 px)
    tri = (1.0 - np.abs(np.arange(-half, half + 1)) / (half + 1)).astype(np.float32)
    ones = np.ones(2 * half + 1, np.float32)

    def separable(x: str, kernel: np.ndarray) -> str:
        n = len(kernel)
        x = g.op('Conv', x, g.const(kernel.reshape(1, 1, 1, n)), pads=[0, n // 2, 0, n // 2],
                 kernel_shape=[1, n])
        return g.op('Conv', x, g.const(kernel.reshape(1, 1, n, 1)), pads=[n // 2, 0, n // 2, 0],
                    kernel_shape=[n, 1])

    # A disc convolved with a pyramid has a unique maximum at its centre.
    response = separable(red, tri)
    area = separable(red, ones)
    nms = 12
    # A square max-pool is two 1-D ones (exact for max), far cheaper for a 25 px window.
    pooled = g.op('MaxPool', response, kernel_shape=[1, 2 * nms + 1], pads=[0, nms, 0, nms],
                  strides=[1, 1])
    pooled = g.op('MaxPool', pooled, kernel_shape=[2 * nms + 1, 1], pads=[nms, 0, nms, 0],
                  strides=[1, 1])
    is_peak = g.op('And', g.op('Equal', response, pooled),
                   g.op('And', g.op('Greater', response, g.const(4.0)),
                        g.op('Greater', red, g.const(0.5))))
    peaks = g.op('Cast', is_peak, to=TensorProto.FLOAT)
    # Exact ties (a disc centred between pixels): keep the top-left peak of a cluster.
    earlier = np.array([[1, 1, 0], [1, 0, 0], [0, 0, 0]], np.float32).reshape(1, 1, 3, 3)
    dup = g.op('Conv', peaks, g.const(earlier), pads=[1, 1, 1, 1], kernel_shape=[3, 3])
    peaks = g.op('Mul', peaks, g.op('Cast', g.op('Less', dup, g.const(0.5)),
                                    to=TensorProto.FLOAT))
    # Score in (0.5, 1]: bigger (closer) people are more certain.
    size_conf = g.op('Add', g.const(0.5), g.op('Mul', g.const(0.5), g.op(
        'Clip', g.op('Div', area, g.const(50.0)), g.const(0.0), g.const(1.0))))
    score = g.op('Reshape', g.op('Mul', peaks, size_conf),
                 g.const(np.array([-1, h * w]), dtype=np.int64))
    top, idx = g.op_multi('TopK', score, g.const(np.array([max_detections]), dtype=np.int64),
                          outputs=2, axis=1)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cx = g.op('Gather', g.const(xx.reshape(-1)), idx)
    cy = g.op('Gather', g.const(yy.reshape(-1)), idx)
    flat_area = g.op('Reshape', area, g.const(np.array([-1, h * w]), dtype=np.int64))
    mass = g.op('GatherElements', flat_area, idx, axis=1)
    radius = g.op('Sqrt', g.op('Div', mass, g.const(np.pi)))
    height = g.op('Div', radius, g.const(float(ANCHORS[0, 2])))
    x0, y0, x1, y1 = PERSON_BOX_TEMPLATE
    coords = [g.op('Add', c, g.op('Mul', height, g.const(t)))
              for c, t in ((cx, x0), (cy, y0), (cx, x1), (cy, y1))]
    axis2 = g.const(np.array([2]), dtype=np.int64)
    g.op('Concat', *[g.op('Unsqueeze', c, axis2) for c in coords + [top]], axis=2, name='dets')
    g.op('Cast', g.op('Mul', top, g.const(0.0)), to=TensorProto.INT64, name='labels')
    card = {'name': f'analytic-detector-{w}x{h}', 'task': 'detection', 'input_size': [w, h],
            'color': 'bgr', 'mean': list(RTMDET_MEAN_BGR), 'std': list(RTMDET_STD_BGR),
            'head': {'type': 'dets', 'pad_value': 114, 'person_label': 0}}
    return g.model([tensor('input', ['batch', 3, h, w])],
                   [tensor('dets', ['batch', max_detections, 5]),
                    tensor('labels', ['batch', max_detections], TensorProto.INT64)],
                   metadata={'humanpose_card': json.dumps(card)})


def _cached(kind: str, builder: Callable[..., onnx.ModelProto], params: dict[str, Any],
            directory: Path | None) -> Path:
    """Generate the model once into ``directory``; the file name keys the parameters."""
    key = hashlib.sha256(json.dumps([GENERATOR_VERSION, kind, params], sort_keys=True,
                                    default=str).encode()).hexdigest()[:12]
    directory = Path(directory) if directory is not None else generated_dir()
    path = directory / f'{kind}-{key}.onnx'
    if path.is_file():
        return path
    directory.mkdir(parents=True, exist_ok=True)
    model = builder(**params)
    # Write to a temporary file and rename, so concurrent users never see half a model.
    fd, tmp = tempfile.mkstemp(dir=directory, suffix='.onnx.tmp')
    os.close(fd)
    try:
        onnx.save(model, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def analytic_pose_model(input_size: tuple[int, int] = (192, 256), num_keypoints: int = 133,
                        split_ratio: float = 2.0, head: str = 'simcc',
                        directory: Path | None = None,
                        output_names: tuple[str, ...] | None = None) -> Path:
    """Return the path of the analytic pose model, generating it on first use.

    ``head='simcc3d'`` is the RTMW3D-shaped model (use ``input_size=(288, 384)`` as
    RTMW3D); see :func:`build_analytic_pose_model`.
    """
    params: dict[str, Any] = {'input_size': tuple(input_size), 'num_keypoints': num_keypoints,
                              'split_ratio': split_ratio, 'head': head}
    if output_names is not None:
        params['output_names'] = tuple(output_names)
    return _cached('analytic-pose', build_analytic_pose_model, params, directory)


def compute_pose_model(input_size: tuple[int, int] = (192, 256), num_keypoints: int = 133,
                       seed: int = 0, stage_blocks: tuple[int, ...] = (6, 8, 12, 8),
                       directory: Path | None = None) -> Path:
    """Return the path of the realistic-compute random pose model, generating it once."""
    return _cached('compute-pose', build_compute_pose_model,
                   {'input_size': tuple(input_size), 'num_keypoints': num_keypoints,
                    'seed': seed, 'stage_blocks': tuple(stage_blocks)}, directory)


def analytic_detector_model(input_size: tuple[int, int] = (640, 640), max_detections: int = 100,
                            directory: Path | None = None) -> Path:
    """Return the path of the analytic person detector, generating it on first use."""
    return _cached('analytic-detector', build_analytic_detector_model,
                   {'input_size': tuple(input_size), 'max_detections': max_detections},
                   directory)
