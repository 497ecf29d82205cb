"""One-Euro smoothing: less jitter at rest, little lag in motion, per-id state on stamps."""

import numpy as np
import pytest

from humanpose.errors import InvalidInputError
from humanpose.filters import (OneEuroFilter, OneEuroParams, PoseSmoother, SmootherConfig,
                               smoothing_factor)
from humanpose.types import Poses

FPS = 30.0
K = 17
SIZE_PX = 300.0  # person box height


def _stamp(i, fps=FPS):
    return int(round(i * 1e9 / fps))


def _poses(keypoints, ids=('1',), confidence=None, keypoints_3d=None, confidence_3d=None):
    kp = np.asarray(keypoints, np.float32).reshape(len(ids), K, 2)
    n = len(ids)
    conf = np.ones((n, K), np.float32) if confidence is None else confidence
    boxes = np.tile(np.array([[0, 0, 120, SIZE_PX]], np.float32), (n, 1))
    return Poses(keypoints=kp, confidence=conf, scores=conf.copy(), boxes=boxes,
                 box_scores=np.ones(n, np.float32), skeleton='coco', ids=tuple(ids),
                 keypoints_3d=keypoints_3d, confidence_3d=confidence_3d)


def _run(smoother, track):
    """Feed (T, K, 2) measurements at 30 fps; return the (T, K, 2) outputs."""
    return np.stack([smoother.update(_poses(m), _stamp(i)).keypoints[0]
                     for i, m in enumerate(track)])


def test_static_jitter_drops_3x_and_a_moving_keypoint_lags_under_2_frames():
    rng = np.random.default_rng(0)
    frames = 300
    rest = np.full((frames, K, 2), (200.0, 150.0)) + rng.normal(0, 1.0, (frames, K, 2))
    out = _run(PoseSmoother(), rest)
    # Jitter: the standard deviation about each coordinate's mean, pooled over keypoints
    # (after the first two seconds, when the filter has settled).
    ratio = np.sqrt(rest[60:].var(axis=0).mean() / out[60:].var(axis=0).mean())
    assert ratio >= 3.0, ratio
    # A hand moving at half a body height per second (about 0.8 m/s), same noise.
    speed = 0.5 * SIZE_PX
    t = np.arange(frames) / FPS
    truth = np.zeros((frames, K, 2))
    truth[..., 0] = 100.0 + speed * t[:, None]
    truth[..., 1] = 150.0
    out = _run(PoseSmoother(), truth + rng.normal(0, 1.0, truth.shape))
    lag_frames = (truth[60:, :, 0] - out[60:, :, 0]).mean(axis=0) / (speed / FPS)
    assert lag_frames.max() < 2.0, lag_frames.max()
    # Without smoothing the lag would be 0; with it, it is there but small.
    assert lag_frames.min() > 0.2


def test_lag_does_not_depend_on_the_person_size():
    """Speeds are in person sizes per second: a twice-as-far person is smoothed alike."""
    def lag(size):
        f = OneEuroFilter(OneEuroParams())
        x = [f(np.array([[0.5 * size * i / FPS, 0.0]]), _stamp(i), None, size)[0, 0]
             for i in range(120)]
        return (0.5 * size * 119 / FPS - x[-1]) / size
    assert lag(150.0) == pytest.approx(lag(600.0), rel=1e-6)


def test_time_comes_from_the_stamps():
    """The same samples smooth less when the stamps are further apart (alpha grows with dt)."""
    step = np.array([[0.0, 0.0]] * 2 + [[10.0, 0.0]] * 3)
    fast, slow = OneEuroFilter(OneEuroParams()), OneEuroFilter(OneEuroParams())
    out_fast = [fast(s[None], _stamp(i, 30.0))[0, 0] for i, s in enumerate(step)]
    out_slow = [slow(s[None], _stamp(i, 2.0))[0, 0] for i, s in enumerate(step)]
    assert out_fast[2] < out_slow[2] < 10.0
    # A repeated stamp changes nothing.
    again = fast(np.array([[50.0, 0.0]]), _stamp(4, 30.0))[0, 0]
    assert again == pytest.approx(out_fast[-1])


def test_smoothing_factor_formula():
    # tau = 1 / (2 pi f): at dt = tau the new sample weighs one half.
    assert smoothing_factor(1.0 / (2 * np.pi), 1.0) == pytest.approx(0.5)
    assert smoothing_factor(1.0, 1.0 / 30) == pytest.approx(1 / (1 + 30 / (2 * np.pi)))


def test_nan_3d_points_do_not_poison_the_filter():
    smoother = PoseSmoother()
    kp = np.full((K, 2), 100.0)
    for i in range(20):
        p3 = np.full((1, K, 3), 2.0, np.float32)
        c3 = np.ones((1, K), np.float32)
        if 5 <= i < 10:  # keypoint 3 has no depth for five frames
            p3[0, 3] = np.nan
            c3[0, 3] = 0.0
        out = smoother.update(_poses(kp, keypoints_3d=p3, confidence_3d=c3), _stamp(i))
        if 5 <= i < 10:
            assert np.isnan(out.keypoints_3d[0, 3]).all()
        else:
            assert out.keypoints_3d[0, 3] == pytest.approx([2.0, 2.0, 2.0])
        assert np.isfinite(out.keypoints_3d[0, np.arange(K) != 3]).all()
    np.testing.assert_array_equal(out.confidence_3d, c3)


def test_a_3d_point_that_comes_back_catches_up_at_once():
    f = OneEuroFilter(OneEuroParams(beta=2.5))
    for i in range(10):
        f(np.array([[0.0, 0.0, 2.0]]), _stamp(i))
    # Two seconds without depth, then the point is 1 m away: dt is 2 s, alpha near 1.
    out = f(np.array([[1.0, 0.0, 2.0]]), _stamp(70))
    assert out[0, 0] > 0.85


def test_low_confidence_keypoints_pass_through_and_leave_the_state_alone():
    smoother = PoseSmoother(SmootherConfig(min_confidence=0.3))
    kp = np.full((K, 2), 100.0)
    for i in range(10):
        smoother.update(_poses(kp), _stamp(i))
    wild = kp.copy()
    wild[0] = (400.0, 400.0)
    conf = np.ones((1, K), np.float32)
    conf[0, 0] = 0.1
    out = smoother.update(_poses(wild, confidence=conf), _stamp(10))
    np.testing.assert_allclose(out.keypoints[0, 0], (400.0, 400.0))  # as measured
    out = smoother.update(_poses(kp), _stamp(11))
    np.testing.assert_allclose(out.keypoints[0, 0], (100.0, 100.0), atol=1e-4)  # not dragged


def test_state_is_per_id_and_forgotten_on_loss_and_after_a_while():
    smoother = PoseSmoother(SmootherConfig(forget_after_s=0.5))
    a, b = np.full((K, 2), 100.0), np.full((K, 2), 300.0)
    for i in range(5):
        smoother.update(_poses(np.stack([a, b]), ids=('1', '2')), _stamp(i))
    assert smoother.ids == ('1', '2')
    # A jump of 50 px is smoothed for a known id ...
    out = smoother.update(_poses(np.stack([a + 50, b + 50]), ids=('1', '2')), _stamp(5))
    assert (out.keypoints[:, :, 0] - [[100.0], [300.0]] < 40).all()
    # ... but not after the tracker reported the id lost: the filter restarts.
    smoother.forget(['1'])
    out = smoother.update(_poses(np.stack([a + 100, b + 100]), ids=('1', '2')), _stamp(6))
    np.testing.assert_allclose(out.keypoints[0], a + 100)
    assert (out.keypoints[1, :, 0] < 390).all()
    # Ids not seen for longer than forget_after_s are dropped.
    smoother.update(_poses(np.stack([a]), ids=('1',)), _stamp(30))
    assert smoother.ids == ('1',)


def test_output_keeps_everything_but_keypoints():
    smoother = PoseSmoother()
    p = _poses(np.full((K, 2), 5.0))
    out = smoother.update(p, 0)
    for name in ('confidence', 'scores', 'boxes', 'box_scores'):
        np.testing.assert_array_equal(getattr(out, name), getattr(p, name))
    assert out.ids == p.ids and out.skeleton == p.skeleton and out.keypoints_3d is None
    assert len(smoother.update(Poses.empty('coco', K), 1)) == 0


def test_poses_without_ids_and_bad_parameters_are_refused():
    with pytest.raises(InvalidInputError, match='track ids'):
        PoseSmoother().update(_poses(np.zeros((K, 2))).with_ids(()), 0)
    for kwargs in ({'min_cutoff': 0.0}, {'beta': -1.0}, {'d_cutoff': 0.0},
                   {'beta_3d': -0.1}, {'forget_after_s': 0.0}):
        with pytest.raises(InvalidInputError):
            SmootherConfig(**kwargs)
    with pytest.raises(InvalidInputError):
        OneEuroFilter(OneEuroParams())(np.zeros(3), 0)


def test_stamps_going_back_reset_the_state():
    smoother = PoseSmoother()
    for i in range(5):
        smoother.update(_poses(np.full((K, 2), 100.0)), _stamp(i + 10))
    out = smoother.update(_poses(np.full((K, 2), 200.0)), _stamp(0))
    np.testing.assert_allclose(out.keypoints[0], 200.0)


def test_reconfiguring_restarts_the_filters():
    smoother = PoseSmoother()
    for i in range(5):
        smoother.update(_poses(np.full((K, 2), 100.0)), _stamp(i))
    smoother.reconfigure(SmootherConfig(min_cutoff=2.0))
    assert smoother.config.min_cutoff == 2.0 and smoother.ids == ()
    out = smoother.update(_poses(np.full((K, 2), 150.0)), _stamp(5))
    np.testing.assert_allclose(out.keypoints[0], 150.0)
