"""Value types that flow through humanpose: arrays inside frozen dataclasses.

Shapes and units are part of each type's contract; constructors check them so that a
wrong shape fails where it is made, not three stages later.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Optional

import numpy as np
from numpy.typing import NDArray

from humanpose.errors import InvalidInputError

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]


def _check_shape(name: str, array: NDArray[np.generic], shape: tuple[Optional[int], ...]) -> None:
    ok = array.ndim == len(shape) and all(
        want is None or got == want for got, want in zip(array.shape, shape))
    if not ok:
        wanted = ', '.join('*' if s is None else str(s) for s in shape)
        raise InvalidInputError(f'{name} must have shape ({wanted}), got {array.shape}')


@dataclass(frozen=True)
class Detections:
    """People found in one image.

    :param boxes: (N, 4) float32, x_min, y_min, x_max, y_max in image pixels.
    :param scores: (N,) float32, person confidence in [0, 1].
    """

    boxes: F32
    scores: F32

    def __post_init__(self) -> None:
        object.__setattr__(self, 'boxes', np.asarray(self.boxes, dtype=np.float32).reshape(-1, 4))
        object.__setattr__(self, 'scores', np.asarray(self.scores, dtype=np.float32).reshape(-1))
        if len(self.scores) != len(self.boxes):
            raise InvalidInputError(
                f'{len(self.boxes)} boxes but {len(self.scores)} scores; give one score per box')

    def __len__(self) -> int:
        return len(self.boxes)

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros((0,), np.float32))


@dataclass(frozen=True)
class Poses:
    """Whole-body poses of the people in one image.

    :param keypoints: (N, K, 2) float32, pixels of the source image (x right, y down,
        centre of the top-left pixel at (0, 0)).
    :param confidence: (N, K) float32 in [0, 1], normalised as the model's codec defines
        keypoint visibility.
    :param scores: (N, K) float32, the network's raw keypoint scores (not probabilities).
    :param boxes: (N, 4) float32, the person boxes the poses were estimated in (xyxy px).
    :param box_scores: (N,) float32 in [0, 1], person confidence.
    :param skeleton: name of the keypoint layout (see :mod:`humanpose.skeletons`).
    :param ids: N track ids (empty strings when tracking is off), or () for "no ids".
    :param keypoints_3d: (N, K, 3) float32 metres in the camera optical frame, NaN where
        unknown; None when no depth was used.
    :param confidence_3d: (N, K) float32 in [0, 1], 0 where ``keypoints_3d`` is NaN.
    :param relative_depth: (N, K) float32 metres along the optical axis relative to the
        person's root (mid-hip), as a 3D pose network (RTMW3D) predicts it; None for 2D
        networks.
    :param relative_depth_confidence: (N, K) float32 in [0, 1], with ``relative_depth``.
    :param source_3d: (N,) uint8, where each person's 3D came from (``SOURCE_*`` of
        :mod:`humanpose.pose3d`: 0 none, 1 depth, 2 monocular, 3 fused); None = depth
        when ``keypoints_3d`` is set.
    :param residual_3d: (N,) float32 metres, how well the 3D fits its evidence (see
        :mod:`humanpose.pose3d`); NaN where there is no fit.
    :param intrinsics_assumed: the 3D used a default field of view because no camera
        calibration was given.
    """

    keypoints: F32
    confidence: F32
    scores: F32
    boxes: F32
    box_scores: F32
    skeleton: str
    ids: tuple[str, ...] = ()
    keypoints_3d: Optional[F32] = None
    confidence_3d: Optional[F32] = None
    relative_depth: Optional[F32] = None
    relative_depth_confidence: Optional[F32] = None
    source_3d: Optional[NDArray[np.uint8]] = None
    residual_3d: Optional[F32] = None
    intrinsics_assumed: bool = False

    def __post_init__(self) -> None:
        n = len(self.keypoints)
        _check_shape('keypoints', self.keypoints, (n, None, 2))
        k = self.keypoints.shape[1]
        _check_shape('confidence', self.confidence, (n, k))
        _check_shape('scores', self.scores, (n, k))
        _check_shape('boxes', self.boxes, (n, 4))
        _check_shape('box_scores', self.box_scores, (n,))
        if self.ids and len(self.ids) != n:
            raise InvalidInputError(f'{n} poses but {len(self.ids)} ids')
        if (self.keypoints_3d is None) != (self.confidence_3d is None):
            raise InvalidInputError('keypoints_3d and confidence_3d come together or not at all')
        if self.keypoints_3d is not None and self.confidence_3d is not None:
            _check_shape('keypoints_3d', self.keypoints_3d, (n, k, 3))
            _check_shape('confidence_3d', self.confidence_3d, (n, k))
        if (self.relative_depth is None) != (self.relative_depth_confidence is None):
            raise InvalidInputError(
                'relative_depth and relative_depth_confidence come together or not at all')
        if self.relative_depth is not None and self.relative_depth_confidence is not None:
            _check_shape('relative_depth', self.relative_depth, (n, k))
            _check_shape('relative_depth_confidence', self.relative_depth_confidence, (n, k))
        for name in ('source_3d', 'residual_3d'):
            value = getattr(self, name)
            if value is not None:
                _check_shape(name, value, (n,))

    def __len__(self) -> int:
        return len(self.keypoints)

    @property
    def num_keypoints(self) -> int:
        return int(self.keypoints.shape[1])

    @classmethod
    def empty(cls, skeleton: str, num_keypoints: int) -> Poses:
        """Return a result with no people (what an empty image gives)."""
        return cls(
            keypoints=np.zeros((0, num_keypoints, 2), np.float32),
            confidence=np.zeros((0, num_keypoints), np.float32),
            scores=np.zeros((0, num_keypoints), np.float32),
            boxes=np.zeros((0, 4), np.float32),
            box_scores=np.zeros((0,), np.float32),
            skeleton=skeleton,
        )

    def with_ids(self, ids: tuple[str, ...]) -> Poses:
        return replace(self, ids=tuple(ids))

    def with_3d(self, keypoints_3d: F32, confidence_3d: F32,
                source_3d: Optional[NDArray[np.generic]] = None,
                residual_3d: Optional[NDArray[np.generic]] = None) -> Poses:
        """Return these poses with 3D keypoints (and where they came from, if given)."""
        return replace(self, keypoints_3d=np.asarray(keypoints_3d, np.float32),
                       confidence_3d=np.asarray(confidence_3d, np.float32),
                       source_3d=None if source_3d is None else np.asarray(source_3d, np.uint8),
                       residual_3d=(None if residual_3d is None
                                    else np.asarray(residual_3d, np.float32)))

    def select(self, index: NDArray[np.intp]) -> Poses:
        """Return the people at ``index`` (an index array or boolean mask), in that order."""
        idx = np.arange(len(self))[index]
        return Poses(
            keypoints=self.keypoints[idx], confidence=self.confidence[idx],
            scores=self.scores[idx], boxes=self.boxes[idx], box_scores=self.box_scores[idx],
            skeleton=self.skeleton,
            ids=tuple(self.ids[i] for i in idx) if self.ids else (),
            keypoints_3d=None if self.keypoints_3d is None else self.keypoints_3d[idx],
            confidence_3d=None if self.confidence_3d is None else self.confidence_3d[idx],
            relative_depth=None if self.relative_depth is None else self.relative_depth[idx],
            relative_depth_confidence=None if self.relative_depth_confidence is None
            else self.relative_depth_confidence[idx],
            source_3d=None if self.source_3d is None else self.source_3d[idx],
            residual_3d=None if self.residual_3d is None else self.residual_3d[idx],
            intrinsics_assumed=self.intrinsics_assumed,
        )


def _intrinsics_problem(matrix: F64) -> str:
    """Return what is wrong with a 3 x 3 block [[fx, s, cx], [0, fy, cy], [0, 0, 1]] ('')."""
    if not np.isfinite(matrix).all():
        return 'it has NaN or infinite entries'
    if not (matrix[0, 0] > 0 and matrix[1, 1] > 0):
        return f'the focal lengths fx = {matrix[0, 0]:g}, fy = {matrix[1, 1]:g} must be positive'
    if not np.allclose(matrix[2], [0.0, 0.0, 1.0]) or not np.isclose(matrix[1, 0], 0.0):
        return 'its last row must be [0, 0, 1] (and it must be upper triangular)'
    return ''


@dataclass(frozen=True)
class CameraModel:
    """A pinhole camera with the semantics of sensor_msgs/CameraInfo.

    :param width: image width in pixels the calibration belongs to.
    :param height: image height in pixels.
    :param k: (3, 3) float64 intrinsic matrix of the raw (distorted) image.
    :param d: (n,) float64 distortion coefficients (``distortion_model`` says which).
    :param p: (3, 4) float64 projection matrix of the rectified image.
    :param distortion_model: ``plumb_bob``, ``rational_polynomial`` or ``equidistant``.
    :param frame_id: optical frame of the camera.
    """

    width: int
    height: int
    k: F64
    d: F64 = field(default_factory=lambda: np.zeros(0, np.float64))
    p: Optional[F64] = None
    distortion_model: str = 'plumb_bob'
    frame_id: str = ''

    @property
    def calibrated(self) -> bool:
        """Whether K holds a calibration (all zero = uncalibrated, as in CameraInfo)."""
        return bool(self.k.any())

    def __post_init__(self) -> None:
        object.__setattr__(self, 'k', np.asarray(self.k, np.float64).reshape(3, 3))
        object.__setattr__(self, 'd', np.asarray(self.d, np.float64).reshape(-1))
        if self.p is None:
            p = np.zeros((3, 4), np.float64)
            p[:, :3] = self.k
            object.__setattr__(self, 'p', p)
        else:
            object.__setattr__(self, 'p', np.asarray(self.p, np.float64).reshape(3, 4))
        if self.width <= 0 or self.height <= 0:
            raise InvalidInputError(
                f'camera size must be positive, got {self.width}x{self.height}')
        assert self.p is not None
        for name, matrix in (('K', self.k), ('P', self.p[:, :3])):
            if not matrix.any():
                continue  # all zero: an uncalibrated camera (sensor_msgs/CameraInfo's sign)
            problem = _intrinsics_problem(matrix)
            if problem:
                raise InvalidInputError(
                    f'camera {name} = {np.round(matrix, 6).tolist()} is not a pinhole camera '
                    f'matrix: {problem}; check the calibration (camera_info)')
        if not np.isfinite(self.d).all():
            raise InvalidInputError(f'camera distortion D must be finite, got {self.d.tolist()}')

    @classmethod
    def from_intrinsics(cls, width: int, height: int, fx: float, fy: float, cx: float,
                        cy: float, frame_id: str = '') -> CameraModel:
        """Return an undistorted camera with the given focal lengths and principal point."""
        k = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
        return cls(width=width, height=height, k=k, frame_id=frame_id)
