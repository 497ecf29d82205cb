"""Metric 3D of whole-body poses: from a 3D pose network, from depth, or both fused.

A 3D pose network (RTMW3D, head type ``simcc3d``) predicts, per keypoint, where it is in
the image and how far it lies in front of or behind the person's root (the mid-hip),
in metres along the optical axis. With the camera's rays ``r_i = K^-1 (u_i, v_i, 1)``
every keypoint is then ``P_i = (tau + z_i) r_i`` for one unknown per person: ``tau``,
the root's depth. That skeleton reprojects exactly onto the 2D keypoints for *any*
``tau`` (image position and relative depth carry no absolute scale), so a reprojection
fit alone cannot place the person; MMPose takes a fixed prior (5.14 m). Here:

* **monocular** (no depth): ``tau`` is the depth at which the person's torso has the
  size of a reference adult's (:data:`REFERENCE_TORSO_M`, scaled by ``body_height_m``).
  Each torso segment a-b has length ``|tau g + h|`` with ``g = r_a - r_b`` and
  ``h = z_a r_a - z_b r_b``. Closed form first: to first order in ``h / tau`` the length
  is ``tau |g| + g.h / |g|``, linear in ``tau``, so the confidence-weighted least-squares
  ``tau`` is a ratio of sums; then three Gauss-Newton steps on the exact lengths. The fit
  residual is the weighted RMS difference, in metres, between the torso segments placed
  at ``tau`` and the reference. The depth is as right as the person's size is
  typical: a person 10 % larger than the reference is placed 10 % too close.
* **depth** (a 2D network with an aligned depth image): :func:`humanpose.lift3d.lift_poses`.
* **fused** (a 3D network and depth): each torso keypoint with a depth reading gives
  ``tau_i = d_i - z_i``; their median anchors the root, so the body's size comes from the
  measurement, not from the reference. A keypoint keeps its own depth reading where it
  agrees with the predicted body (``|d_i - (tau + z_i)| <= tolerance_m``) and takes the
  predicted depth where it has no reading or an outlier (a hand in front of the body
  whose window saw the wall, depth holes, beyond the sensor's range). The residual is
  the RMS of ``d_i - (tau + z_i)`` over the keypoints that agreed. A person without a
  torso reading is placed monocularly (and says so in ``source_3d``).

Without a camera calibration the intrinsics come from a default horizontal field of
view (:data:`DEFAULT_HFOV_DEG`), and the results say so (``Poses.intrinsics_assumed``).
Everything is vectorised over people and keypoints.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from typing import Any, NamedTuple, Optional

import numpy as np
from numpy.typing import NDArray

from humanpose.errors import InvalidInputError
from humanpose.lift3d import lift_poses, masked_median, pixel_rays, sample_depth
from humanpose.types import CameraModel, Poses

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]

#: ``Poses.source_3d`` / ``HumanPose.source_3d`` values (the message's constants).
SOURCE_NONE = 0
SOURCE_DEPTH = 1
SOURCE_MONOCULAR = 2
SOURCE_FUSED = 3
SOURCE_NAMES: tuple[str, ...] = ('none', 'depth', 'monocular', 'fused')

#: Where 3D may come from (parameter ``pose3d_source``); ``auto``: fused with a 3D network
#: and depth, monocular with a 3D network alone, depth with a 2D network and depth, else
#: none.
MODES: tuple[str, ...] = ('auto', 'none', 'depth', 'monocular', 'fused')

#: Horizontal field of view assumed when no camera_info is given (a typical webcam or
#: robot head camera: 60 degrees); the message flags it.
DEFAULT_HFOV_DEG = 60.0
#: Height of the reference adult whose torso :data:`REFERENCE_TORSO_M` describes.
REFERENCE_HEIGHT_M = 1.70
#: Torso segments of a reference adult of 1.70 m between COCO keypoints (shoulders 5, 6;
#: hips 11, 12), metres: shoulder width, hip width, left and right shoulder-to-hip. The
#: torso is used because it is rigid, rarely hidden and in view whenever a person is
#: near the robot (legs are often cut off, arms bend and foreshorten in their own ways).
#: Columns: keypoint a, keypoint b, length.
REFERENCE_TORSO_M: NDArray[np.float64] = np.array([
    [5, 6, 0.374],
    [11, 12, 0.272],
    [5, 11, 0.546],
    [6, 12, 0.546],
])
#: Keypoints whose depth readings anchor the root in fusion: shoulders and hips.
TORSO_KEYPOINTS = (5, 6, 11, 12)
#: Gauss-Newton steps after the closed form (the linearisation error is O((h / tau)^2)).
_GAUSS_NEWTON_STEPS = 3


class Placement(NamedTuple):
    """Metric 3D of N people.

    :param points: (N, K, 3) float32 metres, camera optical frame; NaN where unknown.
    :param confidence: (N, K) float32 in [0, 1]; 0 where ``points`` is NaN.
    :param source: (N,) uint8 ``SOURCE_*`` per person.
    :param residual: (N,) float32 metres (see the module docstring); NaN where no fit.
    :param root_depth: (N,) float32 metres, depth of the root (z = 0 of the relative
        depths); NaN where the person could not be placed.
    """

    points: F32
    confidence: F32
    source: NDArray[np.uint8]
    residual: F32
    root_depth: F32


def assumed_camera(width: int, height: int, hfov_deg: float = DEFAULT_HFOV_DEG,
                   frame_id: str = '') -> CameraModel:
    """Return a distortion-free camera of ``hfov_deg`` horizontal field of view.

    Square pixels, principal point at the image centre. For images without camera_info.
    """
    if not 1.0 <= hfov_deg <= 179.0:
        raise InvalidInputError(f'the assumed field of view must be in [1, 179] degrees, '
                                f'got {hfov_deg}')
    fx = width / 2.0 / np.tan(np.deg2rad(hfov_deg) / 2.0)
    return CameraModel.from_intrinsics(width, height, fx, fx, (width - 1) / 2.0,
                                       (height - 1) / 2.0, frame_id=frame_id)


def check_intrinsics(camera: CameraModel, rectified: bool = False) -> None:
    """Raise unless the camera's K (or P's left block) can turn pixels into rays.

    :raises InvalidInputError: non-finite, non-positive focal lengths or a singular matrix.
    """
    assert camera.p is not None
    matrix = camera.p[:, :3] if rectified else camera.k
    (a, b, c), (d, e, f), (g, h, i) = matrix.tolist()
    det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)
    if not (np.isfinite(det) and a > 0 and e > 0 and abs(det) > 1e-12):
        raise InvalidInputError(
            f'the camera matrix {"P" if rectified else "K"} = {matrix.ravel().tolist()} '
            'cannot turn pixels into rays (singular or no focal length); publish the '
            "camera's calibration on camera_info, or give none to use the default field of "
            f'view ({DEFAULT_HFOV_DEG:g} degrees, flagged as assumed)')


def _homogeneous_rays(keypoints_px: NDArray[Any], camera: CameraModel, rectified: bool,
                      image_size: Optional[tuple[int, int]]) -> F64:
    """(N, K, 3) rays (x/z, y/z, 1); NaN where the pixel is not finite."""
    check_intrinsics(camera, rectified)
    assert camera.p is not None
    matrix = camera.p[:, :3] if rectified else camera.k
    size = image_size or (camera.width, camera.height)
    plain = ((rectified or not np.any(camera.d)) and size == (camera.width, camera.height)
             and matrix[1, 0] == 0 and matrix[2, 0] == 0 and matrix[2, 1] == 0
             and matrix[2, 2] == 1)
    rays: F64 = np.ones(np.shape(keypoints_px)[:-1] + (3,))
    if plain:  # the usual pinhole K: invert it in closed form (no solve per call)
        (fx, skew, cx), (_, fy, cy) = matrix[:2].tolist()
        kp = np.asarray(keypoints_px, np.float64)
        rays[..., 1] = (kp[..., 1] - cy) / fy
        rays[..., 0] = (kp[..., 0] - cx - skew * rays[..., 1]) / fx
    else:
        rays[..., :2] = pixel_rays(keypoints_px, camera, rectified=rectified,
                                   image_size=image_size)
    return rays


@lru_cache(maxsize=8)
def _torso(body_height_m: float) -> tuple[NDArray[np.intp], NDArray[np.intp], F64]:
    table = REFERENCE_TORSO_M
    lengths: F64 = table[:, 2] * (body_height_m / REFERENCE_HEIGHT_M)
    return table[:, 0].astype(np.intp), table[:, 1].astype(np.intp), lengths


def root_depth_from_size(rays: F64, relative_depth: NDArray[Any], weights: NDArray[Any],
                         body_height_m: float = REFERENCE_HEIGHT_M
                         ) -> tuple[F64, F64]:
    """Return each person's root depth from the reference torso size, and the residual.

    :param rays: (N, K, 3) homogeneous rays of the keypoints.
    :param relative_depth: (N, K) metres relative to the root.
    :param weights: (N, K) keypoint weights (confidence; 0 = not used).
    :param body_height_m: height of the person the reference torso is scaled to.
    :return: ``tau`` (N,) metres (NaN where fewer than two torso segments have weight) and
        the weighted RMS segment-length residual (N,) metres.
    """
    a, b, lengths = _torso(body_height_m)
    z = np.asarray(relative_depth, np.float64)
    ra, rb = rays[:, a], rays[:, b]                                   # (N, S, 3)
    g = ra - rb
    h = z[:, a, None] * ra - z[:, b, None] * rb
    w = np.minimum(weights[:, a], weights[:, b]).astype(np.float64)   # (N, S)
    unusable = ~np.isfinite(g.sum(-1) + h.sum(-1) + w) | ~(w > 0)
    w[unusable] = 0.0
    g[unusable] = 0.0
    h[unusable] = 0.0
    g2, gh, h2 = (g * g).sum(-1), (g * h).sum(-1), (h * h).sum(-1)
    with np.errstate(invalid='ignore', divide='ignore'):
        # Closed form of the linearised problem, length ~ tau |g| + g.h / |g|:
        # tau = sum w |g| (l - g.h / |g|) / sum w |g|^2.
        tau = (w * (np.sqrt(g2) * lengths - gh)).sum(-1) / (w * g2).sum(-1)
        for _ in range(_GAUSS_NEWTON_STEPS):  # on the exact lengths |tau g + h|
            t = tau[:, None]
            length = np.sqrt(np.maximum(t * t * g2 + 2.0 * t * gh + h2, 1e-18))
            slope = (t * g2 + gh) / length
            step = (w * slope * (length - lengths)).sum(-1) / (w * slope * slope).sum(-1)
            tau = tau - np.where(np.isfinite(step), step, 0.0)
        t = tau[:, None]
        length = np.sqrt(np.maximum(t * t * g2 + 2.0 * t * gh + h2, 0.0))
        residual = np.sqrt((w * (length - lengths) ** 2).sum(-1) / w.sum(-1))
        placed = ((~unusable).sum(-1) >= 2) & (tau > 0)
    return np.where(placed, tau, np.nan), np.where(placed, residual, np.nan)


def place_monocular(keypoints_px: NDArray[Any], confidence: NDArray[Any],
                    relative_depth: NDArray[Any], relative_depth_confidence: NDArray[Any],
                    camera: CameraModel, *, rectified: bool = False,
                    image_size: Optional[tuple[int, int]] = None,
                    body_height_m: float = REFERENCE_HEIGHT_M,
                    min_confidence: float = 0.3) -> Placement:
    """Place root-relative 3D poses in metres without depth (see the module docstring).

    :param keypoints_px: (N, K, 2) pixels of the image.
    :param confidence: (N, K) 2D confidence in [0, 1].
    :param relative_depth: (N, K) metres relative to the root (RTMW3D's z).
    :param relative_depth_confidence: (N, K) in [0, 1].
    :param camera: the image's camera (real, or :func:`assumed_camera`).
    :param rectified: the pixels belong to the rectified image (rays from P).
    :param image_size: (width, height) of the image when it differs from the camera's.
    :param body_height_m: height of the reference adult the torso is scaled to.
    :param min_confidence: torso keypoints below this (2D or depth) do not enter the fit.
    :return: the placement; people whose torso is not seen get NaN and ``SOURCE_NONE``.
    :raises InvalidInputError: unusable intrinsics or shapes.
    """
    if not body_height_m > 0:
        raise InvalidInputError(f'body_height_m must be positive, got {body_height_m}')
    rays = _homogeneous_rays(keypoints_px, camera, rectified, image_size)
    z = np.asarray(relative_depth, np.float64)
    conf3 = np.minimum(confidence, relative_depth_confidence).astype(np.float32)
    weights = np.where(conf3 >= min_confidence, conf3, 0.0)
    tau, residual = root_depth_from_size(rays, z, weights, body_height_m)
    return _placement(rays, tau[:, None] + z, conf3, np.isfinite(tau), SOURCE_MONOCULAR,
                      residual, tau)


def _placement(rays: F64, depth: F64, conf3: NDArray[Any], placed: NDArray[np.bool_],
               source: int, residual: F64, tau: F64) -> Placement:
    points = depth[..., None] * rays
    # Invalid keypoints (confidence 0: not found, or outside the crop) get no position.
    valid = placed[:, None] & np.isfinite(points).all(-1) & (depth > 0) & (conf3 > 0)
    points[~valid] = np.nan
    return Placement(points.astype(np.float32),
                     np.where(valid, conf3, 0.0).astype(np.float32),
                     np.where(placed, source, SOURCE_NONE).astype(np.uint8),
                     residual.astype(np.float32), np.asarray(tau, np.float32))


def fuse_with_depth(keypoints_px: NDArray[Any], confidence: NDArray[Any],
                    relative_depth: NDArray[Any], relative_depth_confidence: NDArray[Any],
                    depth: NDArray[Any], camera: CameraModel, *,
                    encoding: Optional[str] = None, window: int = 5, rectified: bool = False,
                    image_size: Optional[tuple[int, int]] = None,
                    tolerance_m: float = 0.15, body_height_m: float = REFERENCE_HEIGHT_M,
                    min_confidence: float = 0.3) -> Placement:
    """Fuse a 3D network's relative depths with an aligned depth image.

    :param depth: (Hd, Wd) depth registered to the image (16UC1 mm or 32FC1 m).
    :param encoding: its encoding, None = from the dtype.
    :param window: side of the depth median window, depth pixels.
    :param tolerance_m: a keypoint keeps its depth reading if it is within this of the
        predicted body's depth there, else it takes the predicted depth.
    :param min_confidence: torso keypoints below this do not anchor the root.
    :return: the placement: ``SOURCE_FUSED`` where a torso depth anchored the root,
        ``SOURCE_MONOCULAR`` where none did (placed by size, as :func:`place_monocular`).
        Other parameters as in :func:`place_monocular`.
    :raises InvalidInputError: unusable intrinsics, depth image or encoding.
    """
    if not tolerance_m > 0:
        raise InvalidInputError(f'fusion tolerance must be positive, got {tolerance_m} m')
    size = image_size or (camera.width, camera.height)
    measured = sample_depth(keypoints_px, depth, encoding=encoding, window=window,
                            image_size=size).astype(np.float64)            # (N, K), NaN
    rays = _homogeneous_rays(keypoints_px, camera, rectified, size)
    z = np.asarray(relative_depth, np.float64)
    conf3 = np.minimum(confidence, relative_depth_confidence).astype(np.float32)
    torso = np.asarray(TORSO_KEYPOINTS)
    estimates = measured[:, torso] - z[:, torso]
    anchors = np.isfinite(estimates) & (conf3[:, torso] >= min_confidence)
    tau_depth = masked_median(estimates, anchors).astype(np.float64)    # (N,)
    fused = np.isfinite(tau_depth)
    weights = np.where(conf3 >= min_confidence, conf3, 0.0)
    tau_size, residual_size = root_depth_from_size(rays, z, weights, body_height_m)
    tau = np.where(fused, tau_depth, tau_size)
    predicted = tau[:, None] + z
    with np.errstate(invalid='ignore'):
        agree = fused[:, None] & (np.abs(measured - predicted) <= tolerance_m)
    final = np.where(agree, measured, predicted)
    # Measured keypoints are as sure as their 2D; predicted ones also need their depth.
    conf = np.where(agree, np.asarray(confidence, np.float32), conf3)
    with np.errstate(invalid='ignore', divide='ignore'):
        diff = np.where(agree, measured - predicted, 0.0)
        residual_fused = np.sqrt((diff ** 2).sum(-1) / agree.sum(-1))
    residual = np.where(fused, residual_fused, residual_size)
    placement = _placement(rays, final, conf, np.isfinite(tau), SOURCE_MONOCULAR, residual,
                           tau)
    source = np.where(fused, SOURCE_FUSED, placement.source).astype(np.uint8)
    return placement._replace(source=source)


def resolve_source(mode: str, network_3d: bool, has_depth: bool) -> int:
    """Return the ``SOURCE_*`` a frame's 3D comes from under ``pose3d_source`` ``mode``.

    ``fused`` without a depth image falls back to monocular (each person says so);
    ``depth`` without one gives no 3D.

    :raises InvalidInputError: an unknown mode, or monocular / fused with a 2D network.
    """
    if mode not in MODES:
        raise InvalidInputError(f'pose3d_source must be one of {", ".join(MODES)}, got {mode!r}')
    if mode in ('monocular', 'fused') and not network_3d:
        raise InvalidInputError(
            f'pose3d_source {mode} needs a 3D pose network (head type simcc3d, e.g. '
            'RTMW3D with pose_card rtmw3d-l-384x288); this model is 2D. Use auto or depth.')
    if mode == 'none':
        return SOURCE_NONE
    if mode == 'depth':
        return SOURCE_DEPTH if has_depth else SOURCE_NONE
    if network_3d:
        return SOURCE_FUSED if has_depth and mode in ('auto', 'fused') else SOURCE_MONOCULAR
    return SOURCE_DEPTH if has_depth else SOURCE_NONE


def poses_with_3d(poses: Poses, mode: str = 'auto', *, camera: Optional[CameraModel] = None,
                  depth: Optional[NDArray[Any]] = None, depth_encoding: Optional[str] = None,
                  image_size: Optional[tuple[int, int]] = None, rectified: bool = False,
                  window: int = 5, outlier_m: Optional[float] = None,
                  tolerance_m: float = 0.15, body_height_m: float = REFERENCE_HEIGHT_M,
                  hfov_deg: float = DEFAULT_HFOV_DEG, min_confidence: float = 0.3) -> Poses:
    """Return ``poses`` with 3D from the source ``mode`` selects (see :func:`resolve_source`).

    :param poses: 2D poses, with ``relative_depth`` when the network is a 3D one.
    :param mode: ``auto``, ``none``, ``depth``, ``monocular`` or ``fused``.
    :param camera: the image's camera; None = depth needs one (error), monocular assumes
        ``hfov_deg`` and flags ``intrinsics_assumed``.
    :param depth: aligned depth image, or None.
    :param image_size: (width, height) of the image (required without a camera).
    :param outlier_m: depth-only 3D: keypoints this far behind their person are invalid.
    :return: the poses with ``keypoints_3d``, ``confidence_3d``, ``source_3d`` and
        ``residual_3d`` (or unchanged for ``SOURCE_NONE``).
    :raises InvalidInputError: bad mode, camera, depth or encoding.
    """
    network_3d = poses.relative_depth is not None
    source = resolve_source(mode, network_3d, depth is not None)
    if source == SOURCE_NONE:
        return poses
    if source == SOURCE_DEPTH:
        assert depth is not None  # resolve_source says depth only with a depth image
        if camera is None:
            raise InvalidInputError('a depth image needs the camera model (camera_info) to '
                                    'turn pixels into metres')
        lifted = lift_poses(poses, depth, camera, encoding=depth_encoding, window=window,
                            rectified=rectified, outlier_m=outlier_m, image_size=image_size)
        n = len(poses)
        return lifted.with_3d(lifted.keypoints_3d, lifted.confidence_3d,  # type: ignore[arg-type]
                              np.full(n, SOURCE_DEPTH, np.uint8),
                              np.full(n, np.nan, np.float32))
    assumed = camera is None
    if camera is None:
        if source == SOURCE_FUSED:
            raise InvalidInputError('a depth image needs the camera model (camera_info) to '
                                    'turn pixels into metres')
        if image_size is None:
            raise InvalidInputError('monocular 3D without a camera model needs the image '
                                    'size to assume a field of view')
        camera = assumed_camera(image_size[0], image_size[1], hfov_deg)
    assert poses.relative_depth is not None and poses.relative_depth_confidence is not None
    if not len(poses):
        k = poses.num_keypoints
        return replace(poses, keypoints_3d=np.zeros((0, k, 3), np.float32),
                       confidence_3d=np.zeros((0, k), np.float32),
                       source_3d=np.zeros(0, np.uint8), residual_3d=np.zeros(0, np.float32),
                       intrinsics_assumed=assumed)
    common = dict(rectified=rectified, image_size=image_size, body_height_m=body_height_m,
                  min_confidence=min_confidence)
    if source == SOURCE_FUSED:
        assert depth is not None
        placed = fuse_with_depth(poses.keypoints, poses.confidence, poses.relative_depth,
                                 poses.relative_depth_confidence, depth, camera,
                                 encoding=depth_encoding, window=window,
                                 tolerance_m=tolerance_m, **common)  # type: ignore[arg-type]
    else:
        placed = place_monocular(poses.keypoints, poses.confidence, poses.relative_depth,
                                 poses.relative_depth_confidence, camera,
                                 **common)  # type: ignore[arg-type]
    out = poses.with_3d(placed.points, placed.confidence, placed.source, placed.residual)
    return replace(out, intrinsics_assumed=assumed)
