"""Boxes follow the reference conventions: MMPose crops the box as given, MMDetection clips
detector boxes to [0, W] x [0, H].

The reference below is written here from MMPose's top-down pipeline (``bbox_xyxy2cs`` with
padding 1.25, ``_fix_aspect_ratio``, ``get_warp_matrix`` from three point pairs through
``cv2.getAffineTransform``, bilinear ``cv2.warpAffine``, RGB normalisation, SimCC argmax /
split ratio, and the inverse ``kpt / input_size * scale + center - scale / 2``),
independently of :mod:`humanpose.preprocess`, and run on the same ONNX model.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import pytest

from humanpose.pipeline import PoseEstimator
from humanpose.testing.scene import PersonSpec, render_scene

INPUT_W, INPUT_H = 192, 256
MEAN = np.array([123.675, 116.28, 103.53])
STD = np.array([58.395, 57.12, 57.375])


def _third_point(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = a - b
    return b + np.array([-d[1], d[0]])


def reference_input(image_bgr: np.ndarray, box: list[float]
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MMPose's crop of one box: (1, 3, H, W) network input, centre, scale."""
    x0, y0, x1, y1 = box
    center = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
    w, h = (x1 - x0) * 1.25, (y1 - y0) * 1.25
    aspect = INPUT_W / INPUT_H
    scale = np.array([w, w / aspect] if w > h * aspect else [h * aspect, h])
    src = np.zeros((3, 2), np.float32)
    dst = np.zeros((3, 2), np.float32)
    src[0] = center
    src[1] = center + np.array([0.0, scale[0] * -0.5])
    src[2] = _third_point(src[0], src[1])
    dst[0] = [INPUT_W * 0.5, INPUT_H * 0.5]
    dst[1] = dst[0] + np.array([0.0, INPUT_W * -0.5])
    dst[2] = _third_point(dst[0], dst[1])
    warp = cv2.getAffineTransform(src, dst)
    crop = cv2.warpAffine(image_bgr, warp, (INPUT_W, INPUT_H), flags=cv2.INTER_LINEAR)
    rgb = crop[..., ::-1].astype(np.float64)
    blob = ((rgb - MEAN) / STD).transpose(2, 0, 1)[None].astype(np.float32)
    return blob, center, scale


def reference_keypoints(session: ort.InferenceSession, image_bgr: np.ndarray,
                        box: list[float], split_ratio: float = 2.0) -> np.ndarray:
    """MMPose's top-down inference of one box, step by step (K, 2) image pixels."""
    blob, center, scale = reference_input(image_bgr, box)
    simcc_x, simcc_y = session.run(['simcc_x', 'simcc_y'], {'input': blob})
    kpt = np.stack([simcc_x[0].argmax(-1), simcc_y[0].argmax(-1)], -1) / split_ratio
    return kpt / np.array([INPUT_W, INPUT_H]) * scale + center - scale / 2


@pytest.fixture(scope='module')
def scene_at_the_edge() -> tuple[np.ndarray, list[list[float]]]:
    """A person cut by the left edge, one filling the image, and the boxes to use."""
    scene = render_scene(320, 240, [PersonSpec((40, 130), 180)], seed=4)
    boxes = [[-60.0, 30.0, 140.0, 235.0],   # reaches past the left edge
             [0.0, 0.0, 320.0, 240.0],      # the whole image, MMPose's [0, 0, w, h]
             [-20.0, -15.0, 330.0, 260.0]]  # larger than the image on every side
    return scene.image, boxes


def test_keypoints_equal_mmpose_reference_for_boxes_past_the_edge(
        pose_model: Path, scene_at_the_edge: tuple[np.ndarray, list[list[float]]]) -> None:
    image, boxes = scene_at_the_edge
    session = ort.InferenceSession(str(pose_model), providers=['CPUExecutionProvider'])
    estimator = PoseEstimator(pose_model, backend='onnxruntime-cpu')
    ours = estimator.estimate(image, np.array(boxes)).keypoints
    for i, box in enumerate(boxes):
        reference = reference_keypoints(session, image, box)
        np.testing.assert_allclose(ours[i], reference, atol=0.01)
    # What the network sees is the reference's crop (to rounding of the bilinear warp) ...
    batch, _, _ = estimator._batcher(image, np.array(boxes, np.float32), 'bgr')
    for i, box in enumerate(boxes):
        diff = np.abs(batch[i] - reference_input(image, box)[0][0])
        assert diff.max() < 1.5 / STD.min() and diff.mean() < 1e-3
    # ... and the test can fail: a box clipped to [0, w-1] x [0, h-1] (the old convention)
    # gives another crop, shifted by tens of pixels.
    clipped = np.clip(np.array(boxes[:1]), 0, [319, 239, 319, 239]).astype(np.float32)
    moved, _, _ = estimator._batcher(image, clipped, 'bgr')
    assert np.abs(moved[0] - reference_input(image, boxes[0])[0][0]).mean() > 0.1
    # No boxes = the whole image [0, 0, w, h].
    whole = estimator.estimate(image).keypoints[0]
    np.testing.assert_allclose(whole, reference_keypoints(session, image, boxes[1]), atol=0.01)


def test_detector_boxes_are_clipped_to_w_h_like_mmdetection(detector_model: Path) -> None:
    from humanpose.detect import PersonDetector
    scene = render_scene(320, 240, [PersonSpec((30, 140), 200)], seed=2)
    found = PersonDetector(detector_model, backend='onnxruntime-cpu').detect(scene.image)
    assert len(found) == 1
    box = found.boxes[0]
    assert box.min() >= 0 and box[2] <= 320 and box[3] <= 240
    assert box[0] == 0.0  # the person is cut by the left edge: clipped there, at 0
