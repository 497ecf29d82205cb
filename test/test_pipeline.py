"""End-to-end geometry: drawn people -> pipeline -> keypoints within 1 px of the truth."""

import logging

import numpy as np
import onnx
import pytest

from humanpose import Pipeline, PoseEstimator
from humanpose.errors import InvalidInputError, ModelLoadError
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
    np.testing.assert_array_equal(whole.boxes, [[0, 0, 1280, 720]])  # MMPose: [0, 0, w, h]


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


def _moving_scenes(frames, every_px=3.0):
    people = [PersonSpec((300, 330), 300), PersonSpec((820, 320), 280, angle_deg=5)]
    for frame in range(frames):
        moved = [PersonSpec((p.centre_px[0] + every_px * frame, p.centre_px[1] - frame),
                            p.height_px, p.angle_deg, depth_m=2.0 + 0.5 * i)
                 for i, p in enumerate(people)]
        yield frame, render_scene(1280, 720, moved)


def test_detect_every_5_runs_the_detector_on_one_frame_in_5(pose_model, detector_model):
    every1 = Pipeline(pose_model, detector_model, backend='onnxruntime-cpu')
    every5 = Pipeline(pose_model, detector_model, backend='onnxruntime-cpu', detect_every=5)
    worst = []
    for frame, scene in _moving_scenes(15):
        one, five = every1(scene.image), every5(scene.image)
        assert len(one) == len(five) == 2
        one = one.select(np.argsort(one.boxes[:, 0]))
        five = five.select(np.argsort(five.boxes[:, 0]))
        err_one, err_five = _errors(one, scene), _errors(five, scene)
        worst.append(err_five.max() - err_one.max())
        assert err_five.max() < 1.0
    assert every5.detector_runs == 3 and every1.detector_runs == 15
    assert max(worst) < 2.0
    assert five.ids == ()  # tracking off: the tracker only carries boxes


def test_tracking_smoothing_and_3d_through_the_pipeline(pose_model, detector_model):
    pipe = Pipeline(pose_model, detector_model, backend='onnxruntime-cpu', tracking=True,
                    smoothing=True, detect_every=2)
    ids = set()
    for frame, scene in _moving_scenes(8):
        poses = pipe(scene.image, stamp_ns=frame * 33_333_333, depth=scene.depth_mm(),
                     camera=scene.camera, depth_encoding='16UC1')
        assert len(poses) == 2 and all(poses.ids)
        ids.update(poses.ids)
        order = np.argsort(poses.boxes[:, 0])
        z = poses.keypoints_3d[order][:, :17, 2]
        # Body keypoints lie on each person's plane (2.0 m and 2.5 m).
        np.testing.assert_allclose(np.nanmedian(z, axis=1), [2.0, 2.5], atol=0.01)
    assert len(ids) == 2
    assert {'detect', 'crop', 'infer', 'decode', 'track', 'lift3d'} >= set(pipe.timings)
    with pytest.raises(InvalidInputError, match='camera'):
        pipe(scene.image, depth=scene.depth_m)


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
