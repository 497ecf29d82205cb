"""humanpose: whole-body human pose (COCO-WholeBody, 133 keypoints) for robots.

The ROS-free core of pose_bringup::

    from humanpose import Pipeline
    pipe = Pipeline(pose='rtmw.onnx', detector='rtmdet.onnx')
    poses = pipe(image_bgr)     # Poses: keypoints (N, K, 2) px, confidence (N, K) in [0, 1]
"""

from __future__ import annotations

from typing import Any

__version__ = '0.1.0'

__all__ = ['Detections', 'Pipeline', 'PoseEstimator', 'PersonDetector', 'Poses', 'CameraModel',
           '__version__']

_LAZY = {'Pipeline': 'humanpose.pipeline', 'PoseEstimator': 'humanpose.pipeline',
         'PersonDetector': 'humanpose.detect', 'Detections': 'humanpose.types',
         'Poses': 'humanpose.types', 'CameraModel': 'humanpose.types'}


def __getattr__(name: str) -> Any:
    # Lazy, so that `import humanpose` stays cheap (no OpenCV/ONNX imports).
    if name in _LAZY:
        from importlib import import_module
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f'module humanpose has no attribute {name!r}')
