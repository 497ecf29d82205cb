"""``CueEstimator``: the HRI cues of every person of successive images.

::

    from humanpose.cues import CueEstimator
    cues = CueEstimator('coco_wholebody')
    for image, stamp_ns in frames:
        poses = pipe(image, stamp_ns=stamp_ns)              # with tracking: ids
        c = cues(poses, stamp_ns, image_size=(w, h))        # or camera=CameraModel
        c.looking_at_camera, c.pointing_target_m, c.waving ...

Per image and person (2D always, 3D where the poses have 3D keypoints): head pose and
attention, distance, raised hands and hand states, pointing; per track over time:
waving and how long the person has been looking at the camera (engagement). The
estimator keeps that memory per track id (:class:`~humanpose.cues.state.CueMemory`);
without ids the temporal cues are unknown (NaN time, never waving or engaged).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Optional, Sequence

import numpy as np

from humanpose.cues.head import DEFAULT_HFOV_DEG, default_intrinsics, estimate_head_poses
from humanpose.cues.image_cues import estimate_image_cues
from humanpose.cues.pointing import PointingConfig
from humanpose.cues.state import CueMemory
from humanpose.cues.types import Cues
from humanpose.cues.waving import WaveConfig
from humanpose.errors import InvalidInputError
from humanpose.pose3d import check_intrinsics
from humanpose.skeletons import get_skeleton
from humanpose.types import CameraModel, Poses


@dataclass(frozen=True)
class CueConfig:
    """Thresholds of the cues.

    :param keypoint_threshold: keypoints below this confidence are not used.
    :param default_hfov_deg: horizontal field of view assumed without a camera model.
    :param head_min_points: face landmarks needed for a head pose.
    :param looking_max_deg: looking at the camera up to this attention angle, degrees.
    :param looking_grace_s: a look away shorter than this keeps the looking timer.
    :param engaged_min_s: looking this long (image time) to be engaged.
    :param engaged_max_distance_m: and no farther than this (where the distance is known;
        without 3D the distance does not block engagement).
    :param hand_raised_margin: wrist above the shoulder by this fraction of the torso.
    :param pointing: pointing thresholds and target plane.
    :param waving: waving thresholds.
    :param forget_after_s: drop the memory of a track unseen for this long.
    """

    keypoint_threshold: float = 0.3
    default_hfov_deg: float = DEFAULT_HFOV_DEG
    head_min_points: int = 5
    looking_max_deg: float = 25.0
    looking_grace_s: float = 0.5
    engaged_min_s: float = 1.0
    engaged_max_distance_m: float = 2.5
    hand_raised_margin: float = 0.1
    pointing: PointingConfig = field(default_factory=PointingConfig)
    waving: WaveConfig = field(default_factory=WaveConfig)
    forget_after_s: float = 3.0

    def __post_init__(self) -> None:
        problems = []
        if not 1.0 <= self.default_hfov_deg < 180.0:
            problems.append(f'default_hfov_deg must be in [1, 180), got {self.default_hfov_deg}')
        if self.head_min_points < 3:
            problems.append(f'head_min_points must be >= 3, got {self.head_min_points}')
        if not self.waving.min_hz < self.waving.max_hz:
            problems.append(f'waving min_hz ({self.waving.min_hz}) must be below max_hz '
                            f'({self.waving.max_hz})')
        if self.waving.window_s <= 0 or self.forget_after_s <= 0:
            problems.append('waving window and forget_after_s must be positive')
        if not np.any(np.asarray(self.pointing.plane_normal, float) != 0) or \
                not np.all(np.isfinite(self.pointing.plane_normal)):
            problems.append(f'pointing plane normal must be a non-zero vector, got '
                            f'{self.pointing.plane_normal}')
        if problems:
            raise InvalidInputError('invalid cue settings: ' + '; '.join(problems))

    def with_values(self, **values: object) -> CueConfig:
        """Return a copy with fields changed (``pointing__x`` / ``waving__x`` for nested)."""
        top = {k: v for k, v in values.items() if '__' not in k}
        nested: dict[str, dict[str, object]] = {}
        for key, value in values.items():
            if '__' in key:
                group, name = key.split('__', 1)
                nested.setdefault(group, {})[name] = value
        for group, changes in nested.items():
            top[group] = replace(getattr(self, group), **changes)
        return replace(self, **top)  # type: ignore[arg-type]


class CueEstimator:
    """Cues of the people of successive images of one camera.

    :param skeleton: keypoint layout of the poses (``coco_wholebody``: all cues; ``coco``:
        no hand states, head pose from nose, eyes and ears).
    :param config: thresholds (default :class:`CueConfig`).
    """

    def __init__(self, skeleton: str, config: Optional[CueConfig] = None) -> None:
        self.skeleton = get_skeleton(skeleton).name
        self.config = config or CueConfig()
        self.memory = CueMemory(forget_after_s=self.config.forget_after_s)
        self._default_camera: Optional[CameraModel] = None

    def reconfigure(self, config: CueConfig) -> None:
        """Use new thresholds from the next image on (the memory is kept)."""
        self.config = config
        self.memory.forget_after_s = config.forget_after_s

    def reset(self) -> None:
        """Forget all tracks (a new sequence)."""
        self.memory.reset()

    def forget(self, ids: Sequence[str]) -> None:
        """Forget tracks that ended."""
        self.memory.forget(ids)

    def _camera(self, camera: Optional[CameraModel], image_size: Optional[tuple[int, int]],
                rectified: bool) -> tuple[CameraModel, bool]:
        if camera is not None:
            try:
                check_intrinsics(camera, rectified)
                return camera, False
            except InvalidInputError:
                if image_size is None:  # an uncalibrated camera_info: use its size
                    image_size = (camera.width, camera.height)
                camera = None
        if image_size is None:
            raise InvalidInputError('cues need the camera model or at least the image size '
                                    '(image_size=(width, height)) for the head pose')
        w, h = int(image_size[0]), int(image_size[1])
        cam = self._default_camera
        hfov = self.config.default_hfov_deg
        if cam is None or (cam.width, cam.height) != (w, h) or \
                not np.isclose(cam.k[0, 0], (w / 2.0) / np.tan(np.radians(hfov) / 2.0)):
            cam = self._default_camera = default_intrinsics(w, h, hfov)
        return cam, True

    def __call__(self, poses: Poses, stamp_ns: int, *, camera: Optional[CameraModel] = None,
                 image_size: Optional[tuple[int, int]] = None,
                 rectified: bool = False) -> Cues:
        """Return the cues of one image's poses and remember what the next images need.

        :param poses: results of one image (ids from tracking for the temporal cues; 3D
            keypoints for distance, 3D rays and pointing targets).
        :param stamp_ns: the image stamp, nanoseconds (time of the temporal cues).
        :param camera: camera model of the image; None (or one whose matrix cannot turn
            pixels into rays, e.g. an uncalibrated camera_info) = :func:`default_intrinsics`
            of ``image_size`` (the result says ``intrinsics_assumed``).
        :param image_size: (width, height) of the image.
        :param rectified: the keypoints are pixels of the rectified image.
        :raises InvalidInputError: poses of another skeleton, or neither camera nor size.
        """
        if poses.skeleton != self.skeleton:
            raise InvalidInputError(f'cue estimator for {self.skeleton} got poses of '
                                    f'{poses.skeleton}; create it with the pipeline skeleton')
        cfg = self.config
        cam, assumed = self._camera(camera, image_size, rectified)
        n = len(poses)
        if n == 0:
            self.memory.update((), stamp_ns, np.zeros((0, 2)), np.zeros((0, 2), bool),
                               cfg.waving.window_s)
            return Cues.empty(0, assumed)
        thr = cfg.keypoint_threshold
        kp, conf = poses.keypoints, poses.confidence
        size = (image_size if image_size is not None and camera is not None
                and (int(image_size[0]), int(image_size[1])) != (cam.width, cam.height)
                else None)
        head = estimate_head_poses(kp, conf, self.skeleton, cam, rectified=rectified,
                                   image_size=size, min_confidence=thr,
                                   min_points=cfg.head_min_points)
        looking = head.valid & (head.attention_rad <= np.radians(cfg.looking_max_deg))

        image = estimate_image_cues(kp, conf, poses.keypoints_3d, poses.confidence_3d,
                                    self.skeleton, thr, cfg.hand_raised_margin, cfg.pointing)
        head_position, distance = image.head_position, image.distance
        raised, states, pointing = image.raised, image.hand_state, image.pointing

        # Temporal cues: per track id.
        track_ids = poses.ids if poses.ids else ('',) * n
        waving, waving_hand, waving_hz, duration, engaged = self.memory.observe(
            track_ids, stamp_ns, image.wave_x, image.wave_ok, looking, distance, cfg)

        f32 = np.float32
        return Cues(
            ids=tuple(poses.ids), has_head_pose=head.valid,
            head_ypr_rad=head.ypr_rad.astype(f32), head_direction=head.direction.astype(f32),
            head_position_m=head_position.astype(f32),
            attention_angle_rad=head.attention_rad.astype(f32), looking_at_camera=looking,
            looking_duration_s=duration.astype(f32), engaged=engaged,
            distance_m=distance.astype(f32), hand_raised=raised, hand_state=states,
            waving=waving, waving_hand=waving_hand, waving_frequency_hz=waving_hz.astype(f32),
            pointing=pointing.pointing, pointing_hand=pointing.hand,
            pointing_confidence=pointing.confidence.astype(f32),
            pointing_origin_px=pointing.origin_px.astype(f32),
            pointing_direction_px=pointing.direction_px.astype(f32),
            pointing_origin_m=pointing.origin_m.astype(f32),
            pointing_direction=pointing.direction.astype(f32),
            pointing_target_m=pointing.target_m.astype(f32), intrinsics_assumed=assumed)
