"""Keypoint layouts as data: COCO-WholeBody (133 keypoints) and COCO (17 keypoints).

The tables (names, links, flip pairs, OKS sigmas, part ranges, colours) live in
``humanpose/data/skeletons.json``, transcribed from the dataset definitions that MMPose
publishes. Look a layout up by name::

    >>> from humanpose.skeletons import get_skeleton
    >>> sk = get_skeleton('coco_wholebody')
    >>> sk.num_keypoints, sk.part_slice('left_hand')
    (133, slice(91, 112, None))
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
import json
from typing import Any

import numpy as np
from numpy.typing import NDArray

from humanpose.errors import HumanPoseError

#: Parts every layout is split into (wholebody order); layouts may have a subset.
PART_NAMES: tuple[str, ...] = ('body', 'foot', 'face', 'left_hand', 'right_hand')


@dataclass(frozen=True)
class Skeleton:
    """A keypoint layout.

    :param name: registry name, e.g. ``coco_wholebody``; also the ``skeleton`` field of
        ``HumanPoseArray``.
    :param keypoint_names: (K,) names, index = keypoint id.
    :param links: (L, 2) int, pairs of keypoint ids drawn as bones.
    :param flip_index: (K,) int, the mirror keypoint of each keypoint.
    :param oks_sigmas: (K,) float64, per-keypoint OKS sigmas (COCO evaluation).
    :param parts: part name -> [start, end) keypoint id range.
    :param keypoint_colors: (K, 3) uint8 RGB display colours.
    :param link_colors: (L, 3) uint8 RGB display colours.
    """

    name: str
    keypoint_names: tuple[str, ...]
    links: NDArray[np.int64]
    flip_index: NDArray[np.int64]
    oks_sigmas: NDArray[np.float64]
    parts: dict[str, tuple[int, int]]
    keypoint_colors: NDArray[np.uint8]
    link_colors: NDArray[np.uint8]

    @property
    def num_keypoints(self) -> int:
        return len(self.keypoint_names)

    def part_slice(self, part: str) -> slice:
        """Return the keypoint id range of ``part`` as a slice.

        :raises HumanPoseError: the layout has no such part.
        """
        try:
            start, end = self.parts[part]
        except KeyError:
            raise HumanPoseError(
                f'skeleton {self.name!r} has no part {part!r}; '
                f'it has {", ".join(self.parts)}') from None
        return slice(start, end)

    def part_of_keypoint(self) -> NDArray[np.int64]:
        """Return (K,) int: the index into ``parts`` (in order) of each keypoint's part."""
        out = np.full(self.num_keypoints, -1, dtype=np.int64)
        for i, (start, end) in enumerate(self.parts.values()):
            out[start:end] = i
        return out

    def index(self, keypoint_name: str) -> int:
        """Return the id of a keypoint given its name."""
        try:
            return self.keypoint_names.index(keypoint_name)
        except ValueError:
            raise HumanPoseError(
                f'skeleton {self.name!r} has no keypoint {keypoint_name!r}') from None


def _from_table(name: str, table: dict[str, Any]) -> Skeleton:
    num = int(table['num_keypoints'])
    parts = {k: (int(v[0]), int(v[1])) for k, v in table.get('parts', {'body': [0, num]}).items()}
    skeleton = Skeleton(
        name=name,
        keypoint_names=tuple(table['keypoint_names']),
        links=np.asarray(table['links'], dtype=np.int64).reshape(-1, 2),
        flip_index=np.asarray(table['flip_index'], dtype=np.int64),
        oks_sigmas=np.asarray(table['oks_sigmas'], dtype=np.float64),
        parts=parts,
        keypoint_colors=np.asarray(table['keypoint_colors_rgb'], dtype=np.uint8).reshape(-1, 3),
        link_colors=np.asarray(table['link_colors_rgb'], dtype=np.uint8).reshape(-1, 3),
    )
    for array in (skeleton.links, skeleton.flip_index, skeleton.oks_sigmas,
                  skeleton.keypoint_colors, skeleton.link_colors):
        array.setflags(write=False)
    return skeleton


@lru_cache(maxsize=None)
def _registry() -> dict[str, Skeleton]:
    text = resources.files('humanpose').joinpath('data/skeletons.json').read_text('utf-8')
    tables = json.loads(text)
    return {name: _from_table(name, table) for name, table in tables.items()
            if not name.startswith('_')}


def skeleton_names() -> tuple[str, ...]:
    """Return the names of all known layouts."""
    return tuple(_registry())


def get_skeleton(name: str) -> Skeleton:
    """Return the layout called ``name``.

    :raises HumanPoseError: unknown name (the message lists the known ones).
    """
    try:
        return _registry()[name]
    except KeyError:
        raise HumanPoseError(
            f'unknown skeleton {name!r}; known: {", ".join(skeleton_names())}') from None


def skeleton_for_num_keypoints(num_keypoints: int) -> Skeleton:
    """Return the layout with ``num_keypoints`` keypoints (133 -> wholebody, 17 -> coco).

    :raises HumanPoseError: no layout has that many keypoints.
    """
    for skeleton in _registry().values():
        if skeleton.num_keypoints == num_keypoints:
            return skeleton
    known = ', '.join(f'{s.name} ({s.num_keypoints})' for s in _registry().values())
    raise HumanPoseError(
        f'no known skeleton has {num_keypoints} keypoints; known: {known}. '
        'Give the model a card that names its skeleton.')
