"""Keypoint ids the cues use, person size and distance (vectorised over people).

Ids are looked up by name in the skeleton tables, so COCO (17) and COCO-WholeBody (133)
share the code; hand ids exist only where the skeleton has hands.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Optional

import numpy as np
from numpy.typing import NDArray

from humanpose.skeletons import get_skeleton

F64 = NDArray[np.float64]
Ids = NDArray[np.intp]

#: Keypoints per side, index 0 = the person's left, 1 = right.
_SIDES = ('left', 'right')
#: Finger keypoints inside a 21-point hand (root = 0): thumb, index, middle, ring, pinky,
#: each (knuckle .. tip).
FINGERS = np.arange(1, 21).reshape(5, 4)
#: Of the body keypoints, those that place a person in 3D (head, shoulders, hips).
_ANCHORS = ('nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear', 'left_shoulder',
            'right_shoulder', 'left_hip', 'right_hip')
_HEAD = ('nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear')


@dataclass(frozen=True)
class BodyIds:
    """Keypoint ids of one skeleton, as index arrays of shape (2,) = (left, right).

    :param hands: (2, 21) ids of the hands, or None without hand keypoints.
    """

    shoulder: Ids
    elbow: Ids
    wrist: Ids
    hip: Ids
    anchors: Ids
    head: Ids
    hands: Optional[Ids]


@lru_cache(maxsize=None)
def body_ids(skeleton: str) -> BodyIds:
    """Return the keypoint ids the cues use in ``skeleton``."""
    sk = get_skeleton(skeleton)

    def pair(joint: str) -> Ids:
        return np.array([sk.index(f'{side}_{joint}') for side in _SIDES], np.intp)

    hands = None
    if 'left_hand' in sk.parts and 'right_hand' in sk.parts:
        hands = np.stack([np.arange(*sk.parts[f'{side}_hand']) for side in _SIDES])
    return BodyIds(shoulder=pair('shoulder'), elbow=pair('elbow'), wrist=pair('wrist'),
                   hip=pair('hip'), anchors=np.array([sk.index(n) for n in _ANCHORS]),
                   head=np.array([sk.index(n) for n in _HEAD]), hands=hands)


def visible(confidence: NDArray[np.floating], ids: Ids, threshold: float) -> NDArray[np.bool_]:
    """Return (N, *ids.shape) whether those keypoints reach ``threshold``."""
    return np.asarray(confidence)[:, ids] >= threshold


def person_scale(keypoints: NDArray[np.floating], confidence: NDArray[np.floating],
                 ids: BodyIds, threshold: float) -> F64:
    """Return (N,) each person's torso length in pixels (shoulder centre to hip centre).

    Where a hip is not visible: 1.3 x the shoulder width (the adult ratio); NaN where
    neither is known. Margins and amplitudes of the cues are fractions of it.
    """
    kp = np.asarray(keypoints, np.float64)
    shoulders, hips = kp[:, ids.shoulder], kp[:, ids.hip]
    s_ok = visible(confidence, ids.shoulder, threshold).all(axis=1)
    h_ok = visible(confidence, ids.hip, threshold).all(axis=1)
    # Means of two points and lengths as plain arithmetic (the same values as np.mean and
    # np.linalg.norm, without their Python wrappers).
    centre = 0.5 * (shoulders[:, 0] + shoulders[:, 1]) - 0.5 * (hips[:, 0] + hips[:, 1])
    across = shoulders[:, 0] - shoulders[:, 1]
    torso = np.sqrt((centre * centre).sum(axis=-1))
    width = 1.3 * np.sqrt((across * across).sum(axis=-1))
    out: F64 = np.where(s_ok & h_ok, torso, np.where(s_ok, width, np.nan))
    return out


def robust_position(keypoints_3d: NDArray[np.floating], confidence_3d: NDArray[np.floating],
                    ids: Ids, member: Optional[NDArray[np.bool_]] = None) -> F64:
    """Return (N, 3) the per-axis median of the valid 3D keypoints ``ids``; NaN if none.

    :param ids: (P,) keypoint ids, or (G, P) groups of them (result (N, G, 3)).
    :param member: (G, P) which entries of ``ids`` belong to their group (groups of
        different sizes share one array); None = all.
    """
    points = np.asarray(keypoints_3d, np.float64)[:, ids]                   # (N, [G,] P, 3)
    ok = (np.asarray(confidence_3d)[:, ids] > 0) & np.isfinite(points).all(axis=-1)
    if member is not None:
        ok &= member
    # Median by sorting (NaN sorts last) and picking the middle of the valid ones: the
    # same as nanmedian, several times faster on these small arrays.
    ordered = np.sort(np.where(ok[..., None], points, np.nan), axis=-2)
    count = ok.sum(axis=-1)                                                  # (N, [G])
    low = np.take_along_axis(ordered, (np.maximum(count - 1, 0) // 2)[..., None, None], -2)
    high = np.take_along_axis(
        ordered, np.minimum(count // 2, points.shape[-2] - 1)[..., None, None], -2)
    out: F64 = np.where((count > 0)[..., None], 0.5 * (low + high)[..., 0, :], np.nan)
    return out
