"""Generated models keep the real networks' I/O contracts and find the drawn people."""

import json

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import pytest

from humanpose.testing.models import (MMPOSE_MEAN_RGB, MMPOSE_STD_RGB, RTMDET_MEAN_BGR,
                                      RTMDET_STD_BGR, build_compute_pose_model,
                                      compute_pose_model)
from humanpose.testing.scene import PersonSpec, render_scene


def _session(path):
    return ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])


def _crop(image, box, size):
    """Independent top-down crop: box scaled by 1.25, aspect fixed, axis-aligned warp."""
    w_in, h_in = size
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    w, h = (x1 - x0) * 1.25, (y1 - y0) * 1.25
    if w > h * w_in / h_in:
        h = w * h_in / w_in
    else:
        w = h * w_in / h_in
    m = np.array([[w_in / w, 0, w_in / 2 - cx * w_in / w],
                  [0, h_in / h, h_in / 2 - cy * h_in / h]])
    crop = cv2.warpAffine(image, m, (w_in, h_in), flags=cv2.INTER_LINEAR)
    x = (crop[..., ::-1].astype(np.float32) - MMPOSE_MEAN_RGB) / MMPOSE_STD_RGB
    to_image = (w / w_in, h / h_in, cx - w / 2, cy - h / 2)
    return x.transpose(2, 0, 1)[None].astype(np.float32), to_image


@pytest.mark.parametrize('size_px, angle, aspect', [(120, 0, 1.0), (260, 12, 0.85),
                                                    (400, -8, 1.15)])
def test_analytic_model_finds_drawn_keypoints_within_a_pixel(pose_model, size_px, angle, aspect):
    people = [PersonSpec((330, 250), size_px, angle_deg=angle, aspect=aspect)]
    scene = render_scene(640, 520, people, seed=2)
    x, (sx, sy, ox, oy) = _crop(scene.image, scene.boxes[0], (192, 256))
    simcc_x, simcc_y = _session(pose_model).run(None, {'input': x})
    assert simcc_x.shape == (1, 133, 384) and simcc_y.shape == (1, 133, 512)
    kx = simcc_x[0].argmax(-1) / 2.0 * sx + ox
    ky = simcc_y[0].argmax(-1) / 2.0 * sy + oy
    err = np.hypot(kx - scene.keypoints[0, :, 0], ky - scene.keypoints[0, :, 1])
    assert err.max() < 1.0, f'max error {err.max():.2f} px'
    assert np.minimum(simcc_x[0].max(-1), simcc_y[0].max(-1)).min() > 0.5


def test_analytic_model_batch_and_empty_crop(pose_model):
    scene = render_scene(640, 480, [PersonSpec((200, 240), 300), PersonSpec((460, 240), 250)])
    crops = [_crop(scene.image, b, (192, 256))[0] for b in scene.boxes]
    empty = np.zeros_like(crops[0])  # no person: mean-grey crop
    batch = np.concatenate(crops + [empty])
    sess = _session(pose_model)
    bx, by = sess.run(None, {'input': batch})
    for i, crop in enumerate(crops):
        one_x, one_y = sess.run(None, {'input': crop})
        np.testing.assert_allclose(bx[i], one_x[0], atol=1e-5)
    # Without an anchor every raw score is non-positive: invalid keypoints, as MMPose marks.
    assert np.minimum(bx[2].max(-1), by[2].max(-1)).max() <= 0.0


def test_large_input_and_coco_variants(pose_model_large, humanpose_home):
    from humanpose.testing.models import analytic_pose_model
    scene = render_scene(800, 900, [PersonSpec((400, 420), 700)])
    x, (sx, sy, ox, oy) = _crop(scene.image, scene.boxes[0], (288, 384))
    simcc_x, simcc_y = _session(pose_model_large).run(None, {'input': x})
    assert simcc_x.shape == (1, 133, 576) and simcc_y.shape == (1, 133, 768)
    err = np.hypot(simcc_x[0].argmax(-1) / 2 * sx + ox - scene.keypoints[0, :, 0],
                   simcc_y[0].argmax(-1) / 2 * sy + oy - scene.keypoints[0, :, 1])
    assert err.max() < 1.0
    coco = analytic_pose_model(num_keypoints=17)
    out = _session(coco).get_outputs()
    assert out[0].shape == ['batch', 17, 384]


def test_heatmap_head_contract(heatmap_model):
    scene = render_scene(640, 480, [PersonSpec((320, 230), 300)])
    x, (sx, sy, ox, oy) = _crop(scene.image, scene.boxes[0], (192, 256))
    (heatmaps,) = _session(heatmap_model).run(None, {'input': x})
    assert heatmaps.shape == (1, 133, 64, 48)
    flat = heatmaps[0].reshape(133, -1).argmax(-1)
    hx, hy = flat % 48, flat // 48
    # Integer heatmap peaks are within one heatmap cell (4 input px) of the truth.
    kx, ky = hx * 4 * sx + ox, hy * 4 * sy + oy
    err = np.hypot(kx - scene.keypoints[0, :, 0], ky - scene.keypoints[0, :, 1])
    assert err.max() < 4 * sx * 0.75


def test_detector_finds_the_drawn_people(detector_model):
    people = [PersonSpec((150, 250), 320), PersonSpec((420, 230), 260),
              PersonSpec((560, 300), 150)]
    scene = render_scene(640, 480, people)
    letterboxed = np.full((640, 640, 3), 114, np.uint8)
    letterboxed[:480] = scene.image
    x = ((letterboxed.astype(np.float32) - RTMDET_MEAN_BGR) / RTMDET_STD_BGR)
    dets, labels = _session(detector_model).run(
        None, {'input': x.transpose(2, 0, 1)[None].astype(np.float32)})
    assert dets.shape == (1, 100, 5) and labels.shape == (1, 100) and labels.dtype == np.int64
    found = dets[0][dets[0, :, 4] > 0.3]
    assert len(found) == 3 and (labels[0] == 0).all()
    # Each drawn person matches one detection with IoU > 0.6.
    for box in scene.boxes:
        ix0, iy0 = np.maximum(found[:, 0], box[0]), np.maximum(found[:, 1], box[1])
        ix1, iy1 = np.minimum(found[:, 2], box[2]), np.minimum(found[:, 3], box[3])
        inter = np.clip(ix1 - ix0, 0, None) * np.clip(iy1 - iy0, 0, None)
        union = ((found[:, 2] - found[:, 0]) * (found[:, 3] - found[:, 1])
                 + (box[2] - box[0]) * (box[3] - box[1]) - inter)
        assert (inter / union).max() > 0.6


def test_compute_model_has_rtmw_m_compute_and_io(humanpose_home):
    model = build_compute_pose_model()
    macs = int({p.key: p.value for p in model.metadata_props}['macs'])
    assert 3.6e9 < macs < 5.0e9  # RTMW-m: 4.3 GFLOPs (multiply-adds) at 256x192
    card = json.loads({p.key: p.value for p in model.metadata_props}['humanpose_card'])
    assert card['head'] == {'type': 'simcc', 'split_ratio': 2.0, 'sigma': [4.9, 5.66],
                            'beta': 150.0}
    small = compute_pose_model(stage_blocks=(1, 1, 1, 1))
    sess = _session(small)
    out_x, out_y = sess.run(None, {'input': np.zeros((3, 3, 256, 192), np.float32)})
    assert out_x.shape == (3, 133, 384) and out_y.shape == (3, 133, 512)
    assert onnx.load(str(small)).graph.input[0].type.tensor_type.shape.dim[0].dim_param == 'batch'


def test_generated_models_are_cached(humanpose_home, pose_model):
    from humanpose.testing.models import analytic_pose_model
    assert analytic_pose_model() == pose_model
    assert pose_model.parent == humanpose_home / 'generated'


def test_rtmw3d_shaped_model_contract(pose3d_model):
    import onnxruntime as ort
    from humanpose.decode import decode_pose
    from humanpose.models.card import onnx_metadata_card
    from humanpose.testing.scene import person_relief
    session = ort.InferenceSession(str(pose3d_model), providers=['CPUExecutionProvider'])
    assert [(o.name, o.shape) for o in session.get_outputs()] == [
        ('simcc_x', ['batch', 133, 576]), ('simcc_y', ['batch', 133, 768]),
        ('simcc_z', ['batch', 133, 576])]
    assert session.get_inputs()[0].shape == ['batch', 3, 384, 288]
    card = onnx_metadata_card(pose3d_model)
    assert card.head_type == 'simcc3d' and card.input_size == (288, 384)
    # A crop with no person: every keypoint invalid, z included.
    out = session.run(None, {'input': np.zeros((2, 3, 384, 288), np.float32)})
    decoded = decode_pose(dict(zip(('simcc_x', 'simcc_y', 'simcc_z'), out)), card.head,
                          card.input_size)
    assert (decoded.confidence == 0).all() and (decoded.relative_depth_confidence == 0).all()
    # A drawn person: z is its relief exactly (checked through the pipeline in test_pose3d).
    from humanpose.testing.scene import PersonSpec, render_scene
    scene = render_scene(288, 384, [PersonSpec((144, 200), 300, relief=1.0)])
    from humanpose import PoseEstimator
    estimator = PoseEstimator(pose3d_model, backend='onnxruntime-cpu')
    poses = estimator.estimate(scene.image, scene.boxes)
    seen = scene.inside[0] & (poses.confidence[0] > 0.5)
    np.testing.assert_allclose(poses.relative_depth[0, seen], person_relief()[seen], atol=1e-6)
