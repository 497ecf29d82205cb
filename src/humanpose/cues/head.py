"""Head pose and attention from face keypoints: PnP against a generic 3D face.

The head frame follows REP-103 for a body: x forward (out of the face), y to the person's
left, z up; its origin is between the eyes. :data:`FACE_MODELS` holds, per skeleton, a few
stable landmarks of an average adult face in that frame (metres; eye corners, nose, mouth
corners and chin for COCO-WholeBody's 68 face points; nose, eyes and ears for COCO's 17).
Each person's visible landmarks are normalised through the camera model (distortion
undone) and OpenCV's ``solvePnP`` (SQPnP, a globally optimal solver) gives the rotation of
the head frame in the camera optical frame.

Angles are reported relative to facing the camera squarely (head x = -camera z, head y =
camera x, head z = -camera y) as intrinsic Z-Y-X (yaw, pitch, roll), the REP-103 rule:
yaw > 0 the person turned their head to their left, pitch > 0 looking down, roll > 0 the
head tilted towards the right shoulder. The *attention angle* is the angle between the
face direction (head x) and the line from the head to the camera centre, so someone at the
image border who looks into the lens has an attention angle near 0 while their yaw is not.

Without a camera model the intrinsics are those of a pinhole with the image size and a
default horizontal field of view (:func:`default_intrinsics`); the result says so
(``Cues.intrinsics_assumed``). Head rotation depends little on the focal length (faces
are small and far), the metric head position much more, which is why humanpose takes the
position from 3D keypoints only.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Optional

import numpy as np
from numpy.typing import NDArray

from humanpose.lift3d import pixel_rays
from humanpose.skeletons import get_skeleton
from humanpose.types import CameraModel

F64 = NDArray[np.float64]
B = NDArray[np.bool_]

#: Generic face landmarks per skeleton: keypoint name -> (x forward, y left, z up) metres in
#: the head frame. Averages of adult anthropometry (eye corners 9 and 3.2 cm apart, mouth
#: 5 cm wide, nose tip 2.8 cm ahead of the eyes, chin 12 cm below them); a real face
#: differs by millimetres, which costs a few degrees at most (tested with other faces).
#: Landmarks that move with expressions or slide along the outline as the head turns
#: (brows, jaw line, lower lip) are left out; many points average the keypoint noise.
FACE_MODELS: dict[str, dict[str, tuple[float, float, float]]] = {
    'coco_wholebody': {
        'face-36': (-0.020, -0.045, 0.000),   # right eye: outer corner,
        'face-37': (-0.011, -0.037, 0.004),   # upper lid,
        'face-38': (-0.008, -0.024, 0.004),
        'face-39': (-0.005, -0.016, 0.000),   # inner corner,
        'face-40': (-0.008, -0.024, -0.004),  # lower lid
        'face-41': (-0.011, -0.037, -0.004),
        'face-42': (-0.005, 0.016, 0.000),    # left eye: inner corner, ...
        'face-43': (-0.008, 0.024, 0.004),
        'face-44': (-0.011, 0.037, 0.004),
        'face-45': (-0.020, 0.045, 0.000),
        'face-46': (-0.011, 0.037, -0.004),
        'face-47': (-0.008, 0.024, -0.004),
        'face-27': (0.002, 0.000, 0.008),     # nose bridge, top to tip
        'face-28': (0.011, 0.000, -0.008),
        'face-29': (0.020, 0.000, -0.024),
        'face-30': (0.028, 0.000, -0.040),
        'face-31': (0.002, -0.016, -0.049),   # nostril wings and below the nose
        'face-33': (0.012, 0.000, -0.052),
        'face-35': (0.002, 0.016, -0.049),
        'face-48': (-0.006, -0.025, -0.073),  # mouth corners, upper lip
        'face-51': (0.006, 0.000, -0.064),
        'face-54': (-0.006, 0.025, -0.073),
        'face-8': (-0.004, 0.000, -0.118),    # chin
    },
    'coco': {
        'nose': (0.028, 0.000, -0.040),
        'left_eye': (-0.010, 0.031, 0.000),
        'right_eye': (-0.010, -0.031, 0.000),
        'left_ear': (-0.090, 0.072, -0.030),
        'right_ear': (-0.090, -0.072, -0.030),
    },
}

#: Head frame axes in the camera optical frame when the person faces the camera squarely:
#: columns = head x (forward, towards the camera), y (person's left = image right), z (up).
FACING_CAMERA = np.array([[0.0, 1.0, 0.0],
                          [0.0, 0.0, -1.0],
                          [-1.0, 0.0, 0.0]])

#: Horizontal field of view assumed without camera_info (a common webcam / RGB-D colour).
DEFAULT_HFOV_DEG = 60.0


@lru_cache(maxsize=None)
def face_model(skeleton: str) -> tuple[NDArray[np.intp], F64]:
    """Return the keypoint ids and (M, 3) head-frame positions of ``skeleton``'s face model.

    A skeleton without a table gets an empty model (no head pose).
    """
    table = FACE_MODELS.get(skeleton, {})
    sk = get_skeleton(skeleton)
    ids = np.array([sk.index(name) for name in table], np.intp)
    points = np.array(list(table.values()), np.float64).reshape(-1, 3)
    ids.setflags(write=False)
    points.setflags(write=False)
    return ids, points


def default_intrinsics(width: int, height: int, hfov_deg: float = DEFAULT_HFOV_DEG
                       ) -> CameraModel:
    """Return an undistorted pinhole of ``hfov_deg`` horizontal field of view, square pixels.

    :param width: image width, pixels.
    :param height: image height, pixels.
    :param hfov_deg: horizontal field of view, degrees.
    """
    f = (width / 2.0) / np.tan(np.radians(hfov_deg) / 2.0)
    return CameraModel.from_intrinsics(width, height, f, f, (width - 1) / 2.0,
                                       (height - 1) / 2.0)


def rotation_matrices(rvecs: F64) -> F64:
    """Return (N, 3, 3) rotation matrices of (N, 3) rotation vectors (Rodrigues)."""
    theta = np.linalg.norm(rvecs, axis=-1)[:, None, None]
    safe = np.where(theta > 1e-12, theta, 1.0)
    k = rvecs[:, :, None] / safe
    kx, ky, kz = k[:, 0, 0], k[:, 1, 0], k[:, 2, 0]
    zero = np.zeros_like(kx)
    cross = np.stack([np.stack([zero, -kz, ky], -1), np.stack([kz, zero, -kx], -1),
                      np.stack([-ky, kx, zero], -1)], -2)
    eye = np.broadcast_to(np.eye(3), cross.shape)
    out: F64 = eye + np.sin(theta) * cross + (1.0 - np.cos(theta)) * (cross @ cross)
    return out


def yaw_pitch_roll(rotations: F64) -> F64:
    """Return (N, 3) yaw, pitch, roll (rad) of head rotations in the camera frame.

    :param rotations: (N, 3, 3) head frame -> camera optical frame.
    :return: intrinsic Z-Y-X angles of the rotation relative to :data:`FACING_CAMERA`.
    """
    rel = FACING_CAMERA.T @ rotations
    yaw = np.arctan2(rel[:, 1, 0], rel[:, 0, 0])
    pitch = np.arcsin(np.clip(-rel[:, 2, 0], -1.0, 1.0))
    roll = np.arctan2(rel[:, 2, 1], rel[:, 2, 2])
    out: F64 = np.stack([yaw, pitch, roll], axis=-1)
    return out


def head_rotation(yaw: float, pitch: float, roll: float) -> F64:
    """Return the (3, 3) head rotation in the camera frame for given angles (rad).

    The inverse of :func:`yaw_pitch_roll`; used to pose synthetic heads.
    """
    cy, sy, cp, sp, cr, sr = (np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch),
                              np.cos(roll), np.sin(roll))
    rz = np.array([[cy, -sy, 0.0], [sy, cy, 0.0], [0.0, 0.0, 1.0]])
    ry = np.array([[cp, 0.0, sp], [0.0, 1.0, 0.0], [-sp, 0.0, cp]])
    rx = np.array([[1.0, 0.0, 0.0], [0.0, cr, -sr], [0.0, sr, cr]])
    out: F64 = FACING_CAMERA @ rz @ ry @ rx
    return out


@dataclass(frozen=True)
class HeadPoses:
    """Head poses of N people.

    :param valid: (N,) a pose was found (enough face landmarks).
    :param rotation: (N, 3, 3) head frame -> camera optical frame; NaN where invalid.
    :param ypr_rad: (N, 3) yaw, pitch, roll (see the module docstring).
    :param direction: (N, 3) unit face direction (head x) in the camera frame.
    :param translation: (N, 3) head origin in the camera frame, metres, for an average
        face size (scale uncertain; its direction is exact).
    :param attention_rad: (N,) angle between ``direction`` and the head-to-camera line.
    """

    valid: B
    rotation: F64
    ypr_rad: F64
    direction: F64
    translation: F64
    attention_rad: F64


def estimate_head_poses(keypoints: NDArray[np.floating], confidence: NDArray[np.floating],
                        skeleton: str, camera: CameraModel, *, rectified: bool = False,
                        image_size: Optional[tuple[int, int]] = None,
                        min_confidence: float = 0.3, min_points: int = 5) -> HeadPoses:
    """Fit the generic face of ``skeleton`` to each person's face keypoints.

    :param keypoints: (N, K, 2) pixels.
    :param confidence: (N, K) in [0, 1].
    :param skeleton: keypoint layout name (chooses the face model).
    :param camera: camera model of the image (or :func:`default_intrinsics`).
    :param rectified: the pixels are of the rectified image (P, no distortion).
    :param image_size: (width, height) of the image when it differs from the calibration.
    :param min_confidence: landmarks below this confidence are left out of the fit.
    :param min_points: fewer usable landmarks = no head pose.
    :return: the head poses (NaN where not found).
    """
    import cv2

    n = len(keypoints)
    ids, model = face_model(skeleton)
    rotation = np.full((n, 3, 3), np.nan)
    translation = np.full((n, 3), np.nan)
    valid = np.zeros(n, bool)
    if n and len(ids) >= max(min_points, 3):
        rays = pixel_rays(np.asarray(keypoints)[:, ids], camera, rectified=rectified,
                          image_size=image_size)                                   # (N, M, 2)
        usable = (np.asarray(confidence)[:, ids] >= min_confidence) & \
            np.isfinite(rays).all(axis=-1)
        eye = np.eye(3)
        rvecs = np.full((n, 3), np.nan)
        for i in np.flatnonzero(usable.sum(axis=1) >= max(min_points, 3)):
            use = usable[i]
            try:
                ok, rvec, tvec = cv2.solvePnP(model[use], rays[i, use], eye, None,
                                              flags=cv2.SOLVEPNP_SQPNP)
            except cv2.error:  # degenerate configuration (e.g. collinear landmarks)
                continue
            if ok and tvec[2, 0] > 0:
                valid[i] = True
                rvecs[i] = rvec[:, 0]
                translation[i] = tvec[:, 0]
        if valid.any():
            rotation[valid] = rotation_matrices(rvecs[valid])
    ypr = np.full((n, 3), np.nan)
    direction = np.full((n, 3), np.nan)
    attention = np.full(n, np.nan)
    if valid.any():
        ypr[valid] = yaw_pitch_roll(rotation[valid])
        direction[valid] = rotation[valid][:, :, 0]
        to_camera = -translation[valid] / np.linalg.norm(translation[valid], axis=1,
                                                         keepdims=True)
        cos = np.clip(np.sum(direction[valid] * to_camera, axis=1), -1.0, 1.0)
        attention[valid] = np.arccos(cos)
    return HeadPoses(valid, rotation, ypr, direction, translation, attention)
