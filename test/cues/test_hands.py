"""Raised hands at known heights and hand states from finger geometry."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from humanpose.cues import HAND_FIST, HAND_OPEN, HAND_POINTING, HAND_UNKNOWN, CueEstimator
from humanpose.testing.people3d import (Person3D, observe, pointing_arm, pose_person,
                                        raised_arm)
from humanpose.types import CameraModel, Poses


@pytest.mark.parametrize('distance_m', [1.5, 3.0, 5.0])
@pytest.mark.parametrize('side', ['left', 'right'])
def test_hands_raised_above_the_shoulder_by_the_margin(camera: CameraModel, distance_m: float,
                                                       side: str) -> None:
    """Margin 0.1 torso lengths (5 cm): at or below the shoulder no, 10 cm above yes."""
    rng = np.random.default_rng(int(distance_m * 10))
    person = Person3D((0.3, 0.4, distance_m), body_yaw=0.2)
    estimator = CueEstimator('coco_wholebody')
    index = 0 if side == 'left' else 1
    for height, raised in ((-0.3, False), (-0.1, False), (0.0, False), (0.1, True),
                           (0.25, True), (0.45, True)):
        kp = pose_person(person, arms={side: raised_arm(person, side, height)})
        for _ in range(5):
            cues = estimator(observe(kp[None], camera, rng, noise_px=1.0), 0, camera=camera)
            assert cues.hand_raised[0, index] == raised, height
            assert not cues.hand_raised[0, 1 - index]


ARM_TARGETS = [(2.0, 0.0, 2.5), (-2.0, -0.5, 2.0), (0.5, 1.2, 1.0), (0.3, -1.5, 2.5)]


@pytest.mark.parametrize('state, expected', [('open', HAND_OPEN), ('fist', HAND_FIST),
                                             ('pointing', HAND_POINTING)])
def test_hand_states_from_finger_geometry(camera: CameraModel, state: str,
                                          expected: int) -> None:
    rng = np.random.default_rng(expected)
    right = 0
    total = 0
    for person in (Person3D((0.0, 0.3, 1.5)), Person3D((0.4, 0.3, 2.0), body_yaw=0.6)):
        for target in ARM_TARGETS:
            kp = pose_person(person, arms={'right': pointing_arm(person, 'right', target)},
                             hands={'right': state})
            for _ in range(5):
                cues = CueEstimator('coco_wholebody')(
                    observe(kp[None], camera, rng, noise_px=0.8, dropout=0.02), 0,
                    camera=camera)
                total += 1
                right += int(cues.hand_state[0, 1] == expected)
                # A wrong state is never claimed, at worst unknown.
                assert cues.hand_state[0, 1] in (expected, HAND_UNKNOWN)
    assert right >= 0.85 * total


def test_unseen_hands_and_body_only_skeletons_are_unknown(camera: CameraModel) -> None:
    rng = np.random.default_rng(9)
    poses = observe(pose_person(Person3D((0.0, 0.3, 1.5)))[None], camera, rng)
    confidence = poses.confidence.copy()
    confidence[0, 112:133] = 0.05
    cues = CueEstimator('coco_wholebody')(replace(poses, confidence=confidence), 0,
                                          camera=camera)
    assert cues.hand_state[0, 1] == HAND_UNKNOWN and cues.hand_state[0, 0] == HAND_OPEN
    coco = Poses(poses.keypoints[:, :17], poses.confidence[:, :17], poses.scores[:, :17],
                 poses.boxes, poses.box_scores, 'coco')
    cues = CueEstimator('coco')(coco, 0, camera=camera)
    assert (cues.hand_state == HAND_UNKNOWN).all() and not cues.hand_raised.any()
