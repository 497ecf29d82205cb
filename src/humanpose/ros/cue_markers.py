"""RViz markers of the cues: head directions and pointing rays (pure, no ROS needed).

Each person's cue markers live in their own marker namespace, ``cues/<label>`` (label =
track id, or the person's index without tracking, as for the skeleton markers), so RViz
can show or hide them apart from the skeletons:

=====  ==========  ===================================================================
id     type        content
=====  ==========  ===================================================================
0      ``ARROW``   head direction: from the head, ``head_length_m`` long; green while
                   the person looks at the camera, grey otherwise
1      ``ARROW``   pointing ray: from the hand to the pointing target, or
                   ``ray_length_m`` long where the ray meets no target
2      ``SPHERE``  the pointing target on the plane
=====  ==========  ===================================================================

Only people with 3D keypoints get markers (a 2D cue has no place in space). The specs
are :class:`~humanpose.ros.markers.MarkerSpec`, so the CDR encoder of the skeleton markers
writes them (:func:`humanpose.ros.cdr.encode_marker_array`).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from humanpose.cues.types import Cues
from humanpose.ros.markers import MarkerSpec

ARROW = 0
SPHERE = 2

HEAD_ID = 0
RAY_ID = 1
TARGET_ID = 2

#: Marker namespace prefix of the cues.
CUE_NAMESPACE = 'cues'

_LOOKING = (0.2, 0.9, 0.3, 1.0)
_NOT_LOOKING = (0.6, 0.6, 0.6, 0.8)
_RAY = (1.0, 0.55, 0.0, 1.0)


def _lifetime(seconds: float) -> tuple[int, int]:
    """Seconds -> builtin_interfaces/Duration (sec, nanosec)."""
    total = int(round(seconds * 1e9))
    return total // 1_000_000_000, total % 1_000_000_000


def cue_labels(cues: Cues) -> tuple[str, ...]:
    """Return one label per person: its track id, or its index where it has none."""
    if cues.ids:
        return tuple(pid if pid else str(i) for i, pid in enumerate(cues.ids))
    return tuple(str(i) for i in range(len(cues)))


def cue_marker_specs(cues: Cues, lifetime_s: float = 0.2, *, head_length_m: float = 0.3,
                     ray_length_m: float = 2.0, shaft_m: float = 0.02) -> list[MarkerSpec]:
    """Return the head-direction and pointing markers of one image's cues.

    :param cues: cues of the image's people.
    :param lifetime_s: seconds RViz keeps a marker that is not refreshed.
    :param head_length_m: length of the head-direction arrow.
    :param ray_length_m: length of a pointing ray that meets no target.
    :param shaft_m: arrow shaft diameter (the head is twice as wide).
    :return: specs, in person order; empty without 3D.
    """
    lifetime = _lifetime(lifetime_s)
    arrow_scale = (shaft_m, 2.0 * shaft_m, 3.0 * shaft_m)
    specs: list[MarkerSpec] = []
    labels = cue_labels(cues)

    def known(values: NDArray[np.float32]) -> NDArray[np.bool_]:
        return np.asarray(np.isfinite(values).all(axis=1), bool)

    head_ok = known(cues.head_position_m) & known(cues.head_direction)
    ray_ok = cues.pointing & known(cues.pointing_origin_m) & known(cues.pointing_direction)
    target_ok = ray_ok & known(cues.pointing_target_m)
    for i in np.flatnonzero(head_ok | ray_ok):
        ns = f'{CUE_NAMESPACE}/{labels[i]}'
        if head_ok[i]:
            start = cues.head_position_m[i].astype(np.float64)
            end = start + head_length_m * cues.head_direction[i].astype(np.float64)
            specs.append(MarkerSpec(
                ns, HEAD_ID, ARROW, scale=arrow_scale, lifetime=lifetime,
                color=_LOOKING if cues.looking_at_camera[i] else _NOT_LOOKING,
                points=np.stack([start, end])))
        if ray_ok[i]:
            start = cues.pointing_origin_m[i].astype(np.float64)
            end = (cues.pointing_target_m[i].astype(np.float64) if target_ok[i] else
                   start + ray_length_m * cues.pointing_direction[i].astype(np.float64))
            specs.append(MarkerSpec(ns, RAY_ID, ARROW, scale=arrow_scale, color=_RAY,
                                    lifetime=lifetime, points=np.stack([start, end])))
            if target_ok[i]:
                x, y, z = (float(v) for v in end)
                specs.append(MarkerSpec(ns, TARGET_ID, SPHERE, position=(x, y, z),
                                        scale=(0.1, 0.1, 0.1), color=_RAY, lifetime=lifetime))
    return specs
