"""Pointing: which arm points, the ray in the image and in 3D, where it meets a plane.

An arm points when it is *straight* (the elbow angle between shoulder-elbow and
elbow-wrist near 180 degrees) and *lifted* away from the body (the upper arm at an angle
to the torso's downward direction), or when its hand is in the pointing state (index
extended, see :mod:`humanpose.cues.hands`) on a lifted upper arm or forearm. Both are
soft scores in [0, 1] (linear ramps between two angles); the arm's confidence is the
larger of ``straight * lifted(upper arm)`` and ``finger * lifted(upper arm or forearm)``,
and 0 where the shoulder, elbow or wrist is not visible. An arm swinging while walking
lifts its upper arm less than the ramp's start (20 degrees); a nearly straight arm swung
forward by more than about 25 degrees does read as pointing down, a limit of
single-frame geometry. Angles come from 3D keypoints where the arm has
them (foreshortening cannot bend a 3D arm), else from the image.

The ray starts at the hand (the index fingertip of a pointing hand, else the wrist) and
runs along the arm: from the shoulder for a straight arm, from the elbow otherwise (a bent
arm points with its forearm). In 3D, its intersection with the plane
``normal . p + distance = 0`` (camera frame; e.g. the floor) is the pointing target.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from humanpose.cues.body import BodyIds
from humanpose.cues.types import HAND_POINTING, SIDE_LEFT, SIDE_NONE, SIDE_RIGHT

F64 = NDArray[np.float64]
B = NDArray[np.bool_]

#: Offset of the index fingertip inside a 21-point hand.
INDEX_TIP = 8


@dataclass(frozen=True)
class PointingConfig:
    """Thresholds of the pointing cue.

    :param straight_deg: (bent, straight) elbow angles of the straightness ramp.
    :param lift_deg: (hanging, lifted) angles between upper arm and torso-down of the
        lift ramp.
    :param min_confidence: an arm points at or above this confidence.
    :param plane_normal: unit normal of the target plane, camera frame, towards the
        camera's side (a level camera above the floor: (0, -1, 0)).
    :param plane_distance_m: distance from the camera to the plane, metres.
    """

    straight_deg: tuple[float, float] = (145.0, 165.0)
    lift_deg: tuple[float, float] = (20.0, 35.0)
    min_confidence: float = 0.5
    plane_normal: tuple[float, float, float] = (0.0, -1.0, 0.0)
    plane_distance_m: float = 1.0


@dataclass(frozen=True)
class Pointing:
    """The pointing cue of N people (the best arm of each).

    Arrays: ``pointing`` (N,), ``hand`` (N,) uint8 SIDE_*, ``confidence`` (N,),
    ``arm_confidence`` (N, 2) of both arms, ``origin_px`` / ``direction_px`` (N, 2),
    ``origin_m`` / ``direction`` / ``target_m`` (N, 3), NaN where unknown.
    """

    pointing: B
    hand: NDArray[np.uint8]
    confidence: F64
    arm_confidence: F64
    origin_px: F64
    direction_px: F64
    origin_m: F64
    direction: F64
    target_m: F64


def _ramp(x: F64, low: float, high: float) -> F64:
    # fmax drops NaN: unknown angles score 0.
    out: F64 = np.fmin(np.fmax((x - low) / (high - low), 0.0), 1.0)
    return out


def _angle_deg(a: F64, b: F64) -> F64:
    """Angle between vectors (..., D), degrees; NaN where either is zero or NaN."""
    with np.errstate(invalid='ignore', divide='ignore'):
        cos = (a * b).sum(axis=-1) / np.sqrt((a * a).sum(axis=-1) * (b * b).sum(axis=-1))
    out: F64 = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
    return out


def _unit(v: F64) -> F64:
    with np.errstate(invalid='ignore', divide='ignore'):
        out: F64 = v / np.sqrt((v * v).sum(axis=-1, keepdims=True))
    return out


def _arm_angles(points: F64, down_default: F64, hips_ok: B) -> tuple[F64, F64, F64]:
    """Elbow angle, upper-arm lift and forearm lift (N, 2), degrees.

    :param points: (N, 8, D) shoulders, elbows, wrists and hips (left, right each).
    :param down_default: (D,) torso-down where the hips are not known.
    :param hips_ok: (N,) both hips known.
    """
    s, e, w, h = points[:, 0:2], points[:, 2:4], points[:, 4:6], points[:, 6:8]
    down = 0.5 * (h[:, 0] + h[:, 1]) - 0.5 * (s[:, 0] + s[:, 1])          # (N, D)
    down = np.where(hips_ok[:, None] & np.isfinite(down).all(axis=1, keepdims=True),
                    down, down_default)[:, None, None, :]
    upper, fore = e - s, w - e
    # All three angles in one pass: (N, 3, 2) = elbow, upper-arm lift, forearm lift.
    down = np.broadcast_to(down, (len(s), 2) + upper.shape[1:])
    towards = np.concatenate([fore[:, None], down], axis=1)
    angles = _angle_deg(np.stack([-upper, upper, fore], axis=1), towards)
    return angles[:, 0], angles[:, 1], angles[:, 2]


def fit_line_direction(points: F64) -> F64:
    """Return (N, D) the unit direction of the line fitted through (N, P, D) points.

    The principal axis of each point set, oriented from its first point to its last.
    """
    centred = points - points.sum(axis=1, keepdims=True) / points.shape[1]   # mean
    if points.shape[-1] == 2:
        # In the plane, the principal axis of the 2x2 scatter in closed form.
        sxx, syy = np.einsum('npi,npi->in', centred, centred)
        sxy = np.einsum('np,np->n', centred[..., 0], centred[..., 1])
        half = 0.5 * np.arctan2(2.0 * sxy, sxx - syy)
        axis = np.stack([np.cos(half), np.sin(half)], axis=-1)
    else:
        axis = np.linalg.svd(centred)[2][:, 0]
    sign = np.sign(np.sum(axis * (points[:, -1] - points[:, 0]), axis=-1, keepdims=True))
    out: F64 = axis * np.where(sign == 0, 1.0, sign)
    return out


def plane_intersection(origin: F64, direction: F64, normal: F64, distance: float) -> F64:
    """Return (N, 3) where rays meet the plane ``normal . p + distance = 0``; NaN if never.

    :param origin: (N, 3) ray origins.
    :param direction: (N, 3) unit directions.
    :param normal: (3,) unit plane normal.
    :param distance: plane offset, metres.
    """
    with np.errstate(invalid='ignore', divide='ignore'):
        denom = direction @ normal
        t = -(origin @ normal + distance) / denom
        hit = np.isfinite(t) & (t > 0) & (np.abs(denom) > 1e-6)
        out: F64 = np.where(hit[:, None], origin + t[:, None] * direction, np.nan)
    return out


def estimate_pointing(keypoints: NDArray[np.floating], confidence: NDArray[np.floating],
                      keypoints_3d: NDArray[np.floating] | None,
                      confidence_3d: NDArray[np.floating] | None, hand_state: NDArray[np.uint8],
                      ids: BodyIds, config: PointingConfig, threshold: float) -> Pointing:
    """Return each person's pointing cue.

    :param keypoints: (N, K, 2) pixels.
    :param confidence: (N, K) in [0, 1].
    :param keypoints_3d: (N, K, 3) metres, camera frame, NaN where unknown; or None.
    :param confidence_3d: (N, K) in [0, 1]; or None.
    :param hand_state: (N, 2) ``HAND_*`` of the left and right hand.
    :param ids: keypoint ids of the skeleton.
    :param config: thresholds and target plane.
    :param threshold: keypoints below this confidence are not used.
    """
    n = len(keypoints)
    kp = np.asarray(keypoints, np.float64)
    conf = np.asarray(confidence)
    arm_ids = np.stack([ids.shoulder, ids.elbow, ids.wrist], axis=1)        # (2, 3)
    angle_ids = np.concatenate([ids.shoulder, ids.elbow, ids.wrist, ids.hip])  # (8,)
    seen = (conf[:, arm_ids] >= threshold).all(axis=-1)                       # (N, 2)
    hips_ok = np.asarray((conf[:, ids.hip] >= threshold).all(axis=1), bool)
    has_3d = keypoints_3d is not None and confidence_3d is not None
    if has_3d:
        # 2D (z = 0) and 3D arms in one pass: (2N, 8, 3).
        assert keypoints_3d is not None and confidence_3d is not None
        kp3 = np.asarray(keypoints_3d, np.float64)
        ok3 = (np.asarray(confidence_3d) > 0) & np.isfinite(kp3).all(axis=-1)
        arm3 = ok3[:, arm_ids].all(axis=-1)                                   # (N, 2)
        hips3 = np.asarray(ok3[:, ids.hip].all(axis=1), bool)
        flat = np.zeros((n, len(angle_ids), 3))
        flat[..., :2] = kp[:, angle_ids]
        elbow, lift, fore_lift = _arm_angles(
            np.concatenate([flat, kp3[:, angle_ids]]), np.array([0.0, 1.0, 0.0]),
            np.concatenate([hips_ok, hips3]))
        elbow, lift, fore_lift = (np.where(arm3, a[n:], a[:n])
                                  for a in (elbow, lift, fore_lift))
    else:
        elbow, lift, fore_lift = _arm_angles(kp[:, angle_ids], np.array([0.0, 1.0]), hips_ok)
    straight = _ramp(elbow, *config.straight_deg)
    finger = (hand_state == HAND_POINTING).astype(np.float64)
    # A straight arm must lift its upper arm (an arm swinging while walking does not
    # enough); a pointing finger may be held on a bent arm with the forearm lifted.
    arm_conf = np.where(seen, np.maximum(
        straight * _ramp(lift, *config.lift_deg),
        finger * _ramp(np.fmax(lift, fore_lift), *config.lift_deg)), 0.0)    # (N, 2)

    best = np.argmax(arm_conf, axis=1)                                         # (N,)
    rows = np.arange(n)
    confidence_best = arm_conf[rows, best]
    pointing = confidence_best >= config.min_confidence
    hand = np.where(pointing, np.where(best == 0, SIDE_LEFT, SIDE_RIGHT),
                    SIDE_NONE).astype(np.uint8)

    # Ray: from the hand (index tip of a pointing hand, else wrist) along the line fitted
    # through the arm's joints: shoulder, elbow, wrist and hand root (the network's second
    # wrist estimate) for a straight arm; elbow, wrist, hand root, index knuckle and tip
    # for a bent arm with a pointing finger. A fit through four or five joints reduces the
    # effect of keypoint noise well below that of a two-point direction.
    side_ids = arm_ids[best]                                                   # (N, 3)
    straight_arm = straight[rows, best] >= 0.5
    tip_id = side_ids[:, 2].copy()
    line_ids = np.stack([side_ids[:, 0], side_ids[:, 1], side_ids[:, 2], side_ids[:, 2],
                         side_ids[:, 2]], 1)
    if ids.hands is not None:
        tips = ids.hands[best, INDEX_TIP]
        knuckles = ids.hands[best, INDEX_TIP - 3]
        roots = ids.hands[best, 0]
        use_tip = (finger[rows, best] > 0) & (conf[rows, tips] >= threshold)
        tip_id = np.where(use_tip, tips, tip_id)
        root_ok = conf[rows, roots] >= threshold
        line_ids[root_ok, 3:] = roots[root_ok, None]
        bent = use_tip & ~straight_arm & (conf[rows, knuckles] >= threshold) & root_ok
        line_ids = np.where(bent[:, None], np.stack(
            [side_ids[:, 1], side_ids[:, 2], roots, knuckles, tips], 1), line_ids)
    if not straight_arm.all():
        forearm = ~straight_arm & (line_ids[:, 0] == side_ids[:, 0])
        line_ids[forearm, 0] = side_ids[forearm, 1]
    origin_px = np.full((n, 2), np.nan)
    direction_px = np.full((n, 2), np.nan)
    if pointing.any():
        origin_px[pointing] = kp[rows, tip_id][pointing]
        direction_px[pointing] = fit_line_direction(kp[rows[pointing, None],
                                                       line_ids[pointing]])
    origin_m = np.full((n, 3), np.nan)
    direction = np.full((n, 3), np.nan)
    target = np.full((n, 3), np.nan)
    if has_3d and pointing.any():
        tip3 = np.where(ok3[rows, tip_id][:, None], kp3[rows, tip_id], kp3[rows, side_ids[:, 2]])
        line3 = kp3[rows[:, None], line_ids]                                   # (N, 5, 3)
        line_ok = ok3[rows[:, None], line_ids]
        ray_ok = pointing & np.isfinite(tip3).all(axis=1) & line_ok[:, [0, -1]].all(axis=1)
        # Joints without 3D drop out of the fit (their place taken by the line's ends).
        line3 = np.where(line_ok[..., None], line3, np.where(
            line_ok[:, :1, None], line3[:, :1], line3[:, -1:]))
        origin_m[ray_ok] = tip3[ray_ok]
        direction[ray_ok] = fit_line_direction(line3[ray_ok])
        normal = _unit(np.asarray(config.plane_normal, np.float64))
        target[ray_ok] = plane_intersection(origin_m[ray_ok], direction[ray_ok], normal,
                                            config.plane_distance_m)
    return Pointing(pointing, hand, confidence_best, arm_conf, origin_px, direction_px,
                    origin_m, direction, target)
