"""Synthetic sequences: people walking on straight lines, with their true identities.

Each :class:`Walker` is one person who appears at ``first_frame`` as ``start``, moves
linearly (position, size, rotation, depth) to ``end`` at ``last_frame`` and is gone after
that. :func:`render_sequence` draws every frame with :func:`~humanpose.testing.scene.render_scene`
(far people first, so nearer people occlude them) and yields a :class:`SequenceFrame` with
the scene, the identity of every drawn person and the frame's stamp. Everything is
deterministic: the same arguments give the same frames.

:func:`crossing_walkers` is the standard scenario of the tracking tests: two people who
cross paths slowly at different depths, a third who enters from the side later, and a
fourth who leaves the image.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Optional, Sequence

import numpy as np
from numpy.typing import NDArray

from humanpose.testing.scene import PersonSpec, SyntheticScene, render_scene
from humanpose.types import CameraModel, Poses


@dataclass(frozen=True)
class Walker:
    """A person moving linearly from ``start`` to ``end`` over a range of frames.

    :param identity: the ground-truth identity (any string).
    :param start: the person at ``first_frame``.
    :param end: the person at ``last_frame``.
    :param first_frame: first frame the person is drawn in.
    :param last_frame: last frame the person is drawn in (inclusive).
    """

    identity: str
    start: PersonSpec
    end: PersonSpec
    first_frame: int
    last_frame: int

    def at(self, frame: int) -> Optional[PersonSpec]:
        """Return the person at ``frame``, or None outside ``[first_frame, last_frame]``."""
        if not self.first_frame <= frame <= self.last_frame:
            return None
        span = max(self.last_frame - self.first_frame, 1)
        t = (frame - self.first_frame) / span
        a, b = self.start, self.end

        def mix(u: float, v: float) -> float:
            return (1.0 - t) * u + t * v

        return PersonSpec(
            centre_px=(mix(a.centre_px[0], b.centre_px[0]), mix(a.centre_px[1], b.centre_px[1])),
            height_px=mix(a.height_px, b.height_px), angle_deg=mix(a.angle_deg, b.angle_deg),
            aspect=mix(a.aspect, b.aspect), depth_m=mix(a.depth_m, b.depth_m))


@dataclass(frozen=True)
class SequenceFrame:
    """One frame of a sequence.

    :param index: frame number, from 0.
    :param stamp_ns: the frame's stamp in nanoseconds.
    :param scene: the drawn image, depth and ground truth (people in drawing order).
    :param identities: the identity of each person of ``scene.people``, same order.
    """

    index: int
    stamp_ns: int
    scene: SyntheticScene
    identities: tuple[str, ...]

    @property
    def visible(self) -> NDArray[np.bool_]:
        """(N, 133) bool: the keypoint is in the image and no nearer person covers it.

        Judged from the depth image: the depth at the keypoint's pixel is the person's own.
        """
        scene = self.scene
        n = len(scene.people)
        if n == 0:
            return np.zeros((0, 133), bool)
        h, w = scene.depth_m.shape
        xy = np.rint(scene.keypoints).astype(np.int64)
        x = xy[..., 0].clip(0, w - 1)
        y = xy[..., 1].clip(0, h - 1)
        own = np.array([p.depth_m for p in scene.people])[:, None]
        visible: NDArray[np.bool_] = scene.inside & (np.abs(scene.depth_m[y, x] - own) < 1e-3)
        return visible

    def poses(self, noise_px: float = 0.0, seed: int = 0, skeleton: str = 'coco_wholebody',
              hidden_confidence: float = 0.0) -> Poses:
        """Return the ground truth as :class:`Poses` (what a perfect pose network gives).

        :param noise_px: standard deviation of Gaussian noise added to every keypoint.
        :param seed: seed of the noise (combined with the frame index).
        :param skeleton: the skeleton name to put on the poses.
        :param hidden_confidence: confidence of keypoints that are not :attr:`visible`
            (visible ones get 1).
        :return: one person per drawn person, in drawing order (same as ``identities``).
        """
        scene = self.scene
        keypoints = scene.keypoints.astype(np.float64)
        if noise_px > 0 and len(keypoints):
            rng = np.random.default_rng([seed, self.index])
            keypoints = keypoints + rng.normal(0.0, noise_px, keypoints.shape)
        confidence = np.where(self.visible, 1.0, hidden_confidence).astype(np.float32)
        n = len(keypoints)
        return Poses(keypoints=keypoints.astype(np.float32).reshape(n, 133, 2),
                     confidence=confidence, scores=confidence.copy(),
                     boxes=scene.boxes.astype(np.float32).reshape(n, 4),
                     box_scores=np.ones(n, np.float32), skeleton=skeleton)


def render_sequence(walkers: Sequence[Walker], num_frames: int, width: int = 640,
                    height: int = 480, fps: float = 30.0, seed: int = 0,
                    background_depth_m: float = 4.0, start_ns: int = 0,
                    camera: Optional[CameraModel] = None) -> Iterator[SequenceFrame]:
    """Yield ``num_frames`` frames of ``walkers`` moving through the image.

    :param walkers: the people.
    :param num_frames: how many frames.
    :param width: image width in pixels.
    :param height: image height in pixels.
    :param fps: frame rate that sets the stamps.
    :param seed: seed of the (static) background texture.
    :param background_depth_m: depth of the background wall.
    :param start_ns: stamp of frame 0.
    :param camera: camera model; default the scene's default camera.
    :return: an iterator of frames; each is rendered when it is asked for.
    """
    for index in range(num_frames):
        present = [(w.identity, spec) for w in walkers
                   if (spec := w.at(index)) is not None]
        present.sort(key=lambda item: -item[1].depth_m)  # far first: near ones occlude
        scene = render_scene(width, height, [spec for _, spec in present], seed=seed,
                             background_depth_m=background_depth_m, camera=camera)
        yield SequenceFrame(index=index, stamp_ns=start_ns + int(round(index * 1e9 / fps)),
                            scene=scene, identities=tuple(i for i, _ in present))


def crossing_walkers(width: int = 640, height: int = 480,
                     num_frames: int = 120) -> tuple[Walker, ...]:
    """Return the tracking scenario: two people crossing slowly, one entering, one leaving.

    * ``A`` walks left to right at 2 m, ``B`` right to left at 3 m (smaller, behind A);
      they cross in the middle of the sequence, B partly hidden by A.
    * ``C`` enters from the right edge at frame ``num_frames // 2``.
    * ``D`` (small, far, top right) walks out of the right edge and is gone after frame
      ``num_frames // 3``.

    Speeds are a few pixels per frame at 30 fps and 120 frames (a slow walk).

    :param width: image width in pixels.
    :param height: image height in pixels.
    :param num_frames: length of the sequence the walkers are planned for.
    :return: the walkers A, B, C, D.
    """
    last = num_frames - 1
    size = min(width, height * 1.4)

    def person(x: float, y: float, h: float, depth_m: float) -> PersonSpec:
        return PersonSpec((x * width, y * height), h * size, depth_m=depth_m)

    return (
        Walker('A', person(0.15, 0.45, 0.6, 2.0), person(0.65, 0.45, 0.6, 2.0), 0, last),
        Walker('B', person(0.8, 0.4, 0.4, 3.0), person(0.2, 0.4, 0.4, 3.0), 0, last),
        Walker('C', person(1.1, 0.45, 0.45, 2.5), person(0.88, 0.45, 0.45, 2.5),
               num_frames // 2, last),
        Walker('D', person(0.93, 0.3, 0.3, 3.5), person(1.2, 0.3, 0.3, 3.5),
               0, num_frames // 3),
    )
