"""Per-track memory of the temporal cues (waving, looking time), keyed by track id.

Time is the image stamp (nanoseconds), never the wall clock, so bags and videos give the
same cues as live cameras. A track that has not been seen for ``forget_after_s`` of image
time is dropped (people who leave cost nothing), and so is the whole memory when time
runs backwards (a bag played again).

The memory is a few arrays with one row ("slot") per track: a ring of waving samples
(stamps, signal and validity of both hands) and the track's timers. A dict maps track
ids to slots; slots of forgotten tracks are reused, and the arrays grow when more tracks
are alive at once. Appending an image's samples and reading every track's window are
array operations (NumPy), or one call of the C kernel, which also fits the waves and runs
the timers (:meth:`CueMemory.observe`; ``csrc/waving.c``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple, Optional, Sequence

import numpy as np
from numpy.typing import NDArray

from humanpose.cues import kernel
from humanpose.cues.types import SIDE_LEFT, SIDE_NONE, SIDE_RIGHT
from humanpose.cues.waving import detect_oscillation, kernel_grid

if TYPE_CHECKING:
    from humanpose.cues.estimator import CueConfig

F64 = NDArray[np.float64]
B = NDArray[np.bool_]

#: Columns of a track's int64 state row (the C kernel reads the same layout): ring write
#: position and fill, stamp and hand (``SIDE_*``; SIDE_NONE = never waved) of the last
#: detected wave, looking flag, since when and when last.
TRACK_FIELDS = ('head', 'size', 'wave_ns', 'wave_side', 'looking', 'looking_since_ns',
                'last_looking_ns')
_HEAD, _SIZE, _WAVE_NS, _WAVE_SIDE, _LOOKING, _LOOKING_SINCE, _LAST_LOOKING = range(7)
_NEW_TRACK = (0, 0, 0, SIDE_NONE, 0, 0, 0)
_SIDES = (SIDE_NONE, SIDE_LEFT, SIDE_RIGHT)


class TemporalCues(NamedTuple):
    """The temporal cues of one image's N people (NaN / False / SIDE_NONE without id).

    :param waving: (N,) bool, waving (held ``hold_s`` after the last detection).
    :param waving_hand: (N,) uint8 ``SIDE_*`` of the waving hand.
    :param waving_hz: (N,) float64, its frequency, NaN when not waving.
    :param looking_duration_s: (N,) float64, how long the person has looked at the camera.
    :param engaged: (N,) bool, looked long enough and near enough.
    """

    waving: B
    waving_hand: NDArray[np.uint8]
    waving_hz: F64
    looking_duration_s: F64
    engaged: B


class CueMemory:
    """Waving histories and looking timers of the tracked people.

    :param capacity: samples kept per track (enough for the waving window at the
        camera's frame rate: 256 = 1.5 s at 170 fps).
    :param forget_after_s: drop a track not seen for this long (image time).
    :param slots: tracks the arrays hold before they grow (they double when needed).
    """

    def __init__(self, capacity: int = 256, forget_after_s: float = 3.0,
                 slots: int = 8) -> None:
        if capacity < 1 or slots < 1:
            raise ValueError(f'CueMemory needs capacity and slots >= 1, got {capacity} and '
                             f'{slots}')
        self.capacity = int(capacity)
        self.forget_after_s = float(forget_after_s)
        self._slot: dict[str, int] = {}       # track id -> slot (insertion order)
        self._seen_ns: dict[str, int] = {}    # track id -> stamp it was last seen
        self._free: list[int] = []            # free slots, the lowest last
        self._now_ns: Optional[int] = None
        self._settings_of: Optional[CueConfig] = None
        self._settings: tuple[int, int, int, F64, F64] = (0, 0, 0, np.zeros(0), np.zeros(0))
        self._stamps = np.zeros((0, self.capacity), np.int64)       # (S, C)
        self._x = np.zeros((0, 2, self.capacity))                   # (S, 2, C) left, right
        self._valid = np.zeros((0, 2, self.capacity), np.bool_)     # (S, 2, C)
        self._track = np.zeros((0, len(TRACK_FIELDS)), np.int64)    # (S, TRACK_FIELDS)
        self._wave_hz = np.zeros(0)                                 # (S,) held frequency
        self._grow(int(slots))

    def __len__(self) -> int:
        return len(self._slot)

    @property
    def track_ids(self) -> tuple[str, ...]:
        """Ids with a memory."""
        return tuple(self._slot)

    @property
    def slots(self) -> int:
        """Tracks the arrays hold now (alive or free)."""
        return len(self._wave_hz)

    def reset(self) -> None:
        """Forget everything."""
        self._slot.clear()
        self._seen_ns.clear()
        self._free = list(range(self.slots - 1, -1, -1))
        self._now_ns = None

    def forget(self, ids: Sequence[str]) -> None:
        """Drop the memory of ``ids`` (e.g. tracks the tracker deleted)."""
        for track_id in ids:
            slot = self._slot.pop(track_id, None)
            if slot is not None:
                del self._seen_ns[track_id]
                self._free.append(slot)

    def _grow(self, extra: int) -> None:
        """Add ``extra`` free slots (all slots are in use, or at construction)."""
        old = self.slots
        self._stamps = np.concatenate([self._stamps, np.zeros((extra, self.capacity),
                                                              np.int64)])
        self._x = np.concatenate([self._x, np.zeros((extra, 2, self.capacity))])
        self._valid = np.concatenate([self._valid,
                                      np.zeros((extra, 2, self.capacity), np.bool_)])
        self._track = np.concatenate([self._track,
                                      np.zeros((extra, len(TRACK_FIELDS)), np.int64)])
        self._wave_hz = np.concatenate([self._wave_hz, np.zeros(extra)])
        self._free = list(range(old + extra - 1, old - 1, -1)) + self._free

    def _slots_of(self, ids: Sequence[str], stamp_ns: int) -> tuple[list[int], list[int]]:
        """Move the memory to ``stamp_ns``; return each person's slot and who adds a sample.

        Resets when time went backwards, forgets tracks unseen for ``forget_after_s``,
        gives new ids a cleared slot.

        :return: N slots (-1: no id, no history), and the people whose sample is new (an
            id seen twice in one image, or the same image twice, adds one sample).
        """
        if self._now_ns is not None and stamp_ns < self._now_ns:
            self.reset()  # time went backwards: a replayed bag, a new video
        self._now_ns = stamp_ns
        seen = self._seen_ns
        limit = self.forget_after_s
        if seen and (stamp_ns - min(seen.values())) / 1e9 > limit:
            self.forget([k for k, last in seen.items() if (stamp_ns - last) / 1e9 > limit])
        slots, adding = [], []
        for i, track_id in enumerate(ids):
            if not track_id:
                slots.append(-1)
                continue
            slot = self._slot.get(track_id)
            if slot is None:
                if not self._free:
                    self._grow(self.slots)
                slot = self._slot[track_id] = self._free.pop()
                self._track[slot] = _NEW_TRACK
                adding.append(i)
            elif seen[track_id] != stamp_ns:
                adding.append(i)
            seen[track_id] = stamp_ns
            slots.append(slot)
        return slots, adding

    def _append(self, slots: list[int], adding: list[int], stamp_ns: int, wave_x: F64,
                wave_valid: B) -> None:
        """Write the new samples of the people ``adding`` (distinct slots) to their rings."""
        if not adding:
            return
        rows = np.array(adding)
        at = np.array([slots[i] for i in adding])
        head = self._track[at, _HEAD]
        self._stamps[at, head] = stamp_ns
        self._x[at, :, head] = wave_x[rows]
        self._valid[at, :, head] = wave_valid[rows]
        self._track[at, _HEAD] = (head + 1) % self.capacity
        self._track[at, _SIZE] = np.minimum(self._track[at, _SIZE] + 1, self.capacity)

    def _windows(self, slots: list[int], stamp_ns: int,
                 window_s: float) -> tuple[F64, F64, B]:
        """Return the samples of each person's ring in the window (see :meth:`update`)."""
        n = len(slots)
        live = [i for i, slot in enumerate(slots) if slot >= 0]
        if not live:
            return np.zeros((n, 0)), np.zeros((n, 2, 0)), np.zeros((n, 2, 0), bool)
        since = stamp_ns - int(window_s * 1e9)
        at = np.array([slots[i] for i in live])
        stamps = self._stamps[at]                                            # (L, C)
        heads, sizes = self._track[at, _HEAD], self._track[at, _SIZE]
        positions = np.arange(self.capacity)
        filled = positions < sizes[:, None]      # a ring fills from slot 0; full: all slots
        count = int(((stamps >= since) & filled).sum(axis=1).max())
        t = np.zeros((n, count))
        x = np.zeros((n, 2, count))
        valid = np.zeros((n, 2, count), bool)
        if count == 0:
            return t, x, valid
        # The newest ``count`` samples of each ring, oldest first; stamps only grow along
        # a ring, so the window is its newest samples not older than ``since``.
        index = (heads[:, None] - count + positions[:count]) % self.capacity     # (L, T)
        window = stamps[np.arange(len(at))[:, None], index]
        gather = (at[:, None, None], np.arange(2)[:, None], index[:, None, :])  # (L, 2, T)
        inside = (positions[:count] >= count - sizes[:, None]) & (window >= since)
        t[live] = (window - stamp_ns) / 1e9
        x[live] = self._x[gather]
        valid[live] = self._valid[gather] & inside[:, None, :]
        return t, x, valid

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
        slots, adding = self._slots_of(ids, stamp_ns)
        self._append(slots, adding, stamp_ns, np.asarray(wave_x, np.float64),
                     np.asarray(wave_valid, bool))
        return self._windows(slots, stamp_ns, window_s)

    def observe(self, ids: Sequence[str], stamp_ns: int, wave_x: F64, wave_valid: B,
                looking: B, distance_m: F64, config: CueConfig) -> TemporalCues:
        """Remember one image's people; return their temporal cues.

        Adds each tracked person's waving sample, fits both hands over the window
        (:func:`~humanpose.cues.waving.detect_oscillation`), keeps the hand of larger
        amplitude, holds a wave ``hold_s``, runs the looking timer (a look away up to
        ``looking_grace_s`` keeps it) and says who is engaged (looked ``engaged_min_s``,
        no farther than ``engaged_max_distance_m`` where known).

        :param ids: N track ids (empty strings: no history, temporal cues unknown).
        :param stamp_ns: the image stamp.
        :param wave_x: (N, 2) waving signal of the left / right hand
            (:func:`~humanpose.cues.waving.wave_signal`).
        :param wave_valid: (N, 2) where it is valid.
        :param looking: (N,) looking at the camera in this image.
        :param distance_m: (N,) distance to the camera, NaN where unknown.
        :param config: the cue thresholds.
        """
        stamp_ns = int(stamp_ns)
        wave = config.waving
        slots, adding = self._slots_of(ids, stamp_ns)
        n = len(slots)
        if kernel.KERNEL is not None:
            window_ns, hold_ns, grace_ns, freqs, params = self._kernel_settings(config)
            out = TemporalCues(np.empty(n, np.bool_), np.empty(n, np.uint8), np.empty(n),
                               np.empty(n), np.empty(n, np.bool_))
            kernel.KERNEL.track_cues(
                np.ascontiguousarray(wave_x, np.float64),
                np.ascontiguousarray(wave_valid, np.bool_), np.array(slots, np.int64),
                np.ascontiguousarray(looking, np.bool_),
                np.ascontiguousarray(distance_m, np.float64), stamp_ns, stamp_ns - window_ns,
                hold_ns, grace_ns, config.engaged_min_s, config.engaged_max_distance_m, _SIDES,
                self._stamps, self._x, self._valid, self._track, self._wave_hz, freqs, params,
                *out)
            return out

        hold_ns, grace_ns = int(wave.hold_s * 1e9), int(config.looking_grace_s * 1e9)
        self._append(slots, adding, stamp_ns, np.asarray(wave_x, np.float64),
                     np.asarray(wave_valid, bool))
        t, x, valid = self._windows(slots, stamp_ns, wave.window_s)
        samples = t.shape[1]
        osc = detect_oscillation(np.repeat(t, 2, axis=0), x.reshape(2 * n, samples),
                                 valid.reshape(2 * n, samples), wave)
        # The waving hand: the larger amplitude (argmax: the left one on a tie).
        hand_waving = osc.waving.reshape(n, 2)
        amplitude = np.where(hand_waving, np.nan_to_num(osc.amplitude.reshape(n, 2)), -1.0)
        side = np.argmax(amplitude, axis=1)
        waving = np.asarray(hand_waving.any(axis=1), bool)
        waving_hand = np.where(waving, np.where(side == 0, SIDE_LEFT, SIDE_RIGHT),
                               SIDE_NONE).astype(np.uint8)
        waving_hz = np.where(waving, osc.frequency_hz.reshape(n, 2)[np.arange(n), side],
                             np.nan)
        self._hold_waves(slots, stamp_ns, waving, waving_hand, waving_hz, hold_ns)
        duration = self._looking_times(slots, stamp_ns, np.asarray(looking, bool), grace_ns)
        with np.errstate(invalid='ignore'):
            near = ~(np.asarray(distance_m) > config.engaged_max_distance_m)  # NaN: unknown
            engaged = (duration >= config.engaged_min_s) & near
        return TemporalCues(waving, waving_hand, waving_hz, duration, engaged)

    def _kernel_settings(self, config: CueConfig) -> tuple[int, int, int, F64, F64]:
        """Return the window, hold and grace (ns), grid and thresholds of the kernel.

        Cached for the config object (frozen): hashing it per image would cost more.
        """
        if self._settings_of is not config:
            wave = config.waving
            self._settings = (int(wave.window_s * 1e9), int(wave.hold_s * 1e9),
                              int(config.looking_grace_s * 1e9), *kernel_grid(wave))
            self._settings_of = config
        return self._settings

    def _hold_waves(self, slots: list[int], stamp_ns: int, waving: B,
                    side: NDArray[np.uint8], frequency_hz: F64, hold_ns: int) -> None:
        """Hold each track's wave for ``hold_ns`` after its last detection (in place).

        :param waving: (N,) waving detected in this image's window.
        :param side: (N,) uint8 SIDE_* of the detected wave.
        :param frequency_hz: (N,) its frequency.
        """
        track, held_hz = self._track, self._wave_hz
        for i, slot in enumerate(slots):
            if slot < 0:
                continue
            if waving[i]:
                track[slot, _WAVE_NS], track[slot, _WAVE_SIDE] = stamp_ns, side[i]
                held_hz[slot] = frequency_hz[i]
            elif track[slot, _WAVE_SIDE] != SIDE_NONE and \
                    stamp_ns - int(track[slot, _WAVE_NS]) <= hold_ns:
                waving[i], side[i], frequency_hz[i] = True, track[slot, _WAVE_SIDE], \
                    held_hz[slot]

    def _looking_times(self, slots: list[int], stamp_ns: int, looking: B,
                       grace_ns: int) -> F64:
        """Update the timers of attention; return how long each person has looked (s).

        A look away up to ``grace_ns`` does not restart the timer (head pose flickers,
        blinks, a glance aside). NaN for people without an id.
        """
        out = np.full(len(slots), np.nan)
        for i, slot in enumerate(slots):
            if slot < 0:
                continue
            row = self._track[slot]
            away_too_long = stamp_ns - int(row[_LAST_LOOKING]) > grace_ns
            if looking[i]:
                if not row[_LOOKING] or away_too_long:
                    row[_LOOKING], row[_LOOKING_SINCE] = 1, stamp_ns
                row[_LAST_LOOKING] = stamp_ns
            elif row[_LOOKING] and away_too_long:
                row[_LOOKING] = 0
            out[i] = (stamp_ns - int(row[_LOOKING_SINCE])) / 1e9 if row[_LOOKING] else 0.0
        return out
