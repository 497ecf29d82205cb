"""Inputs and outputs of ``humanpose run``: frame sources, rosbag2, COCO results.

* :mod:`humanpose.io.sources` — image file, folder of images, video file, webcam ->
  :class:`~humanpose.io.sources.SourceFrame` (index, stamp, name, BGR image);
  :func:`~humanpose.io.sources.open_source` picks the source from a path or index.
* :mod:`humanpose.io.bags` — rosbag2 (sqlite3 or MCAP) image/depth/camera_info reading
  and the output bag writer (``/humans/pose``, ``/humans/markers``), with `rosbags`.
* :mod:`humanpose.io.coco` — COCO keypoint results JSON and the ``--boxes`` file.

The submodules import OpenCV and rosbags lazily, so importing this package is cheap.
"""

from __future__ import annotations

from typing import Any

__all__ = ['SourceFrame', 'open_source', 'BagSource', 'PoseBagWriter', 'CocoResultsWriter',
           'poses_to_coco', 'load_boxes']

_LAZY = {'SourceFrame': 'humanpose.io.sources', 'open_source': 'humanpose.io.sources',
         'BagSource': 'humanpose.io.bags', 'PoseBagWriter': 'humanpose.io.bags',
         'CocoResultsWriter': 'humanpose.io.coco', 'poses_to_coco': 'humanpose.io.coco',
         'load_boxes': 'humanpose.io.coco'}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f'module humanpose.io has no attribute {name!r}')
