"""Person tracks: stable string ids across frames, and the pieces of "detect every N".

:class:`Tracker` matches each frame's poses to the live tracks by Hungarian assignment
(``scipy.optimize.linear_sum_assignment``) on a cost of ``1 - similarity``, where the
similarity is the object keypoint similarity (OKS, COCO's sigmas on the body keypoints)
or the box IoU. Pairs below ``min_similarity`` are never matched (gating).

Track life cycle:

* **tentative** — new; becomes confirmed after ``min_hits`` matched frames. A tentative
  track that misses one frame is deleted (most are false detections). Tentative tracks
  are published with their id from the first frame (``publish_tentative``): a robot can
  act on a person at once, and the id stays the same when the track is confirmed.
* **confirmed** — matched in its last frame.
* **lost** — a confirmed track that missed frames. It coasts (its keypoints move with the
  track's last velocity) for up to ``max_age`` frames, with an OKS tolerance that widens
  by ``coast_spread`` per missed frame; a match brings it back with the same id. Lost
  tracks are not published unless ``publish_lost`` is set. After ``max_age`` misses the
  track is deleted.

Ids are ``'1'``, ``'2'``, ... from a per-tracker counter and are never reused.

For "detect every N frames" the module also gives :func:`boxes_from_keypoints` (person
boxes for the next frame from the current keypoints), :func:`suppress_duplicates` (drop
poses that describe the same person twice, as happens when an occluded person's box
ends on the occluder) and :class:`DetectorScheduler` (whether the detector runs).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
import enum
import logging
from typing import Any, Callable, NamedTuple, Optional, Sequence

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

from humanpose.errors import HumanPoseError, InvalidInputError
from humanpose.skeletons import get_skeleton
from humanpose.types import Poses

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]

_log = logging.getLogger(__name__)


class TrackState(str, enum.Enum):
    """Where a track is in its life cycle."""

    TENTATIVE = 'tentative'
    CONFIRMED = 'confirmed'
    LOST = 'lost'


class People(NamedTuple):
    """The parts of a set of poses that matching looks at.

    :param keypoints: (N, K, 2) float64 pixels.
    :param confidence: (N, K) float64 in [0, 1].
    :param boxes: (N, 4) float64 xyxy pixels.
    :param spread: (N,) float64 >= 1, how much less certain than a fresh observation the
        positions are (a coasting track's prediction); None = all 1.
    """

    keypoints: F64
    confidence: F64
    boxes: F64
    spread: Optional[F64] = None


def box_iou(a: NDArray[Any], b: NDArray[Any]) -> F64:
    """Return the (A, B) intersection over union of xyxy boxes ``a`` (A, 4) and ``b`` (B, 4)."""
    a = np.asarray(a, np.float64).reshape(-1, 1, 4)
    b = np.asarray(b, np.float64).reshape(1, -1, 4)
    iw = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    ih = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = iw * ih
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    union = area_a + area_b - inter
    iou: F64 = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
    return iou


def keypoint_similarity(a: People, b: People, sigmas: NDArray[Any],
                        min_confidence: float) -> tuple[F64, NDArray[np.int64]]:
    """Return the (A, B) object keypoint similarity and the number of keypoints it used.

    COCO's OKS with the mean of the two box areas as the object scale: the mean over
    keypoints confident (>= ``min_confidence``) in both poses of
    ``exp(-d^2 / (2 * area * (2 * sigma)^2))``. The scale of a pose of ``a`` is multiplied
    by its ``spread`` (the area by its square).

    :param a: A poses (K keypoints).
    :param b: B poses (K keypoints).
    :param sigmas: (K,) per-keypoint OKS sigmas.
    :param min_confidence: keypoints below it in either pose do not count.
    :return: (A, B) float64 OKS in [0, 1] (0 where no keypoint counted), (A, B) counts.
    """
    d2 = ((a.keypoints[:, None] - b.keypoints[None]) ** 2).sum(axis=-1)  # (A, B, K)
    area_a = np.prod(a.boxes[:, 2:] - a.boxes[:, :2], axis=1)
    area_b = np.prod(b.boxes[:, 2:] - b.boxes[:, :2], axis=1)
    area = np.maximum(0.5 * (area_a[:, None] + area_b[None]), 1.0)  # (A, B)
    if a.spread is not None:
        area = area * np.asarray(a.spread, np.float64)[:, None] ** 2
    variance = (2.0 * np.asarray(sigmas, np.float64)) ** 2
    with np.errstate(invalid='ignore'):
        e = np.exp(-d2 / (2.0 * area[..., None] * variance))
    both = (a.confidence[:, None] >= min_confidence) & (b.confidence[None] >= min_confidence)
    both &= np.isfinite(e)
    count = both.sum(axis=-1)
    oks = np.where(both, e, 0.0).sum(axis=-1) / np.maximum(count, 1)
    return oks, count


def _oks(a: People, b: People, sigmas: NDArray[Any], min_confidence: float) -> F64:
    """OKS, falling back to box IoU for pairs that share no confident keypoint."""
    oks, count = keypoint_similarity(a, b, sigmas, min_confidence)
    out: F64 = np.where(count > 0, oks, box_iou(a.boxes, b.boxes))
    return out


def _iou(a: People, b: People, sigmas: NDArray[Any], min_confidence: float) -> F64:
    return box_iou(a.boxes, b.boxes)


#: Track cost name -> similarity ``(tracks, detections, sigmas, min_confidence) -> (T, D)``;
#: the assignment cost is ``1 - similarity``.
SIMILARITIES: dict[str, Callable[[People, People, NDArray[Any], float], F64]] = {
    'oks': _oks,
    'iou': _iou,
}


@dataclass(frozen=True)
class TrackerConfig:
    """Tracker parameters.

    :param cost: ``oks`` (keypoint similarity, body keypoints) or ``iou`` (box overlap).
    :param min_similarity: smallest OKS / IoU for a detection to continue a track (gating).
    :param min_hits: matched frames before a track is confirmed (1 = at once).
    :param max_age: frames a lost track coasts before it is deleted.
    :param keypoint_confidence: keypoints below this confidence are ignored by OKS and by
        the velocity estimate.
    :param coast_spread: per frame a lost track has coasted, the OKS tolerance around its
        predicted pose grows by this fraction (its prediction gets less certain), so a
        person who reappears a little off the predicted path keeps the id. 0 = fixed.
    :param publish_tentative: publish tracks before they are confirmed (with their id).
    :param publish_lost: also publish coasting (lost) tracks at their predicted pose.
    """

    cost: str = 'oks'
    min_similarity: float = 0.3
    min_hits: int = 3
    max_age: int = 30
    keypoint_confidence: float = 0.3
    coast_spread: float = 0.1
    publish_tentative: bool = True
    publish_lost: bool = False

    def __post_init__(self) -> None:
        if self.cost not in SIMILARITIES:
            raise InvalidInputError(
                f'unknown track cost {self.cost!r}; use one of {", ".join(SIMILARITIES)}')
        if not 0.0 <= self.min_similarity <= 1.0:
            raise InvalidInputError(
                f'min_similarity must be in [0, 1], got {self.min_similarity}')
        if self.coast_spread < 0:
            raise InvalidInputError(f'coast_spread must be >= 0, got {self.coast_spread}')
        if self.min_hits < 1 or self.max_age < 0:
            raise InvalidInputError(
                f'min_hits must be >= 1 and max_age >= 0, got {self.min_hits}, {self.max_age}')


@dataclass(frozen=True)
class TrackInfo:
    """A read-only view of one track.

    :param id: the track id.
    :param state: tentative, confirmed or lost.
    :param hits: frames the track was matched in.
    :param misses: consecutive frames it was not matched (0 unless lost).
    :param box: (4,) float32 xyxy pixels of its last observed box.
    :param velocity_px_s: (2,) float32 estimated image velocity in pixels per second.
    :param stamp_ns: stamp of its last observation.
    """

    id: str
    state: TrackState
    hits: int
    misses: int
    box: F32 = field(repr=False)
    velocity_px_s: F32 = field(repr=False)
    stamp_ns: int = 0


# Weight of the newest velocity measurement (exponential average over frames).
_VELOCITY_GAIN = 0.5


@dataclass
class _Track:
    """Mutable state of one track (internal)."""

    id: str
    person: Poses  # the last observation, one person (ids stripped)
    stamp_ns: int
    state: TrackState = TrackState.TENTATIVE
    hits: int = 1
    misses: int = 0
    velocity: F64 = field(default_factory=lambda: np.zeros(2))

    def shift_to(self, stamp_ns: int) -> F64:
        """Return the (2,) pixel displacement the track is predicted to make by ``stamp_ns``."""
        shift: F64 = self.velocity * (max(stamp_ns - self.stamp_ns, 0) * 1e-9)
        return shift

    def observe(self, person: Poses, stamp_ns: int, keypoint_confidence: float) -> None:
        dt = (stamp_ns - self.stamp_ns) * 1e-9
        if dt > 0:
            old, new = self.person, person
            both = ((old.confidence[0] >= keypoint_confidence)
                    & (new.confidence[0] >= keypoint_confidence)
                    & np.isfinite(old.keypoints[0]).all(axis=1)
                    & np.isfinite(new.keypoints[0]).all(axis=1))
            if both.any():
                moved = (new.keypoints[0, both] - old.keypoints[0, both]).mean(axis=0)
            else:
                moved = (_centre(new.boxes[0]) - _centre(old.boxes[0]))
            measured = moved.astype(np.float64) / dt
            gain = 1.0 if self.hits == 1 and self.misses == 0 else _VELOCITY_GAIN
            self.velocity = self.velocity + gain * (measured - self.velocity)
        self.person = person
        self.stamp_ns = stamp_ns
        self.hits += 1
        self.misses = 0

    def predicted(self, stamp_ns: int) -> Poses:
        """Return the last observation moved to where the track is expected at ``stamp_ns``."""
        shift = self.shift_to(stamp_ns).astype(np.float32)
        p = self.person
        return replace(p, keypoints=p.keypoints + shift,
                       boxes=p.boxes + np.concatenate([shift, shift]))

    def info(self) -> TrackInfo:
        return TrackInfo(id=self.id, state=self.state, hits=self.hits, misses=self.misses,
                         box=self.person.boxes[0].copy(),
                         velocity_px_s=self.velocity.astype(np.float32),
                         stamp_ns=self.stamp_ns)


def _centre(box: NDArray[Any]) -> F64:
    centre: F64 = 0.5 * (np.asarray(box[:2], np.float64) + np.asarray(box[2:], np.float64))
    return centre


def concat_poses(parts: Sequence[Poses], skeleton: str, num_keypoints: int) -> Poses:
    """Return the people of ``parts`` in order, as one :class:`Poses`.

    3D is kept only if every part has it; ids are kept if every non-empty part has them.
    """
    parts = [p for p in parts if len(p)]
    if not parts:
        return Poses.empty(skeleton, num_keypoints)
    if len(parts) == 1:
        return parts[0]
    has_ids = all(p.ids for p in parts)
    kp3 = [p.keypoints_3d for p in parts if p.keypoints_3d is not None]
    c3 = [p.confidence_3d for p in parts if p.confidence_3d is not None]
    has_3d = len(kp3) == len(c3) == len(parts)
    # Root-relative depth (3D networks): kept when any part has it, unknown (NaN,
    # confidence 0) for the parts without, e.g. coasting tracks.
    with_depth = [p for p in parts if p.relative_depth is not None]
    relative = relative_conf = None
    if with_depth:
        relative = np.concatenate([
            p.relative_depth if p.relative_depth is not None
            else np.full(p.confidence.shape, np.nan, np.float32) for p in parts])
        relative_conf = np.concatenate([
            p.relative_depth_confidence if p.relative_depth_confidence is not None
            else np.zeros(p.confidence.shape, np.float32) for p in parts])
    return Poses(
        keypoints=np.concatenate([p.keypoints for p in parts]),
        confidence=np.concatenate([p.confidence for p in parts]),
        scores=np.concatenate([p.scores for p in parts]),
        boxes=np.concatenate([p.boxes for p in parts]),
        box_scores=np.concatenate([p.box_scores for p in parts]),
        skeleton=parts[0].skeleton,
        ids=tuple(i for p in parts for i in p.ids) if has_ids else (),
        keypoints_3d=np.concatenate(kp3) if has_3d else None,
        confidence_3d=np.concatenate(c3) if has_3d else None,
        relative_depth=relative, relative_depth_confidence=relative_conf,
    )


def _people(poses: Poses) -> People:
    return People(poses.keypoints.astype(np.float64), poses.confidence.astype(np.float64),
                  poses.boxes.astype(np.float64))


class Tracker:
    """Give people stable string ids across frames.

    Feed every frame, also frames without people (that is how tracks get lost)::

        tracker = Tracker(TrackerConfig(min_hits=3, max_age=30))
        poses = tracker.update(poses, stamp_ns)   # poses.ids are now track ids
        tracker.lost_this_frame                    # ids that became lost in that update

    Time comes from the image stamps, never the wall clock; a stamp older than the last
    one (a bag that loops) resets the tracks, but ids are still never reused.

    :param config: tracker parameters.
    """

    def __init__(self, config: Optional[TrackerConfig] = None) -> None:
        self.config = config or TrackerConfig()
        self._similarity = SIMILARITIES[self.config.cost]
        self._tracks: list[_Track] = []
        self._next_id = 1
        self._last_stamp_ns: Optional[int] = None
        self._lost: tuple[str, ...] = ()
        self._deleted: tuple[str, ...] = ()

    @property
    def tracks(self) -> tuple[TrackInfo, ...]:
        """Return a view of every live track (tentative, confirmed, lost), oldest first."""
        return tuple(t.info() for t in self._tracks)

    @property
    def lost_this_frame(self) -> tuple[str, ...]:
        """Ids of confirmed tracks that were not matched in the last update (now lost)."""
        return self._lost

    @property
    def deleted_this_frame(self) -> tuple[str, ...]:
        """Ids of tracks deleted in the last update (tentative misses, lost past max_age)."""
        return self._deleted

    def reconfigure(self, config: TrackerConfig) -> None:
        """Apply new parameters from the next update on, keeping the tracks and ids."""
        self.config = config
        self._similarity = SIMILARITIES[config.cost]

    def reset(self) -> None:
        """Drop every track; the id counter keeps counting so ids are never reused."""
        self._deleted = tuple(t.id for t in self._tracks)
        self._lost = ()
        self._tracks = []
        self._last_stamp_ns = None

    def _sigmas(self, poses: Poses) -> F64:
        if self.config.cost != 'oks':
            return np.ones(poses.num_keypoints)
        return _body_sigmas(poses)

    def _match(self, poses: Poses, stamp_ns: int) -> list[tuple[int, int]]:
        if not self._tracks or not len(poses):
            return []
        predicted = concat_poses([t.predicted(stamp_ns) for t in self._tracks],
                                 poses.skeleton, poses.num_keypoints)
        if predicted.num_keypoints != poses.num_keypoints:
            raise InvalidInputError(
                f'tracks have {predicted.num_keypoints} keypoints, the new poses '
                f'{poses.num_keypoints}; reset the tracker when the model changes')
        sigmas = self._sigmas(poses)
        body = sigmas > 0
        spread = 1.0 + self.config.coast_spread * np.array(
            [t.misses for t in self._tracks], np.float64)
        a, b = _people(predicted)._replace(spread=spread), _people(poses)
        if body.any() and not body.all():
            a = People(a.keypoints[:, body], a.confidence[:, body], a.boxes, spread)
            b = People(b.keypoints[:, body], b.confidence[:, body], b.boxes)
            sigmas = sigmas[body]
        similarity = self._similarity(a, b, sigmas, self.config.keypoint_confidence)
        gated = similarity < self.config.min_similarity
        cost = np.where(gated, 1e6, 1.0 - similarity)
        rows, cols = linear_sum_assignment(cost)
        return [(int(r), int(c)) for r, c in zip(rows, cols) if not gated[r, c]]

    def update(self, poses: Poses, stamp_ns: int) -> Poses:
        """Match ``poses`` to the tracks and return them with track ids.

        :param poses: this frame's poses (any ids they carry are replaced).
        :param stamp_ns: the image stamp in nanoseconds.
        :return: the published poses, in input order, with ``ids`` set: all of them,
            minus tentative ones when ``publish_tentative`` is off, plus (appended) lost
            tracks at their predicted pose when ``publish_lost`` is on.
        :raises InvalidInputError: the poses do not fit the tracks (keypoint count), or
            the oks cost meets an unknown skeleton.
        """
        stamp_ns = int(stamp_ns)
        if self._last_stamp_ns is not None and stamp_ns < self._last_stamp_ns:
            _log.warning('image stamp went back in time (%d ns < %d ns); resetting tracks',
                         stamp_ns, self._last_stamp_ns)
            self.reset()
            deleted_by_reset = self._deleted
        else:
            deleted_by_reset = ()
        self._last_stamp_ns = stamp_ns
        poses = poses.with_ids(())
        matches = self._match(poses, stamp_ns)
        matched_tracks = {t for t, _ in matches}
        track_of = {d: self._tracks[t] for t, d in matches}
        cfg = self.config
        for d, track in track_of.items():
            track.observe(poses.select(np.array([d])), stamp_ns, cfg.keypoint_confidence)
            if track.state is TrackState.LOST or track.hits >= cfg.min_hits:
                track.state = TrackState.CONFIRMED
        lost: list[str] = []
        deleted: list[str] = list(deleted_by_reset)
        survivors: list[_Track] = []
        for i, track in enumerate(self._tracks):
            if i not in matched_tracks:
                track.misses += 1
                if track.state is TrackState.CONFIRMED:
                    track.state = TrackState.LOST
                    lost.append(track.id)
                if track.state is TrackState.TENTATIVE or track.misses > cfg.max_age:
                    deleted.append(track.id)
                    continue
            survivors.append(track)
        for d in range(len(poses)):
            if d not in track_of:
                track = _Track(id=str(self._next_id), person=poses.select(np.array([d])),
                               stamp_ns=stamp_ns)
                self._next_id += 1
                if cfg.min_hits <= 1:
                    track.state = TrackState.CONFIRMED
                track_of[d] = track
                survivors.append(track)
        self._tracks = survivors
        self._lost, self._deleted = tuple(lost), tuple(deleted)

        ids = tuple(track_of[d].id for d in range(len(poses)))
        out = poses.with_ids(ids)
        if not cfg.publish_tentative:
            confirmed = np.array([track_of[d].state is TrackState.CONFIRMED
                                  for d in range(len(poses))], bool)
            out = out.select(np.flatnonzero(confirmed))
        if cfg.publish_lost:
            coasting = self.predict(stamp_ns, states=(TrackState.LOST,))
            if len(coasting) and out.keypoints_3d is not None:
                nan = np.full(coasting.keypoints.shape[:2] + (3,), np.nan, np.float32)
                coasting = coasting.with_3d(nan, np.zeros(coasting.keypoints.shape[:2],
                                                          np.float32))
            out = concat_poses([out, coasting], poses.skeleton, poses.num_keypoints)
        return out

    def predict(self, stamp_ns: int,
                states: Sequence[TrackState] = (TrackState.TENTATIVE, TrackState.CONFIRMED),
                ) -> Poses:
        """Return the tracks in ``states`` moved to where they are expected at ``stamp_ns``.

        Between detector runs, :func:`boxes_from_keypoints` of these poses gives the boxes
        to estimate the next frame's poses in; ``states=(TrackState.LOST,)`` gives the
        coasting tracks (their ``boxes`` are the predicted boxes).

        :param stamp_ns: the stamp to predict to (constant image velocity per track).
        :param states: which tracks to include.
        :return: one person per track, oldest track first, ids set; 3D dropped.
        """
        chosen = [t for t in self._tracks if t.state in states]
        if not chosen:
            return Poses.empty('', 0)
        parts = [replace(t.predicted(int(stamp_ns)), ids=(t.id,), keypoints_3d=None,
                         confidence_3d=None) for t in chosen]
        return concat_poses(parts, parts[0].skeleton, parts[0].num_keypoints)


def _body_sigmas(poses: Poses) -> F64:
    """Return (K,) OKS sigmas that are 0 outside the body part (see :class:`Tracker`).

    :raises InvalidInputError: the skeleton is unknown.
    """
    try:
        skeleton = get_skeleton(poses.skeleton)
    except HumanPoseError as err:
        raise InvalidInputError(
            f'{err}; keypoint similarity needs a known skeleton (or use the iou cost)') from err
    sigmas = np.zeros(poses.num_keypoints)
    # Body keypoints only: face and hand sigmas are so small that their OKS jumps with
    # every pixel of noise, and they outnumber the body 110 to 17.
    body = skeleton.part_slice('body') if 'body' in skeleton.parts else slice(None)
    sigmas[body] = skeleton.oks_sigmas[body]
    return sigmas


def suppress_duplicates(poses: Poses, max_similarity: float = 0.6,
                        keypoint_confidence: float = 0.3) -> NDArray[np.intp]:
    """Return the indices of the poses to keep when several describe the same person.

    Greedy non-maximum suppression on body OKS, best first (box score times mean body
    keypoint confidence). Between detector runs two keypoint-derived boxes can end on the
    same person (an occluded person's crop shows the occluder); keeping both would start a
    spurious track.

    :param poses: one frame's poses.
    :param max_similarity: a pose whose OKS with a better kept pose exceeds this is dropped.
    :param keypoint_confidence: keypoints below this confidence do not count.
    :return: (M,) indices into ``poses``, in input order.
    :raises InvalidInputError: the skeleton is unknown.
    """
    n = len(poses)
    if n < 2:
        return np.arange(n)
    sigmas = _body_sigmas(poses)
    body = sigmas > 0
    people = _people(poses)
    people = People(people.keypoints[:, body], people.confidence[:, body], people.boxes)
    oks, _ = keypoint_similarity(people, people, sigmas[body], keypoint_confidence)
    quality = poses.box_scores * people.confidence.mean(axis=1)
    keep = np.ones(n, bool)
    for i in np.argsort(-quality, kind='stable'):
        if keep[i]:
            later = quality[i] > quality
            later |= (quality[i] == quality) & (np.arange(n) > i)
            keep &= ~(later & (oks[i] > max_similarity))
    return np.flatnonzero(keep)


def boxes_from_keypoints(keypoints: NDArray[Any], confidence: NDArray[Any],
                         image_size: tuple[int, int], min_confidence: float = 0.3,
                         expand: float = 1.15, min_keypoints: int = 2,
                         fallback: Optional[NDArray[Any]] = None) -> F32:
    """Return person boxes for the next frame from this frame's keypoints.

    The box spans the confident keypoints, grown by ``expand`` about its centre (joint
    centres lie inside the body's outline: the head top, hands and feet reach beyond
    them; a detector's box is about 1.1 to 1.15 times the whole-body keypoint extent)
    and clipped to the image.

    :param keypoints: (N, K, 2) pixels.
    :param confidence: (N, K) in [0, 1].
    :param image_size: (width, height) of the image.
    :param min_confidence: keypoints below it are not used.
    :param expand: factor on the width and height of the keypoints' extent.
    :param min_keypoints: fewer confident keypoints than this give no box.
    :param fallback: (N, 4) boxes to use (clipped) where no box can be made from the
        keypoints, e.g. the boxes the poses were estimated in; None = NaN rows there.
    :return: (N, 4) float32 xyxy pixels; without ``fallback``, a row is NaN where the
        person has too few confident keypoints or the box lies outside the image (run
        the detector then, or drop the row).
    :raises InvalidInputError: the arrays do not have the shapes above.
    """
    kp = np.asarray(keypoints, np.float64)
    conf = np.asarray(confidence, np.float64)
    if kp.ndim != 3 or kp.shape[2] != 2 or conf.shape != kp.shape[:2]:
        raise InvalidInputError(
            f'keypoints must be (N, K, 2) and confidence (N, K), got {kp.shape} and '
            f'{conf.shape}')
    use = (conf >= min_confidence) & np.isfinite(kp).all(axis=-1)
    enough = use.sum(axis=1) >= max(min_keypoints, 1)
    lo = np.where(use[..., None], kp, np.inf).min(axis=1)
    hi = np.where(use[..., None], kp, -np.inf).max(axis=1)
    with np.errstate(invalid='ignore'):
        centre, half = 0.5 * (lo + hi), 0.5 * (hi - lo) * expand
        w, h = image_size
        boxes = np.concatenate([centre - half, centre + half], axis=1)
        boxes = np.clip(boxes, 0.0, [w - 1, h - 1, w - 1, h - 1])
        ok = enough & (boxes[:, 2] - boxes[:, 0] >= 1.0) & (boxes[:, 3] - boxes[:, 1] >= 1.0)
    if fallback is not None:
        spare = np.clip(np.asarray(fallback, np.float64).reshape(-1, 4), 0.0,
                        [w - 1, h - 1, w - 1, h - 1])
        if len(spare) != len(boxes):
            raise InvalidInputError(
                f'{len(boxes)} people but {len(spare)} fallback boxes; give one per person')
        boxes[~ok] = spare[~ok]
    else:
        boxes[~ok] = np.nan
    out: F32 = boxes.astype(np.float32)
    return out


class DetectorScheduler:
    """Decide per frame whether the person detector runs.

    It runs on the first frame, then every ``every`` frames, and on the frame after a
    track was lost (someone left the keypoint-derived box, or a new person may have come).
    In between, person boxes come from the tracks' keypoints (:meth:`Tracker.predict` and
    :func:`boxes_from_keypoints`).

    :param every: run the detector every this many frames (1 = every frame).
    """

    def __init__(self, every: int = 1) -> None:
        if every < 1:
            raise InvalidInputError(f'detect_every must be >= 1, got {every}')
        self.every = int(every)
        self._since: Optional[int] = None  # frames since the last detector run

    def should_detect(self, track_lost: bool = False) -> bool:
        """Return whether the detector runs on this frame; call once per frame.

        :param track_lost: a track was lost in the previous frame's tracker update
            (``bool(tracker.lost_this_frame)``).
        :return: True when the detector must run now.
        """
        due = self._since is None or self._since + 1 >= self.every or track_lost
        self._since = 0 if due else (self._since or 0) + 1
        return due

    def reset(self) -> None:
        """Run the detector on the next frame (e.g. after a stream restart)."""
        self._since = None
