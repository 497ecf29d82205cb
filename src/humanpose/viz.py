"""Drawing poses on images (annotated output image, demo, videos); off the inference path."""

from __future__ import annotations

from typing import Optional

import cv2
import numpy as np
from numpy.typing import NDArray

from humanpose.skeletons import get_skeleton
from humanpose.types import Poses

#: Pixels of image (longer side) per pixel of line width: lines stay visible when the image
#: is shown scaled down (an RViz image panel shows a 1280x720 image about 500 px wide).
PX_PER_STROKE = 320
#: Thinnest line, pixels.
MIN_STROKE_PX = 2


def stroke_px(width: int, height: int) -> int:
    """Return the line width, pixels, for drawing on a ``width`` x ``height`` image.

    About 1/320 of the longer side and at least 2: 2 px at 640x480, 4 px at 1280x720,
    6 px at 1920x1080, so a panel that shows the image 500 px wide still shows 1.5 px lines.
    """
    return max(MIN_STROKE_PX, int(round(max(width, height) / PX_PER_STROKE)))


def draw_poses(image: NDArray[np.uint8], poses: Poses, threshold: float = 0.3,
               color: str = 'bgr', draw_boxes: bool = True, thickness: Optional[int] = None
               ) -> NDArray[np.uint8]:
    """Return a copy of ``image`` with the skeletons of ``poses`` drawn on it.

    :param image: (H, W, 3) uint8 in ``color`` order.
    :param poses: poses in the image's pixels.
    :param threshold: keypoints (and bones touching them) below this confidence are hidden.
    :param color: ``bgr`` or ``rgb``, the order of ``image`` (and of the output).
    :param draw_boxes: draw person boxes with score and track id.
    :param thickness: bone and box line width in pixels; default :func:`stroke_px` (scales
        with the image size).
    """
    out = np.ascontiguousarray(image.copy())
    if not len(poses):
        return out
    skeleton = get_skeleton(poses.skeleton)
    bgr = color.lower() == 'bgr'
    link_colors = skeleton.link_colors[:, ::-1] if bgr else skeleton.link_colors
    kp_colors = skeleton.keypoint_colors[:, ::-1] if bgr else skeleton.keypoint_colors
    size = max(out.shape[:2])
    thick = thickness or stroke_px(out.shape[1], out.shape[0])
    radius = max(1, thick)
    font_scale, font_thick = 0.4 + size / 3000, max(1, thick // 2)
    visible = poses.confidence >= threshold
    for n in range(len(poses)):
        kp = poses.keypoints[n]
        shown = visible[n][skeleton.links].all(axis=1)
        for (a, b), c in zip(skeleton.links[shown], link_colors[shown]):
            cv2.line(out, (int(round(kp[a, 0])), int(round(kp[a, 1]))),
                     (int(round(kp[b, 0])), int(round(kp[b, 1]))), tuple(int(v) for v in c),
                     thick, cv2.LINE_AA)
        for i in np.flatnonzero(visible[n]):
            cv2.circle(out, (int(round(kp[i, 0])), int(round(kp[i, 1]))), radius,
                       tuple(int(v) for v in kp_colors[i]), -1, cv2.LINE_AA)
        if draw_boxes:
            x0, y0, x1, y1 = (int(round(v)) for v in poses.boxes[n])
            cv2.rectangle(out, (x0, y0), (x1, y1), (255, 255, 255), thick)
            label = f'{poses.box_scores[n]:.2f}'
            if poses.ids and poses.ids[n]:
                label = f'#{poses.ids[n]} {label}'
            cv2.putText(out, label, (x0 + thick, max(int(30 * font_scale), y0 - 2 * thick)),
                        cv2.FONT_HERSHEY_SIMPLEX, font_scale, (255, 255, 255), font_thick,
                        cv2.LINE_AA)
    return out
