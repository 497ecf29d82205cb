"""Image / CompressedImage -> numpy: every supported encoding, row padding, rejections."""

from array import array
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from humanpose.errors import InvalidInputError, UnsupportedEncodingError
from humanpose.ros.images import (COLOR_ENCODINGS, compressed_to_rgb, depth_image_to_array,
                                  image_to_rgb, rgb_to_image_msg, supported_color_encodings)
from humanpose.ros.messages import build_typestore, make_header, rosbags_namespace

H, W = 6, 8
PAD = 5  # bytes of row padding (odd on purpose: rows are not aligned)


@pytest.fixture(scope='module')
def ns():
    return rosbags_namespace()


@pytest.fixture(scope='module')
def rgb():
    rng = np.random.default_rng(3)
    return rng.integers(0, 256, (H, W, 3), dtype=np.uint8)


def _padded(pixels: np.ndarray, pad: int) -> tuple[bytes, int]:
    """Return the bytes of (H, W*C) rows with ``pad`` junk bytes after each row, and step."""
    rows = pixels.reshape(pixels.shape[0], -1)
    junk = np.full((rows.shape[0], pad), 0xAB, np.uint8)
    return np.concatenate([rows, junk], axis=1).tobytes(), rows.shape[1] + pad


def _msg(encoding, pixels, pad=PAD, flavour='rosbags', ns=None, bigendian=0):
    data, step = _padded(np.ascontiguousarray(pixels).view(np.uint8), pad)
    height, width = pixels.shape[:2]
    if flavour == 'rosbags':
        return ns.new('Image', header=make_header(ns, 1, 'cam'), height=height, width=width,
                      encoding=encoding, is_bigendian=bigendian, step=step,
                      data=np.frombuffer(data, np.uint8).copy())
    if flavour == 'rclpy':  # rclpy hands data out as array.array('B')
        data = array('B', data)
    return SimpleNamespace(height=height, width=width, encoding=encoding,
                           is_bigendian=bigendian, step=step, data=data)


def _encode_8bit(encoding, rgb):
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    alpha = np.full(rgb.shape[:2] + (1,), 77, np.uint8)
    return {
        'rgb8': rgb, 'bgr8': rgb[..., ::-1],
        'rgba8': np.concatenate([rgb, alpha], axis=2),
        'bgra8': np.concatenate([rgb[..., ::-1], alpha], axis=2),
        'mono8': grey[..., None],
    }[encoding]


@pytest.mark.parametrize('flavour', ['rosbags', 'rclpy', 'bytes'])
@pytest.mark.parametrize('encoding', ['rgb8', 'bgr8', 'rgba8', 'bgra8'])
def test_colour_encodings_give_the_same_rgb_with_row_padding(ns, rgb, encoding, flavour):
    out = image_to_rgb(_msg(encoding, _encode_8bit(encoding, rgb), flavour=flavour, ns=ns))
    assert out.shape == (H, W, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, rgb)


@pytest.mark.parametrize('pad', [0, PAD])
def test_mono8_is_grey_replicated(ns, rgb, pad):
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    out = image_to_rgb(_msg('mono8', grey[..., None], pad=pad, ns=ns))
    assert out.shape == (H, W, 3)
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], grey)


# BT.601 video range codes (Y, U, V) of pure colours and their RGB.
_YUV = {'red': ((81, 90, 240), (255, 0, 0)), 'blue': ((41, 240, 110), (0, 0, 255)),
        'white': ((235, 128, 128), (255, 255, 255)), 'black': ((16, 128, 128), (0, 0, 0))}


def _yuv422(layout, left, right, height=4, width=8):
    """A 4:2:2 image whose left half is colour ``left`` and right half ``right``."""
    out = np.zeros((height, width // 2, 4), np.uint8)
    for half, name in ((slice(0, width // 4), left), (slice(width // 4, None), right)):
        y, u, v = _YUV[name][0]
        out[:, half] = (u, y, v, y) if layout == 'uyvy' else (y, u, y, v)
    return out.reshape(height, width, 2)


@pytest.mark.parametrize('pad', [0, PAD])
@pytest.mark.parametrize('encoding, layout', [('yuv422', 'uyvy'), ('yuv422_yuy2', 'yuyv'),
                                              ('uyvy', 'uyvy'), ('yuyv', 'yuyv')])
def test_yuv422_byte_orders(ns, encoding, layout, pad):
    out = image_to_rgb(_msg(encoding, _yuv422(layout, 'red', 'blue'), pad=pad, ns=ns))
    assert out.shape == (4, 8, 3)
    np.testing.assert_allclose(out[:, :4].reshape(-1, 3), [_YUV['red'][1]] * 16, atol=6)
    np.testing.assert_allclose(out[:, 4:].reshape(-1, 3), [_YUV['blue'][1]] * 16, atol=6)


def test_yuv422_wrong_byte_order_is_not_silently_equal(ns):
    # The same bytes read as the other layout give other colours: the table is not symmetric.
    uyvy = _msg('yuv422', _yuv422('uyvy', 'white', 'black'), ns=ns)
    yuyv = _msg('yuv422_yuy2', _yuv422('uyvy', 'white', 'black'), ns=ns)
    assert np.abs(image_to_rgb(uyvy).astype(int) - image_to_rgb(yuyv)).max() > 50


def test_every_table_encoding_is_tested():
    tested = {'rgb8', 'bgr8', 'rgba8', 'bgra8', 'mono8', 'yuv422', 'yuv422_yuy2'}
    assert set(COLOR_ENCODINGS) == tested
    assert set(supported_color_encodings()) == tested | {'uyvy', 'yuyv'}


def test_big_endian_flag_does_not_matter_for_8_bit(ns, rgb):
    out = image_to_rgb(_msg('bgr8', rgb[..., ::-1], ns=ns, bigendian=1))
    np.testing.assert_array_equal(out, rgb)


def test_last_row_without_padding_is_accepted(ns, rgb):
    msg = _msg('rgb8', rgb, ns=ns)
    msg.data = msg.data[:-PAD]
    np.testing.assert_array_equal(image_to_rgb(msg), rgb)


@pytest.mark.parametrize('encoding', ['bayer_rggb8', '16UC1', 'rgb16', 'nv21', '8UC3', ''])
def test_other_encodings_are_rejected_with_the_supported_list(ns, encoding):
    msg = _msg(encoding, np.zeros((2, 4, 3), np.uint8), ns=ns)
    with pytest.raises(UnsupportedEncodingError) as info:
        image_to_rgb(msg)
    text = str(info.value)
    assert repr(encoding) in text
    for name in COLOR_ENCODINGS:
        assert name in text


def test_inconsistent_sizes_are_errors(ns, rgb):
    short_step = _msg('rgb8', rgb, ns=ns)
    short_step.step = W * 3 - 1
    with pytest.raises(InvalidInputError, match='step'):
        image_to_rgb(short_step)
    truncated = _msg('rgb8', rgb, ns=ns)
    truncated.data = truncated.data[:100]
    with pytest.raises(InvalidInputError, match='data bytes'):
        image_to_rgb(truncated)
    empty = _msg('rgb8', rgb, ns=ns)
    empty.height = 0
    with pytest.raises(InvalidInputError, match='empty'):
        image_to_rgb(empty)


def _compressed(ns, fmt, data):
    return ns.new('CompressedImage', header=make_header(ns, 1, 'cam'), format=fmt,
                  data=np.frombuffer(data, np.uint8).copy())


def test_png_round_trip_is_exact(ns, rgb):
    ok, png = cv2.imencode('.png', rgb[..., ::-1])
    assert ok
    np.testing.assert_array_equal(compressed_to_rgb(_compressed(ns, 'png', png.tobytes())), rgb)


def test_jpeg_decodes_to_rgb_order(ns):
    red = np.zeros((32, 32, 3), np.uint8)
    red[..., 0] = 255
    ok, jpg = cv2.imencode('.jpg', red[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
    out = compressed_to_rgb(_compressed(ns, 'rgb8; jpeg compressed bgr8', jpg.tobytes()))
    np.testing.assert_allclose(out.reshape(-1, 3).mean(axis=0), [255, 0, 0], atol=3)


def test_corrupt_empty_and_depth_compressed_images_are_errors(ns):
    with pytest.raises(InvalidInputError, match='cannot decode'):
        compressed_to_rgb(_compressed(ns, 'jpeg', b'\xff\xd8 not really a jpeg'))
    with pytest.raises(InvalidInputError, match='no data'):
        compressed_to_rgb(_compressed(ns, 'jpeg', b''))
    with pytest.raises(UnsupportedEncodingError):
        compressed_to_rgb(_compressed(ns, '16UC1; compressedDepth png', b'\x00' * 20))


@pytest.mark.parametrize('bigendian', [0, 1])
def test_depth_16uc1_millimetres_with_padding_and_byte_order(ns, bigendian):
    mm = np.arange(H * W, dtype=np.uint16).reshape(H, W) * 97
    raw = mm.astype('>u2' if bigendian else '<u2')
    depth, encoding = depth_image_to_array(_msg('16UC1', raw[..., None], pad=2, ns=ns,
                                                bigendian=bigendian))
    assert encoding == '16UC1' and depth.dtype == np.uint16 and depth.shape == (H, W)
    np.testing.assert_array_equal(depth, mm)


def test_depth_32fc1_metres(ns):
    metres = np.linspace(0.3, 5.0, H * W, dtype=np.float32).reshape(H, W)
    metres[0, 0] = np.nan
    depth, encoding = depth_image_to_array(_msg('32FC1', metres[..., None], pad=4, ns=ns))
    assert encoding == '32FC1' and depth.dtype == np.float32
    np.testing.assert_array_equal(depth, metres)


def test_depth_errors(ns):
    with pytest.raises(UnsupportedEncodingError, match='16UC1'):
        depth_image_to_array(_msg('rgb8', np.zeros((2, 2, 3), np.uint8), ns=ns))
    msg = _msg('16UC1', np.zeros((H, W, 1), np.uint16), pad=0, ns=ns)
    msg.width = W + 1
    with pytest.raises(InvalidInputError):
        depth_image_to_array(msg)


def test_annotated_image_message_round_trip(ns, rgb):
    msg = rgb_to_image_msg(rgb, ns, make_header(ns, 5_000_000_123, 'cam'))
    assert (msg.encoding, msg.height, msg.width, msg.step) == ('rgb8', H, W, W * 3)
    np.testing.assert_array_equal(image_to_rgb(msg), rgb)
    cdr = build_typestore().serialize_cdr(msg, 'sensor_msgs/msg/Image')
    back = build_typestore().deserialize_cdr(cdr, 'sensor_msgs/msg/Image')
    assert back.header.stamp.sec == 5 and back.header.stamp.nanosec == 123
    np.testing.assert_array_equal(image_to_rgb(back), rgb)
    with pytest.raises(InvalidInputError):
        rgb_to_image_msg(rgb[..., 0], ns, make_header(ns, 0, ''))
