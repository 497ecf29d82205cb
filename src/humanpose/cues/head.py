"""Head pose and attention from face keypoints: PnP against a generic 3D face.

The head frame follows REP-103 for a body: x forward (out of the face), y to the person's
left, z up; its origin is between the eyes. :data:`FACE_MODELS` holds, per skeleton, a few
stable landmarks of an average adult face in that frame (metres; eye corners, nose, mouth
corners and chin for COCO-WholeBody's 68 face points; nose, eyes and ears for COCO's 17).
Each person's visible landmarks are normalised through the camera model (distortion
undone) and :func:`solve_pnp` gives the rotation of the head frame in the camera optical
frame: Gauss-Newton on the reprojection error from a weak-perspective start, all people in
the same array operations (OpenCV's per-call ``solvePnP`` cost about as much per person as
all other cues together). With the cue kernel built (:mod:`humanpose.cues.kernel`),
:func:`estimate_head_poses` runs the same fit person by person in C (``csrc/head.c``):
microseconds instead of the few hundred NumPy calls' fixed half millisecond.

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
from types import ModuleType
from typing import Optional

import numpy as np
from numpy.typing import NDArray

from humanpose.cues import kernel
from humanpose.lift3d import pixel_rays
from humanpose.pose3d import assumed_camera, DEFAULT_HFOV_DEG as POSE3D_DEFAULT_HFOV_DEG
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

_EYE3 = np.eye(3)

#: Horizontal field of view assumed without camera_info: the one monocular 3D assumes.
DEFAULT_HFOV_DEG = POSE3D_DEFAULT_HFOV_DEG


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


@lru_cache(maxsize=None)
def _face_radius(skeleton: str) -> float:
    """Return a tenth of the largest landmark distance from the head origin, metres."""
    return 0.1 * float(np.linalg.norm(face_model(skeleton)[1], axis=1).max(initial=0.0))


def default_intrinsics(width: int, height: int, hfov_deg: float = DEFAULT_HFOV_DEG
                       ) -> CameraModel:
    """Return an undistorted pinhole of ``hfov_deg`` horizontal field of view, square pixels.

    :param width: image width, pixels.
    :param height: image height, pixels.
    :param hfov_deg: horizontal field of view, degrees.
    """
    return assumed_camera(width, height, hfov_deg)


#: Where the components of a unit axis k go in its cross-product matrix [k]x (row, column,
#: component of k, sign): [[0, -kz, ky], [kz, 0, -kx], [-ky, kx, 0]].
_CROSS_ROWS = np.array([0, 0, 1, 1, 2, 2])
_CROSS_COLS = np.array([1, 2, 0, 2, 0, 1])
_CROSS_SRC = np.array([2, 1, 2, 0, 1, 0])
_CROSS_SIGN = np.array([-1.0, 1.0, 1.0, -1.0, -1.0, 1.0])


def rotation_matrices(rvecs: F64) -> F64:
    """Return (N, 3, 3) rotation matrices of (N, 3) rotation vectors (Rodrigues)."""
    theta = np.sqrt(np.einsum('ni,ni->n', rvecs, rvecs))
    k = rvecs / np.where(theta > 1e-12, theta, 1.0)[:, None]
    cross = np.zeros((len(rvecs), 3, 3))
    cross[:, _CROSS_ROWS, _CROSS_COLS] = k[:, _CROSS_SRC] * _CROSS_SIGN
    theta = theta[:, None, None]
    out: F64 = _EYE3 + np.sin(theta) * cross + (1.0 - np.cos(theta)) * (cross @ cross)
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


#: Gauss-Newton steps of :func:`solve_pnp` in :func:`estimate_head_poses`.
GAUSS_NEWTON_ITERATIONS = 3

_EYE4_TINY = 1e-9 * np.eye(4)
_EYE6 = np.eye(6)
_EYE6_TINY = 1e-9 * _EYE6


#: d(R X + t) / d(w, dt) = [-[q]x | I] for q = R X, as q @ _PERTURBATION + _PERTURBATION_CONST
#: ((3,) -> (3, 6) flattened): -[q]x = [[0, qz, -qy], [-qz, 0, qx], [qy, -qx, 0]].
_PERTURBATION = np.zeros((3, 18))
_PERTURBATION[[2, 0, 1], [1, 8, 12]] = 1.0     # (component of q, 6 x row + column)
_PERTURBATION[[1, 2, 0], [2, 6, 13]] = -1.0
_PERTURBATION_CONST = np.concatenate([np.zeros((3, 3)), np.eye(3)], axis=1)


#: Cyclic component orders of a cross product: (a x b)_i = a_j b_k - a_k b_j.
_NEXT = np.array([1, 2, 0])
_AFTER = np.array([2, 0, 1])


def _affine_start(model: F64, rays: F64, weights: F64) -> tuple[F64, F64]:
    """Weak-perspective pose of each person: a weighted affine fit, made a rotation.

    :param model: (M, 3) face model, head frame.
    :param rays: (N, M, 2) normalised image coordinates.
    :param weights: (N, M) 1 for usable landmarks, 0 otherwise.
    :return: rotations (N, 3, 3) and translations (N, 3).
    """
    design = np.concatenate([model, np.ones((len(model), 1))], axis=1)          # (M, 4)
    outer = (design[:, :, None] * design[:, None, :]).reshape(len(model), 16)
    normal = (weights @ outer).reshape(-1, 4, 4) + _EYE4_TINY
    rhs = design.T @ (weights[..., None] * rays)                                # (N, 4, 2)
    affine = np.linalg.solve(normal, rhs)                                        # (N, 4, 2)
    rows = affine[:, :3, :].transpose(0, 2, 1)                                   # (N, 2, 3)
    norms = np.sqrt(np.einsum('nki,nki->nk', rows, rows))                       # (N, 2)
    scale = 0.5 * (norms[:, 0] + norms[:, 1])
    # The nearest orthonormal pair: symmetric about the bisector of the two rows.
    unit = rows / norms[..., None]
    pm = np.stack([unit[:, 0] + unit[:, 1], unit[:, 0] - unit[:, 1]], axis=1)    # (N, 2, 3)
    pm /= np.sqrt(np.einsum('nki,nki->nk', pm, pm))[..., None] * np.sqrt(2.0)
    row1, row2 = pm[:, 0] + pm[:, 1], pm[:, 0] - pm[:, 1]
    row3 = row1[:, _NEXT] * row2[:, _AFTER] - row1[:, _AFTER] * row2[:, _NEXT]   # cross
    rotation = np.stack([row1, row2, row3], axis=1)
    depth = 1.0 / scale
    translation = np.concatenate([affine[:, 3, :] * depth[:, None], depth[:, None]], axis=1)
    return rotation, translation


def solve_pnp(model: F64, rays: F64, weights: F64, iterations: int = GAUSS_NEWTON_ITERATIONS
              ) -> tuple[F64, F64, F64]:
    """Head poses of N people at once: the maximum-likelihood perspective-n-point fit.

    Gauss-Newton on the reprojection error (the likelihood under pixel noise), from a
    weak-perspective start (an affine fit, made a rotation), every person in the same
    array operations: no per-person Python or solver calls. The Jacobian is written out in
    closed form (a dozen products of the projected points), not built from matrices.

    :param model: (M, 3) landmark positions in the head frame, metres.
    :param rays: (N, M, 2) normalised image coordinates (x/z, y/z) of the landmarks.
    :param weights: (N, M) 1 where a landmark is usable, 0 where not.
    :param iterations: Gauss-Newton steps (from the weak-perspective start, faces converge
        in 2-3: more change the angles by less than half a degree, tested).
    :return: rotations (N, 3, 3) head -> camera, translations (N, 3) metres, and the
        RMS reprojection error (N,) in normalised units.
    """
    rays = np.where(weights[..., None] > 0, rays, 0.0)
    rotation, translation = _affine_start(model, rays, weights)
    sqrt_w = np.sqrt(weights)                                                     # (N, M)
    count = np.maximum(weights.sum(axis=1), 1.0)
    n, m = weights.shape
    for _ in range(iterations):
        rotated = model @ rotation.transpose(0, 2, 1)                            # (N, M, 3)
        points = rotated + translation[:, None, :]
        z = points[..., 2]
        z = np.where(np.abs(z) > 1e-9, z, 1e-9)
        proj = points[..., :2] / z[..., None]                                    # (N, M, 2)
        residual = (proj - rays) * sqrt_w[..., None]
        # Left perturbation R <- exp(w) R, t <- t + dt: d(R X + t) = G (w, dt) with
        # G = [-[R X]x | I] (linear in R X), and d(x/z, y/z) = (G_xy - (x/z, y/z) G_z) / z.
        g = (rotated @ _PERTURBATION).reshape(n, m, 3, 6) + _PERTURBATION_CONST
        jac = (g[..., :2, :] - proj[..., None] * g[..., 2:, :]) * (sqrt_w / z)[..., None, None]
        flat = jac.reshape(n, -1, 6)
        hessian = flat.transpose(0, 2, 1) @ flat
        hessian += _EYE6_TINY + 1e-6 * np.einsum('nii->n', hessian)[:, None, None] * _EYE6
        step = -np.linalg.solve(hessian, flat.transpose(0, 2, 1) @ residual.reshape(n, -1, 1))
        rotation = rotation_matrices(step[:, :3, 0]) @ rotation
        translation = translation + step[:, 3:, 0]
    rotated = model @ rotation.transpose(0, 2, 1) + translation[:, None, :]
    with np.errstate(invalid='ignore', divide='ignore'):
        proj = rotated[..., :2] / rotated[..., 2:3]
        rms: F64 = np.sqrt(np.sum(weights[..., None] * (proj - rays) ** 2, axis=(1, 2)) / count)
    return rotation, translation, rms


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
    c_kernel = kernel.KERNEL
    if c_kernel is not None:
        fast = _head_poses_kernel(c_kernel, keypoints, confidence, skeleton, camera, rectified,
                                  image_size, min_confidence, min_points)
        if fast is not None:
            return fast
    return _head_poses_numpy(keypoints, confidence, skeleton, camera, rectified, image_size,
                             min_confidence, min_points)


#: Dtypes the kernel reads as they are (others are NumPy's business, see below).
_KERNEL_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


@lru_cache(maxsize=None)
def _kernel_face(skeleton: str) -> tuple[NDArray[np.intp], F64, float]:
    """Return the face model of ``skeleton`` as the kernel reads it: ids, points, radius."""
    ids, model = face_model(skeleton)
    return np.ascontiguousarray(ids, np.intp), np.ascontiguousarray(model), _face_radius(skeleton)


def _head_poses_kernel(c_kernel: ModuleType, keypoints: NDArray[np.floating],
                       confidence: NDArray[np.floating], skeleton: str, camera: CameraModel,
                       rectified: bool, image_size: Optional[tuple[int, int]],
                       min_confidence: float, min_points: int) -> Optional[HeadPoses]:
    """:func:`estimate_head_poses` in the C kernel; None where NumPy must do it.

    The kernel maps pixels through K (or P) itself; only a distorted raw image needs
    :func:`~humanpose.lift3d.pixel_rays` (NumPy's undistortion) first. None for a camera
    matrix that cannot map pixels (NumPy raises the error) and for confidences of another
    dtype than float32/float64 (NumPy compares those in their own precision).
    """
    kp = np.ascontiguousarray(keypoints)
    conf = np.ascontiguousarray(confidence)
    if conf.dtype not in _KERNEL_FLOATS:
        return None
    if kp.dtype not in _KERNEL_FLOATS:
        kp = kp.astype(np.float64)  # what pixel_rays reads
    if conf.dtype == np.float32 and type(min_confidence) is not float and \
            np.result_type(conf, min_confidence) != np.float32:
        conf = conf.astype(np.float64)  # NumPy 2 compares with a float64 scalar in float64
    ids, model, radius = _kernel_face(skeleton)
    n = len(kp)
    size = (camera.width, camera.height)
    ratio_x, ratio_y = ((size[0] / image_size[0], size[1] / image_size[1])
                        if image_size and image_size != size else (1.0, 1.0))
    rays = None
    if not rectified and np.count_nonzero(camera.d) and n and len(ids) >= max(min_points, 3):
        rays = np.ascontiguousarray(pixel_rays(kp[:, ids], camera, image_size=image_size))
    valid = np.empty(n, bool)
    rotation = np.empty((n, 3, 3))
    translation, ypr, direction = np.empty((n, 3)), np.empty((n, 3)), np.empty((n, 3))
    attention = np.empty(n)
    matrix = np.ascontiguousarray(camera.p if rectified else camera.k)  # P: its K block
    done = c_kernel.head_poses(
        kp, conf, n, kp.shape[1] if kp.ndim > 1 else 0, ids, model, min_confidence,
        min_points, GAUSS_NEWTON_ITERATIONS, radius, matrix, ratio_x, ratio_y, rays, valid,
        rotation, translation, ypr, direction, attention)
    if not done:
        return None
    return HeadPoses(valid, rotation, ypr, direction, translation, attention)


def _head_poses_numpy(keypoints: NDArray[np.floating], confidence: NDArray[np.floating],
                      skeleton: str, camera: CameraModel, rectified: bool,
                      image_size: Optional[tuple[int, int]], min_confidence: float,
                      min_points: int) -> HeadPoses:
    """:func:`estimate_head_poses` in NumPy: all people in the same array operations."""
    n = len(keypoints)
    ids, model = face_model(skeleton)
    valid = np.zeros(n, bool)
    out = [np.full((n, 3, 3), np.nan), np.full((n, 3), np.nan), np.full((n, 3), np.nan),
           np.full((n, 3), np.nan), np.full(n, np.nan)]
    if n and len(ids) >= max(min_points, 3):
        rays = pixel_rays(np.asarray(keypoints)[:, ids], camera, rectified=rectified,
                          image_size=image_size)                                   # (N, M, 2)
        usable = (np.asarray(confidence)[:, ids] >= min_confidence) & \
            np.isfinite(rays).all(axis=-1)
        fit = usable.sum(axis=1) >= max(min_points, 4)
        everyone = bool(fit.all())
        if everyone or fit.any():
            if not everyone:
                rays, usable = rays[fit], usable[fit]
            r, t, rms = solve_pnp(model, rays, usable.astype(np.float64),
                                  GAUSS_NEWTON_ITERATIONS)
            # In front of the camera, converged (a face's landmarks reproject within a
            # few percent of its size; a failed fit does not).
            direction = r[:, :, 0]
            with np.errstate(invalid='ignore', divide='ignore'):
                ok = np.isfinite(rms) & (t[:, 2] > 0) & np.isfinite(r).all(axis=(1, 2)) & \
                    (rms < _face_radius(skeleton) / np.maximum(t[:, 2], 1e-9))
                cos = -np.einsum('ni,ni->n', direction, t) / np.sqrt(np.einsum('ni,ni->n', t, t))
            fitted = [r, t, yaw_pitch_roll(r), direction,
                      np.arccos(np.clip(cos, -1.0, 1.0))]
            if everyone and ok.all():
                valid[:] = True
                out = fitted
            else:
                index = np.flatnonzero(fit)[ok]
                valid[index] = True
                for full, part in zip(out, fitted):
                    full[index] = part[ok]
    rotation, translation, ypr, direction, attention = out
    return HeadPoses(valid, rotation, ypr, direction, translation, attention)
