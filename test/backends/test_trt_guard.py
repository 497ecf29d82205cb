"""The accuracy guard: argmax decoding, per-part distances, advice, sample crops."""

import logging

import numpy as np
import onnxruntime as ort
import pytest

from humanpose.backends.trt_guard import (compare_pose_outputs, decode_argmax_keypoints,
                                          guard_sample_batch, warn_if_off)


# --------------------------------------------------------------------------- accuracy guard

def _simcc(batch=2, k=133, w=192, h=256, seed=0):
    rng = np.random.default_rng(seed)
    kx = rng.integers(10, 2 * w - 10, (batch, k))
    ky = rng.integers(10, 2 * h - 10, (batch, k))
    sx = np.zeros((batch, k, 2 * w), np.float32)
    sy = np.zeros((batch, k, 2 * h), np.float32)
    n, j = np.meshgrid(np.arange(batch), np.arange(k), indexing='ij')
    sx[n, j, kx] = 1.0
    sy[n, j, ky] = 1.0
    return {'simcc_x': sx, 'simcc_y': sy}, kx / 2.0, ky / 2.0


def test_argmax_decode_is_in_input_pixels():
    outputs, kx, ky = _simcc()
    keypoints, scores = decode_argmax_keypoints(outputs, (192, 256))
    np.testing.assert_allclose(keypoints[..., 0], kx)
    np.testing.assert_allclose(keypoints[..., 1], ky)
    assert scores.min() == 1.0


def test_guard_names_the_hand_when_fingers_move(caplog):
    reference, _, _ = _simcc()
    candidate = {k: v.copy() for k, v in reference.items()}
    candidate['simcc_x'][1, 100] = np.roll(candidate['simcc_x'][1, 100], 6)  # 3 px, left hand
    report = compare_pose_outputs(reference, candidate, (192, 256), threshold_px=1.0)
    assert report.max_px == pytest.approx(3.0) and report.worst_part == 'left_hand'
    assert report.mean_px == pytest.approx(3.0 / 266)
    assert report.per_part_max_px['body'] == 0.0 and not report.passed
    with caplog.at_level(logging.WARNING):
        warn_if_off(report, 'rtmw.onnx', 'fp16', keep_fp32=False)
    assert 'left_hand' in caplog.text and 'keeping normalisation' in caplog.text


def test_guard_ignores_keypoints_the_reference_does_not_see():
    reference, _, _ = _simcc()
    candidate = {k: v.copy() for k, v in reference.items()}
    candidate['simcc_x'][0, 120] = np.roll(candidate['simcc_x'][0, 120], 40)
    reference['simcc_x'][0, 120] *= 0.01  # invisible in the reference
    reference['simcc_y'][0, 120] *= 0.01
    report = compare_pose_outputs(reference, candidate, (192, 256))
    assert report.passed and report.compared == 2 * 133 - 1


def test_guard_sample_shows_a_person_the_analytic_model_finds(pose_model):
    sample = guard_sample_batch((3, 256, 192), 3, (123.675, 116.28, 103.53),
                                (58.395, 57.12, 57.375))
    assert sample.shape == (3, 3, 256, 192) and sample.dtype == np.float32
    session = ort.InferenceSession(str(pose_model), providers=['CPUExecutionProvider'])
    simcc_x, simcc_y = session.run(None, {'input': sample})
    keypoints, scores = decode_argmax_keypoints({'simcc_x': simcc_x, 'simcc_y': simcc_y},
                                                (192, 256))
    assert scores.min() > 0.5  # every keypoint, hands and face included, is found
    assert keypoints[..., 1].min() > 0 and keypoints[..., 1].max() < 255


def test_unknown_heads_are_not_decoded():
    assert decode_argmax_keypoints({'logits': np.zeros((1, 10))}, (192, 256)) is None
    ref = {'logits': np.zeros((1, 10), np.float32)}
    assert compare_pose_outputs(ref, ref, (192, 256)) is None


def test_heatmap_heads_are_compared_too():
    maps = np.zeros((1, 17, 64, 48), np.float32)
    maps[0, :, 10, 20] = 1.0
    moved = maps.copy()
    moved[0, 9] = 0.0
    moved[0, 9, 10, 21] = 1.0  # one heatmap cell = 4 input pixels
    report = compare_pose_outputs({'heatmaps': maps}, {'heatmaps': moved}, (192, 256))
    assert report.max_px == pytest.approx(4.0) and report.worst_keypoint == 'left_wrist'
