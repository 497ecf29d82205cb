"""Posed 3D people seen by a known camera: ground truth for the HRI cues.

A person is a 133-keypoint COCO-WholeBody skeleton built in metres from adult proportions:
a body frame (REP-103: x forward, y to the person's left, z up) placed in the camera
optical frame by a pelvis position and a body yaw; a head turned by known yaw, pitch and
roll (the convention of :mod:`humanpose.cues.head`) carrying a 3D face of 68 landmarks
that is *not* the cue estimator's generic face (other proportions, per-person scale and
millimetre jitter); arms placed by their elbow and wrist (helpers for hanging, swinging,
raised, waving and pointing arms); hands open, in a fist or pointing, along the forearm.

:func:`observe` turns posed people into what the pose pipeline would give: 2D keypoints
projected through the camera with pixel noise, 3D keypoints with metric noise, and
dropouts (low confidence, a wrong 2D position, no 3D).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from humanpose.cues.head import FACING_CAMERA, head_rotation
from humanpose.types import CameraModel, Poses

F64 = NDArray[np.float64]

UPPER_ARM_M = 0.30
FOREARM_M = 0.27
ARM_M = UPPER_ARM_M + FOREARM_M
#: Body points in the body frame (x forward, y left, z up), origin at the hip centre.
_SHOULDER = np.array([0.0, 0.19, 0.50])
_HIP = np.array([0.0, 0.09, 0.0])
_KNEE = np.array([0.02, 0.09, -0.45])
_ANKLE = np.array([0.0, 0.09, -0.88])
#: The point between the eyes, body frame.
_HEAD_ORIGIN = np.array([0.08, 0.0, 0.68])
#: Ears in the head frame.
_EAR = np.array([-0.09, 0.075, -0.03])
#: Palm length (wrist to knuckle) and finger lengths: thumb, index, middle, ring, pinky.
_PALM_M = 0.09
_FINGER_M = (0.06, 0.075, 0.085, 0.08, 0.065)
#: Knuckles across the palm (towards the thumb side > 0): index .. pinky.
_KNUCKLE_SPREAD_M = (0.028, 0.009, -0.009, -0.026)
_SEGMENTS = np.array([0.45, 0.30, 0.25])


def _unit(v: F64) -> F64:
    out: F64 = np.asarray(v, np.float64) / np.linalg.norm(v)
    return out


def face_landmarks(scale: float = 1.0, jitter_m: float = 0.0,
                   rng: Optional[np.random.Generator] = None) -> F64:
    """Return (68, 3) iBUG face landmarks in the head frame (x forward, y left, z up).

    Its proportions differ from the estimator's generic face on purpose (a wider mouth, a
    longer nose, eye corners set otherwise); ``scale`` and ``jitter_m`` make individuals.
    """
    a = np.linspace(-np.pi / 2, np.pi / 2, 17)                   # subject's right -> left
    jaw = np.stack([-0.075 + 0.07 * np.cos(a), 0.07 * np.sin(a), -0.012 - 0.112 * np.cos(a)], 1)
    u = np.linspace(0.0, 1.0, 5)
    brow_r = np.stack([-0.018 + 0.012 * u, -0.052 + 0.040 * u,
                       0.022 + 0.006 * np.sin(np.pi * u)], 1)
    brow_l = brow_r[::-1] * np.array([1.0, -1.0, 1.0])
    bridge = np.stack([np.linspace(0.004, 0.031, 4), np.zeros(4),
                       np.linspace(0.006, -0.043, 4)], 1)
    v = np.linspace(-1.0, 1.0, 5)
    base = np.stack([0.006 + 0.008 * (1 - np.abs(v)), 0.017 * v, np.full(5, -0.053)], 1)
    t = np.linspace(0.0, 2 * np.pi, 7)[:-1]
    # Eye outline starting at the outer corner of the right eye, then the inner corner of
    # the left eye (iBUG order), upper lid first.
    bulge = 0.003 * np.abs(np.sin(t))   # the lids lie on the eyeball, ahead of the corners
    eye_r = np.stack([-0.013 - 0.007 * np.cos(t) + bulge,
                      -0.031 - 0.0145 * np.cos(t), 0.004 * np.sin(t)], 1)
    eye_l = np.stack([-0.013 + 0.007 * np.cos(t) + bulge, 0.031 - 0.0145 * np.cos(t),
                      0.004 * np.sin(t)], 1)
    m = np.linspace(0.0, 2 * np.pi, 13)[:-1]
    outer = np.stack([-0.009 * np.cos(m) ** 2,
                      -0.027 * np.cos(m), -0.076 + 0.010 * np.sin(m)], 1)
    n = np.linspace(0.0, 2 * np.pi, 9)[:-1]
    inner = np.stack([-0.001 - 0.006 * np.cos(n) ** 2, -0.018 * np.cos(n),
                      -0.076 + 0.004 * np.sin(n)], 1)
    face = np.concatenate([jaw, brow_r, brow_l, bridge, base, eye_r, eye_l, outer, inner])
    assert face.shape == (68, 3)
    face = face * scale
    if jitter_m and rng is not None:
        face = face + rng.normal(0.0, jitter_m, face.shape)
    out: F64 = face
    return out


def hand_points(wrist: F64, forward: F64, palm_normal: F64, thumb_side: F64, state: str
                ) -> F64:
    """Return (21, 3) hand keypoints (root = wrist, then thumb .. pinky, knuckle to tip).

    :param wrist: (3,) wrist position.
    :param forward: unit direction from the wrist to the knuckles.
    :param palm_normal: unit normal out of the palm.
    :param thumb_side: unit direction across the palm towards the thumb.
    :param state: ``open``, ``fist`` or ``pointing``.
    """
    curl = {'open': (0.0, 0.0, 0.0, 0.0), 'fist': (1.0, 1.0, 1.0, 1.0),
            'pointing': (0.0, 1.0, 1.0, 1.0)}[state]
    points = [wrist]
    thumb_dir = _unit(forward + thumb_side)
    base = wrist + 0.03 * forward + 0.02 * thumb_side
    for k in range(4):
        points.append(base + thumb_dir * _FINGER_M[0] * (k + 1) / 4 *
                      (1.0 if state == 'open' else 0.6))
    for f in range(4):
        knuckle = wrist + _PALM_M * forward + _KNUCKLE_SPREAD_M[f] * thumb_side
        points.append(knuckle)
        phi = np.radians(85.0) * curl[f]
        joint = knuckle
        for s in range(3):
            theta = phi * (s + 1)
            direction = np.cos(theta) * forward - np.sin(theta) * palm_normal
            joint = joint + _FINGER_M[f + 1] * _SEGMENTS[s] * direction
            points.append(joint)
    out: F64 = np.array(points)
    return out


@dataclass(frozen=True)
class Person3D:
    """Where a person stands and which way the body faces.

    :param pelvis: (3,) hip centre in the camera optical frame, metres.
    :param body_yaw: rad; 0 = facing the camera, > 0 turned to the person's left.
    :param size: scale of the whole body (1 = about 1.75 m tall).
    """

    pelvis: tuple[float, float, float] = (0.0, 0.3, 2.0)
    body_yaw: float = 0.0
    size: float = 1.0

    @property
    def rotation(self) -> F64:
        """(3, 3) body frame -> camera frame."""
        c, s = np.cos(self.body_yaw), np.sin(self.body_yaw)
        out: F64 = FACING_CAMERA @ np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
        return out

    def point(self, body_xyz: ArrayLike) -> F64:
        """Return a body-frame point in the camera frame."""
        out: F64 = np.asarray(self.pelvis) + self.rotation @ (np.asarray(body_xyz) * self.size)
        return out

    def axis(self, body_xyz: ArrayLike) -> F64:
        """Return a body-frame direction in the camera frame."""
        out: F64 = self.rotation @ np.asarray(body_xyz, np.float64)
        return out

    def shoulder(self, side: str) -> F64:
        return self.point(_SHOULDER * [1, _sign(side), 1])

    def outward(self, side: str) -> F64:
        return self.axis([0.0, _sign(side), 0.0])


def _sign(side: str) -> float:
    return 1.0 if side == 'left' else -1.0


def head_angles_towards(person: Person3D, point: Sequence[float] = (0.0, 0.0, 0.0)
                        ) -> tuple[float, float, float]:
    """Return the head (yaw, pitch, roll) in rad that faces ``point`` (default the camera)."""
    head = person.point(_HEAD_ORIGIN)
    d = _unit(np.asarray(point, np.float64) - head)
    # The face direction is (sin y cos p, sin p, -cos y cos p) in the camera frame.
    return float(np.arctan2(d[0], -d[2])), float(np.arcsin(d[1])), 0.0


def hanging_arm(person: Person3D, side: str, swing_rad: float = 0.0,
                elbow_bend_rad: float = 0.3) -> tuple[F64, F64]:
    """Elbow and wrist of an arm hanging down, swung forward by ``swing_rad`` (walking)."""
    s = person.shoulder(side)
    upper = person.axis([np.sin(swing_rad), 0.05 * _sign(side), -np.cos(swing_rad)])
    fore_angle = swing_rad + elbow_bend_rad
    fore = person.axis([np.sin(fore_angle), 0.05 * _sign(side), -np.cos(fore_angle)])
    elbow = s + UPPER_ARM_M * person.size * _unit(upper)
    return elbow, elbow + FOREARM_M * person.size * _unit(fore)


def raised_arm(person: Person3D, side: str, wrist_above_shoulder_m: float) -> tuple[F64, F64]:
    """Elbow and wrist of a hand held up with the wrist this high above the shoulder."""
    s = person.shoulder(side)
    up = person.axis([0.0, 0.0, 1.0])
    elbow = s + UPPER_ARM_M * person.size * _unit(person.axis([0.15, 0.8 * _sign(side), -0.3]))
    lateral = person.outward(side) * 0.05
    rise = wrist_above_shoulder_m - float(np.dot(elbow - s, up))
    horizontal = np.sqrt(max((FOREARM_M * person.size) ** 2 - rise ** 2, 0.0))
    wrist = elbow + rise * up + horizontal * _unit(person.axis([1.0, 0.0, 0.0]) + lateral)
    return elbow, wrist


def waving_arm(person: Person3D, side: str, angle_rad: float) -> tuple[F64, F64]:
    """Elbow and wrist of a waving arm: forearm up, tilted sideways by ``angle_rad``."""
    s = person.shoulder(side)
    elbow = s + UPPER_ARM_M * person.size * _unit(person.axis([0.2, 0.85 * _sign(side), -0.45]))
    fore = person.axis([0.15, np.sin(angle_rad) * _sign(side), np.cos(angle_rad)])
    return elbow, elbow + FOREARM_M * person.size * _unit(fore)


def pointing_arm(person: Person3D, side: str, target: Sequence[float]) -> tuple[F64, F64]:
    """Elbow and wrist of a straight arm from the shoulder towards ``target`` (camera frame)."""
    s = person.shoulder(side)
    u = _unit(np.asarray(target, np.float64) - s)
    return s + UPPER_ARM_M * person.size * u, s + ARM_M * person.size * u


def pose_person(person: Person3D, *, head_ypr: Sequence[float] = (0.0, 0.0, 0.0),
                arms: Optional[dict[str, tuple[F64, F64]]] = None,
                hands: Optional[dict[str, str]] = None, face_scale: float = 1.0,
                face_jitter_m: float = 0.0, rng: Optional[np.random.Generator] = None) -> F64:
    """Return (133, 3) COCO-WholeBody keypoints of a posed person, camera frame, metres.

    :param person: placement of the body.
    :param head_ypr: head yaw, pitch, roll in the camera frame (rad), as
        :func:`humanpose.cues.head.head_rotation` defines them.
    :param arms: side -> (elbow, wrist) from the arm helpers; default hanging arms.
    :param hands: side -> ``open`` / ``fist`` / ``pointing``; default open.
    :param face_scale: size of the face relative to the average.
    :param face_jitter_m: per-landmark jitter of the face shape.
    """
    arms = dict(arms or {})
    hands = dict(hands or {})
    kp = np.zeros((133, 3))
    head_r = head_rotation(*head_ypr)
    head_o = person.point(_HEAD_ORIGIN)
    face = head_o + (face_landmarks(face_scale * person.size, face_jitter_m, rng) @ head_r.T)
    kp[23:91] = face
    kp[0] = face[30]                                          # nose tip
    kp[1] = face[[42, 43, 44, 45, 46, 47]].mean(axis=0)       # left eye
    kp[2] = face[[36, 37, 38, 39, 40, 41]].mean(axis=0)       # right eye
    kp[3] = head_o + head_r @ (_EAR * person.size)
    kp[4] = head_o + head_r @ (_EAR * [1, -1, 1] * person.size)
    for i, side in enumerate(('left', 'right')):
        sign = _sign(side)
        kp[5 + i] = person.shoulder(side)
        elbow, wrist = arms.get(side) or hanging_arm(person, side)
        kp[7 + i], kp[9 + i] = elbow, wrist
        kp[11 + i] = person.point(_HIP * [1, sign, 1])
        kp[13 + i] = person.point(_KNEE * [1, sign, 1])
        kp[15 + i] = person.point(_ANKLE * [1, sign, 1])
        ankle = kp[15 + i]
        kp[17 + 3 * i] = ankle + person.axis([0.15, 0.02 * sign, -0.06])   # big toe
        kp[18 + 3 * i] = ankle + person.axis([0.13, 0.06 * sign, -0.06])   # small toe
        kp[19 + 3 * i] = ankle + person.axis([-0.05, 0.0, -0.07])          # heel
        forward = _unit(wrist - elbow)
        # Palm facing the body's midline-down side, thumb forward-up.
        across = np.cross(forward, person.axis([0.0, 0.0, 1.0]))
        if np.linalg.norm(across) < 1e-6:
            across = person.axis([1.0, 0.0, 0.0])
        palm = _unit(np.cross(across, forward)) * -1.0
        thumb = _unit(np.cross(palm, forward)) * sign
        kp[91 + 21 * i:112 + 21 * i] = hand_points(wrist, forward, palm, thumb,
                                                   hands.get(side, 'open'))
    return kp


def project(points: F64, camera: CameraModel) -> F64:
    """Return (..., 2) pixels of (..., 3) camera-frame points (pinhole K, no distortion)."""
    p = np.asarray(points, np.float64)
    uvw = p @ camera.k.T
    out: F64 = uvw[..., :2] / uvw[..., 2:3]
    return out


def observe(people_3d: F64, camera: CameraModel, rng: np.random.Generator, *,
            noise_px: float = 1.0, noise_m: float = 0.01, dropout: float = 0.0,
            with_3d: bool = True, ids: Sequence[str] = ()) -> Poses:
    """Return what the pose pipeline would give for posed people.

    :param people_3d: (N, 133, 3) keypoints, camera frame, metres.
    :param camera: the camera that sees them.
    :param rng: random generator (noise, dropouts).
    :param noise_px: standard deviation of the 2D noise, pixels.
    :param noise_m: standard deviation of the 3D noise, metres.
    :param dropout: share of keypoints lost: confidence 0.05, 2D off by up to 40 px, no 3D.
    :param with_3d: give 3D keypoints (depth camera) or not.
    :param ids: track ids.
    """
    pts = np.asarray(people_3d, np.float64).reshape(-1, 133, 3)
    n = len(pts)
    kp = project(pts, camera) + rng.normal(0.0, noise_px, (n, 133, 2))
    conf = np.full((n, 133), 0.9)
    lost = rng.random((n, 133)) < dropout
    kp[lost] += rng.uniform(-40.0, 40.0, (int(lost.sum()), 2))
    conf[lost] = 0.05
    boxes = np.concatenate([kp.min(axis=1), kp.max(axis=1)], axis=1)
    kp3 = c3 = None
    if with_3d:
        kp3 = (pts + rng.normal(0.0, noise_m, pts.shape)).astype(np.float32)
        kp3[lost] = np.nan
        c3 = np.where(lost, 0.0, 0.9).astype(np.float32)
    return Poses(keypoints=kp.astype(np.float32), confidence=conf.astype(np.float32),
                 scores=conf.astype(np.float32), boxes=boxes.astype(np.float32),
                 box_scores=np.ones(n, np.float32), skeleton='coco_wholebody',
                 ids=tuple(ids), keypoints_3d=kp3, confidence_3d=c3)
