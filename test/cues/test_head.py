"""Head pose and attention against heads turned by known angles, seen through a known camera."""

from __future__ import annotations

import numpy as np
import pytest

from humanpose.cues import CueConfig, CueEstimator
from humanpose.cues.head import (default_intrinsics, face_model, head_rotation,
                                 rotation_matrices, yaw_pitch_roll)
from humanpose.testing.people3d import (Person3D, head_angles_towards, observe, pose_person,
                                        project)
from humanpose.types import CameraModel

#: Noisy views per posed head (1 px noise, 5 % dropouts, faces of other proportions).
TRIALS = 40


def _errors(camera, yaw, pitch, roll=0.0, *, person=None, seed=0, trials=TRIALS,
            estimator_camera='same', skeleton='coco_wholebody', dropout=0.05):
    """Degrees of error (yaw, pitch, roll) over noisy views of one posed head."""
    rng = np.random.default_rng(seed)
    person = person or Person3D((0.1, 0.35, 1.3))
    estimator = CueEstimator(skeleton)
    errors = []
    for _ in range(trials):
        kp = pose_person(person, head_ypr=np.radians([yaw, pitch, roll]),
                         face_scale=rng.uniform(0.9, 1.1), face_jitter_m=0.002, rng=rng)
        poses = observe(kp[None], camera, rng, noise_px=1.0, dropout=dropout)
        if skeleton == 'coco':
            poses = _coco(poses)
        if estimator_camera == 'same':
            cues = estimator(poses, 0, camera=camera)
        else:
            cues = estimator(poses, 0, image_size=(camera.width, camera.height))
        assert cues.has_head_pose[0]
        errors.append(np.degrees(cues.head_ypr_rad[0]) - (yaw, pitch, roll))
    return np.array(errors)


def _coco(poses):
    from humanpose.types import Poses
    return Poses(poses.keypoints[:, :17], poses.confidence[:, :17], poses.scores[:, :17],
                 poses.boxes, poses.box_scores, 'coco')


def test_angle_conventions_follow_rep103_as_seen_in_the_image(camera: CameraModel) -> None:
    """Yaw > 0 = the person's left (image right when facing us), pitch > 0 = looking down."""
    person = Person3D((0.0, 0.35, 1.0))
    front = project(pose_person(person), camera)
    left = project(pose_person(person, head_ypr=np.radians([30, 0, 0])), camera)
    down = project(pose_person(person, head_ypr=np.radians([0, 20, 0])), camera)
    tilt = project(pose_person(person, head_ypr=np.radians([0, 0, 20])), camera)
    nose, eyes = 23 + 30, [23 + 36, 23 + 45]

    def nose_offset(kp):
        return kp[nose] - kp[eyes].mean(axis=0)

    # The nose tip swings towards image right, and down the image when looking down.
    assert nose_offset(left)[0] - nose_offset(front)[0] > 5
    assert nose_offset(down)[1] - nose_offset(front)[1] > 3
    # Rolled to the right: the person's left eye (image right) goes up the image.
    assert tilt[23 + 45, 1] < front[23 + 45, 1] - 5 and tilt[23 + 36, 1] > front[23 + 36, 1]
    for angles in ([0.4, -0.2, 0.1], [-1.0, 0.3, -0.2]):
        assert np.allclose(yaw_pitch_roll(head_rotation(*angles)[None])[0], angles)


@pytest.mark.parametrize('yaw', [-60, -45, -30, -15, 0, 15, 30, 45, 60])
@pytest.mark.parametrize('pitch', [-20, 0, 20])
def test_head_angles_within_5_degrees_up_to_60_of_yaw(camera: CameraModel, yaw: int,
                                                      pitch: int) -> None:
    errors = _errors(camera, yaw, pitch, seed=(yaw + 90) * 100 + pitch + 30)
    median = np.median(np.abs(errors), axis=0)
    assert np.all(median <= 5.0), f'median |error| (yaw, pitch, roll) {median} deg'
    assert np.all(np.abs(errors.mean(axis=0)) <= 4.0)  # the bias of another face shape


def test_roll_and_another_place_in_the_image(camera: CameraModel) -> None:
    person = Person3D((-0.6, 0.2, 1.6), body_yaw=0.4)
    errors = _errors(camera, 20, -10, 15, person=person, seed=7)
    assert np.all(np.median(np.abs(errors), axis=0) <= 5.0)


def test_without_camera_info_a_default_field_of_view_is_used_and_flagged() -> None:
    """A camera of 69 degrees estimated as the default 60: rotations stay close."""
    true_camera = default_intrinsics(640, 480, 69.0)
    errors = _errors(true_camera, 40, 10, estimator_camera='default', seed=3)
    assert np.all(np.median(np.abs(errors), axis=0) <= 6.0)
    rng = np.random.default_rng(0)
    poses = observe(pose_person(Person3D((0.0, 0.35, 1.3)))[None], true_camera, rng)
    cues = CueEstimator('coco_wholebody')(poses, 0, image_size=(640, 480))
    assert cues.intrinsics_assumed
    assert not CueEstimator('coco_wholebody')(poses, 0, camera=true_camera).intrinsics_assumed


def test_coco_body_keypoints_give_a_rougher_head_pose(camera: CameraModel) -> None:
    for yaw in (-30, 0, 30):
        errors = _errors(camera, yaw, 0, skeleton='coco', seed=yaw + 50, dropout=0.0)
        assert np.all(np.median(np.abs(errors[:, :2]), axis=0) <= 8.0)


def test_attention_is_measured_against_the_line_to_the_camera(camera: CameraModel) -> None:
    """At the image border, facing the lens needs a large yaw; facing ahead does not look."""
    person = Person3D((1.0, 0.35, 1.6))
    head = person.point([0.08, 0.0, 0.68])
    to_camera = -head / np.linalg.norm(head)
    yaw, pitch, _ = head_angles_towards(person)
    rng = np.random.default_rng(1)
    estimator = CueEstimator('coco_wholebody')
    facing = observe(pose_person(person, head_ypr=(yaw, pitch, 0.0))[None], camera, rng)
    ahead = observe(pose_person(person)[None], camera, rng)
    c_facing = estimator(facing, 0, camera=camera)
    c_ahead = estimator(ahead, 0, camera=camera)
    assert np.degrees(yaw) < -25  # the camera is on the person's right
    assert np.degrees(c_facing.attention_angle_rad[0]) < 6 and c_facing.looking_at_camera[0]
    assert np.degrees(c_ahead.attention_angle_rad[0]) > 25
    assert not c_ahead.looking_at_camera[0]
    assert np.allclose(np.linalg.norm(c_facing.head_direction[0]), 1.0, atol=1e-5)
    assert np.degrees(np.arccos(np.dot(c_facing.head_direction[0], to_camera))) < 6


def test_looking_threshold_is_a_parameter(camera: CameraModel) -> None:
    rng = np.random.default_rng(2)
    poses = observe(pose_person(Person3D((0.0, 0.35, 1.3)),
                                head_ypr=np.radians([18, 0, 0]))[None], camera, rng)
    assert CueEstimator('coco_wholebody')(poses, 0, camera=camera).looking_at_camera[0]
    strict = CueEstimator('coco_wholebody', CueConfig(looking_max_deg=10.0))
    assert not strict(poses, 0, camera=camera).looking_at_camera[0]


def test_a_hidden_face_gives_no_head_pose(camera: CameraModel) -> None:
    rng = np.random.default_rng(4)
    poses = observe(pose_person(Person3D((0.0, 0.35, 1.3)))[None], camera, rng)
    ids, _ = face_model('coco_wholebody')
    confidence = poses.confidence.copy()
    confidence[0, ids[:-4]] = 0.1  # four landmarks left: fewer than head_min_points
    from dataclasses import replace
    cues = CueEstimator('coco_wholebody')(replace(poses, confidence=confidence), 0,
                                          camera=camera)
    assert not cues.has_head_pose[0] and not cues.looking_at_camera[0]
    assert np.isnan(cues.head_ypr_rad[0]).all() and np.isnan(cues.attention_angle_rad[0])


def test_rodrigues_matches_opencv() -> None:
    import cv2
    rvecs = np.random.default_rng(5).normal(0, 1.0, (6, 3))
    expected = np.array([cv2.Rodrigues(r)[0] for r in rvecs])
    assert np.allclose(rotation_matrices(rvecs), expected, atol=1e-12)
    assert np.allclose(rotation_matrices(np.zeros((1, 3))), np.eye(3))


def test_an_uncalibrated_camera_falls_back_to_the_default_field_of_view(
        camera: CameraModel) -> None:
    rng = np.random.default_rng(6)
    poses = observe(pose_person(Person3D((0.0, 0.35, 1.3)))[None], camera, rng)
    uncalibrated = CameraModel(width=640, height=480, k=np.zeros((3, 3)))
    cues = CueEstimator('coco_wholebody')(poses, 0, camera=uncalibrated)
    assert cues.intrinsics_assumed and cues.has_head_pose[0]
    assert abs(np.degrees(cues.head_ypr_rad[0, 0])) < 6


def test_three_gauss_newton_steps_have_converged(camera: CameraModel) -> None:
    from humanpose.cues.head import solve_pnp
    from humanpose.lift3d import pixel_rays
    rng = np.random.default_rng(8)
    ids, model = face_model('coco_wholebody')
    people = [pose_person(Person3D((rng.uniform(-1, 1), 0.3, rng.uniform(1, 3))),
                          head_ypr=np.radians([yaw, pitch, rng.uniform(-20, 20)]),
                          face_scale=1.05, face_jitter_m=0.002, rng=rng)
              for yaw in range(-70, 71, 10) for pitch in (-30, 0, 30)]
    poses = observe(np.stack(people), camera, rng, noise_px=1.0)
    rays = pixel_rays(poses.keypoints[:, ids], camera)
    weights = np.ones(rays.shape[:2])
    default, _, rms = solve_pnp(model, rays, weights)
    converged, _, _ = solve_pnp(model, rays, weights, iterations=20)
    change = np.degrees(np.abs(yaw_pitch_roll(default) - yaw_pitch_roll(converged)))
    assert change.max() < 0.5 and np.all(rms < 0.01)
