"""End-to-end geometry: drawn people -> pipeline -> keypoints within 1 px of the truth."""

import logging

import numpy as np
import onnx
import pytest

from humanpose import Pipeline, PoseEstimator
from humanpose.errors import InvalidInputError, ModelLoadError
from humanpose.pipeline import boxes_from_keypoints
from humanpose.testing.scene import PersonSpec, random_people, render_scene

CASES = [
    # (people, image size) - sizes, aspect ratios, rotations, partly outside the image.
    ([PersonSpec((320, 250), 120)], (640, 480)),
    ([PersonSpec((200, 240), 380, angle_deg=8, aspect=0.85),
      PersonSpec((480, 260), 260, angle_deg=-12, aspect=1.2)], (640, 480)),
    ([PersonSpec((610, 240), 300), PersonSpec((40, 300), 330, angle_deg=5)], (640, 480)),
    ([PersonSpec((320, 330), 420)], (640, 480)),  # knees and feet below the image
]


def _errors(poses, scene):
    assert len(poses) == len(scene.people)
    err = np.linalg.norm(poses.keypoints - scene.keypoints, axis=-1)
    return err[scene.inside]


@pytest.mark.parametrize('people, size', CASES)
def test_keypoints_within_a_pixel_on_given_boxes(pose_model, people, size):
    scene = render_scene(*size, people, seed=4)
    est = PoseEstimator(pose_model, backend='onnxruntime-cpu')
    poses = est.estimate(scene.image, scene.boxes)
    assert _errors(poses, scene).max() < 1.0
    assert poses.skeleton == 'coco_wholebody' and poses.keypoints.shape[1:] == (133, 2)
    assert ((poses.confidence >= 0) & (poses.confidence <= 1)).all()
    # Inside keypoints are confidently found.
    assert np.median(poses.confidence[scene.inside]) > 0.5


def test_heatmap_model_with_dark_is_within_a_pixel(heatmap_model):
    scene = render_scene(640, 480, CASES[1][0], seed=4)
    est = PoseEstimator(heatmap_model, backend='onnxruntime-cpu')
    poses = est.estimate(scene.image, scene.boxes)
    assert _errors(poses, scene).max() < 1.0


def test_large_input_model_on_a_big_person(pose_model_large):
    scene = render_scene(800, 900, [PersonSpec((400, 430), 600, angle_deg=4)])
    est = PoseEstimator(pose_model_large, backend='onnxruntime-cpu')
    poses = est.estimate(scene.image, scene.boxes)
    assert _errors(poses, scene).max() < 1.0


def test_batch_and_per_person_runs_agree_exactly(pose_model):
    scene = render_scene(1280, 720, random_people(6, 1280, 720, seed=2), seed=2)
    est = PoseEstimator(pose_model, backend='onnxruntime-cpu')
    batch = est.estimate(scene.image, scene.boxes)
    for i, box in enumerate(scene.boxes):
        one = est.estimate(scene.image, box[None])
        np.testing.assert_array_equal(one.keypoints[0], batch.keypoints[i])
        np.testing.assert_array_equal(one.confidence[0], batch.confidence[i])


def test_pipeline_with_detector_finds_everyone(pose_model, detector_model):
    scene = render_scene(1280, 720, random_people(5, 1280, 720, seed=7), seed=7)
    pipe = Pipeline(pose_model, detector_model, backend='onnxruntime-cpu')
    poses = pipe(scene.image)
    assert len(poses) == 5
    # Match each drawn person to the nearest found one.
    for i in range(5):
        d = np.linalg.norm(poses.keypoints - scene.keypoints[i], axis=-1)
        j = np.argmin(np.nanmean(d, axis=1))
        assert d[j][scene.inside[i]].max() < 1.0
    assert set(pipe.timings) == {'detect', 'crop', 'infer', 'decode'}
    # External boxes replace the detector; no boxes and no detector = whole image.
    assert len(pipe(scene.image, boxes=scene.boxes[:2])) == 2
    whole = Pipeline(pose_model, backend='onnxruntime-cpu')(scene.image)
    np.testing.assert_array_equal(whole.boxes, [[0, 0, 1279, 719]])


def test_one_backend_call_for_all_people(pose_model, monkeypatch):
    scene = render_scene(1280, 720, random_people(7, 1280, 720, seed=1), seed=1)
    est = PoseEstimator(pose_model, backend='onnxruntime-cpu')
    calls = []
    run = est.backend.run
    monkeypatch.setattr(est.backend, 'run', lambda feeds: calls.append(
        len(feeds['input'])) or run(feeds))
    est.estimate(scene.image, scene.boxes)
    assert calls == [7]
    est.backend.max_batch = 3
    calls.clear()
    est.estimate(scene.image, scene.boxes)
    assert calls == [3, 3, 1]


def test_detect_every_n_uses_previous_keypoints(pose_model, detector_model):
    pipe = Pipeline(pose_model, detector_model, backend='onnxruntime-cpu', detect_every=3)
    people = [PersonSpec((300, 300), 300), PersonSpec((800, 320), 280)]
    for frame in range(6):
        moved = [PersonSpec((p.centre_px[0] + 3 * frame, p.centre_px[1]), p.height_px)
                 for p in people]
        scene = render_scene(1280, 720, moved)
        poses = pipe(scene.image)
        assert len(poses) == 2
        assert _errors(poses.select(np.argsort(poses.boxes[:, 0])), scene).max() < 1.0
    assert pipe.detector_runs == 2


def test_boxes_from_keypoints_expand_and_clip():
    from humanpose.types import Poses
    kp = np.array([[[10, 20], [30, 60], [500, 500]]], np.float32)
    poses = Poses(kp, np.array([[0.9, 0.9, 0.1]], np.float32), np.ones((1, 3), np.float32),
                  np.array([[0, 0, 5, 5]], np.float32), np.ones(1, np.float32), 'coco')
    np.testing.assert_allclose(boxes_from_keypoints(poses, (100, 100), expand=1.5),
                               [[5, 10, 35, 70]])


def test_empty_detections_give_empty_results(pose_model, detector_model):
    scene = render_scene(640, 480, [])
    poses = Pipeline(pose_model, detector_model, backend='onnxruntime-cpu')(scene.image)
    assert len(poses) == 0 and poses.keypoints.shape == (0, 133, 2)


def test_bad_input_errors(pose_model, tmp_path):
    est = PoseEstimator(pose_model, backend='onnxruntime-cpu')
    image = np.zeros((100, 100, 3), np.uint8)
    with pytest.raises(InvalidInputError, match='NaN'):
        est.estimate(image, np.array([[0, 0, np.nan, 10]]))
    with pytest.raises(InvalidInputError, match='empty'):
        est.estimate(np.zeros((0, 0, 3), np.uint8))
    with pytest.raises(ModelLoadError, match='not found'):
        PoseEstimator(tmp_path / 'missing.onnx')
    corrupt = tmp_path / 'corrupt.onnx'
    corrupt.write_bytes(b'\x08\x01garbage' * 10)
    with pytest.raises(ModelLoadError, match='onnxruntime cannot load'):
        PoseEstimator(corrupt, backend='onnxruntime-cpu')


def test_model_whose_outputs_match_no_decoder(tmp_path):
    from onnx import TensorProto, helper
    graph = helper.make_graph(
        [helper.make_node('ReduceMean', ['input'], ['out'], keepdims=0)], 'odd',
        [helper.make_tensor_value_info('input', TensorProto.FLOAT, ['n', 3, 256, 192])],
        [helper.make_tensor_value_info('out', TensorProto.FLOAT, [])])
    path = tmp_path / 'odd.onnx'
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)],
                                ir_version=8), str(path))
    with pytest.raises(ModelLoadError, match='match no known decoder'):
        PoseEstimator(path, backend='onnxruntime-cpu')


def test_static_batch_one_model_runs_in_a_loop(pose_model, tmp_path, caplog):
    model = onnx.load(str(pose_model))
    for value in list(model.graph.input) + list(model.graph.output):
        value.type.tensor_type.shape.dim[0].dim_value = 1
    static = tmp_path / 'static.onnx'
    onnx.save(model, str(static))
    scene = render_scene(640, 480, CASES[1][0], seed=4)
    est = PoseEstimator(static, backend='onnxruntime-cpu')
    with caplog.at_level(logging.WARNING):
        poses = est.estimate(scene.image, scene.boxes)
        est.estimate(scene.image, scene.boxes)
    assert _errors(poses, scene).max() < 1.0
    assert sum('static batch of 1' in r.message for r in caplog.records) == 1
