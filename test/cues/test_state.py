"""The memory of the temporal cues: slot arrays against a plain per-track reference, and
the C kernel's rings, holds and timers against NumPy's on long random sequences."""

from __future__ import annotations

from typing import Optional

import numpy as np
import pytest

from humanpose.cues import CueConfig, kernel
from humanpose.cues.state import CueMemory, TemporalCues
from humanpose.cues.types import SIDE_NONE
from humanpose.cues.waving import kernel_grid, wave_signal

BUILT_KERNEL = kernel.KERNEL   # as imported; the fixture of conftest switches kernel.KERNEL
WINDOW_S = 1.5


class ReferenceMemory:
    """The memory's semantics spelled out per track (lists of samples, newest last)."""

    def __init__(self, capacity: int, forget_after_s: float) -> None:
        self.capacity, self.forget_after_s = capacity, forget_after_s
        self.tracks: dict[str, list[tuple[int, np.ndarray, np.ndarray]]] = {}
        self.now: Optional[int] = None

    def update(self, ids: tuple[str, ...], stamp: int, x: np.ndarray,
               valid: np.ndarray) -> list[Optional[list[tuple[int, np.ndarray, np.ndarray]]]]:
        if self.now is not None and stamp < self.now:
            self.tracks.clear()
        self.now = stamp
        for track_id in [k for k, samples in self.tracks.items()
                         if (stamp - samples[-1][0]) / 1e9 > self.forget_after_s]:
            del self.tracks[track_id]
        for i, track_id in enumerate(ids):
            if not track_id:
                continue
            samples = self.tracks.setdefault(track_id, [])
            if samples and samples[-1][0] >= stamp:
                continue
            samples.append((stamp, x[i].copy(), valid[i].copy()))
            del samples[:-self.capacity]
        since = stamp - int(WINDOW_S * 1e9)
        return [[s for s in self.tracks[k] if s[0] >= since] if k else None for k in ids]


def _assert_windows_match(got: tuple[np.ndarray, np.ndarray, np.ndarray],
                          want: list, stamp: int) -> None:
    """The valid samples of each person and hand are the reference's, in order."""
    t, x, valid = got
    for i, samples in enumerate(want):
        for hand in range(2):
            mask = valid[i, hand]
            expected = [s for s in (samples or []) if s[2][hand]]
            assert mask.sum() == len(expected)
            np.testing.assert_array_equal(t[i][mask], [(s[0] - stamp) / 1e9 for s in expected])
            np.testing.assert_array_equal(x[i, hand][mask], [s[1][hand] for s in expected])
        if samples:   # the window holds each track's samples right-aligned, newest last
            assert t.shape[1] >= len(samples) and t[i, -1] == (samples[-1][0] - stamp) / 1e9


def test_memory_windows_equal_a_per_track_reference_as_tracks_come_and_go() -> None:
    rng = np.random.default_rng(0)
    memory = CueMemory(capacity=16, forget_after_s=0.5, slots=2)
    reference = ReferenceMemory(16, 0.5)
    pool = [str(k) for k in range(40)]
    stamp, grown = 0, 0
    for frame in range(600):
        # Crowds arrive and leave; sometimes the same image twice, an id twice, no id, a
        # pause longer than forget_after_s, or a replayed bag.
        roll = rng.random()
        if roll < 0.02:
            stamp = int(rng.integers(0, stamp + 1))       # time went backwards
        elif roll < 0.05:
            pass                                          # the same image again
        elif roll < 0.07:
            stamp += 700_000_000
        else:
            stamp += int(rng.integers(20_000_000, 50_000_000))
        n = int(rng.integers(0, 20))
        ids = tuple(rng.choice(pool[:10 + frame // 20], n)) if n else ()
        ids = tuple('' if rng.random() < 0.1 else k for k in ids)
        x = rng.normal(0, 0.2, (n, 2))
        valid = rng.random((n, 2)) < 0.8
        got = memory.update(ids, stamp, x, valid, WINDOW_S)
        want = reference.update(ids, stamp, x, valid)
        _assert_windows_match(got, want, stamp)
        assert set(memory.track_ids) == set(reference.tracks)
        assert len(memory) == len(reference.tracks) <= memory.slots
        grown = max(grown, memory.slots)
    assert grown >= 16     # it grew from 2 slots


def test_slots_of_forgotten_tracks_are_reused_and_cleared() -> None:
    memory = CueMemory(capacity=8, forget_after_s=1.0, slots=4)
    x, ok = np.ones((4, 2)), np.ones((4, 2), bool)
    for k in range(5):
        memory.update(('a', 'b', 'c', 'd'), k * 100_000_000, x, ok, WINDOW_S)
    assert memory.slots == 4
    memory.forget(['b', 'c'])
    t, _, valid = memory.update(('a', 'e', 'f', 'd'), 500_000_000, x, ok, WINDOW_S)
    assert memory.slots == 4 and memory.track_ids == ('a', 'd', 'e', 'f')
    # The new tracks start empty in the reused slots: one sample each, the others six.
    np.testing.assert_array_equal(valid[:, 0].sum(axis=1), [6, 1, 1, 6])
    memory.update(('g',), 600_000_000, x[:1], ok[:1], WINDOW_S)
    assert memory.slots == 8 and len(memory) == 5         # grew by doubling
    memory.update(('g',), 1_700_000_000, x[:1], ok[:1], WINDOW_S)
    assert memory.track_ids == ('g',) and memory.slots == 8   # the others left


def test_time_going_backwards_starts_over() -> None:
    memory = CueMemory(forget_after_s=3.0)
    x, ok = np.ones((2, 2)), np.ones((2, 2), bool)
    for k in range(10):
        memory.update(('a', 'b'), 1_000_000_000 + k * 33_000_000, x, ok, WINDOW_S)
    t, _, valid = memory.update(('b',), 500_000_000, x[:1], ok[:1], WINDOW_S)
    assert memory.track_ids == ('b',) and t.shape == (1, 1) and valid.all()


def test_a_capacity_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match='capacity'):
        CueMemory(capacity=0)


# The temporal cues of CueMemory.observe on the waving signal of synthetic keypoints: 4
# keypoints (left and right elbow, left and right wrist); each person's wrists oscillate
# sideways or not, with dropouts.
ELBOW, WRIST = np.array([0, 1]), np.array([2, 3])


def _wave_signal(rng: np.random.Generator, n: int, t_s: float, freq: np.ndarray,
                 amp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scale = rng.uniform(80.0, 200.0, n)
    kp = np.zeros((n, 4, 2), np.float32)
    kp[:, :2] = rng.uniform(100.0, 500.0, (n, 1, 2)) + np.array([[-60.0, 0.0], [60.0, 0.0]])
    swing = amp * np.sin(2 * np.pi * freq * t_s)                          # (n, 2) torso lengths
    kp[:, 2:, 0] = kp[:, :2, 0] + swing * scale[:, None] + rng.normal(0, 1.0, (n, 2))
    kp[:, 2:, 1] = kp[:, :2, 1] - 0.5 * scale[:, None]                   # forearms up
    conf = np.where(rng.random((n, 4)) < 0.05, 0.1, 0.9).astype(np.float32)
    kp[rng.random((n, 4)) < 0.01] = np.nan
    return wave_signal(kp, conf, ELBOW, WRIST, scale, 0.3)


def _observe_sequence(use_kernel: bool, monkeypatch: pytest.MonkeyPatch,
                      frames: int = 240) -> tuple[list[TemporalCues], CueMemory]:
    monkeypatch.setattr(kernel, 'KERNEL', BUILT_KERNEL if use_kernel else None)
    rng = np.random.default_rng(7)
    config = CueConfig(forget_after_s=0.6)
    memory = CueMemory(capacity=40, forget_after_s=config.forget_after_s, slots=2)
    pool = [str(k) for k in range(12)]
    freq = rng.uniform(0.5, 4.0, (12, 2))
    amp = np.where(rng.random((12, 2)) < 0.5, rng.uniform(0.1, 0.4, (12, 2)), 0.0)
    stamp, out = 10_000_000_000, []
    for frame in range(frames):
        roll = rng.random()
        if roll < 0.01:
            stamp -= 2_000_000_000                        # a replayed bag
        elif roll > 0.03:                                 # else the same image again
            stamp += int(rng.integers(25_000_000, 40_000_000))
        # Waves that pause (the hold), people who come and go (slot reuse), an id twice.
        chosen = sorted(rng.choice(12, int(rng.integers(0, 8)), replace=False))
        ids = tuple(pool[k] if rng.random() > 0.05 else '' for k in chosen)
        if len(ids) > 2 and rng.random() < 0.05:
            ids = ids[:-1] + ids[:1]
        pause = (frame // 20) % 3 == 2
        wave_x, wave_ok = _wave_signal(rng, len(ids), stamp / 1e9, freq[chosen],
                                       0.0 if pause else amp[chosen])
        looking = rng.random(len(ids)) < (0.9 if frame % 50 < 35 else 0.1)
        distance = rng.choice([np.nan, 1.0, 4.0], len(ids))
        out.append(memory.observe(ids, stamp, wave_x, wave_ok, looking, distance, config))
    return out, memory


@pytest.mark.kernel_vs_numpy
def test_kernel_temporal_cues_and_memory_equal_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    fast, fast_memory = _observe_sequence(True, monkeypatch)
    slow, slow_memory = _observe_sequence(False, monkeypatch)
    for got, want in zip(fast, slow):
        for name in ('waving', 'waving_hand', 'looking_duration_s', 'engaged'):
            np.testing.assert_array_equal(getattr(got, name), getattr(want, name), name)
        np.testing.assert_allclose(got.waving_hz, want.waving_hz, rtol=1e-9)
        assert got.waving.dtype == want.waving.dtype == np.bool_
        assert got.waving_hand.dtype == np.uint8
    # The rings and timers are bit for bit the same; the held frequencies to rounding.
    assert fast_memory.track_ids == slow_memory.track_ids
    for name in ('_stamps', '_x', '_valid', '_track'):
        np.testing.assert_array_equal(getattr(fast_memory, name), getattr(slow_memory, name))
    np.testing.assert_allclose(fast_memory._wave_hz, slow_memory._wave_hz, rtol=1e-9)
    # The sequence exercised what it should.
    waving = np.concatenate([c.waving for c in fast])
    engaged = np.concatenate([c.engaged for c in fast])
    assert 0.1 < waving.mean() < 0.9 and engaged.any() and not engaged.all()
    assert fast_memory.slots >= 8


def test_temporal_cues_hold_waves_and_keep_looking_through_glances(
        monkeypatch: pytest.MonkeyPatch, cue_implementation: str) -> None:
    cues, _ = _observe_sequence(cue_implementation == 'kernel', monkeypatch, frames=120)
    sides = np.concatenate([c.waving_hand for c in cues])
    hz = np.concatenate([c.waving_hz for c in cues])
    waving = np.concatenate([c.waving for c in cues])
    assert ((sides != SIDE_NONE) == waving).all() and (np.isnan(hz) == ~waving).all()
    assert np.nanmin(hz) >= 0.7 - 1e-9 and np.nanmax(hz) <= 3.5 + 1e-9
    duration = np.concatenate([c.looking_duration_s for c in cues])
    assert np.nanmax(duration) > 1.0


@pytest.mark.kernel_vs_numpy
def test_kernel_track_cues_refuses_wrong_buffers() -> None:
    assert BUILT_KERNEL is not None
    memory = CueMemory(capacity=8, slots=2)
    freqs, params = kernel_grid(CueConfig().waving)
    n = 2

    def call(slots: np.ndarray, ring_x: np.ndarray, wave_x: np.ndarray = np.zeros((n, 2))
             ) -> None:
        assert BUILT_KERNEL is not None
        BUILT_KERNEL.track_cues(
            wave_x, np.ones((n, 2), bool), slots, np.ones(n, bool), np.ones(n), 0, 0, 0, 0,
            1.0, 2.5, (0, 1, 2), memory._stamps, ring_x, memory._valid, memory._track,
            memory._wave_hz, freqs, params, np.empty(n, bool), np.empty(n, np.uint8),
            np.empty(n), np.empty(n), np.empty(n, bool))

    slots = np.array([0, -1], np.int64)
    call(slots, memory._x)
    with pytest.raises(ValueError, match='ring_x holds'):
        call(slots, memory._x[:, :, :7].copy())
    with pytest.raises(ValueError, match='wave_x holds'):
        call(slots, memory._x, np.zeros((n, 3)))
    with pytest.raises(ValueError, match='slot 2 of person 1'):
        call(np.array([0, 2], np.int64), memory._x)
    memory._track[0, 0] = 8   # a ring position past the capacity
    with pytest.raises(ValueError, match='ring 0 has head 8'):
        call(slots, memory._x)


def _wave_then_rest(config: CueConfig) -> list[TemporalCues]:
    """Person 'a' waves 2.5 s then lowers the hand, looks away twice (0.33 s, 0.67 s) at
    1 m; a person without id does the same. 30 fps."""
    memory = CueMemory()
    results = []
    for k in range(150):
        stamp = 5_000_000_000 + k * (1_000_000_000 // 30)
        wave_x = np.array([[0.0, 0.3 * np.sin(2 * np.pi * 2.0 * stamp / 1e9)]] * 2)
        wave_ok = np.array([[False, k < 75]] * 2)
        looking = np.array([not (60 <= k < 70 or 100 <= k < 120)] * 2)
        cues = memory.observe(('a', ''), stamp, wave_x, wave_ok, looking,
                              np.array([1.0, 1.0]), config)
        assert not cues.waving[1] and np.isnan(cues.looking_duration_s[1])   # no id
        results.append(cues)
    return results


def test_a_wave_is_held_for_hold_s_and_looks_away_shorter_than_the_grace_are_bridged() -> None:
    config = CueConfig()                      # hold 0.5 s, grace 0.5 s, engaged after 1 s
    results = _wave_then_rest(config)
    waving = np.array([c.waving[0] for c in results])
    hands = np.array([c.waving_hand[0] for c in results])
    assert waving[40:75].all() and (hands[waving] == 2).all()
    assert (hands[~waving] == SIDE_NONE).all()
    # Held exactly 0.5 s (15 frames) longer than without a hold.
    unheld = np.array([c.waving[0] for c in _wave_then_rest(
        config.with_values(waving__hold_s=0.0))])
    last, last_unheld = np.flatnonzero(waving).max(), np.flatnonzero(unheld).max()
    assert last == last_unheld + 15 and last < 149
    duration = np.array([c.looking_duration_s[0] for c in results])
    assert duration[69] == pytest.approx(69 / 30)          # 0.33 s away: bridged
    # 0.67 s away: counted through the grace, then restarted when the person looks again.
    assert duration[114] == pytest.approx(114 / 30) and (duration[115:120] == 0).all()
    assert duration[125] == pytest.approx(5 / 30)
    engaged = np.array([c.engaged[0] for c in results])
    assert not engaged[30] and engaged[31:115].all() and not engaged[115:150].any()   # 1 s
