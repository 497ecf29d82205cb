"""ROS4HRI (REP-155) views of the poses, as arrays (pure NumPy, no ROS).

What a ROS4HRI body detector publishes, computed from one image's :class:`Poses`:

- the 18-point ``hri_msgs/Skeleton2D`` of each person (:func:`skeleton2d`): x, y
  normalised to [0, 1] and a confidence, in the order of the message's index constants
  (NOSE = 0, NECK = 1, ... LEFT_EYE = 14, RIGHT_EYE = 15, LEFT_EAR = 16, RIGHT_EAR = 17;
  the left eye comes first, unlike OpenPose). COCO has no neck: it is the shoulders'
  midpoint with the lower of their two confidences, as ROS4HRI's reference detector does;
- the normalised region of interest (``hri_msgs/NormalizedRegionOfInterest2D``) of each
  person box (:func:`normalised_rois`) and the pixel window a ``cropped`` image takes
  (:func:`crop_windows`);
- the TF frames of each body (:func:`body_frames`): ``body_<id>`` at the hips' midpoint,
  x forward (out of the body), y to the person's left, z up towards the head (REP-103 body
  convention, not the optical frame), parented to the sensor frame; and, parented to it,
  the head and the main joints under the link names of ROS4HRI's human model
  (``human_description``): ``torso``, ``head``, ``l_shoulder`` ... ``r_ankle``.

Normalised coordinates: the image spans [0, 1] from its left / top edge to its right /
bottom edge. Our pixel coordinates put the centre of the top-left pixel at (0, 0), so
``u = (x + 0.5) / width`` (and ``floor(u * width)`` is the pixel again). Values outside the
image are clipped to [0, 1], as the message demands.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Optional

import numpy as np
from numpy.typing import NDArray

from humanpose.errors import InvalidInputError
from humanpose.skeletons import get_skeleton
from humanpose.types import Poses

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]

#: hri_msgs/Skeleton2D points in the order of its index constants (index = constant).
SKELETON2D_POINTS: tuple[str, ...] = (
    'nose', 'neck', 'right_shoulder', 'right_elbow', 'right_wrist', 'left_shoulder',
    'left_elbow', 'left_wrist', 'right_hip', 'right_knee', 'right_ankle', 'left_hip',
    'left_knee', 'left_ankle', 'left_eye', 'right_eye', 'left_ear', 'right_ear')
#: Skeleton2D points made from two keypoints (midpoint, lower confidence), not one.
DERIVED_POINTS: dict[str, tuple[str, str]] = {'neck': ('left_shoulder', 'right_shoulder')}

#: TF frames of a body besides ``body_<id>`` (REP-155 / human_description link names,
#: published with the suffix ``_<id>``): frame -> keypoints whose mean is its origin, in
#: order of preference (the first set whose keypoints all have 3D is used).
JOINT_FRAMES: tuple[tuple[str, tuple[tuple[str, ...], ...]], ...] = (
    ('torso', (('left_shoulder', 'right_shoulder'),)),
    # REP-155 puts the face frame at the sellion (about the eyes' midpoint); head_<id>
    # should agree with it.
    ('head', (('left_eye', 'right_eye'), ('nose',), ('left_ear', 'right_ear'))),
    ('l_shoulder', (('left_shoulder',),)), ('r_shoulder', (('right_shoulder',),)),
    ('l_elbow', (('left_elbow',),)), ('r_elbow', (('right_elbow',),)),
    ('l_wrist', (('left_wrist',),)), ('r_wrist', (('right_wrist',),)),
    ('l_hip', (('left_hip',),)), ('r_hip', (('right_hip',),)),
    ('l_knee', (('left_knee',),)), ('r_knee', (('right_knee',),)),
    ('l_ankle', (('left_ankle',),)), ('r_ankle', (('right_ankle',),)),
)
JOINT_FRAME_NAMES: tuple[str, ...] = tuple(name for name, _ in JOINT_FRAMES)

#: Keypoints the body and head axes are made from.
_BODY_POINTS = ('left_shoulder', 'right_shoulder', 'left_hip', 'right_hip', 'nose', 'left_eye',
                'right_eye', 'left_ear', 'right_ear')
_YZX = np.array([1, 2, 0])
_ZXY = np.array([2, 0, 1])
#: Smallest length (m) of a direction the body axes are made from.
_MIN_AXIS_M = 1e-3


def body_id(track_id: str) -> str:
    """Return the ROS4HRI body id of a track id: ``'b'`` + the id (``'7'`` -> ``'b7'``).

    Body ids name topics (``/humans/bodies/<id>/roi``) and TF frames (``body_<id>``); a ROS 2
    name token must not start with a digit, and our track ids are numbers.
    """
    return f'b{track_id}'


@lru_cache(maxsize=64)
def _indices(skeleton: str, names: tuple[str, ...]) -> NDArray[np.intp]:
    try:
        layout = get_skeleton(skeleton)
        found = np.array([layout.index(name) for name in names], np.intp)
        found.setflags(write=False)  # cached: shared by every caller
        return found
    except Exception as err:
        raise InvalidInputError(
            f'skeleton {skeleton!r} lacks the COCO body keypoints ROS4HRI needs ({err}); '
            'use a COCO or COCO-WholeBody pose model') from err


@lru_cache(maxsize=8)
def skeleton2d_sources(skeleton: str) -> NDArray[np.intp]:
    """Return (18,) keypoint index of each Skeleton2D point in ``skeleton``; -1 = derived."""
    direct = tuple(name for name in SKELETON2D_POINTS if name not in DERIVED_POINTS)
    found = dict(zip(direct, _indices(skeleton, direct).tolist()))
    sources = np.array([found.get(name, -1) for name in SKELETON2D_POINTS], np.intp)
    sources.setflags(write=False)  # cached: shared by every caller
    return sources


def normalise_xy(xy: NDArray[np.floating], width: int, height: int) -> F32:
    """Return pixel coordinates (..., 2) as normalised image coordinates in [0, 1]."""
    scale = np.array([1.0 / width, 1.0 / height], np.float32)
    out: F32 = np.clip((np.asarray(xy, np.float32) + 0.5) * scale, 0.0, 1.0)
    return out


def skeleton2d(poses: Poses, width: int, height: int) -> F32:
    """Return (N, 18, 3) float32 Skeleton2D points: normalised x, y and confidence.

    :param poses: one image's poses (a COCO-17 or COCO-WholeBody layout).
    :param width: image width in pixels.
    :param height: image height in pixels.
    :raises InvalidInputError: the layout has no COCO body keypoints.
    """
    src = skeleton2d_sources(poses.skeleton)
    points = np.empty((len(poses), len(SKELETON2D_POINTS), 3), np.float32)
    take = np.where(src >= 0, src, 0)
    points[..., :2] = normalise_xy(poses.keypoints[:, take], width, height)
    points[..., 2] = np.clip(poses.confidence[:, take], 0.0, 1.0)
    for name, (a, b) in DERIVED_POINTS.items():
        i, j = _indices(poses.skeleton, (a, b)).tolist()
        out = SKELETON2D_POINTS.index(name)
        mid = 0.5 * (poses.keypoints[:, i] + poses.keypoints[:, j])
        points[:, out, :2] = normalise_xy(mid, width, height)
        points[:, out, 2] = np.clip(np.minimum(poses.confidence[:, i], poses.confidence[:, j]),
                                    0.0, 1.0)
    return points


def normalised_rois(poses: Poses, width: int, height: int) -> F32:
    """Return (N, 5) float32 ROIs: normalised xmin, ymin, xmax, ymax and the person score.

    The region is the person box the pose was estimated in (``poses.boxes``).
    """
    rois = np.empty((len(poses), 5), np.float32)
    rois[:, :4] = normalise_xy(poses.boxes.reshape(-1, 2, 2), width, height).reshape(-1, 4)
    rois[:, 4] = np.clip(poses.box_scores, 0.0, 1.0)
    return rois


def crop_windows(boxes: NDArray[np.floating], width: int, height: int) -> NDArray[np.intp]:
    """Return (N, 4) pixel windows x0, y0, x1, y1 (end exclusive) of the person boxes.

    A window holds the pixels whose centres lie in the box, clipped to the image, and at
    least one pixel: ``image[y0:y1, x0:x1]`` is the person's ``cropped`` image.
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    size = np.array([width, height], np.intp)
    start = np.clip(np.ceil(boxes[:, :2]).astype(np.intp), 0, size - 1)
    end = np.clip(np.floor(boxes[:, 2:]).astype(np.intp) + 1, start + 1, size)
    return np.concatenate([start, end], axis=1)


@dataclass(frozen=True)
class BodyFrames:
    """TF frames of the bodies of one image (see :func:`body_frames`).

    :param valid: (N,) bool, the body has a ``body_<id>`` frame (both hips have 3D).
    :param origin: (N, 3) float64 metres, hips' midpoint in the sensor (optical) frame.
    :param rotation: (N, 3, 3) float64, columns = the body's x (forward), y (left), z (up)
        axes in the sensor frame.
    :param quaternion: (N, 4) float64 x, y, z, w of ``rotation``.
    :param joints: (N, J, 3) float64 metres, each joint frame's origin in the body frame
        (:data:`JOINT_FRAME_NAMES` order).
    :param joint_valid: (N, J) bool, the joint frame exists (its keypoints have 3D).
    :param joint_quaternion: (N, J, 4) float64 x, y, z, w of each joint frame in the body
        frame: identity for the joints (their rotation is not estimated), the head's
        orientation from the face keypoints for ``head``.
    """

    valid: NDArray[np.bool_]
    origin: F64
    rotation: F64
    quaternion: F64
    joints: F64
    joint_valid: NDArray[np.bool_]
    joint_quaternion: F64


def _unit(v: F64) -> tuple[F64, NDArray[np.bool_]]:
    """Return ``v`` (..., 3) normalised and whether it was long enough to normalise."""
    length = np.linalg.norm(v, axis=-1, keepdims=True)
    ok = length[..., 0] > _MIN_AXIS_M
    return v / np.where(length > _MIN_AXIS_M, length, 1.0), ok


def _cross(a: F64, b: F64) -> F64:
    """Return the cross products of (..., 3) vectors (np.cross costs 10x more on small arrays)."""
    c: F64 = a[..., _YZX] * b[..., _ZXY] - a[..., _ZXY] * b[..., _YZX]
    return c


def _mean_of(points: F64, valid: NDArray[np.bool_], idx: NDArray[np.intp]
             ) -> tuple[F64, NDArray[np.bool_]]:
    """Mean of keypoints ``idx`` per person (N, 3), valid where all of them are."""
    mean: F64 = points[:, idx].mean(axis=1)
    every: NDArray[np.bool_] = np.all(valid[:, idx], axis=1)
    return mean, every


@lru_cache(maxsize=8)
def _joint_table(skeleton: str) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Return the keypoint pairs of every joint-frame alternative and the alternatives.

    :return: (A, 2) keypoint indices of each alternative (one keypoint: twice), and (J, M)
        alternative numbers of each joint frame in order of preference (-1 = none).
    """
    pairs: list[tuple[int, int]] = []
    longest = max(len(alternatives) for _, alternatives in JOINT_FRAMES)
    choice = np.full((len(JOINT_FRAMES), longest), -1, np.intp)
    for j, (_, alternatives) in enumerate(JOINT_FRAMES):
        for m, keypoints in enumerate(alternatives):
            idx = _indices(skeleton, keypoints).tolist()
            choice[j, m] = len(pairs)
            pairs.append((idx[0], idx[-1]))
    table = np.array(pairs, np.intp)
    for array in (table, choice):
        array.setflags(write=False)  # cached: shared by every caller
    return table, choice


def _frame_from_up_left(up: F64, left: F64, fallback_up: F64, fallback_left: F64) -> F64:
    """Return (N, 3, 3) right-handed axes (x forward, y left, z up) from two directions.

    z follows ``up``; y is ``left`` made perpendicular to it; x = y x z. Directions too
    short to use are replaced by the fallbacks.
    """
    z, ok = _unit(up)
    z = np.where(ok[:, None], z, fallback_up)
    y = left - np.sum(left * z, axis=1, keepdims=True) * z
    y, ok = _unit(y)
    if not ok.all():
        alt = fallback_left - np.sum(fallback_left * z, axis=1, keepdims=True) * z
        y = np.where(ok[:, None], y, _unit(alt)[0])
    x = _cross(y, z)
    return np.stack([x, y, z], axis=-1)


def _quaternions(rotation: F64) -> F64:
    """Return (..., 4) x, y, z, w of rotation matrices (..., 3, 3)."""
    from scipy.spatial.transform import Rotation

    shape = rotation.shape[:-2]
    if not int(np.prod(shape)):
        return np.zeros((*shape, 4), np.float64)
    flat = Rotation.from_matrix(rotation.reshape(-1, 3, 3)).as_quat()
    return np.asarray(flat, np.float64).reshape(*shape, 4)


def body_frames(poses: Poses, min_confidence: float = 0.0) -> Optional[BodyFrames]:
    """Return the TF frames of every body from its 3D keypoints, or None without 3D.

    The body frame sits at the hips' midpoint (a body without 3D on both hips has none).
    Its z axis points from there to the shoulders' midpoint (towards the head); its y axis
    to the person's left, along the mean of the hip and shoulder lines made perpendicular
    to z; x = y x z points out of the body's front. Without shoulders z is the camera's up
    (-y of the optical frame). Joint frames sit at their keypoints (``torso`` at the
    shoulders' midpoint, ``head`` at the eyes' midpoint, else the nose, else the ears'),
    with the body's orientation; the head frame turns with the face where eyes or ears and
    the nose have 3D (x from the ears' midpoint to the nose, y from the right to the left
    eye or ear).

    :param poses: one image's poses with ``keypoints_3d`` (sensor optical frame, metres).
    :param min_confidence: a keypoint counts as 3D when its ``confidence_3d`` is above this
        (and its position finite).
    """
    if poses.keypoints_3d is None or poses.confidence_3d is None:
        return None
    n = len(poses)
    pts = np.asarray(poses.keypoints_3d, np.float64)
    valid = (np.asarray(poses.confidence_3d) > min_confidence) & np.isfinite(pts).all(axis=-1)
    pts = np.where(valid[..., None], pts, 0.0)
    idx = dict(zip(_BODY_POINTS, _indices(poses.skeleton, _BODY_POINTS).tolist()))
    hips = np.array([idx['left_hip'], idx['right_hip']], np.intp)
    shoulders = np.array([idx['left_shoulder'], idx['right_shoulder']], np.intp)
    origin, has_body = _mean_of(pts, valid, hips)
    neck, has_neck = _mean_of(pts, valid, shoulders)
    camera_up = np.broadcast_to(np.array([0.0, -1.0, 0.0]), (n, 3))
    camera_right = np.broadcast_to(np.array([1.0, 0.0, 0.0]), (n, 3))
    up = np.where(has_neck[:, None], neck - origin, camera_up)
    left = pts[:, idx['left_hip']] - pts[:, idx['right_hip']]
    left = left + np.where(has_neck[:, None],
                           pts[:, idx['left_shoulder']] - pts[:, idx['right_shoulder']], 0.0)
    # Fallback left: facing the camera, the person's left is the image's right.
    rotation = _frame_from_up_left(up, left, camera_up, camera_right)

    # Every alternative of every joint frame at once, then the first one with 3D.
    pairs, choice = _joint_table(poses.skeleton)
    candidates = 0.5 * (pts[:, pairs[:, 0]] + pts[:, pairs[:, 1]])       # (N, A, 3)
    candidate_ok = valid[:, pairs[:, 0]] & valid[:, pairs[:, 1]]          # (N, A)
    usable = candidate_ok[:, np.maximum(choice, 0)] & (choice >= 0)       # (N, J, M)
    first = np.take_along_axis(np.broadcast_to(choice, usable.shape),
                               usable.argmax(axis=2)[..., None], axis=2)  # (N, J, 1)
    joints = np.take_along_axis(candidates, first, axis=1)                # (N, J, 3)
    joint_valid = usable.any(axis=2)
    # Joint origins in the body frame: R^T (p - o).
    joints = np.einsum('nji,nkj->nki', rotation, joints - origin[:, None, :])
    joint_valid &= has_body[:, None]

    head_rotation = np.broadcast_to(np.eye(3), (n, 3, 3)).copy()
    ears, has_ears = _mean_of(pts, valid, np.array([idx['left_ear'], idx['right_ear']]))
    eye_line = pts[:, idx['left_eye']] - pts[:, idx['right_eye']]
    ear_line = pts[:, idx['left_ear']] - pts[:, idx['right_ear']]
    has_eyes = valid[:, idx['left_eye']] & valid[:, idx['right_eye']]
    face_left = np.where(has_eyes[:, None], eye_line, ear_line)
    face_forward = pts[:, idx['nose']] - ears
    has_face = has_ears & valid[:, idx['nose']]
    if has_face.any():
        face_up = _cross(face_forward, face_left)
        head_axes = _frame_from_up_left(face_up, face_left, rotation[..., 2], rotation[..., 1])
        relative = np.einsum('nji,njk->nik', rotation, head_axes)
        head_rotation = np.where(has_face[:, None, None], relative, head_rotation)
    # One conversion for the bodies and the heads; the other joints keep the identity.
    quaternions = _quaternions(np.concatenate([rotation, head_rotation]))
    joint_quaternion = np.zeros((n, len(JOINT_FRAMES), 4), np.float64)
    joint_quaternion[..., 3] = 1.0
    joint_quaternion[:, JOINT_FRAME_NAMES.index('head')] = quaternions[n:]
    return BodyFrames(valid=has_body, origin=origin, rotation=rotation,
                      quaternion=quaternions[:n], joints=joints,
                      joint_valid=joint_valid, joint_quaternion=joint_quaternion)


def tf_transforms(frames: BodyFrames, body_ids: tuple[str, ...], sensor_frame: str
                  ) -> tuple[list[str], list[str], F64]:
    """Return the TF transforms of the bodies: parent frames, child frames, (T, 7) values.

    ``body_<id>`` (parent ``sensor_frame``) for each body with a frame, followed by its
    joint frames ``<joint>_<id>`` (parent ``body_<id>``) that exist. A value row is the
    translation x, y, z (metres) and the rotation quaternion x, y, z, w of the child in
    the parent frame.

    :param frames: :func:`body_frames` of the poses.
    :param body_ids: ROS4HRI body id of each person (:func:`body_id`).
    :param sensor_frame: the frame of the 3D keypoints (the camera's optical frame).
    """
    parents: list[str] = []
    children: list[str] = []
    rows: list[F64] = []
    values = np.concatenate([frames.joints, frames.joint_quaternion], axis=-1)
    body = np.concatenate([frames.origin, frames.quaternion], axis=-1)
    for i in np.flatnonzero(frames.valid).tolist():
        root = f'body_{body_ids[i]}'
        present = np.flatnonzero(frames.joint_valid[i])
        parents += [sensor_frame] + [root] * len(present)
        children += [root] + [f'{JOINT_FRAME_NAMES[j]}_{body_ids[i]}' for j in present.tolist()]
        rows += [body[i:i + 1], values[i, present]]
    return parents, children, (np.concatenate(rows) if rows else np.zeros((0, 7)))


def tracked_people(poses: Poses) -> tuple[Poses, tuple[str, ...]]:
    """Return the people that have a track id and their ROS4HRI body ids."""
    if not poses.ids:
        return poses.select(np.zeros(0, np.intp)), ()
    keep = np.array([i for i, t in enumerate(poses.ids) if t], np.intp)
    people = poses if len(keep) == len(poses) else poses.select(keep)
    return people, tuple(body_id(t) for t in people.ids)
