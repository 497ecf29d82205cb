"""Synthetic scenes: people drawn as skeletons with known keypoints, plus matching depth.

Every person is an affine image of one fixed 133-keypoint template (a person in a relaxed
standing pose, facing the camera) so the ground truth is exact. Three colour anchors are
painted on the torso: a red disc at the torso centre, a green disc above it and a blue disc
to its left (image right). The generated "analytic" ONNX models
(:mod:`humanpose.testing.models`) find those discs, recover the affine and so locate every
keypoint, which lets the tests check the whole geometry chain (crop, network I/O, decode,
inverse mapping) to the pixel without any trained weights.

Template units: person height = 1, origin at the torso centre, x right, y down (image
axes). ``PersonSpec.height_px`` scales the template; ``aspect`` stretches x; ``angle_deg``
rotates it in the image plane.

3D: a person stands at ``depth_m`` (the depth of the torso and of the root, the mid-hip);
with ``relief`` > 0 its keypoints lie :func:`person_relief` metres in front of or behind
that (hands 0.35 m in front of the body, as when gesturing to a robot), and the depth
image shows each keypoint at its own depth. ``SyntheticScene.keypoints_3d`` is the metric
truth: every keypoint back-projected through the scene's camera at its depth, so it
projects exactly onto the drawn 2D keypoints. :func:`person_at` sizes a person of a given
height in metres for a camera (the torso is then metric: shoulders 0.374 m apart at
1.70 m).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Sequence

import cv2
import numpy as np
from numpy.typing import NDArray

from humanpose.skeletons import get_skeleton
from humanpose.types import CameraModel

F64 = NDArray[np.float64]

#: Anchor discs, template units: (centre x, centre y, radius). Order: red, green, blue.
ANCHORS: NDArray[np.float64] = np.array([
    [0.0, 0.0, 0.03],
    [0.0, 0.28, 0.02],
    [0.065, 0.0, 0.018],
])
#: BGR colours of the anchors (pure, so that R - G - B style masks isolate them).
ANCHOR_COLORS_BGR: tuple[tuple[int, int, int], ...] = ((0, 0, 255), (0, 255, 0), (255, 0, 0))

# Desaturated drawing colours (BGR): max channel minus the other two is negative, so no
# anchor mask responds to them.
_SHIRT_BGR = (120, 135, 150)
_SKIN_BGR = (150, 170, 200)
_BONE_BGR = (110, 120, 135)
_JOINT_BGR = (200, 210, 220)
_FACE_BGR = (140, 160, 190)


def _body17() -> F64:
    """COCO body keypoints of the template, before centring on the torso."""
    return np.array([
        [0.0, -0.40],                    # nose
        [0.025, -0.425], [-0.025, -0.425],  # eyes (left eye on image right)
        [0.055, -0.41], [-0.055, -0.41],    # ears
        [0.11, -0.27], [-0.11, -0.27],      # shoulders
        [0.155, -0.10], [-0.155, -0.10],    # elbows
        [0.175, 0.05], [-0.175, 0.05],      # wrists
        [0.08, 0.05], [-0.08, 0.05],        # hips
        [0.09, 0.27], [-0.09, 0.27],        # knees
        [0.10, 0.48], [-0.10, 0.48],        # ankles
    ])


def _feet(body: F64) -> F64:
    """Big toe, small toe, heel of the left then the right foot."""
    out = []
    for ankle, side in ((body[15], 1.0), (body[16], -1.0)):
        out += [ankle + (0.012 * side, 0.035), ankle + (0.045 * side, 0.03),
                ankle + (-0.01 * side, 0.018)]
    return np.array(out)


def _face() -> F64:
    """68 face landmarks (iBUG order) around the nose at (0, -0.40)."""
    cx, cy, w, h = 0.0, -0.405, 0.085, 0.105
    t = np.linspace(np.pi * 0.95, np.pi * 0.05, 17)
    jaw = np.stack([cx - w / 2 * np.cos(t), cy + h * 0.05 + h / 2 * np.sin(t) * 0.9], 1)
    brow_x = np.linspace(-0.036, -0.008, 5)
    brows = np.concatenate([
        np.stack([brow_x, cy - 0.032 - 0.004 * np.sin(np.linspace(0, np.pi, 5))], 1),
        np.stack([-brow_x[::-1], cy - 0.032 - 0.004 * np.sin(np.linspace(0, np.pi, 5))], 1)])
    nose_bridge = np.stack([np.zeros(4), np.linspace(cy - 0.02, cy + 0.008, 4)], 1)
    nose_base = np.stack([np.linspace(-0.012, 0.012, 5), np.full(5, cy + 0.016)], 1)
    eye_t = np.linspace(0, 2 * np.pi, 7)[:-1]
    eyes = np.concatenate([
        np.stack([ex - 0.011 * np.cos(eye_t), cy - 0.018 - 0.004 * np.sin(eye_t)], 1)
        for ex in (-0.02, 0.02)])
    mouth_t = np.linspace(0, 2 * np.pi, 13)[:-1]
    outer = np.stack([-0.022 * np.cos(mouth_t), cy + 0.032 - 0.009 * np.sin(mouth_t)], 1)
    inner_t = np.linspace(0, 2 * np.pi, 9)[:-1]
    inner = np.stack([-0.014 * np.cos(inner_t), cy + 0.032 - 0.004 * np.sin(inner_t)], 1)
    face = np.concatenate([jaw, brows, nose_bridge, nose_base, eyes, outer, inner])
    assert face.shape == (68, 2)
    return face


def _hand(wrist: F64, side: float) -> F64:
    """21 hand keypoints: root, then 4 per finger (thumb .. pinky), fingers pointing down."""
    points = [wrist]
    # (x offset of the finger base, length scale); side mirrors left/right.
    fingers = ((0.02, 0.7), (0.012, 1.0), (0.003, 1.05), (-0.006, 1.0), (-0.014, 0.8))
    for i, (dx, length) in enumerate(fingers):
        base = wrist + (dx * side, 0.02 if i else 0.01)
        direction = np.array([0.35 * side, 1.0]) if i == 0 else np.array([0.08 * dx * 40, 1.0])
        direction = direction / np.linalg.norm(direction)
        for j in range(4):
            points.append(base + direction * (0.012 * length * (j + 1)) * (1.0 if i else 0.9))
    return np.array(points)


@lru_cache(maxsize=1)
def person_template() -> F64:
    """Return (133, 2) template keypoints of one person, origin at the torso centre."""
    body = _body17()
    keypoints = np.concatenate([
        body, _feet(body), _face(), _hand(body[9], 1.0), _hand(body[10], -1.0)])
    torso_centre = body[[5, 6, 11, 12]].mean(axis=0)
    centred: F64 = keypoints - torso_centre
    centred.setflags(write=False)
    return centred


@dataclass(frozen=True)
class PersonSpec:
    """Where and how to draw one person.

    :param centre_px: torso centre in image pixels (x, y).
    :param height_px: person height (template unit) in pixels.
    :param angle_deg: in-plane rotation, counter-clockwise on screen.
    :param aspect: horizontal stretch (1 = template proportions).
    :param depth_m: depth of the person's torso (and root) plane from the camera.
    :param relief: multiple of :func:`person_relief` by which keypoints stand out of that
        plane (0 = a flat cut-out, 1 = the 3D pose the analytic RTMW3D model predicts).
    """

    centre_px: tuple[float, float]
    height_px: float
    angle_deg: float = 0.0
    aspect: float = 1.0
    depth_m: float = 2.0
    relief: float = 0.0

    def affine(self) -> F64:
        """Return the (2, 3) affine from template units to image pixels."""
        a = np.deg2rad(self.angle_deg)
        rot = np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])
        linear = rot @ np.diag([self.height_px * self.aspect, self.height_px])
        return np.concatenate([linear, np.asarray(self.centre_px, float).reshape(2, 1)], axis=1)

    def keypoints(self) -> F64:
        """Return (133, 2) ground-truth keypoints in image pixels."""
        m = self.affine()
        keypoints: F64 = person_template() @ m[:, :2].T + m[:, 2]
        return keypoints

    def keypoint_depths(self) -> F64:
        """Return (133,) depth of every keypoint along the optical axis, metres."""
        depths: F64 = self.depth_m + self.relief * person_relief()
        return depths


#: RTMW3D's z codec (MMPose SimCC3DLabel): depth extent 288, split 2, +-2.1744869 m.
RELIEF_Z_RANGE_M = 2.1744869
RELIEF_BINS = 576


def relief_bins(relief_m: NDArray[np.float64]) -> NDArray[np.float64]:
    """Return the simcc_z bins of root-relative depths (MMPose's codec, split ratio 2)."""
    bins: NDArray[np.float64] = (relief_m / RELIEF_Z_RANGE_M + 1.0) * RELIEF_BINS / 2.0
    return bins


@lru_cache(maxsize=1)
def person_relief() -> F64:
    """Return (133,) metres each keypoint lies behind (+) or in front of (-) the root.

    Torso and hips 0 (the root is the mid-hip), head and face -0.06, elbows -0.15, wrists
    and hands -0.35, knees -0.05, feet -0.06. Each value sits exactly on a bin of
    RTMW3D's z axis, so a decoder recovers it exactly.
    """
    relief = np.zeros(133)
    relief[0:5] = -0.06
    relief[[7, 8]] = -0.15
    relief[[9, 10]] = -0.35
    relief[[13, 14]] = -0.05
    relief[17:23] = -0.06
    relief[23:91] = -0.06
    relief[91:133] = -0.35
    snapped: F64 = (np.round(relief_bins(relief)) * 2.0 / RELIEF_BINS - 1.0) * RELIEF_Z_RANGE_M
    snapped.setflags(write=False)
    return snapped


def person_at(camera: CameraModel, torso_m: tuple[float, float, float],
              height_m: float = 1.70, angle_deg: float = 0.0,
              relief: float = 1.0) -> PersonSpec:
    """Return a person ``height_m`` tall whose torso centre is at ``torso_m`` (camera frame).

    The template is scaled so that its torso is metric at the torso's depth (square
    pixels in metres: ``aspect`` makes up for fx != fy).

    :param camera: the scene's (distortion-free) camera.
    :param torso_m: (x, y, z) metres of the torso centre in the optical frame.
    :param height_m: the person's height (template unit), metres.
    :param angle_deg: in-plane rotation.
    :param relief: see :class:`PersonSpec`.
    """
    x, y, z = torso_m
    k = camera.k
    fx, fy, cx, cy = k[0, 0], k[1, 1], k[0, 2], k[1, 2]
    return PersonSpec(centre_px=(float(fx * x / z + cx), float(fy * y / z + cy)),
                      height_px=float(fy * height_m / z), angle_deg=angle_deg,
                      aspect=float(fx / fy), depth_m=float(z), relief=relief)


@dataclass(frozen=True)
class SyntheticScene:
    """A drawn image with its ground truth.

    :param image: (H, W, 3) uint8 BGR.
    :param depth_m: (H, W) float32 metres, aligned with ``image``.
    :param people: what was drawn, in drawing order (later people occlude earlier ones).
    :param camera: pinhole camera of the image (no distortion).
    :param keypoints: (N, 133, 2) float64 ground-truth pixels (may lie outside the image).
    :param boxes: (N, 4) float64 xyxy boxes of the keypoints, clipped to the image.
    """

    image: NDArray[np.uint8]
    depth_m: NDArray[np.float32]
    people: tuple[PersonSpec, ...]
    camera: CameraModel
    keypoints: F64 = field(repr=False)
    boxes: F64 = field(repr=False)

    @property
    def inside(self) -> NDArray[np.bool_]:
        """(N, 133) bool: the keypoint lies inside the image."""
        h, w = self.image.shape[:2]
        x, y = self.keypoints[..., 0], self.keypoints[..., 1]
        inside: NDArray[np.bool_] = (x >= 0) & (y >= 0) & (x <= w - 1) & (y <= h - 1)
        return inside

    @property
    def keypoints_3d(self) -> F64:
        """(N, 133, 3) metric truth: keypoints back-projected at their depths (camera K)."""
        if not self.people:
            return np.zeros((0, len(person_template()), 3))
        depths = np.array([p.keypoint_depths() for p in self.people])
        uv1 = np.concatenate([self.keypoints, np.ones(self.keypoints.shape[:2] + (1,))], -1)
        rays = np.linalg.solve(self.camera.k, uv1.reshape(-1, 3).T).T.reshape(uv1.shape)
        points: F64 = rays / rays[..., 2:3] * depths[..., None]
        return points

    def depth_mm(self) -> NDArray[np.uint16]:
        """Return the depth as a 16UC1 image in millimetres (0 = no reading)."""
        return np.round(np.nan_to_num(self.depth_m, nan=0.0) * 1000.0).astype(np.uint16)


_SHIFT = 4  # sub-pixel bits for OpenCV drawing
_ONE = 1 << _SHIFT


def _pt(xy: F64) -> tuple[int, int]:
    return int(round(xy[0] * _ONE)), int(round(xy[1] * _ONE))


def _background(width: int, height: int, rng: np.random.Generator) -> NDArray[np.uint8]:
    """Low-saturation textured background (grey levels with slight, equal channel noise)."""
    small = rng.uniform(60, 110, size=(max(height // 32, 2), max(width // 32, 2)))
    grey = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    grey = grey + rng.normal(0, 3, size=(height, width))
    img = np.repeat(np.clip(grey, 0, 255)[..., None], 3, axis=2)
    img[..., 2] -= 6.0  # a faint blue-grey cast; R stays below G + B everywhere
    return np.clip(img, 0, 255).astype(np.uint8)


def _draw_person(image: NDArray[np.uint8], depth: NDArray[np.float32], spec: PersonSpec) -> None:
    kp = spec.keypoints()
    h = spec.height_px
    links = get_skeleton('coco_wholebody').links
    bone_px = max(1, int(round(0.012 * h)))
    aa = cv2.LINE_AA
    # Depth silhouette: thick limbs, torso, head, hands; the person is a fronto-parallel
    # cut-out at depth_m, wide enough that depth windows around keypoints stay inside it.
    sil = np.zeros(image.shape[:2], np.uint8)
    sil_px = max(6, int(round(0.05 * h)))
    for a, b in links:
        cv2.line(sil, _pt(kp[a]), _pt(kp[b]), 255, sil_px, cv2.LINE_8, _SHIFT)
    for p in kp:
        cv2.circle(sil, _pt(p), max(4, int(round(0.012 * h))) * _ONE, 255, -1, cv2.LINE_8, _SHIFT)
    torso = np.array([_pt(kp[i]) for i in (5, 6, 12, 11)], np.int32)
    cv2.fillPoly(sil, [torso], 255, cv2.LINE_8, _SHIFT)
    face = kp[23:91]
    cv2.fillPoly(sil, [np.array([_pt(p) for p in face[:17]], np.int32)], 255, cv2.LINE_8, _SHIFT)
    cv2.circle(sil, _pt(kp[0]), int(round(0.06 * h * _ONE)), 255, -1, cv2.LINE_8, _SHIFT)
    depth[sil > 0] = spec.depth_m
    if spec.relief:
        # Every keypoint at its own depth around it, nearer keypoints drawn last.
        depths = spec.keypoint_depths()
        radius = max(4, int(round(0.012 * h)))
        for i in np.argsort(-depths, kind='stable'):
            cv2.circle(depth, _pt(kp[i]), radius * _ONE, float(depths[i]), -1, cv2.LINE_8,
                       _SHIFT)

    # Colour: shirt, head, bones, joints, then the anchors on top.
    cv2.fillPoly(image, [torso], _SHIRT_BGR, aa, _SHIFT)
    cv2.circle(image, _pt(kp[0]), int(round(0.055 * h * _ONE)), _FACE_BGR, -1, aa, _SHIFT)
    for a, b in links:
        cv2.line(image, _pt(kp[a]), _pt(kp[b]), _BONE_BGR, bone_px, aa, _SHIFT)
    joint_r = max(1.0, 0.006 * h)
    for p in kp[:23]:
        cv2.circle(image, _pt(p), int(round(joint_r * _ONE)), _JOINT_BGR, -1, aa, _SHIFT)
    for p in kp[23:]:
        cv2.circle(image, _pt(p), int(round(0.6 * joint_r * _ONE)), _SKIN_BGR, -1, aa, _SHIFT)
    m = spec.affine()
    scale = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
    for (ax, ay, radius), colour in zip(ANCHORS, ANCHOR_COLORS_BGR):
        centre = m[:, :2] @ (ax, ay) + m[:, 2]
        cv2.circle(image, _pt(centre), int(round(radius * scale * _ONE)), colour, -1, aa, _SHIFT)


def default_camera(width: int, height: int, hfov_deg: float = 69.0) -> CameraModel:
    """Return a distortion-free camera with a RealSense-like horizontal field of view."""
    fx = width / 2.0 / np.tan(np.deg2rad(hfov_deg) / 2.0)
    return CameraModel.from_intrinsics(width, height, fx, fx, (width - 1) / 2.0,
                                       (height - 1) / 2.0, frame_id='camera_color_optical_frame')


def render_scene(width: int, height: int, people: Sequence[PersonSpec], seed: int = 0,
                 background_depth_m: float = 4.0,
                 camera: CameraModel | None = None) -> SyntheticScene:
    """Draw ``people`` on a textured background.

    :param width: image width in pixels.
    :param height: image height in pixels.
    :param people: the people, drawn in order (later ones occlude earlier ones).
    :param seed: seed of the background texture.
    :param background_depth_m: depth of the fronto-parallel background wall.
    :param camera: camera model; default :func:`default_camera`.
    :return: image, depth and ground truth.
    """
    rng = np.random.default_rng(seed)
    image = _background(width, height, rng)
    depth = np.full((height, width), background_depth_m, np.float32)
    for spec in people:
        _draw_person(image, depth, spec)
    keypoints = np.array([p.keypoints() for p in people]).reshape(-1, len(person_template()), 2)
    if len(people):
        boxes = np.concatenate([keypoints.min(axis=1), keypoints.max(axis=1)], axis=1)
        boxes = np.clip(boxes, 0, [width - 1, height - 1, width - 1, height - 1])
    else:
        boxes = np.zeros((0, 4))
    return SyntheticScene(image=image, depth_m=depth, people=tuple(people),
                          camera=camera or default_camera(width, height),
                          keypoints=keypoints, boxes=boxes)


def random_people(num_people: int, width: int, height: int, seed: int = 0,
                  min_height_frac: float = 0.35, max_height_frac: float = 0.8,
                  allow_partial: bool = False) -> list[PersonSpec]:
    """Return ``num_people`` people spread over the image in a row-major grid.

    Each grid cell holds one person, so anchors of different people never overlap.

    :param allow_partial: let people stand partly outside the image (their torso stays in).
    """
    rng = np.random.default_rng(seed)
    cols = int(np.ceil(np.sqrt(num_people * width / height)))
    rows = int(np.ceil(num_people / max(cols, 1)))
    cell_w, cell_h = width / max(cols, 1), height / max(rows, 1)
    people = []
    for i in range(num_people):
        r, c = divmod(i, cols)
        h = rng.uniform(min_height_frac, max_height_frac) * min(cell_h, cell_w * 2.2)
        jitter = 0.3 if allow_partial else 0.05
        cx = (c + 0.5 + rng.uniform(-jitter, jitter)) * cell_w
        cy = (r + 0.5 + rng.uniform(-jitter, jitter)) * cell_h - 0.05 * h
        people.append(PersonSpec(centre_px=(float(cx), float(cy)), height_px=float(h),
                                 angle_deg=float(rng.uniform(-10, 10)),
                                 aspect=float(rng.uniform(0.85, 1.15)),
                                 depth_m=float(rng.uniform(1.5, 3.5))))
    return people


def random_scene(num_people: int, width: int = 640, height: int = 480, seed: int = 0,
                 **kwargs: float | bool) -> SyntheticScene:
    """Return a scene of ``num_people`` people (see :func:`random_people` for options)."""
    people = random_people(num_people, width, height, seed, **kwargs)  # type: ignore[arg-type]
    return render_scene(width, height, people, seed=seed)
