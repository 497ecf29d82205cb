"""Raised hands and the state of each hand (open, fist, pointing) from finger geometry.

A finger is *extended* when its tip is much farther from the wrist than its knuckle
(ratio of the two distances at least ``extended_ratio``: about 1.8 for a straight finger)
and *curled* when the tip comes back towards the palm (ratio at most ``curled_ratio``:
below 1 in a fist). The ratio is one of lengths along the same hand, so it holds in the
image for any hand size and distance, and under foreshortening as long as the fingers are
not aimed at the camera. Then, over the four long fingers:

=========  ====================================================================
open       at least three extended, the index among them
fist       none extended, at least three curled, the index among them
pointing   the index extended; none of the other three extended, two curled
unknown    anything else, or the hand's wrist, knuckles or tips not visible
=========  ====================================================================

The thumb is left out: its pose does not change the meaning of these three states.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from humanpose.cues.body import FINGERS, BodyIds
from humanpose.cues.types import HAND_FIST, HAND_OPEN, HAND_POINTING, HAND_UNKNOWN

F64 = NDArray[np.float64]


def hands_raised(keypoints: NDArray[np.floating], confidence: NDArray[np.floating],
                 ids: BodyIds, scale: F64, margin: float, threshold: float
                 ) -> NDArray[np.bool_]:
    """Return (N, 2) whether the left / right wrist is above its shoulder by the margin.

    "Above" is in the image (y up the image), which is up in the world for a camera that
    is not rolled; the margin is a fraction of the person's torso length so that it
    means the same near and far.

    :param keypoints: (N, K, 2) pixels.
    :param confidence: (N, K) in [0, 1].
    :param ids: keypoint ids of the skeleton.
    :param scale: (N,) torso length, pixels (NaN: unknown, never raised).
    :param margin: fraction of ``scale`` the wrist must be above the shoulder.
    :param threshold: wrist and shoulder must reach this confidence.
    """
    kp = np.asarray(keypoints, np.float64)
    seen = (np.asarray(confidence)[:, ids.wrist] >= threshold) & \
        (np.asarray(confidence)[:, ids.shoulder] >= threshold)
    height = kp[:, ids.shoulder, 1] - kp[:, ids.wrist, 1]            # > 0: wrist above
    with np.errstate(invalid='ignore'):
        raised: NDArray[np.bool_] = seen & (height > margin * scale[:, None])
    return raised


#: A finger is extended at or above this tip/knuckle distance ratio (about 1.8 straight).
EXTENDED_RATIO = 1.45
#: And curled at or below this one (below 1 in a fist).
CURLED_RATIO = 1.15

#: (2, 5) fingertip and knuckle ids inside a 21-point hand.
_TIPS_KNUCKLES = np.stack([FINGERS[:, 3], FINGERS[:, 0]])


def finger_ratios(hands: NDArray[np.floating]) -> F64:
    """Return (..., 5) |tip - wrist| / |knuckle - wrist| per finger of (..., 21, D) hands."""
    hands = np.asarray(hands, np.float64)
    # Tips and knuckles in one gather: (..., 2, 5, D) offsets from the wrist.
    offsets = hands[..., _TIPS_KNUCKLES, :] - hands[..., None, :1, :]
    lengths = np.sqrt((offsets * offsets).sum(axis=-1))
    with np.errstate(invalid='ignore', divide='ignore'):
        out: F64 = lengths[..., 0, :] / lengths[..., 1, :]
    return out


def hand_states(keypoints: NDArray[np.floating], confidence: NDArray[np.floating],
                ids: BodyIds, threshold: float, extended_ratio: float = EXTENDED_RATIO,
                curled_ratio: float = CURLED_RATIO) -> NDArray[np.uint8]:
    """Return (N, 2) uint8 ``HAND_*`` of the left and right hand.

    :param keypoints: (N, K, 2) pixels (skeletons without hands: all unknown).
    :param confidence: (N, K) in [0, 1].
    :param ids: keypoint ids of the skeleton.
    :param threshold: wrist, knuckles and tips must reach this confidence.
    :param extended_ratio: a finger is extended at or above this tip/knuckle ratio.
    :param curled_ratio: a finger is curled at or below it.
    """
    n = len(keypoints)
    states = np.full((n, 2), HAND_UNKNOWN, np.uint8)
    if ids.hands is None or n == 0:
        return states
    hands = np.asarray(keypoints, np.float64)[:, ids.hands]             # (N, 2, 21, 2)
    conf = np.asarray(confidence)[:, ids.hands]                          # (N, 2, 21)
    ratio = finger_ratios(hands)[..., 1:]                                # (N, 2, 4) long
    known = (conf[..., :1] >= threshold) & (conf[..., FINGERS[1:, 0]] >= threshold) & \
        (conf[..., FINGERS[1:, 3]] >= threshold) & np.isfinite(ratio)
    with np.errstate(invalid='ignore'):
        extended = known & (ratio >= extended_ratio)
        curled = known & (ratio <= curled_ratio)
    index_out = extended[..., 0]
    others_ext = extended[..., 1:].sum(axis=-1)
    others_curled = curled[..., 1:].sum(axis=-1)
    n_ext = extended.sum(axis=-1)
    states[(n_ext >= 3) & index_out] = HAND_OPEN
    states[(n_ext == 0) & (curled.sum(axis=-1) >= 3) & known[..., 0]] = HAND_FIST
    states[index_out & (others_ext == 0) & (others_curled >= 2)] = HAND_POINTING
    return states
