"""Annotated images: lines that stay visible when a panel shows the image scaled down."""

import cv2
import numpy as np
import pytest

from humanpose.skeletons import get_skeleton
from humanpose.types import Poses
from humanpose.viz import draw_poses, stroke_px


def _one_person(width, height):
    """One person standing in the middle of a ``width`` x ``height`` image, every joint shown."""
    k = get_skeleton('coco_wholebody').num_keypoints
    rng = np.random.default_rng(0)
    xy = np.stack([rng.uniform(0.35, 0.65, k) * width, rng.uniform(0.2, 0.9, k) * height], -1)
    box = np.array([[0.3 * width, 0.15 * height, 0.7 * width, 0.95 * height]], np.float32)
    return Poses(keypoints=xy[None].astype(np.float32), confidence=np.ones((1, k), np.float32),
                 scores=np.ones((1, k), np.float32), boxes=box,
                 box_scores=np.full(1, 0.9, np.float32), skeleton='coco_wholebody',
                 ids=('3',))


def _box_line_px(image, poses):
    """Width (px) of the box's left edge, measured across it at mid-height."""
    x0, y0, x1, y1 = poses.boxes[0]
    row = int((y0 + y1) / 2)
    column = int(round(x0))
    white = (image[row, column - 20:column + 20] > 250).all(axis=-1)
    return int(white.sum())


@pytest.mark.parametrize('size,expected', [((640, 480), 2), ((1280, 720), 4),
                                           ((1920, 1080), 6)])
def test_lines_scale_with_the_image(size, expected):
    width, height = size
    assert stroke_px(width, height) == expected
    poses = _one_person(width, height)
    drawn = draw_poses(np.zeros((height, width, 3), np.uint8), poses, color='rgb')
    assert abs(_box_line_px(drawn, poses) - expected) <= 1


@pytest.mark.parametrize('size', [(1280, 720), (1920, 1080)])
def test_box_stays_visible_in_a_small_panel(size):
    """RViz's image panel shows the annotated image about 560 px wide (config/pose.rviz)."""
    width, height = size
    poses = _one_person(width, height)
    drawn = draw_poses(np.zeros((height, width, 3), np.uint8), poses, color='rgb')
    scale = 560 / width
    panel = cv2.resize(drawn, (560, int(round(height * scale))), interpolation=cv2.INTER_AREA)
    x0, y0, x1, y1 = poses.boxes[0] * scale
    edge = panel[int((y0 + y1) / 2), int(x0) - 3:int(x0) + 4]
    assert edge.max() >= 200  # a bright line, not a grey smear (1 px lines drop to ~100)


def test_explicit_thickness_wins():
    poses = _one_person(1280, 720)
    drawn = draw_poses(np.zeros((720, 1280, 3), np.uint8), poses, thickness=1, color='rgb')
    assert _box_line_px(drawn, poses) == 1
