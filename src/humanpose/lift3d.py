"""3D keypoints from an aligned depth image and the colour camera's model.

For every keypoint the depth is the median of the valid readings in a small square
window around it (0, NaN, Inf, negative readings and readings beyond :data:`MAX_DEPTH_M`
are not readings). The keypoint is then back-projected along its camera ray:
``X = z * ray``, with ``z`` the depth along the optical axis (REP 118: depth images hold
z, not range). A keypoint without a valid reading gets a NaN position and is reported
invalid; it is never placed at 0 m.

Which image the keypoints come from decides the camera model (sensor_msgs/CameraInfo
semantics):

* ``rectified=False`` (default; ``image_raw`` topics): the keypoints are pixels of the raw,
  distorted image. Rays come from ``K`` and the distortion ``D`` (``plumb_bob``,
  ``rational_polynomial`` or ``equidistant``), undistorted with OpenCV.
* ``rectified=True`` (``image_rect*`` topics): the keypoints are pixels of the rectified
  image. Rays come from ``P`` (its left 3 x 3 block); ``D`` is ignored. Points are in the
  rectified optical frame (the same as the camera's frame for a monocular camera, whose
  ``R`` is the identity); ``P``'s translation column (stereo baseline) is ignored.

The depth image must be registered ("aligned") to the colour image. It may have another
resolution than the colour image: keypoints are mapped to depth pixels with the
pixel-centre convention ``x_d = (x + 0.5) * W_d / W_c - 0.5`` (the same for y).

Encodings (sensor_msgs/Image): ``16UC1`` and ``mono16`` are millimetres, ``32FC1`` is
metres. Pass the encoding string, or None to take it from the array's dtype (uint16 ->
millimetres, float32 -> metres), which is what REP 118 prescribes for each dtype.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, NamedTuple, Optional

import cv2
import numpy as np
from numpy.typing import NDArray

from humanpose.errors import InvalidInputError
from humanpose.types import CameraModel, Poses

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]
B = NDArray[np.bool_]

_log = logging.getLogger(__name__)


class DepthEncoding(NamedTuple):
    """How to read a depth image: its pixel type and the metres per unit."""

    dtype: np.dtype[Any]
    metres_per_unit: float


#: sensor_msgs/Image depth encodings humanpose reads.
DEPTH_ENCODINGS: dict[str, DepthEncoding] = {
    '16UC1': DepthEncoding(np.dtype(np.uint16), 0.001),
    'mono16': DepthEncoding(np.dtype(np.uint16), 0.001),
    '32FC1': DepthEncoding(np.dtype(np.float32), 1.0),
}
#: Readings beyond this many metres are not readings (no depth camera measures that far;
#: a 32FC1 image holding 1e30 is garbage, not a point 1e30 m away).
MAX_DEPTH_M = 1000.0
#: The encoding a dtype implies when none is given.
_ENCODING_OF_DTYPE: dict[np.dtype[Any], str] = {
    np.dtype(np.uint16): '16UC1',
    np.dtype(np.float32): '32FC1',
}

# Iterative undistortion: more and tighter iterations than OpenCV's default (5), which
# leaves pixel-sized errors near the corners of strongly distorted lenses.
_UNDISTORT_CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 40, 1e-12)


def _undistort_pinhole(uv: F64, k: F64, d: F64) -> F64:
    """Return normalised image coordinates (x/z, y/z) of raw pixels ``uv`` (M, 2)."""
    src = uv.reshape(-1, 1, 2)
    iterate = getattr(cv2, 'undistortPointsIter', None)
    if iterate is not None:  # OpenCV 4 names the overload that takes criteria
        out = iterate(src, k, d, None, None, _UNDISTORT_CRITERIA)
    else:
        out = cv2.undistortPoints(src, k, d, None, None, None, _UNDISTORT_CRITERIA)
    return np.asarray(out, np.float64).reshape(-1, 2)


def _undistort_fisheye(uv: F64, k: F64, d: F64) -> F64:
    """Return normalised image coordinates of raw pixels of an equidistant (fisheye) lens."""
    if len(d) < 4:
        raise InvalidInputError(
            f'the equidistant distortion model needs 4 coefficients, the camera has {len(d)}')
    out = cv2.fisheye.undistortPoints(uv.reshape(-1, 1, 2), k, d[:4].reshape(4, 1))
    return np.asarray(out, np.float64).reshape(-1, 2)


#: sensor_msgs/CameraInfo distortion_model -> undistortion of raw pixels to normalised
#: image coordinates ``(uv (M, 2), K, D) -> (M, 2)``.
UNDISTORTERS: dict[str, Callable[[F64, F64, F64], F64]] = {
    'plumb_bob': _undistort_pinhole,
    'rational_polynomial': _undistort_pinhole,
    'equidistant': _undistort_fisheye,
}


def _field(msg: Any, name: str) -> Any:
    """Read a CameraInfo field by its ROS 2 name, or its ROS 1 upper-case name."""
    if hasattr(msg, name):
        return getattr(msg, name)
    return getattr(msg, name.upper())


def camera_from_info(msg: Any) -> CameraModel:
    """Return the :class:`CameraModel` of a sensor_msgs/CameraInfo message.

    Works with any message namespace (rclpy, rosbags, or any object with the fields
    ``width``, ``height``, ``k``, ``d``, ``p``, ``distortion_model``, ``header.frame_id``;
    optional ``binning_x``, ``binning_y``, ``roi``). Binning and region of interest are
    folded into the intrinsics the way ROS's image_geometry does, so the model describes
    the image that is actually published.

    :param msg: the CameraInfo message.
    :return: the camera model; ``p`` falls back to ``K`` when the message's P is all zero.
    :raises InvalidInputError: K is all zero (an uncalibrated camera) or the size is not
        positive.
    """
    k = np.asarray(_field(msg, 'k'), np.float64).reshape(3, 3).copy()
    if not np.isfinite(k).all() or k[0, 0] <= 0 or k[1, 1] <= 0:
        raise InvalidInputError(
            f'camera_info has no calibration (K = {k.ravel().tolist()}); 3D keypoints need '
            'focal lengths and a principal point. Calibrate the camera or publish its '
            'factory intrinsics on camera_info.')
    p_raw = np.asarray(_field(msg, 'p'), np.float64).reshape(3, 4)
    p: Optional[F64] = p_raw.copy() if p_raw.any() else None
    d = np.asarray(_field(msg, 'd'), np.float64).reshape(-1)
    width, height = int(msg.width), int(msg.height)
    bx = max(int(getattr(msg, 'binning_x', 0) or 0), 1)
    by = max(int(getattr(msg, 'binning_y', 0) or 0), 1)
    roi = getattr(msg, 'roi', None)
    x_off = int(roi.x_offset) if roi is not None else 0
    y_off = int(roi.y_offset) if roi is not None else 0
    if roi is not None and int(roi.width) > 0 and int(roi.height) > 0:
        width, height = int(roi.width), int(roi.height)
    if bx > 1 or by > 1 or x_off or y_off:
        # Full-resolution calibration -> the cropped, binned image that is published.
        scale = np.diag([1.0 / bx, 1.0 / by, 1.0])
        shift = np.array([[1.0, 0.0, -x_off], [0.0, 1.0, -y_off], [0.0, 0.0, 1.0]])
        k = scale @ shift @ k
        if p is not None:
            p = scale @ shift @ p
        width, height = width // bx, height // by
    header = getattr(msg, 'header', None)
    return CameraModel(width=width, height=height, k=k, d=d, p=p,
                       distortion_model=str(_field(msg, 'distortion_model') or 'plumb_bob'),
                       frame_id=str(header.frame_id) if header is not None else '')


def _depth_view(depth: NDArray[Any], encoding: Optional[str]) -> tuple[NDArray[Any], float]:
    """Check a depth image and return it as (H, W) with its metres per unit."""
    array = np.asarray(depth)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim != 2 or array.shape[0] < 1 or array.shape[1] < 1:
        raise InvalidInputError(
            f'a depth image must have shape (H, W) or (H, W, 1), got {array.shape}')
    if encoding is None:
        encoding = _ENCODING_OF_DTYPE.get(array.dtype)
        if encoding is None:
            raise InvalidInputError(
                f'cannot tell the depth unit of a {array.dtype} array; pass uint16 '
                'millimetres (16UC1) or float32 metres (32FC1), or give the encoding')
    spec = DEPTH_ENCODINGS.get(encoding)
    if spec is None:
        raise InvalidInputError(
            f'unsupported depth encoding {encoding!r}; supported: '
            f'{", ".join(DEPTH_ENCODINGS)} (16-bit millimetres or 32-bit float metres). '
            'Convert the depth image or republish it in one of these.')
    if array.dtype != spec.dtype:
        raise InvalidInputError(
            f'depth encoding {encoding} needs {spec.dtype} pixels, got {array.dtype}; '
            'the encoding string and the data disagree')
    return array, spec.metres_per_unit


def depth_in_metres(depth: NDArray[Any], encoding: Optional[str] = None) -> F32:
    """Return a depth image as (H, W) float32 metres, NaN where there is no reading.

    :param depth: (H, W) or (H, W, 1) uint16 millimetres or float32 metres.
    :param encoding: ``16UC1``, ``mono16``, ``32FC1``, or None to infer from the dtype.
    :raises InvalidInputError: unknown encoding, dtype that does not match it, bad shape.
    """
    array, scale = _depth_view(depth, encoding)
    metres: F32 = array.astype(np.float32) * np.float32(scale)
    with np.errstate(invalid='ignore'):
        metres[~(np.isfinite(metres) & (metres > 0) & (metres <= MAX_DEPTH_M))] = np.nan
    return metres


def masked_median(values: NDArray[Any], valid: B) -> F32:
    """Return the median over the last axis of ``values`` where ``valid``; NaN if none.

    Vectorised and warning-free (unlike ``np.nanmedian`` on all-NaN slices).

    :param values: (..., M) numbers.
    :param valid: (..., M) bool, which entries count.
    :return: (...) float32.
    """
    v = np.where(valid, values, np.inf).astype(np.float32)
    v.sort(axis=-1)
    count = valid.sum(axis=-1)
    lo = np.take_along_axis(v, np.maximum((count - 1) // 2, 0)[..., None], axis=-1)[..., 0]
    hi = np.take_along_axis(v, (count // 2).clip(max=v.shape[-1] - 1)[..., None], axis=-1)[..., 0]
    out: F32 = np.where(count > 0, 0.5 * lo + 0.5 * hi, np.nan).astype(np.float32)
    return out


def _to_pixels_of(keypoints_px: F64, from_size: tuple[int, int],
                  to_size: tuple[int, int]) -> F64:
    """Map pixel coordinates between two resolutions of the same view (pixel centres)."""
    if from_size == to_size:
        return keypoints_px
    ratio = np.array([to_size[0] / from_size[0], to_size[1] / from_size[1]])
    out: F64 = (keypoints_px + 0.5) * ratio - 0.5
    return out


def sample_depth(keypoints_px: NDArray[Any], depth: NDArray[Any], *,
                 encoding: Optional[str] = None, window: int = 5,
                 image_size: Optional[tuple[int, int]] = None) -> F32:
    """Return the median valid depth in a window around each keypoint.

    :param keypoints_px: (N, K, 2) pixels of the colour image (NaN allowed).
    :param depth: (Hd, Wd) depth image registered to the colour image (16UC1 millimetres
        or 32FC1 metres); it may have another resolution than the colour image.
    :param encoding: depth encoding, or None to infer it from the dtype.
    :param window: odd side of the square window in depth pixels (1 = the pixel alone).
    :param image_size: (width, height) of the colour image; None = the depth image's size.
    :return: (N, K) float32 metres, NaN where the window holds no valid reading or the
        keypoint lies outside the depth image.
    :raises InvalidInputError: bad window, depth image or keypoint array.
    """
    array, scale = _depth_view(depth, encoding)
    if window < 1 or window % 2 == 0:
        raise InvalidInputError(f'depth window must be an odd number >= 1, got {window}')
    kp = np.asarray(keypoints_px, np.float64)
    if kp.ndim != 3 or kp.shape[2] != 2:
        raise InvalidInputError(f'keypoints must have shape (N, K, 2), got {kp.shape}')
    h, w = array.shape
    kp = _to_pixels_of(kp, image_size or (w, h), (w, h))
    r = window // 2
    finite = np.asarray(np.isfinite(kp).all(axis=-1), bool)
    # Far-away and NaN coordinates become "just outside", so the integer cast stays sane.
    kp = np.where(finite[..., None], np.clip(kp, -r - 2.0, max(w, h) + r + 2.0), -r - 2.0)
    centre = np.rint(kp).astype(np.intp)
    on_image = (centre[..., 0] >= 0) & (centre[..., 0] < w) & (centre[..., 1] >= 0) \
        & (centre[..., 1] < h)
    offsets = np.arange(-r, r + 1)
    xs = centre[..., 0, None, None] + offsets[None, :]  # (N, K, 1, window)
    ys = centre[..., 1, None, None] + offsets[:, None]  # (N, K, window, 1)
    inside = (xs >= 0) & (xs < w) & (ys >= 0) & (ys < h)
    raw = array[ys.clip(0, h - 1), xs.clip(0, w - 1)]  # (N, K, window, window)
    metres = raw.astype(np.float32) * np.float32(scale)
    with np.errstate(invalid='ignore'):
        ok = inside & np.isfinite(metres) & (metres > 0) & (metres <= MAX_DEPTH_M)
    n, k = kp.shape[:2]
    z = masked_median(metres.reshape(n, k, window * window), ok.reshape(n, k, window * window))
    z[~on_image] = np.nan
    return z


def pixel_rays(keypoints_px: NDArray[Any], camera: CameraModel, *, rectified: bool = False,
               image_size: Optional[tuple[int, int]] = None) -> F64:
    """Return the normalised image coordinates (x/z, y/z) of pixels.

    :param keypoints_px: (N, K, 2) pixels (NaN allowed: NaN rays).
    :param camera: the camera the pixels belong to.
    :param rectified: False: pixels of the raw image (K and D); True: of the rectified
        image (P, no distortion).
    :param image_size: (width, height) of the image the pixels are in, when it differs from
        the calibrated ``camera.width`` x ``camera.height`` (a resized stream).
    :return: (N, K, 2) float64; a 3D point at depth z is ``z * (x, y, 1)``.
    :raises InvalidInputError: a distortion model humanpose cannot undo.
    """
    kp = np.asarray(keypoints_px, np.float64)
    shape = kp.shape
    uv = _to_pixels_of(kp, image_size or (camera.width, camera.height),
                       (camera.width, camera.height)).reshape(-1, 2)
    finite = np.isfinite(uv).all(axis=1)
    rays = np.full_like(uv, np.nan)
    if rectified:
        assert camera.p is not None  # CameraModel fills P from K
        matrix = camera.p[:, :3]
    else:
        matrix = camera.k
    if not matrix.any():
        raise InvalidInputError(
            f'the camera is uncalibrated ({"P" if rectified else "K"} all zero): 3D keypoints '
            'need focal lengths and a principal point; calibrate the camera or publish its '
            'factory intrinsics on camera_info')
    distorted = not rectified and bool(np.any(camera.d != 0))
    if distorted:
        undistort = UNDISTORTERS.get(camera.distortion_model)
        if undistort is None:
            raise InvalidInputError(
                f'distortion model {camera.distortion_model!r} is not supported for raw '
                f'images (supported: {", ".join(UNDISTORTERS)}); feed the rectified image '
                'and set rectified=True')
        if finite.any():
            rays[finite] = undistort(uv[finite], camera.k, camera.d)
    else:
        homogeneous = np.concatenate([uv, np.ones((len(uv), 1))], axis=1)
        solved = np.linalg.solve(matrix, homogeneous.T).T
        rays = solved[:, :2] / solved[:, 2:3]
    out: F64 = rays.reshape(shape)
    return out


def lift_to_3d(keypoints_px: NDArray[Any], depth: NDArray[Any], camera: CameraModel, *,
               encoding: Optional[str] = None, window: int = 5, rectified: bool = False,
               outlier_m: Optional[float] = None, image_size: Optional[tuple[int, int]] = None,
               ) -> tuple[F32, B]:
    """Return 3D keypoints in metres from pixel keypoints and an aligned depth image.

    Vectorised over people and keypoints: one gather of (N, K, window, window) depth
    readings, one median, one back-projection.

    :param keypoints_px: (N, K, 2) pixels of the colour image (x right, y down, centre of
        the top-left pixel at (0, 0)); NaN allowed.
    :param depth: (Hd, Wd) depth registered to the colour image: uint16 millimetres
        (16UC1 / mono16) or float32 metres (32FC1); 0, NaN, Inf mean "no reading". Any
        resolution: keypoints are scaled to it with the pixel-centre convention.
    :param camera: the colour camera (sensor_msgs/CameraInfo semantics, see
        :func:`camera_from_info`).
    :param encoding: the depth image's encoding, or None to infer it from the dtype.
    :param window: odd side of the median window, in depth pixels.
    :param rectified: False: keypoints are pixels of the raw image (rays from K + D);
        True: of the rectified image (rays from P, no distortion).
    :param outlier_m: if given, a keypoint whose depth is more than this many metres
        behind the median depth of its person's valid keypoints is invalid (the window
        saw the wall behind a hand, not the hand).
    :param image_size: (width, height) of the colour image, when it differs from the
        camera's calibrated size; default ``(camera.width, camera.height)``.
    :return: ``points_m`` (N, K, 3) float32 metres in the camera optical frame (x right,
        y down, z forward), NaN where invalid; ``valid`` (N, K) bool.
    :raises InvalidInputError: bad shapes, encodings, window or distortion model.
    """
    size = image_size or (camera.width, camera.height)
    z = sample_depth(keypoints_px, depth, encoding=encoding, window=window, image_size=size)
    valid = np.isfinite(z)
    if outlier_m is not None and z.size:
        body = masked_median(z, valid)
        with np.errstate(invalid='ignore'):
            valid &= ~(z > body[:, None] + np.float32(outlier_m))
    rays = pixel_rays(keypoints_px, camera, rectified=rectified, image_size=size)
    valid &= np.isfinite(rays).all(axis=-1)
    points = np.concatenate([rays, np.ones(rays.shape[:-1] + (1,))], axis=-1) * z[..., None]
    points[~valid] = np.nan
    return points.astype(np.float32), valid


def lift_poses(poses: Poses, depth: NDArray[Any], camera: CameraModel, *,
               encoding: Optional[str] = None, window: int = 5, rectified: bool = False,
               outlier_m: Optional[float] = None,
               image_size: Optional[tuple[int, int]] = None) -> Poses:
    """Return ``poses`` with ``keypoints_3d`` and ``confidence_3d`` filled from depth.

    ``confidence_3d`` is the 2D confidence where the depth was valid and 0 elsewhere
    (where the position is NaN). Parameters as in :func:`lift_to_3d`.
    """
    points, valid = lift_to_3d(poses.keypoints, depth, camera, encoding=encoding,
                               window=window, rectified=rectified, outlier_m=outlier_m,
                               image_size=image_size)
    confidence = np.where(valid, poses.confidence, np.float32(0.0)).astype(np.float32)
    return poses.with_3d(points, confidence)
