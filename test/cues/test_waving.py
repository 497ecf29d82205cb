"""Waving sequences at known frequencies, and walking / idle sequences that must not wave."""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np
import pytest

from humanpose.cues import SIDE_RIGHT, CueEstimator, WaveConfig, kernel
from humanpose.cues.waving import Oscillation, detect_oscillation, kernel_grid
from humanpose.testing.people3d import (Person3D, hanging_arm, observe, pose_person,
                                        raised_arm, waving_arm)
from humanpose.types import CameraModel

BUILT_KERNEL = kernel.KERNEL   # as imported; the fixture of conftest switches kernel.KERNEL

ONSET_S = 1.0
SECONDS = 4.0
Scene = Callable[[float], tuple[Person3D, dict]]


def _run(camera: CameraModel, scene: Scene, fps: float, seed: int,
         with_3d: bool = False) -> tuple[Optional[float], list[bool], list[float]]:
    """Feed a sequence (jittered image stamps, noise, dropouts); return the first time it
    waved after the onset, the per-frame waving flags and frequencies."""
    rng = np.random.default_rng(seed)
    estimator = CueEstimator('coco_wholebody')
    first, flags, freqs = None, [], []
    for k in range(int(SECONDS * fps)):
        t = k / fps + rng.uniform(-0.004, 0.004)
        person, arms = scene(t)
        poses = observe(pose_person(person, arms=arms)[None], camera, rng, noise_px=1.0,
                        dropout=0.03, ids=('7',), with_3d=with_3d)
        cues = estimator(poses, 1_000_000_000 + int(t * 1e9), camera=camera)
        flags.append(bool(cues.waving[0]))
        freqs.append(float(cues.waving_frequency_hz[0]))
        if cues.waving[0] and first is None:
            first = t - ONSET_S
            assert cues.waving_hand[0] == SIDE_RIGHT
    return first, flags, freqs


def _waving(freq: float, amplitude_deg: float = 25.0, walk_mps: float = 0.0) -> Scene:
    def scene(t: float) -> tuple[Person3D, dict]:
        person = Person3D((-1.5 + walk_mps * t, 0.3, 2.5), body_yaw=-0.3 if walk_mps else 0.0)
        if t < ONSET_S:
            # Hand up and still (or down while walking), then the wave starts.
            arm = hanging_arm(person, 'right') if walk_mps else waving_arm(person, 'right', 0.0)
        else:
            angle = np.radians(amplitude_deg) * np.sin(2 * np.pi * freq * (t - ONSET_S))
            arm = waving_arm(person, 'right', angle)
        return person, {'right': arm}
    return scene


def _walking(stride_hz: float, speed_mps: float, facing: float) -> Scene:
    def scene(t: float) -> tuple[Person3D, dict]:
        bob = 0.02 * np.sin(2 * np.pi * 2 * stride_hz * t)
        person = Person3D((-2.0 + speed_mps * t, 0.3 + bob, 3.0), body_yaw=facing)
        swing = np.radians(20) * np.sin(2 * np.pi * stride_hz * t)
        return person, {'left': hanging_arm(person, 'left', swing),
                        'right': hanging_arm(person, 'right', -swing)}
    return scene


@pytest.mark.parametrize('freq', [1.0, 1.5, 2.0, 3.0])
@pytest.mark.parametrize('fps', [30.0, 15.0])
def test_waving_is_detected_within_1_s_and_its_frequency_measured(
        camera: CameraModel, freq: float, fps: float) -> None:
    for seed in range(3):
        first, flags, freqs = _run(camera, _waving(freq), fps, seed)
        assert first is not None and 0.0 <= first <= 1.0, (seed, first)
        onset = int(ONSET_S * fps)
        assert not any(flags[:onset])                     # hand up but still: no wave
        detected = int((ONSET_S + first) * fps) + 1
        assert np.mean(flags[detected:]) > 0.95          # and it stays detected
        assert abs(np.nanmedian(freqs[detected:]) - freq) <= 0.25


def test_waving_while_walking_past_is_detected(camera: CameraModel) -> None:
    for seed in range(3):
        first, _, _ = _run(camera, _waving(2.0, walk_mps=1.0), 30.0, seed, with_3d=True)
        assert first is not None and first <= 1.0


@pytest.mark.parametrize('stride_hz, speed, facing', [
    (0.9, 1.2, -np.pi / 2), (1.0, 1.4, np.pi / 2), (1.5, 1.8, -np.pi / 2),
    (2.0, 2.5, -np.pi / 2), (1.0, 1.2, -0.5), (1.0, 0.0, 0.0)],
    ids=['profile-0.9Hz', 'profile-left-1Hz', 'brisk-1.5Hz', 'jog-2Hz', 'diagonal',
         'on-the-spot'])
def test_walking_people_do_not_wave(camera: CameraModel, stride_hz: float, speed: float,
                                    facing: float) -> None:
    for seed in range(2):
        _, flags, _ = _run(camera, _walking(stride_hz, speed, facing), 30.0, seed)
        assert not any(flags)


@pytest.mark.parametrize('kind', ['standing', 'hand-up-still', 'hand-up-drifting',
                                  'slow-sway', 'tiny-wave'])
def test_idle_people_do_not_wave(camera: CameraModel, kind: str) -> None:
    def scene(t: float) -> tuple[Person3D, dict]:
        person = Person3D((0.2, 0.3, 2.0), body_yaw=0.2 * np.sin(0.5 * t))
        if kind == 'standing':
            return person, {}
        if kind == 'hand-up-still':
            return person, {'right': raised_arm(person, 'right', 0.15)}
        if kind == 'hand-up-drifting':
            return person, {'right': raised_arm(person, 'right', 0.1 + 0.05 * np.sin(t))}
        if kind == 'slow-sway':  # a hand moved sideways slowly (0.4 Hz), not a wave
            return person, {'right': waving_arm(person, 'right',
                                                np.radians(25) * np.sin(2 * np.pi * 0.4 * t))}
        # A 3 degree tremble at 2 Hz: below the amplitude of a wave.
        return person, {'right': waving_arm(person, 'right',
                                            np.radians(3) * np.sin(2 * np.pi * 2.0 * t))}
    for seed in range(2):
        _, flags, _ = _run(camera, scene, 30.0, seed)
        assert not any(flags), kind


def test_oscillation_fit_on_uneven_samples_with_gaps() -> None:
    rng = np.random.default_rng(0)
    t = np.sort(rng.uniform(-1.5, 0.0, 40))[None]
    valid = rng.random((1, 40)) > 0.2
    config = WaveConfig()
    for freq in (1.2, 2.0, 2.8):
        x = 0.2 * np.sin(2 * np.pi * freq * t + 0.3) + 0.1 * t + 0.05   # plus a drift
        found = detect_oscillation(t, x, valid, config)
        assert found.waving[0] and abs(found.frequency_hz[0] - freq) <= 0.1
        # On a 0.25 Hz grid: an off-grid frequency fits a little less than perfectly.
        assert abs(found.amplitude[0] - 0.2) < 0.03 and found.fit[0] > 0.9
    slow = detect_oscillation(t, 0.2 * np.sin(2 * np.pi * 0.4 * t), valid, config)
    assert not slow.waving[0]
    few = detect_oscillation(t[:, -5:], np.sin(12 * t[:, -5:]), valid[:, -5:], config)
    assert not few.waving[0] and np.isnan(few.frequency_hz[0])


def _both(t: np.ndarray, x: np.ndarray, valid: np.ndarray, config: WaveConfig,
          monkeypatch: pytest.MonkeyPatch) -> tuple[Oscillation, Oscillation]:
    """Return detect_oscillation by the C kernel and by NumPy."""
    monkeypatch.setattr(kernel, 'KERNEL', BUILT_KERNEL)
    fast = detect_oscillation(t, x, valid, config)
    monkeypatch.setattr(kernel, 'KERNEL', None)
    return fast, detect_oscillation(t, x, valid, config)


def _assert_same(fast: Oscillation, slow: Oscillation, rtol: float = 1e-9) -> None:
    np.testing.assert_array_equal(fast.waving, slow.waving)
    for name in ('frequency_hz', 'amplitude', 'fit'):
        np.testing.assert_allclose(getattr(fast, name), getattr(slow, name), rtol=rtol,
                                   atol=1e-9, err_msg=name)   # NaN where NaN


def _signals(rng: np.random.Generator, m: int, samples: int, shared: bool) -> tuple[
        np.ndarray, np.ndarray, np.ndarray]:
    """M noisy drifting sinusoids (0.2-5.5 Hz, some tiny) on uneven times, with dropouts."""
    base = np.sort(rng.uniform(-1.5, 0.0, (1 if shared else m, samples)), axis=1)
    t = np.repeat(base, m, axis=0) if shared else base
    freq = rng.uniform(0.2, 5.5, (m, 1))
    amp = rng.choice([0.01, 0.1, 0.3], (m, 1))
    x = amp * np.sin(2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi, (m, 1))) \
        + rng.normal(0, 0.2, (m, 1)) * t + rng.normal(0, 0.03, (m, samples))
    valid = rng.random((m, samples)) > rng.uniform(0.0, 0.6, (m, 1))
    return t, x, valid


@pytest.mark.kernel_vs_numpy
@pytest.mark.parametrize('m, samples, shared', [(40, 45, True), (40, 45, False), (1, 45, True),
                                                (0, 45, True), (3, 0, True), (20, 256, False),
                                                (10, 9, False)])
def test_kernel_oscillation_equals_numpy(m: int, samples: int, shared: bool,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(m * 1000 + samples + shared)
    t, x, valid = _signals(rng, m, samples, shared)
    if m >= 10 and samples >= 45:
        x[0, 3], x[1, 5], t[2, 7] = np.nan, np.inf, np.nan   # non-finite samples do not count
        valid[3] = False                                    # nothing valid
        valid[4, :-6] = False                               # too few samples
        valid[5, :samples // 2], valid[5, -samples // 3:] = False, False   # too short a span
    fast, slow = _both(t, x, valid, WaveConfig(), monkeypatch)
    _assert_same(fast, slow)
    assert fast.waving.shape == (m,)
    if m >= 10 and samples >= 45:
        assert np.isnan(fast.frequency_hz[3:6]).all() and not fast.waving[3:6].any()
    if m == 40:
        assert 0 < fast.waving.sum() < m    # both outcomes are compared


@pytest.mark.kernel_vs_numpy
@pytest.mark.parametrize('freq', [0.3, 0.7, 2.05, 3.5, 5.05, 6.0])
def test_kernel_oscillation_equals_numpy_on_pure_sinusoids_and_constants(
        freq: float, monkeypatch: pytest.MonkeyPatch) -> None:
    t = np.linspace(-1.5, 0.0, 46)[None].repeat(3, axis=0)
    x = np.stack([0.2 * np.sin(2 * np.pi * freq * t[0]), 0.2 * np.cos(2 * np.pi * freq * t[0]),
                  0.05 * np.sin(2 * np.pi * freq * t[0]) + 3.0 * t[0]])
    fast, slow = _both(t, x, np.ones(t.shape, bool), WaveConfig(), monkeypatch)
    _assert_same(fast, slow)
    if freq <= 5.05:   # on the grid up to its edges: found; above it the fit is poor
        assert (fast.fit > 0.9).all() and np.allclose(fast.frequency_hz, freq, atol=0.05)
    # A constant signal leaves nothing to explain: both never wave (its fit is rounding
    # noise, different in each, so only the decision is compared).
    const = np.full((2, 46), 0.4)
    const[1] = 0.4 + 0.1 * t[0]
    fast, slow = _both(t[:2], const, np.ones((2, 46), bool), WaveConfig(), monkeypatch)
    assert not fast.waving.any() and not slow.waving.any()


@pytest.mark.kernel_vs_numpy
def test_kernel_cos_sin_by_angle_addition_do_not_drift_over_a_long_grid(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # 2,000 frequencies and times up to 40 s from the origin: angles of ~2,500 rad.
    config = WaveConfig(grid_hz=(0.1, 20.0, 0.01), window_s=20.0, min_span_s=5.0)
    rng = np.random.default_rng(3)
    t = np.sort(rng.uniform(-40.0, -20.0, (4, 300)), axis=1)
    x = 0.2 * np.sin(2 * np.pi * np.array([[0.5], [1.37], [7.2], [19.1]]) * t) \
        + rng.normal(0, 0.02, t.shape)
    fast, slow = _both(t, x, np.ones(t.shape, bool), config, monkeypatch)
    _assert_same(fast, slow, rtol=1e-10)
    np.testing.assert_allclose(fast.frequency_hz, [0.5, 1.37, 7.2, 19.1], atol=0.01)
    np.testing.assert_array_equal(fast.waving, [False, True, False, False])   # 0.7-3.5 Hz


@pytest.mark.kernel_vs_numpy
def test_kernel_oscillation_refuses_wrong_buffers() -> None:
    assert BUILT_KERNEL is not None
    freqs, params = kernel_grid(WaveConfig())
    t, x, valid = np.zeros((2, 10)), np.zeros((2, 10)), np.zeros((2, 10), bool)
    out = np.empty(2, bool), np.empty(2), np.empty(2), np.empty(2)
    with pytest.raises(ValueError, match='x holds'):
        BUILT_KERNEL.oscillation(t, x[:, :9].copy(), valid, 2, 10, freqs, params, *out)
    with pytest.raises(ValueError, match='fit holds'):
        BUILT_KERNEL.oscillation(t, x, valid, 2, 10, freqs, params, *out[:3], np.empty(1))
    with pytest.raises(ValueError, match='params holds'):
        BUILT_KERNEL.oscillation(t, x, valid, 2, 10, freqs, params[:5], *out)
    with pytest.raises(ValueError, match='grid is empty'):
        BUILT_KERNEL.oscillation(t, x, valid, 2, 10, freqs[:0], params, *out)
    with pytest.raises(ValueError, match='negative'):
        BUILT_KERNEL.oscillation(t, x, valid, -1, 10, freqs, params, *out)


@pytest.mark.kernel_vs_numpy
def test_kernel_refuses_oscillation_inputs_of_different_shapes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kernel, 'KERNEL', BUILT_KERNEL)   # NumPy would broadcast them
    with pytest.raises(ValueError, match=r'\(M, T\)'):
        detect_oscillation(np.zeros((2, 10)), np.zeros((2, 9)), np.ones((2, 10), bool),
                           WaveConfig())
