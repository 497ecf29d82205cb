import numpy as np
import pytest

from humanpose.detect import PersonDetector, decode_yolox, nms, parse_dets
from humanpose.errors import ModelLoadError
from humanpose.testing.scene import PersonSpec, render_scene


def test_parse_dets_keeps_people_only():
    dets = np.array([[0, 0, 10, 10, 0.9], [5, 5, 20, 20, 0.8], [1, 1, 2, 2, 0.0]], np.float32)
    boxes, scores = parse_dets(dets, np.array([0, 2, 0]), person_label=0)
    np.testing.assert_array_equal(boxes, [[0, 0, 10, 10], [1, 1, 2, 2]])
    np.testing.assert_allclose(scores, [0.9, 0.0])


def test_decode_yolox_grid_by_hand():
    # 64x32 input: stride 8 -> 8x4 cells, 16 -> 4x2, 32 -> 2x1: 32 + 8 + 2 anchor points.
    raw = np.zeros((42, 7), np.float32)
    # Stride-16 cell (x=2, y=1) is row 32 + 1 * 4 + 2 = 38: centre (2.5, 1.25) cells.
    raw[38] = [0.5, 0.25, np.log(2.0), np.log(3.0), 0.8, 0.9, 0.1]
    boxes, scores = decode_yolox(raw, (64, 32), person_label=0)
    cx, cy, w, h = 2.5 * 16, 1.25 * 16, 2 * 16, 3 * 16
    np.testing.assert_allclose(boxes[38], [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2],
                               rtol=1e-5)
    assert scores[38] == pytest.approx(0.72) and scores[:38].max() == 0
    with pytest.raises(ModelLoadError, match='anchor points'):
        decode_yolox(raw[:40], (64, 32))


def test_nms_suppresses_overlaps_in_score_order():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 10]],
                     np.float32)
    scores = np.array([0.5, 0.9, 0.7, 0.1], np.float32)
    np.testing.assert_array_equal(nms(boxes, scores, 0.5), [1, 2])
    assert len(nms(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), 0.5)) == 0


def test_detector_on_rendered_people(detector_model):
    people = [PersonSpec((300, 300), 420), PersonSpec((800, 350), 300),
              PersonSpec((1100, 400), 250)]
    scene = render_scene(1280, 720, people)
    det = PersonDetector(detector_model, backend='onnxruntime-cpu')
    found = det.detect(scene.image)
    assert len(found) == 3
    assert (found.scores > 0.5).all() and (np.diff(found.scores) <= 0).all()
    # Each drawn person's keypoints sit inside one detection (boxes in image pixels).
    for kp in scene.keypoints:
        inside = ((kp[:, 0:1].T >= found.boxes[:, 0:1] - 2)
                  & (kp[:, 0:1].T <= found.boxes[:, 2:3] + 2)
                  & (kp[:, 1:2].T >= found.boxes[:, 1:2] - 2)
                  & (kp[:, 1:2].T <= found.boxes[:, 3:4] + 2)).all(axis=1)
        assert inside.sum() == 1
    rgb = det.detect(scene.image[..., ::-1].copy(), color='rgb')
    np.testing.assert_allclose(rgb.boxes, found.boxes)
    det.max_people = 2
    assert len(det.detect(scene.image)) == 2
    empty = render_scene(640, 480, [])
    assert len(det.detect(empty.image)) == 0
