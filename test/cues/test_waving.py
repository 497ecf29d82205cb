"""Waving sequences at known frequencies, and walking / idle sequences that must not wave."""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np
import pytest

from humanpose.cues import SIDE_RIGHT, CueEstimator, WaveConfig
from humanpose.cues.waving import detect_oscillation
from humanpose.testing.people3d import (Person3D, hanging_arm, observe, pose_person,
                                        raised_arm, waving_arm)
from humanpose.types import CameraModel

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
