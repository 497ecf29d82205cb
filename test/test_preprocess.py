import numpy as np
import pytest

from humanpose.errors import InvalidInputError
from humanpose.preprocess import (CropBatcher, boxes_to_center_scale, check_boxes, check_image,
                                  crop_to_image, fix_aspect_ratio, letterbox, warp_matrices)


def test_mmpose_box_conventions_by_hand():
    centers, scales = boxes_to_center_scale(np.array([[10, 20, 110, 220]], np.float32))
    np.testing.assert_allclose(centers, [[60, 120]])
    np.testing.assert_allclose(scales, [[125, 250]])
    # 192/256 = 0.75: a tall box widens, a wide box heightens.
    np.testing.assert_allclose(fix_aspect_ratio(scales, 0.75), [[187.5, 250]])
    np.testing.assert_allclose(fix_aspect_ratio(np.array([[300, 100]], np.float32), 0.75),
                               [[300, 400]])


def test_warp_and_inverse_are_consistent():
    centers = np.array([[60, 120], [300.5, 40.25]], np.float32)
    scales = np.array([[187.5, 250], [96, 128]], np.float32)
    m = warp_matrices(centers, scales, (192, 256))
    # The centre maps to (W/2, H/2); the scale's width spans the input width.
    np.testing.assert_allclose(m[0] @ [60, 120, 1], [96, 128])
    np.testing.assert_allclose(m[0, 0, 0] * 187.5, 192)
    pts = np.array([[[0, 0], [191, 255], [10.5, 3.25]]] * 2, np.float32)
    img = crop_to_image(pts, centers, scales, (192, 256))
    back = np.einsum('nij,nkj->nki', m[:, :, :2], img) + m[:, None, :, 2]
    np.testing.assert_allclose(back, pts, atol=1e-3)


def test_crop_batcher_samples_the_right_pixels():
    image = np.zeros((100, 200, 3), np.uint8)
    image[40:60, 90:110] = (0, 0, 255)  # a red square (BGR)
    batcher = CropBatcher((48, 64), mean=(0, 0, 0), std=(1, 1, 1), network_rgb=True)
    batch, centers, scales = batcher(image, np.array([[80, 30, 120, 70]], np.float32))
    assert batch.shape == (1, 3, 64, 48) and batch.dtype == np.float32
    # RGB network: the red square lands in channel 0, around the crop centre.
    red = batch[0, 0]
    assert red[32, 24] == 255 and batch[0, 2, 32, 24] == 0
    ys, xs = np.nonzero(red > 127)
    assert abs(xs.mean() - 23.5) < 0.6 and abs(ys.mean() - 31.5) < 0.6
    # The buffer is reused across calls (no allocation per frame).
    again, _, _ = batcher(image, np.array([[80, 30, 120, 70]], np.float32))
    assert again.base is batch.base


def test_normalisation_uses_card_order_and_statistics():
    image = np.full((10, 10, 3), (10, 20, 30), np.uint8)  # BGR
    batcher = CropBatcher((4, 4), mean=(1, 2, 3), std=(2, 4, 8), network_rgb=True)
    batch, _, _ = batcher(image, np.array([[2, 2, 7, 7]], np.float32))
    np.testing.assert_allclose(batch[0, :, 2, 2], [(30 - 1) / 2, (20 - 2) / 4, (10 - 3) / 8])
    rgb_in, _, _ = batcher(image[..., ::-1].copy(), np.array([[2, 2, 7, 7]], np.float32), 'rgb')
    np.testing.assert_allclose(rgb_in[0, :, 2, 2], batch[0, :, 2, 2])


@pytest.mark.parametrize('bad, match', [
    (np.zeros((0, 10, 3), np.uint8), 'empty'),
    (np.zeros((10, 10), np.uint8), 'shape'),
    (np.zeros((10, 10, 3), np.float32), 'uint8'),
    ([[1, 2, 3]], 'numpy'),
])
def test_bad_images(bad, match):
    with pytest.raises(InvalidInputError, match=match):
        check_image(bad)


@pytest.mark.parametrize('boxes, match', [
    ([[0, 0, np.nan, 5]], 'NaN'),
    ([[5, 5, 5, 9]], 'zero or negative area'),
    ([[200, 0, 300, 50]], 'outside'),
    ([[1, 2, 3]], 'shape'),
])
def test_bad_boxes(boxes, match):
    with pytest.raises(InvalidInputError, match=match):
        check_boxes(np.array(boxes, np.float32), (100, 100, 3))


def test_boxes_partly_outside_are_kept_as_given():
    # MMPose and rtmlib crop the box as given; clipping would move its centre.
    out = check_boxes(np.array([[-10, 5, 150, 80]]), (100, 120, 3))
    np.testing.assert_array_equal(out, [[-10, 5, 150, 80]])
    assert check_boxes(np.zeros((0, 4)), (10, 10, 3)).shape == (0, 4)


def test_letterbox_top_left_with_pad():
    image = np.full((240, 320, 3), 7, np.uint8)
    canvas, ratio = letterbox(image, (640, 640), 114)
    assert ratio == 2.0 and canvas.shape == (640, 640, 3)
    assert canvas[479, 639, 0] == 7 and canvas[480, 0, 0] == 114
