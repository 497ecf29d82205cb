"""The body cues of one image: position, scale, raised hands, hand states, pointing, waving.

Everything :class:`~humanpose.cues.estimator.CueEstimator` computes per image except the
head pose and the per-track memory, in one call: in the C kernel
(``humanpose.cues._kernel.body_cues``, ``csrc/body.c``) when it is built, else with the
NumPy functions that define these cues (:func:`~humanpose.cues.body.robust_position`,
:func:`~humanpose.cues.body.person_scale`, :func:`~humanpose.cues.hands.hands_raised`,
:func:`~humanpose.cues.hands.hand_states`,
:func:`~humanpose.cues.pointing.estimate_pointing`,
:func:`~humanpose.cues.waving.wave_signal`). Both give the same results to float rounding.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple, Optional

import numpy as np
from numpy.typing import NDArray

from humanpose.cues import kernel
from humanpose.cues.body import body_ids, person_scale, robust_position
from humanpose.cues.hands import CURLED_RATIO, EXTENDED_RATIO, hand_states, hands_raised
from humanpose.cues.pointing import estimate_pointing, Pointing, PointingConfig
from humanpose.cues.waving import wave_signal

F64 = NDArray[np.float64]
B = NDArray[np.bool_]

#: The finger ratios :func:`hand_states` classifies with.
_HAND_RATIOS = (EXTENDED_RATIO, CURLED_RATIO)


class ImageCues(NamedTuple):
    """The body cues of the N people of one image, NaN where unknown.

    :param head_position: (N, 3) median of the head's 3D keypoints, metres; NaN without 3D.
    :param distance: (N,) distance of the body (median of head, shoulders, hips), metres.
    :param scale: (N,) torso length, pixels (:func:`~humanpose.cues.body.person_scale`).
    :param raised: (N, 2) left / right wrist above its shoulder by the margin.
    :param hand_state: (N, 2) uint8 ``HAND_*``.
    :param pointing: the pointing cue of each person's best arm.
    :param wave_x: (N, 2) the waving signal of each hand, torso lengths
        (:func:`~humanpose.cues.waving.wave_signal`).
    :param wave_ok: (N, 2) where ``wave_x`` counts.
    """

    head_position: F64
    distance: F64
    scale: F64
    raised: B
    hand_state: NDArray[np.uint8]
    pointing: Pointing
    wave_x: F64
    wave_ok: B


def estimate_image_cues(keypoints: NDArray[np.floating], confidence: NDArray[np.floating],
                        keypoints_3d: Optional[NDArray[np.floating]],
                        confidence_3d: Optional[NDArray[np.floating]], skeleton: str,
                        threshold: float, raised_margin: float,
                        pointing: PointingConfig) -> ImageCues:
    """Return the body cues of one image's people.

    :param keypoints: (N, K, 2) float32, pixels.
    :param confidence: (N, K) float32 in [0, 1].
    :param keypoints_3d: (N, K, 3) float32 metres, camera frame, NaN where unknown; None
        without 3D.
    :param confidence_3d: (N, K) float32 in [0, 1]; None without 3D.
    :param skeleton: the keypoint layout (``coco``: no hands, hand states unknown).
    :param threshold: keypoints below this confidence are not used.
    :param raised_margin: a raised wrist is above its shoulder by this fraction of the torso.
    :param pointing: pointing thresholds and target plane.
    :raises ValueError: arrays of other shapes than the skeleton's (kernel).
    """
    if keypoints_3d is None or confidence_3d is None:
        keypoints_3d = confidence_3d = None
    if kernel.KERNEL is not None:
        return _image_cues_kernel(keypoints, confidence, keypoints_3d, confidence_3d,
                                  skeleton, threshold, raised_margin, pointing)
    return _image_cues_numpy(keypoints, confidence, keypoints_3d, confidence_3d, skeleton,
                             threshold, raised_margin, pointing)


@lru_cache(maxsize=None)
def _position_groups(skeleton: str) -> tuple[NDArray[np.intp], B]:
    """Return (2, A) anchor ids and which belong to the head (row 0) and the body (row 1)."""
    ids = body_ids(skeleton)
    anchors, head = ids.anchors, ids.head
    assert np.array_equal(anchors[:len(head)], head)  # the head keypoints come first
    member = np.arange(len(anchors)) < np.array([[len(head)], [len(anchors)]])
    return np.stack([anchors, anchors]), member


def _image_cues_numpy(keypoints: NDArray[np.floating], confidence: NDArray[np.floating],
                      keypoints_3d: Optional[NDArray[np.floating]],
                      confidence_3d: Optional[NDArray[np.floating]], skeleton: str,
                      threshold: float, raised_margin: float,
                      pointing: PointingConfig) -> ImageCues:
    """:func:`estimate_image_cues` with the NumPy functions that define the cues."""
    ids = body_ids(skeleton)
    n = len(keypoints)
    head_position = np.full((n, 3), np.nan)
    distance = np.full(n, np.nan)
    if keypoints_3d is not None and confidence_3d is not None:
        # Head and body in one call: the head keypoints are the first anchors.
        both = robust_position(keypoints_3d, confidence_3d, *_position_groups(skeleton))
        head_position, body = both[:, 0], both[:, 1]
        distance = np.linalg.norm(body, axis=1)
    scale = person_scale(keypoints, confidence, ids, threshold)
    raised = hands_raised(keypoints, confidence, ids, scale, raised_margin, threshold)
    states = hand_states(keypoints, confidence, ids, threshold)
    ray = estimate_pointing(keypoints, confidence, keypoints_3d, confidence_3d, states, ids,
                            pointing, threshold)
    wave_x, wave_ok = wave_signal(keypoints, confidence, ids.elbow, ids.wrist, scale,
                                  threshold)
    return ImageCues(head_position, distance, scale, raised, states, ray, wave_x, wave_ok)


@lru_cache(maxsize=None)
def _kernel_ids(skeleton: str) -> tuple[NDArray[np.int32], NDArray[np.int32], int,
                                        Optional[NDArray[np.int32]]]:
    """Return the ids as the kernel takes them: joints, anchors, head count, hands."""
    ids = body_ids(skeleton)
    joints = np.concatenate([ids.shoulder, ids.elbow, ids.wrist, ids.hip]).astype(np.int32)
    hands = None if ids.hands is None else np.ascontiguousarray(ids.hands, np.int32)
    return joints, ids.anchors.astype(np.int32), len(ids.head), hands


@lru_cache(maxsize=64)
def _kernel_settings(threshold: float, raised_margin: float,
                     pointing: PointingConfig) -> NDArray[np.float64]:
    """Return the thresholds in the order of ``body_cues``' settings (its docstring)."""
    normal = np.asarray(pointing.plane_normal, np.float64)
    with np.errstate(invalid='ignore', divide='ignore'):  # as pointing._unit
        normal = normal / np.sqrt((normal * normal).sum())
    return np.array([threshold, raised_margin, *_HAND_RATIOS, *pointing.straight_deg,
                     *pointing.lift_deg, pointing.min_confidence, *normal,
                     pointing.plane_distance_m], np.float64)


def _float32(values: NDArray[np.floating]) -> NDArray[np.float32]:
    out: NDArray[np.float32] = np.ascontiguousarray(values, np.float32)
    return out


def _image_cues_kernel(keypoints: NDArray[np.floating], confidence: NDArray[np.floating],
                       keypoints_3d: Optional[NDArray[np.floating]],
                       confidence_3d: Optional[NDArray[np.floating]], skeleton: str,
                       threshold: float, raised_margin: float,
                       pointing: PointingConfig) -> ImageCues:
    """:func:`estimate_image_cues` in the C kernel, all people in one call."""
    assert kernel.KERNEL is not None
    n, k = keypoints.shape[:2]
    joints, anchors, n_head, hands = _kernel_ids(skeleton)
    try:
        settings = _kernel_settings(threshold, raised_margin, pointing)
    except TypeError:  # a config holding lists instead of tuples: not hashable, not cached
        settings = _kernel_settings.__wrapped__(threshold, raised_margin, pointing)
    # One array per output (a plain np.empty costs less than views into a shared block).
    empty, f64 = np.empty, np.float64
    head_position, distance, scale = empty((n, 3), f64), empty(n, f64), empty(n, f64)
    raised, state = empty((n, 2), bool), empty((n, 2), np.uint8)
    is_pointing, hand, best = empty(n, bool), empty(n, np.uint8), empty(n, f64)
    arm_confidence, origin_px, direction_px = (empty((n, 2), f64), empty((n, 2), f64),
                                               empty((n, 2), f64))
    origin_m, direction, target_m = empty((n, 3), f64), empty((n, 3), f64), empty((n, 3), f64)
    wave_x, wave_ok = empty((n, 2), f64), empty((n, 2), bool)
    kernel.KERNEL.body_cues(
        n, k, _float32(keypoints), _float32(confidence),
        None if keypoints_3d is None else _float32(keypoints_3d),
        None if confidence_3d is None else _float32(confidence_3d),
        joints, anchors, n_head, hands, settings, head_position, distance, scale, raised,
        state, is_pointing, hand, best, arm_confidence, origin_px, direction_px, origin_m,
        direction, target_m, wave_x, wave_ok)
    return ImageCues(head_position, distance, scale, raised, state,
                     Pointing(is_pointing, hand, best, arm_confidence, origin_px, direction_px,
                              origin_m, direction, target_m), wave_x, wave_ok)
