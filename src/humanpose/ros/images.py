"""sensor_msgs/Image and CompressedImage to numpy arrays, without cv_bridge (pure numpy).

Works on rclpy and rosbags messages alike: only the fields ``height``, ``width``,
``encoding``, ``is_bigendian``, ``step`` and ``data`` (``format`` and ``data`` for
CompressedImage) are read. Rows may be padded (``step`` larger than ``width`` times the
bytes per pixel); the padding is skipped with a strided view, not copied.

Colour encodings (-> (H, W, 3) uint8 RGB): ``rgb8``, ``bgr8``, ``rgba8``, ``bgra8``,
``mono8`` (grey replicated to three channels), ``yuv422`` (UYVY byte order) and
``yuv422_yuy2`` (YUYV byte order). Depth encodings (-> (H, W) in the encoding's own
unit): ``16UC1`` / ``mono16`` (uint16 millimetres) and ``32FC1`` (float32 metres).
Anything else raises :class:`~humanpose.errors.UnsupportedEncodingError` naming the
encoding and the supported ones.
"""

from __future__ import annotations

from array import array
from typing import Any, Literal, NamedTuple, Optional

import cv2
import numpy as np
from numpy.typing import NDArray

from humanpose.errors import InvalidInputError, UnsupportedEncodingError

U8 = NDArray[np.uint8]


class ColorEncoding(NamedTuple):
    """How to turn one colour encoding into RGB.

    :param channels: values per pixel in the message (bytes, all encodings are 8-bit).
    :param to_rgb: OpenCV ``cvtColor`` code to RGB, or None when the pixels are RGB.
    """

    channels: int
    to_rgb: Optional[int]


#: sensor_msgs/Image colour encodings humanpose reads, with their conversion to RGB.
COLOR_ENCODINGS: dict[str, ColorEncoding] = {
    'rgb8': ColorEncoding(3, None),
    'bgr8': ColorEncoding(3, cv2.COLOR_BGR2RGB),
    'rgba8': ColorEncoding(4, cv2.COLOR_RGBA2RGB),
    'bgra8': ColorEncoding(4, cv2.COLOR_BGRA2RGB),
    'mono8': ColorEncoding(1, cv2.COLOR_GRAY2RGB),
    # 4:2:2, two bytes per pixel. sensor_msgs' "yuv422" is UYVY, "yuv422_yuy2" is YUYV.
    'yuv422': ColorEncoding(2, cv2.COLOR_YUV2RGB_UYVY),
    'yuv422_yuy2': ColorEncoding(2, cv2.COLOR_YUV2RGB_YUYV),
}

#: Other names some drivers use for the two 4:2:2 layouts.
ENCODING_ALIASES: dict[str, str] = {'uyvy': 'yuv422', 'yuyv': 'yuv422_yuy2'}

#: sensor_msgs/Image depth encodings: numpy dtype of one pixel (unit: mm or m).
DEPTH_ENCODINGS: dict[str, np.dtype[Any]] = {
    '16UC1': np.dtype(np.uint16),    # millimetres
    'mono16': np.dtype(np.uint16),   # millimetres
    '32FC1': np.dtype(np.float32),   # metres
}


def supported_color_encodings() -> tuple[str, ...]:
    """Return the colour encodings :func:`image_to_rgb` accepts (aliases included)."""
    return tuple(COLOR_ENCODINGS) + tuple(ENCODING_ALIASES)


def _buffer(data: Any) -> U8:
    """Return message data (bytes, array.array, list, numpy) as a flat uint8 array."""
    if isinstance(data, np.ndarray):
        flat: U8 = np.ascontiguousarray(data).reshape(-1).view(np.uint8)
        return flat
    if isinstance(data, (list, tuple)):
        return np.asarray(data, np.uint8)
    return np.frombuffer(data, np.uint8)


def _rows(msg: Any, bytes_per_pixel: int, what: str) -> U8:
    """Return the image bytes as (H, W * bytes_per_pixel) uint8, row padding skipped.

    :raises InvalidInputError: empty image, ``step`` too small, or too few data bytes.
    """
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    row_bytes = width * bytes_per_pixel
    if height <= 0 or width <= 0:
        raise InvalidInputError(f'{what} is empty ({width}x{height} pixels)')
    if step < row_bytes:
        raise InvalidInputError(
            f'{what} ({msg.encoding}, {width}x{height}) has step {step} bytes, but a row '
            f'needs at least {row_bytes} ({width} pixels x {bytes_per_pixel} bytes); the '
            'publisher fills the Image fields inconsistently')
    data = _buffer(msg.data)
    # The last row need not carry its padding.
    needed = step * (height - 1) + row_bytes
    if data.size < needed:
        raise InvalidInputError(
            f'{what} ({msg.encoding}, {width}x{height}, step {step}) needs at least '
            f'{needed} data bytes, got {data.size}; the message is truncated or its '
            'size fields are wrong')
    rows: U8 = np.lib.stride_tricks.as_strided(
        data, shape=(height, row_bytes), strides=(step, 1), writeable=False)
    return rows


def image_to_rgb(msg: Any) -> U8:
    """Convert a sensor_msgs/Image with a colour encoding to an RGB array.

    :param msg: Image message (rclpy or rosbags).
    :return: (H, W, 3) uint8 RGB. For ``rgb8`` without row padding this may be a
        read-only view of the message's buffer; copy it before writing into it.
    :raises UnsupportedEncodingError: the encoding is not one of
        :func:`supported_color_encodings`.
    :raises InvalidInputError: the size fields and the data disagree.
    """
    encoding = ENCODING_ALIASES.get(str(msg.encoding), str(msg.encoding))
    spec = COLOR_ENCODINGS.get(encoding)
    if spec is None:
        raise UnsupportedEncodingError(
            f'image encoding {msg.encoding!r} is not supported; supported encodings: '
            f'{", ".join(supported_color_encodings())}. Republish the camera in one of them '
            '(most drivers have a parameter for the pixel format) or use image/compressed.')
    rows = _rows(msg, spec.channels, 'image')
    height, width = rows.shape[0], int(msg.width)
    pixels = rows.reshape(height, width, spec.channels)
    if spec.to_rgb is None:
        rgb: U8 = np.ascontiguousarray(pixels)
        return rgb
    if spec.channels == 1:
        pixels = pixels[..., 0]
    converted = np.asarray(cv2.cvtColor(np.ascontiguousarray(pixels), spec.to_rgb), np.uint8)
    return converted


def compressed_to_rgb(msg: Any) -> U8:
    """Decode a sensor_msgs/CompressedImage (JPEG or PNG) to an RGB array.

    :param msg: CompressedImage message (rclpy or rosbags).
    :return: (H, W, 3) uint8 RGB.
    :raises UnsupportedEncodingError: a ``compressedDepth`` image (not a colour image).
    :raises InvalidInputError: the data is empty or cannot be decoded.
    """
    fmt = str(getattr(msg, 'format', ''))
    if 'compresseddepth' in fmt.lower():
        raise UnsupportedEncodingError(
            f'compressed image format {fmt!r} is a depth image; subscribe the colour '
            'image (jpeg or png) on image/compressed')
    data = _buffer(msg.data)
    if data.size == 0:
        raise InvalidInputError(f'compressed image ({fmt or "no format"}) has no data')
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if bgr is None:
        raise InvalidInputError(
            f'cannot decode compressed image (format {fmt!r}, {data.size} bytes); expected '
            'JPEG or PNG data. Check the publisher or subscribe the raw image instead.')
    rgb = np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), np.uint8)
    return rgb


def depth_image_to_array(msg: Any) -> tuple[NDArray[Any], str]:
    """Convert a sensor_msgs/Image depth image to an array in its own unit.

    :param msg: Image message with encoding ``16UC1``, ``mono16`` or ``32FC1``.
    :return: ((H, W) uint16 millimetres or float32 metres, in native byte order; the
        encoding), ready for :func:`humanpose.lift3d.depth_in_metres`.
    :raises UnsupportedEncodingError: another encoding.
    :raises InvalidInputError: the size fields and the data disagree.
    """
    encoding = str(msg.encoding)
    dtype = DEPTH_ENCODINGS.get(encoding)
    if dtype is None:
        raise UnsupportedEncodingError(
            f'depth encoding {encoding!r} is not supported; supported: '
            f'{", ".join(DEPTH_ENCODINGS)} (uint16 millimetres or float32 metres). Publish '
            'the aligned depth image in one of them.')
    rows = _rows(msg, dtype.itemsize, 'depth image')
    order: Literal['<', '>'] = '>' if int(msg.is_bigendian) else '<'
    # Bytes of each row -> pixels in the message's byte order -> a native-order copy.
    pixels = np.ascontiguousarray(rows).view(dtype.newbyteorder(order))
    native: NDArray[Any] = pixels.astype(dtype)
    return native.reshape(int(msg.height), int(msg.width)), encoding


def rgb_to_image_msg(rgb: U8, ns: Any, header: Any) -> Any:
    """Build an ``rgb8`` sensor_msgs/Image from an RGB array (the annotated image).

    :param rgb: (H, W, 3) uint8 RGB.
    :param ns: message namespace (:class:`humanpose.ros.messages.MessageNamespace`).
    :param header: std_msgs/Header of the source image (same namespace).
    :return: the Image message; ``data`` is an ``array.array('B')`` for rclpy classes
        (which check element by element otherwise) and a uint8 array for rosbags.
    :raises InvalidInputError: ``rgb`` is not (H, W, 3) uint8.
    """
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise InvalidInputError(
            f'an rgb8 image must be (H, W, 3) uint8, got {rgb.shape} {rgb.dtype}')
    height, width = rgb.shape[:2]
    flat = np.ascontiguousarray(rgb).reshape(-1)
    # rclpy's generated classes have get_fields_and_field_types; rosbags' do not.
    data: Any = (array('B', flat.tobytes())
                 if hasattr(ns.Image, 'get_fields_and_field_types') else flat)
    return ns.new('Image', header=header, height=height, width=width, encoding='rgb8',
                  is_bigendian=0, step=width * 3, data=data)
