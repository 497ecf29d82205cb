"""Per-track memory of the temporal cues (waving, looking time), keyed by track id.

Time is the image stamp (nanoseconds), never the wall clock, so bags and videos give the
same cues as live cameras. A track that has not been seen for ``forget_after_s`` of image
time is dropped (people who leave cost nothing), and so is the whole memory when time
runs backwards (a bag played again).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]
B = NDArray[np.bool_]


@dataclass
class _Track:
    """Ring buffer of one track's waving samples plus its looking timer."""

    capacity: int
    stamps: NDArray[np.int64] = field(init=False)
    x: F64 = field(init=False)
    valid: B = field(init=False)
    size: int = 0
    head: int = 0
    last_seen_ns: int = 0
    looking_since_ns: Optional[int] = None
    last_looking_ns: int = 0
    wave_ns: Optional[int] = None
    wave: tuple[int, float] = (0, float('nan'))

    def __post_init__(self) -> None:
        self.stamps = np.zeros(self.capacity, np.int64)
        self.x = np.zeros((self.capacity, 2))
        self.valid = np.zeros((self.capacity, 2), bool)

    def append(self, stamp_ns: int, x: F64, valid: B) -> None:
        if self.size and stamp_ns <= self.last_seen_ns:
            return  # the same image twice: one sample
        self.stamps[self.head] = stamp_ns
        self.x[self.head] = x
        self.valid[self.head] = valid
        self.head = (self.head + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)
        self.last_seen_ns = stamp_ns

    def latest(self, count: int) -> tuple[NDArray[np.int64], F64, B]:
        """Return the newest ``count`` samples, oldest first (padded with invalid ones)."""
        idx = (self.head - count + np.arange(count)) % self.capacity
        stamps, x, valid = self.stamps[idx], self.x[idx], self.valid[idx].copy()
        valid[:max(0, count - self.size)] = False
        return stamps, x, valid


class CueMemory:
    """Waving histories and looking timers of the tracked people.

    :param capacity: samples kept per track (enough for the waving window at the
        camera's frame rate: 256 = 1.5 s at 170 fps).
    :param forget_after_s: drop a track not seen for this long (image time).
    """

    def __init__(self, capacity: int = 256, forget_after_s: float = 3.0) -> None:
        self.capacity = int(capacity)
        self.forget_after_s = float(forget_after_s)
        self._tracks: dict[str, _Track] = {}
        self._now_ns: Optional[int] = None

    def __len__(self) -> int:
        return len(self._tracks)

    @property
    def track_ids(self) -> tuple[str, ...]:
        """Ids with a memory."""
        return tuple(self._tracks)

    def reset(self) -> None:
        """Forget everything."""
        self._tracks.clear()
        self._now_ns = None

    def forget(self, ids: Sequence[str]) -> None:
        """Drop the memory of ``ids`` (e.g. tracks the tracker deleted)."""
        for track_id in ids:
            self._tracks.pop(track_id, None)

    def update(self, ids: Sequence[str], stamp_ns: int, wave_x: F64, wave_valid: B,
               window_s: float) -> tuple[F64, F64, B]:
        """Add one image's samples; return each person's window of waving samples.

        :param ids: N track ids (empty strings are not remembered: no history).
        :param stamp_ns: the image stamp.
        :param wave_x: (N, 2) waving signal of the left / right hand.
        :param wave_valid: (N, 2) where it is valid.
        :param window_s: seconds of history to return.
        :return: times (N, T) in seconds relative to ``stamp_ns``, signal (N, 2, T) and
            validity (N, 2, T) of the samples in the window, oldest first.
        """
        stamp_ns = int(stamp_ns)
        if self._now_ns is not None and stamp_ns < self._now_ns:
            self.reset()  # time went backwards: a replayed bag, a new video
        self._now_ns = stamp_ns
        stale = [k for k, tr in self._tracks.items()
                 if (stamp_ns - tr.last_seen_ns) / 1e9 > self.forget_after_s]
        self.forget(stale)
        tracks: list[Optional[_Track]] = []
        for i, track_id in enumerate(ids):
            if not track_id:
                tracks.append(None)
                continue
            track = self._tracks.get(track_id)
            if track is None:
                track = self._tracks[track_id] = _Track(self.capacity)
            track.append(stamp_ns, wave_x[i], wave_valid[i])
            tracks.append(track)
        n = len(ids)
        since = stamp_ns - int(window_s * 1e9)
        live = [i for i, track in enumerate(tracks) if track is not None]
        if not live:
            return np.zeros((n, 0)), np.zeros((n, 2, 0)), np.zeros((n, 2, 0), bool)
        # All live tracks' ring buffers at once: (L, capacity) stamps, (L, capacity, 2) x.
        chosen = [track for track in tracks if track is not None]
        stamps = np.stack([track.stamps for track in chosen])
        heads = np.array([track.head for track in chosen])
        sizes = np.array([track.size for track in chosen])
        slots = np.arange(self.capacity)
        filled = slots < sizes[:, None]          # a ring fills from slot 0; full: all slots
        count = int(((stamps >= since) & filled).sum(axis=1).max())
        t = np.zeros((n, count))
        x = np.zeros((n, 2, count))
        valid = np.zeros((n, 2, count), bool)
        if count == 0:
            return t, x, valid
        # The newest ``count`` samples of each track, oldest first.
        index = (heads[:, None] - count + slots[:count]) % self.capacity          # (L, T)
        rows = np.arange(len(chosen))[:, None]
        window = stamps[rows, index]
        xs = np.stack([track.x for track in chosen])[rows, index]              # (L, T, 2)
        vs = np.stack([track.valid for track in chosen])[rows, index]
        vs &= ((slots[:count] >= count - sizes[:, None]) & (window >= since))[..., None]
        t[live] = (window - stamp_ns) / 1e9
        x[live] = xs.transpose(0, 2, 1)
        valid[live] = vs.transpose(0, 2, 1)
        return t, x, valid

    def waving(self, ids: Sequence[str], stamp_ns: int, detected: B, side: NDArray[np.uint8],
               frequency_hz: F64, hold_s: float) -> tuple[B, NDArray[np.uint8], F64]:
        """Hold each track's wave for ``hold_s`` after its last detection.

        :param ids: N track ids.
        :param stamp_ns: the image stamp.
        :param detected: (N,) waving detected in this image's window.
        :param side: (N,) uint8 SIDE_* of the detected wave.
        :param frequency_hz: (N,) its frequency.
        :param hold_s: seconds a wave is held.
        :return: waving, side and frequency after the hold.
        """
        waving, side, freq = detected.copy(), side.copy(), frequency_hz.copy()
        hold_ns = int(hold_s * 1e9)
        for i, track_id in enumerate(ids):
            track = self._tracks.get(track_id) if track_id else None
            if track is None:
                continue
            if detected[i]:
                track.wave_ns, track.wave = stamp_ns, (int(side[i]), float(freq[i]))
            elif track.wave_ns is not None and stamp_ns - track.wave_ns <= hold_ns:
                waving[i] = True
                side[i], freq[i] = track.wave
        return waving, side, freq

    def looking(self, ids: Sequence[str], stamp_ns: int, looking: B, grace_s: float) -> F64:
        """Update the timers of attention; return how long each person has looked (s).

        A look away shorter than ``grace_s`` does not restart the timer (head pose
        flickers, blinks, a glance aside). NaN for people without an id.

        :param ids: N track ids.
        :param stamp_ns: the image stamp.
        :param looking: (N,) looking at the camera in this image.
        :param grace_s: longest look away that keeps the timer running.
        """
        grace_ns = int(grace_s * 1e9)
        out = np.full(len(ids), np.nan)
        for i, track_id in enumerate(ids):
            track = self._tracks.get(track_id) if track_id else None
            if track is None:
                continue
            if looking[i]:
                if track.looking_since_ns is None or \
                        stamp_ns - track.last_looking_ns > grace_ns:
                    track.looking_since_ns = stamp_ns
                track.last_looking_ns = stamp_ns
            elif track.looking_since_ns is not None and \
                    stamp_ns - track.last_looking_ns > grace_ns:
                track.looking_since_ns = None
            since = track.looking_since_ns
            out[i] = 0.0 if since is None else (stamp_ns - since) / 1e9
        return out
