"""Pointing at known targets: the arm's ray, its confidence, where it meets the floor."""

from __future__ import annotations

import numpy as np
import pytest

from humanpose.cues import SIDE_LEFT, SIDE_RIGHT, CueConfig, CueEstimator, PointingConfig
from humanpose.cues.pointing import fit_line_direction, plane_intersection
from humanpose.testing.people3d import (Person3D, hanging_arm, observe, pointing_arm,
                                        pose_person, project, raised_arm)
from humanpose.types import CameraModel

CAMERA_HEIGHT_M = 1.2
FLOOR = CueConfig(pointing=PointingConfig(plane_normal=(0.0, -1.0, 0.0),
                                          plane_distance_m=CAMERA_HEIGHT_M))
#: People (hip centre at hip height above the floor), facing the camera or turned.
PEOPLE = [Person3D((0.2, CAMERA_HEIGHT_M - 0.95, 2.0)),
          Person3D((-0.5, CAMERA_HEIGHT_M - 0.95, 2.8), body_yaw=0.3),
          Person3D((0.6, CAMERA_HEIGHT_M - 0.95, 3.5), body_yaw=-0.4)]
#: Targets on the floor, camera frame.
TARGETS = [(1.0, CAMERA_HEIGHT_M, 1.5), (-1.0, CAMERA_HEIGHT_M, 2.0),
           (0.5, CAMERA_HEIGHT_M, 1.0), (-0.3, CAMERA_HEIGHT_M, 1.2),
           (1.5, CAMERA_HEIGHT_M, 3.5), (-1.2, CAMERA_HEIGHT_M, 4.5)]
TRIALS = 12


@pytest.mark.parametrize('person', PEOPLE, ids=['front', 'turned', 'far'])
@pytest.mark.parametrize('hand', ['pointing', 'fist'])
def test_pointing_targets_within_10_percent_of_the_distance(camera: CameraModel,
                                                            person: Person3D,
                                                            hand: str) -> None:
    rng = np.random.default_rng(int(person.pelvis[2] * 10) + len(hand))
    estimator = CueEstimator('coco_wholebody', FLOOR)
    errors, found = [], 0
    for target in TARGETS:
        for side, side_id in (('left', SIDE_LEFT), ('right', SIDE_RIGHT)):
            kp = pose_person(person, arms={side: pointing_arm(person, side, target)},
                             hands={side: hand})
            hand_xyz = kp[9 if side == 'left' else 10]
            distance = np.linalg.norm(np.asarray(target) - hand_xyz)
            per_target = []
            for _ in range(TRIALS):
                poses = observe(kp[None], camera, rng, noise_px=1.0, noise_m=0.01,
                                dropout=0.03)
                cues = estimator(poses, 0, camera=camera)
                if not np.isfinite(cues.pointing_target_m[0]).all():
                    continue
                found += 1
                assert cues.pointing[0] and cues.pointing_hand[0] == side_id
                assert cues.pointing_confidence[0] >= 0.5
                per_target.append(np.linalg.norm(cues.pointing_target_m[0] - target)
                                  / distance)
            assert np.median(per_target) < 0.10, (target, side)
            errors += per_target
    assert found >= 0.8 * len(TARGETS) * 2 * TRIALS  # dropouts of arm joints cost some
    assert np.percentile(errors, 90) < 0.10
    assert np.median(errors) < 0.06


def test_image_ray_points_at_the_target_without_3d(camera: CameraModel) -> None:
    rng = np.random.default_rng(3)
    person = PEOPLE[0]
    estimator = CueEstimator('coco_wholebody', FLOOR)
    for target in [(1.5, 0.0, 2.0), (-1.5, 0.4, 2.2), (0.8, -0.5, 1.8)]:
        kp = pose_person(person, arms={'right': pointing_arm(person, 'right', target)},
                         hands={'right': 'pointing'})
        cues = estimator(observe(kp[None], camera, rng, with_3d=False), 0, camera=camera)
        assert cues.pointing[0] and cues.pointing_hand[0] == SIDE_RIGHT
        # The arm line in the image: from the true shoulder through the target.
        shoulder = project(kp[6], camera)
        to_target = project(np.asarray(target), camera) - shoulder
        angle = np.degrees(np.arccos(np.dot(to_target / np.linalg.norm(to_target),
                                            cues.pointing_direction_px[0])))
        assert angle < 5.0
        assert np.isnan(cues.pointing_target_m[0]).all()
        assert np.isnan(cues.pointing_direction[0]).all()


def test_a_bent_arm_points_with_its_finger(camera: CameraModel) -> None:
    rng = np.random.default_rng(4)
    person = PEOPLE[0]
    target = np.array([-0.4, CAMERA_HEIGHT_M, 1.0])
    shoulder = person.shoulder('right')
    elbow = shoulder + 0.3 * person.axis([0.2, -0.1, -1.0]) / np.linalg.norm([0.2, -0.1, -1])
    wrist = elbow + 0.27 * (target - elbow) / np.linalg.norm(target - elbow)
    estimator = CueEstimator('coco_wholebody', FLOOR)
    pointing = estimator(observe(pose_person(person, arms={'right': (elbow, wrist)},
                                             hands={'right': 'pointing'})[None],
                                 camera, rng, noise_m=0.005), 0, camera=camera)
    assert pointing.pointing[0] and pointing.hand_state[0, 1] == 3
    error = np.linalg.norm(pointing.pointing_target_m[0] - target)
    assert error < 0.1 * np.linalg.norm(target - wrist)
    fist = estimator(observe(pose_person(person, arms={'right': (elbow, wrist)},
                                         hands={'right': 'fist'})[None], camera, rng),
                     0, camera=camera)
    assert not fist.pointing[0]  # a bent arm with a fist points nowhere


@pytest.mark.parametrize('arms', ['hanging', 'walking', 'raised'])
def test_arms_that_do_not_point(camera: CameraModel, arms: str) -> None:
    rng = np.random.default_rng(5)
    person = PEOPLE[0]
    poses = {
        'hanging': {},
        # Shoulders swing about 17 degrees each way in a brisk walk.
        'walking': {'left': hanging_arm(person, 'left', 0.3),
                    'right': hanging_arm(person, 'right', -0.3)},
        'raised': {'left': raised_arm(person, 'left', 0.2)},
    }[arms]
    for _ in range(10):
        kp = pose_person(person, arms=poses, hands={'left': 'fist', 'right': 'open'})
        cues = CueEstimator('coco_wholebody', FLOOR)(observe(kp[None], camera, rng), 0,
                                                     camera=camera)
        assert not cues.pointing[0] and cues.pointing_hand[0] == 0
        assert np.isnan(cues.pointing_origin_px[0]).all()


def test_plane_intersection_and_line_fit() -> None:
    normal = np.array([0.0, -1.0, 0.0])
    origin = np.array([[0.0, 0.0, 2.0], [0.0, 0.0, 2.0], [0.0, 0.0, 2.0]])
    direction = np.array([[0.0, 1.0, 1.0], [0.0, -1.0, 0.0], [1.0, 0.0, 0.0]])
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    hit = plane_intersection(origin, direction, normal, 1.5)
    assert np.allclose(hit[0], [0.0, 1.5, 3.5])
    assert np.isnan(hit[1:]).all()  # away from the plane, parallel to it
    points = np.array([[[0.0, 0.0, 0.0], [1.0, 1.0, 0.0], [2.0, 2.0, 0.0]]])
    assert np.allclose(fit_line_direction(points), [[np.sqrt(0.5), np.sqrt(0.5), 0.0]])
    assert np.allclose(fit_line_direction(points[:, ::-1]), [[-np.sqrt(0.5), -np.sqrt(0.5),
                                                              0.0]])
