"""What a robot wants to know about each person: attention, pointing, raised hands, waving.

Pure NumPy, vectorised over people (only the per-track memory loops over ids), no ROS::

    from humanpose.cues import CueEstimator
    estimator = CueEstimator('coco_wholebody')
    cues = estimator(poses, stamp_ns, camera=camera)   # or image_size=(w, h)

Modules: :mod:`~humanpose.cues.head` (head pose, attention), :mod:`~humanpose.cues.hands`
(raised hands, open / fist / pointing), :mod:`~humanpose.cues.pointing` (arm rays, plane
targets), :mod:`~humanpose.cues.waving` (oscillation in a frequency band),
:mod:`~humanpose.cues.state` (per-track memory), :mod:`~humanpose.cues.estimator` (all of
them per image), :mod:`~humanpose.cues.types` (the :class:`Cues` result).
"""

from humanpose.cues.estimator import CueConfig, CueEstimator
from humanpose.cues.pointing import PointingConfig
from humanpose.cues.types import (Cues, HAND_FIST, HAND_OPEN, HAND_POINTING, HAND_UNKNOWN,
                                  SIDE_LEFT, SIDE_NONE, SIDE_RIGHT)
from humanpose.cues.waving import WaveConfig

__all__ = ['CueConfig', 'CueEstimator', 'Cues', 'PointingConfig', 'WaveConfig',
           'HAND_FIST', 'HAND_OPEN', 'HAND_POINTING', 'HAND_UNKNOWN', 'SIDE_LEFT',
           'SIDE_NONE', 'SIDE_RIGHT']
