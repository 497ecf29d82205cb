"""Top-down preprocessing: boxes -> centre/scale -> one affine warp per person -> batch.

Conventions are MMPose's, so released models see what they were trained on:

* box (x0, y0, x1, y1) -> centre ((x0 + x1) / 2, (y0 + y1) / 2), scale (w, h) * padding
  (``bbox_xyxy2cs``, padding 1.25);
* the scale is widened or heightened to the input's aspect ratio (``_fix_aspect_ratio``);
* the warp maps the centre to (W / 2, H / 2) and scales by W / scale_w (``get_warp_matrix``
  with no rotation and a fixed aspect ratio), bilinear, zero border;
* crop coordinates map back with ``u / W * scale_w + cx - scale_w / 2`` (same for y).

Pixel coordinates everywhere: the centre of the top-left pixel is (0, 0).
"""

from __future__ import annotations

from typing import Optional

import cv2
import numpy as np
from numpy.typing import NDArray

from humanpose.errors import InvalidInputError

F32 = NDArray[np.float32]
U8 = NDArray[np.uint8]


def check_image(image: NDArray[np.generic], name: str = 'image') -> U8:
    """Return ``image`` as a contiguous (H, W, 3) uint8 array.

    :raises InvalidInputError: wrong rank, channel count, dtype, or an empty image.
    """
    if not isinstance(image, np.ndarray):
        raise InvalidInputError(f'{name} must be a numpy array (H, W, 3) uint8, '
                                f'got {type(image).__name__}')
    if image.ndim != 3 or image.shape[2] != 3:
        raise InvalidInputError(f'{name} must have shape (H, W, 3), got {image.shape}; convert '
                                'grey or RGBA images to 3 channels first')
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise InvalidInputError(f'{name} is empty ({image.shape[1]}x{image.shape[0]} pixels)')
    if image.dtype != np.uint8:
        raise InvalidInputError(f'{name} must be uint8 (0..255), got {image.dtype}; scale and '
                                'convert it, e.g. (img * 255).astype(np.uint8)')
    return np.ascontiguousarray(image)


#: Colour orders an input image may have.
COLORS = ('bgr', 'rgb')


def check_color(color: object) -> str:
    """Return ``color`` lower-cased if it is a colour order humanpose reads.

    :raises InvalidInputError: anything but ``bgr`` or ``rgb`` (e.g. ``hsv``).
    """
    text = color.lower() if isinstance(color, str) else color
    if text not in COLORS:
        raise InvalidInputError(f'color must be one of {", ".join(COLORS)} (the channel order '
                                f'of the image), got {color!r}; convert the image first')
    return str(text)


def check_boxes(boxes: NDArray[np.generic], image_shape: tuple[int, ...]) -> F32:
    """Validate user-given person boxes (x_min, y_min, x_max, y_max).

    Boxes are used as given, also where they reach past the image edge: MMPose (and
    rtmlib) crop the box as it is, the part outside the image is black. Clipping it would
    move the box centre and change the keypoints.

    :param boxes: (N, 4) pixels.
    :param image_shape: (H, W, ...) of the image the boxes belong to.
    :return: (N, 4) float32 boxes.
    :raises InvalidInputError: not numbers, wrong shape, NaN/Inf, zero or negative area,
        or a box entirely outside the image.
    """
    try:
        arr = np.array(boxes, dtype=np.float32)
    except (TypeError, ValueError) as err:
        raise InvalidInputError(f'boxes must be numbers, (N, 4) as x_min, y_min, x_max, y_max; '
                                f'got {str(boxes)[:80]} ({err})') from None
    if arr.size == 0:
        return np.zeros((0, 4), np.float32)
    if arr.ndim == 1 and arr.shape[0] == 4:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise InvalidInputError(f'boxes must have shape (N, 4) as x_min, y_min, x_max, y_max; '
                                f'got {np.shape(boxes)}')
    bad = ~np.isfinite(arr).all(axis=1)
    if bad.any():
        raise InvalidInputError(f'box {int(np.argmax(bad))} has NaN or infinite coordinates: '
                                f'{arr[bad][0].tolist()}')
    h, w = image_shape[:2]
    flat = (arr[:, 2] <= arr[:, 0]) | (arr[:, 3] <= arr[:, 1])
    if flat.any():
        i = int(np.argmax(flat))
        raise InvalidInputError(f'box {i} has zero or negative area: {arr[i].tolist()} '
                                '(expected x_min < x_max and y_min < y_max)')
    outside = (arr[:, 2] <= 0) | (arr[:, 3] <= 0) | (arr[:, 0] >= w) | (arr[:, 1] >= h)
    if outside.any():
        i = int(np.argmax(outside))
        raise InvalidInputError(f'box {i} {arr[i].tolist()} lies entirely outside the '
                                f'{w}x{h} image')
    return np.ascontiguousarray(arr)


def check_box_scores(scores: Optional[NDArray[np.generic]], count: int) -> F32:
    """Return one finite person score in [0, 1] per box (1 where ``scores`` is None).

    :raises InvalidInputError: not numbers, another count than the boxes, NaN, or out of
        [0, 1].
    """
    if scores is None:
        return np.ones(count, np.float32)
    try:
        arr = np.array(scores, dtype=np.float32).reshape(-1)
    except (TypeError, ValueError) as err:
        raise InvalidInputError(f'box scores must be numbers, got {str(scores)[:80]} ({err})'
                                ) from None
    if len(arr) != count:
        raise InvalidInputError(f'{count} boxes but {len(arr)} box scores; give one score per '
                                'box')
    bad = ~(np.isfinite(arr) & (arr >= 0) & (arr <= 1))
    if bad.any():
        i = int(np.argmax(bad))
        raise InvalidInputError(f'box score {i} is {arr[i]}; person scores must be finite, in '
                                '[0, 1]')
    return arr


def whole_image_box(image_shape: tuple[int, ...]) -> F32:
    """Return the box of the whole image, (1, 4) ``[0, 0, W, H]`` (MMPose's and rtmlib's)."""
    h, w = image_shape[:2]
    return np.array([[0, 0, w, h]], np.float32)


def boxes_to_center_scale(boxes: F32, padding: float = 1.25) -> tuple[F32, F32]:
    """Return box centres (N, 2) and padded sizes (N, 2), both float32 pixels."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    centers = (boxes[:, :2] + boxes[:, 2:]) * 0.5
    scales = (boxes[:, 2:] - boxes[:, :2]) * padding
    return centers.astype(np.float32), scales.astype(np.float32)


def fix_aspect_ratio(scales: F32, aspect_ratio: float) -> F32:
    """Grow each (w, h) so that w / h == ``aspect_ratio`` (input width / input height)."""
    w, h = scales[:, :1], scales[:, 1:]
    wide = w > h * aspect_ratio
    fixed = np.where(wide, np.hstack([w, w / aspect_ratio]), np.hstack([h * aspect_ratio, h]))
    return fixed.astype(np.float32)


def warp_matrices(centers: F32, scales: F32, input_size: tuple[int, int]) -> NDArray[np.float64]:
    """Return (N, 2, 3) affines mapping image pixels into the (W, H) network input."""
    width, height = input_size
    s = width / scales[:, 0].astype(np.float64)
    m = np.zeros((len(centers), 2, 3), np.float64)
    m[:, 0, 0] = s
    m[:, 1, 1] = s
    m[:, 0, 2] = width * 0.5 - s * centers[:, 0]
    m[:, 1, 2] = height * 0.5 - s * centers[:, 1]
    return m


def crop_to_image(keypoints: F32, centers: F32, scales: F32, input_size: tuple[int, int]) -> F32:
    """Map (N, K, 2) network-input coordinates back to image pixels (MMPose's inverse)."""
    size = np.asarray(input_size, np.float32)
    out = keypoints / size * scales[:, None, :] + centers[:, None, :] - scales[:, None, :] * 0.5
    return out.astype(np.float32)


class CropBatcher:
    """Crops people into a reused, preallocated (N, 3, H, W) float32 batch.

    :param input_size: network input (width, height).
    :param mean: per-channel mean in the network's colour order.
    :param std: per-channel std in the network's colour order.
    :param network_rgb: the network wants RGB (else BGR).
    :param padding: box padding factor.
    """

    def __init__(self, input_size: tuple[int, int], mean: tuple[float, float, float],
                 std: tuple[float, float, float], network_rgb: bool = True,
                 padding: float = 1.25) -> None:
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.padding = padding
        self.network_rgb = network_rgb
        self._mean = np.asarray(mean, np.float32)
        self._inv_std = (1.0 / np.asarray(std, np.float32)).astype(np.float32)
        self._crops: U8 = np.zeros((0, self.input_size[1], self.input_size[0], 3), np.uint8)
        self._batch: F32 = np.zeros((0, 3, self.input_size[1], self.input_size[0]), np.float32)

    def _ensure(self, n: int) -> None:
        if len(self._crops) < n:
            cap = max(n, 2 * len(self._crops), 4)
            w, h = self.input_size
            self._crops = np.zeros((cap, h, w, 3), np.uint8)
            self._batch = np.zeros((cap, 3, h, w), np.float32)

    def __call__(self, image: U8, boxes: F32, image_color: str = 'bgr'
                 ) -> tuple[F32, F32, F32]:
        """Crop and normalise the people in ``boxes``.

        :param image: (H, W, 3) uint8 in ``image_color`` order.
        :param boxes: (N, 4) float32 xyxy pixels.
        :param image_color: ``bgr`` or ``rgb``.
        :return: batch (N, 3, H_in, W_in) float32 (a view of a reused buffer: copy it to
            keep it past the next call), centres (N, 2), scales (N, 2).
        """
        n = len(boxes)
        width, height = self.input_size
        centers, scales = boxes_to_center_scale(boxes, self.padding)
        scales = fix_aspect_ratio(scales, width / height)
        self._ensure(n)
        crops = self._crops[:n]
        for i, m in enumerate(warp_matrices(centers, scales, self.input_size)):
            cv2.warpAffine(image, m, (width, height), dst=crops[i], flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
        swap = (image_color.lower() == 'bgr') == self.network_rgb
        batch = self._batch[:n]
        normalise(crops, self._mean, self._inv_std, swap, batch)
        return batch, centers, scales


def normalise(crops: U8, mean: F32, inv_std: F32, swap_rb: bool, out: F32) -> F32:
    """Write ``(crops[..., order] - mean) * inv_std`` as (N, 3, H, W) into ``out``."""
    for c in range(3):
        src = crops[..., 2 - c] if swap_rb else crops[..., c]
        np.subtract(src, mean[c], out=out[:, c], dtype=np.float32)
        np.multiply(out[:, c], inv_std[c], out=out[:, c])
    return out


def letterbox(image: U8, input_size: tuple[int, int], pad_value: int = 114,
              out: Optional[U8] = None) -> tuple[U8, float]:
    """Resize ``image`` to fit (W, H) keeping its aspect, top-left aligned, pad the rest.

    :return: the (H, W, 3) canvas and the scale factor (network px per image px).
    """
    width, height = input_size
    ratio = min(width / image.shape[1], height / image.shape[0])
    new_w = max(1, int(round(image.shape[1] * ratio)))
    new_h = max(1, int(round(image.shape[0] * ratio)))
    canvas = out if out is not None else np.empty((height, width, 3), np.uint8)
    canvas[...] = pad_value
    if (new_w, new_h) == (image.shape[1], image.shape[0]):
        canvas[:new_h, :new_w] = image
    else:
        canvas[:new_h, :new_w] = cv2.resize(image, (new_w, new_h),
                                            interpolation=cv2.INTER_LINEAR)
    return canvas, ratio
