"""Marker lifetime from the frame period: never blink at any rate, gone soon after frames stop."""

import numpy as np
import pytest

from humanpose.ros.marker_timing import (FramePeriod, INITIAL_PERIOD_S, marker_lifetime_s,
                                         PERIOD_WINDOW)

FACTOR, FLOOR_S = 3.0, 0.5  # the node's defaults (config/pose_estimator.yaml)


def test_rule_is_the_larger_of_floor_and_factor_periods():
    assert marker_lifetime_s(0.25, FACTOR, FLOOR_S) == pytest.approx(0.75)
    assert marker_lifetime_s(1.0, FACTOR, FLOOR_S) == pytest.approx(3.0)
    assert marker_lifetime_s(1 / 30, FACTOR, FLOOR_S) == FLOOR_S      # fast: the floor
    assert marker_lifetime_s(None, FACTOR, FLOOR_S) == FACTOR * INITIAL_PERIOD_S
    assert marker_lifetime_s(2.0, 0.0, FLOOR_S) == FLOOR_S            # fixed lifetime
    assert marker_lifetime_s(2.0, 0.0, 0.0) == 0.0                    # RViz: forever
    with pytest.raises(ValueError, match='>= 0'):
        marker_lifetime_s(0.1, -1.0, FLOOR_S)


def test_period_is_the_median_interval_and_one_pause_does_not_stretch_it():
    period = FramePeriod()
    assert period.tick(10.0) is None                 # one frame: no interval yet
    assert period.tick(10.25) == pytest.approx(0.25)
    for t in (10.5, 10.75, 11.0):
        period.tick(t)
    assert period.tick(31.0) == pytest.approx(0.25)  # a 20 s pause among 0.25 s frames
    period.reset()
    assert period.period_s is None
    with pytest.raises(ValueError):
        FramePeriod(window=0)


def test_the_window_follows_a_change_of_rate():
    period = FramePeriod()
    t = 0.0
    for _ in range(PERIOD_WINDOW):
        t += 0.1
        period.tick(t)
    for _ in range(PERIOD_WINDOW // 2 + 1):         # the camera slows down to 1 Hz
        t += 1.0
        period.tick(t)
    assert period.period_s == pytest.approx(1.0)


def _simulate(rate_hz, jitter, seconds=60.0, seed=0):
    """Publication times at ``rate_hz`` with intervals spread by +-``jitter`` (fraction)."""
    rng = np.random.default_rng(seed)
    intervals = rng.uniform(1 - jitter, 1 + jitter, int(seconds * rate_hz)) / rate_hz
    return np.cumsum(intervals)


@pytest.mark.parametrize('rate_hz', [0.5, 1.0, 2.5, 4.0, 15.0, 30.0])
@pytest.mark.parametrize('jitter', [0.0, 0.5])
def test_markers_never_expire_between_frames_at_any_rate(rate_hz, jitter):
    """Every frame's markers live until the next frame replaces them."""
    times = _simulate(rate_hz, jitter, seed=int(rate_hz * 10))
    period = FramePeriod()
    expiries = []
    for t in times:
        expiries.append(t + marker_lifetime_s(period.tick(t), FACTOR, FLOOR_S))
    gaps_uncovered = np.asarray(expiries[:-1]) < times[1:]
    assert not gaps_uncovered.any(), f'{gaps_uncovered.sum()} blinks at {rate_hz} Hz'
    # When the frames stop, the last markers go within a few periods (not a fixed long time).
    assert expiries[-1] - times[-1] <= max(FLOOR_S, FACTOR * (1 + jitter) / rate_hz) + 1e-9


def test_the_issue_frame_intervals_no_longer_blink():
    """The issue's run: node at about 4 fps, frames every 0.25-0.41 s; 0.2 s blinked."""
    rng = np.random.default_rng(18)
    times = np.cumsum(rng.uniform(0.25, 0.41, 200))
    period = FramePeriod()
    lifetimes = np.array([marker_lifetime_s(period.tick(t), FACTOR, FLOOR_S) for t in times])
    assert (lifetimes[:-1] > np.diff(times)).all()
    assert (0.2 < np.diff(times)).all()  # the old fixed 0.2 s would have expired every gap
    assert lifetimes[20:].max() < 1.3    # and they still go about a second after a stop
