"""The cue estimator over time: engagement, distance, per-track memory, bad input."""

from __future__ import annotations

from dataclasses import replace
import json

import numpy as np
import pytest

from humanpose.cues import CueConfig, CueEstimator, Cues
from humanpose.cues.state import CueMemory
from humanpose.errors import InvalidInputError
from humanpose.ros.messages import build_typestore
from humanpose.testing.people3d import Person3D, observe, pose_person
from humanpose.types import CameraModel, Poses

FPS = 30.0


def _looking_sequence(camera, estimator, person, look, seconds=3.0, ids=('4',), seed=0,
                      with_3d=True):
    """Cues per frame of a person whose head faces the camera when ``look(t)``."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(int(seconds * FPS)):
        t = k / FPS
        yaw = 0.0 if look(t) else np.radians(60)
        poses = observe(pose_person(person, head_ypr=(yaw, 0.0, 0.0))[None], camera, rng,
                        ids=ids, with_3d=with_3d)
        out.append((t, estimator(poses, int(2e9 + t * 1e9), camera=camera)))
    return out


def test_engaged_after_looking_for_the_minimum_time_within_the_distance(
        camera: CameraModel) -> None:
    near = Person3D((0.0, 0.3, 1.8))
    frames = _looking_sequence(camera, CueEstimator('coco_wholebody'), near,
                               lambda t: t >= 0.5)
    for t, cues in frames:
        assert cues.looking_at_camera[0] == (t >= 0.5)
        assert cues.engaged[0] == (t >= 1.5 - 1e-6), t          # 1 s after the first look
        assert abs(cues.looking_duration_s[0] - max(0.0, t - 0.5)) < 1e-6
        assert abs(cues.distance_m[0] - np.linalg.norm(near.pelvis) * 1.0) < 0.45
    far = Person3D((0.0, 0.3, 4.0))
    frames = _looking_sequence(camera, CueEstimator('coco_wholebody'), far, lambda t: True)
    assert not any(c.engaged[0] for _, c in frames)
    assert all(3.6 < c.distance_m[0] < 4.4 for _, c in frames)
    # Without 3D the distance is unknown and does not hold engagement back.
    frames = _looking_sequence(camera, CueEstimator('coco_wholebody'), far, lambda t: True,
                               with_3d=False)
    assert frames[-1][1].engaged[0] and np.isnan(frames[-1][1].distance_m[0])


def test_short_glances_away_keep_engagement_long_ones_end_it(camera: CameraModel) -> None:
    person = Person3D((0.2, 0.3, 1.5))
    glance = _looking_sequence(camera, CueEstimator('coco_wholebody'), person,
                               lambda t: not 1.5 <= t < 1.8)
    assert all(c.engaged[0] for t, c in glance if t >= 1.0)
    away = _looking_sequence(camera, CueEstimator('coco_wholebody'), person,
                             lambda t: not 1.5 <= t < 2.2)
    assert not any(c.engaged[0] for t, c in away if 2.05 <= t < 3.0)
    assert away[-1][1].looking_duration_s[0] == pytest.approx(3.0 - 1 / FPS - 2.2, abs=0.02)


def test_without_track_ids_the_temporal_cues_are_unknown(camera: CameraModel) -> None:
    frames = _looking_sequence(camera, CueEstimator('coco_wholebody'),
                               Person3D((0.0, 0.3, 1.5)), lambda t: True, seconds=2.0, ids=())
    cues = frames[-1][1]
    assert cues.looking_at_camera[0] and not cues.engaged[0] and not cues.waving[0]
    assert np.isnan(cues.looking_duration_s[0]) and cues.ids == ()


def test_memory_keeps_tracks_it_sees_and_drops_those_that_leave() -> None:
    memory = CueMemory(forget_after_s=1.0)
    x, ok = np.zeros((2, 2)), np.ones((2, 2), bool)
    memory.update(('a', 'b'), 0, x, ok, 1.5)
    t, xs, valid = memory.update(('a',), 500_000_000, x[:1], ok[:1], 1.5)
    assert set(memory.track_ids) == {'a', 'b'}
    assert t.shape == (1, 2) and valid[0].all() and np.allclose(t[0], [-0.5, 0.0])
    memory.update(('a',), 1_200_000_000, x[:1], ok[:1], 1.5)
    assert memory.track_ids == ('a',)                    # b unseen for 1.2 s: dropped
    t, _, valid = memory.update(('a',), 1_200_000_000, x[:1], ok[:1], 1.5)
    assert valid.sum() == 3 * 2                          # the same image twice: one sample
    t, _, valid = memory.update(('a',), 2_100_000_000, x[:1], ok[:1], 1.5)
    assert valid.sum() == 2 * 2                          # 0 and 0.5 s left the window
    memory.update(('a',), 100, x[:1], ok[:1], 1.5)       # time went backwards: a new run
    assert memory.track_ids == ('a',) and memory.update(('a',), 200, x[:1], ok[:1],
                                                        1.5)[0].shape == (1, 2)
    memory.forget(['a'])
    assert len(memory) == 0


def test_estimator_forgets_people_who_left(camera: CameraModel) -> None:
    estimator = CueEstimator('coco_wholebody', CueConfig(forget_after_s=1.0))
    rng = np.random.default_rng(0)
    kp = np.stack([pose_person(Person3D((-0.5, 0.3, 2.0))),
                   pose_person(Person3D((0.5, 0.3, 2.0)))])
    estimator(observe(kp, camera, rng, ids=('1', '2')), 0, camera=camera)
    for k in range(1, 40):
        estimator(observe(kp[:1], camera, rng, ids=('1',)), int(k * 1e9 / FPS), camera=camera)
    assert estimator.memory.track_ids == ('1',)


def test_bad_input_is_one_clear_error(camera: CameraModel) -> None:
    rng = np.random.default_rng(0)
    poses = observe(pose_person(Person3D())[None], camera, rng)
    with pytest.raises(InvalidInputError, match='image_size'):
        CueEstimator('coco_wholebody')(poses, 0)
    with pytest.raises(InvalidInputError, match='coco_wholebody'):
        CueEstimator('coco')(poses, 0, camera=camera)
    with pytest.raises(InvalidInputError, match='min_hz'):
        CueConfig().with_values(waving__min_hz=4.0)
    with pytest.raises(InvalidInputError, match='normal'):
        CueConfig().with_values(pointing__plane_normal=(0.0, 0.0, 0.0))


def test_empty_frames_and_json_ready_people(camera: CameraModel) -> None:
    estimator = CueEstimator('coco_wholebody')
    empty = estimator(Poses.empty('coco_wholebody', 133), 0, image_size=(640, 480))
    assert len(empty) == 0 and empty.intrinsics_assumed
    rng = np.random.default_rng(1)
    cues = estimator(observe(pose_person(Person3D())[None], camera, rng, ids=('9',)), 1,
                     camera=camera)
    person = json.loads(json.dumps(cues.person(0)))      # NaN became null
    assert person['id'] == '9' and person['pointing_target'] == [None, None, None]
    assert person['left_hand_state'] == 'open' and person['waving_hand'] == 'none'
    # The keys are the HumanCues message fields.
    fields = {name for name, _ in build_typestore().fielddefs[
        'pose_bringup/msg/HumanCues'][1]}
    assert set(person) == fields
    assert isinstance(replace(Cues.empty(2), ids=('a', 'b')).person(1)['id'], str)


def test_robust_position_is_the_median_of_the_valid_points() -> None:
    from humanpose.cues.body import robust_position
    rng = np.random.default_rng(0)
    points = rng.normal(size=(50, 9, 3))
    confidence = (rng.random((50, 9)) > 0.3).astype(np.float32)
    confidence[0] = 0.0
    points[confidence == 0] = np.nan
    expected = np.full((50, 3), np.nan)
    for i in range(1, 50):
        expected[i] = np.median(points[i][confidence[i] > 0], axis=0)
    np.testing.assert_allclose(robust_position(points, confidence, np.arange(9)), expected)
