"""Tracking: stable ids through a generated sequence, coasting, id policy, detect-every-N."""

import numpy as np
import pytest

from humanpose.errors import InvalidInputError
from humanpose.testing.sequence import crossing_walkers, render_sequence
from humanpose.track import (DetectorScheduler, Tracker, TrackerConfig, TrackState, box_iou,
                             boxes_from_keypoints, suppress_duplicates)
from humanpose.types import Poses

FPS = 30.0
NS = int(1e9 / FPS)


@pytest.fixture(scope='module')
def frames():
    return list(render_sequence(crossing_walkers(), 120, fps=FPS))


def _detected(frame, noise_px=1.0):
    """What a detector + pose network would give: people with >= 5 visible body keypoints."""
    poses = frame.poses(noise_px=noise_px, seed=7)
    keep = frame.visible[:, :17].sum(axis=1) >= 5
    return poses.select(np.flatnonzero(keep)), [i for i, k in zip(frame.identities, keep) if k]


@pytest.mark.parametrize('cost', ['oks', 'iou'])
def test_ids_stay_constant_through_a_slow_crossing_and_new_people_get_new_ids(frames, cost):
    tracker = Tracker(TrackerConfig(cost=cost))
    ids_of = {}
    overlap = 0.0
    lost_events, deleted_events = [], []
    for frame in frames:
        poses, identities = _detected(frame)
        out = tracker.update(poses, frame.stamp_ns)
        assert len(out) == len(poses) and all(out.ids)
        for identity, track_id in zip(identities, out.ids):
            ids_of.setdefault(identity, set()).add(track_id)
        if {'A', 'B'} <= set(identities):
            a, b = identities.index('A'), identities.index('B')
            overlap = max(overlap, box_iou(poses.boxes[a:a + 1], poses.boxes[b:b + 1])[0, 0])
        lost_events += tracker.lost_this_frame
        deleted_events += tracker.deleted_this_frame
    # The crossing really happened (boxes overlapping) and nobody swapped or split ids.
    assert overlap > 0.3
    assert {k: len(v) for k, v in ids_of.items()} == {'A': 1, 'B': 1, 'C': 1, 'D': 1}
    ids = [next(iter(v)) for v in ids_of.values()]
    assert len(set(ids)) == 4
    # D walked out: lost, then deleted after max_age frames; C, entering later, got a
    # fresh id rather than D's.
    d_id, c_id = next(iter(ids_of['D'])), next(iter(ids_of['C']))
    assert d_id in lost_events and d_id in deleted_events
    assert int(c_id) > int(d_id)


@pytest.mark.parametrize('max_age, b_ids', [(30, 1), (0, 2)])
def test_b_coasts_while_hidden_behind_a_and_keeps_its_id(frames, max_age, b_ids):
    tracker = Tracker(TrackerConfig(max_age=max_age))
    hidden, ids = 0, set()
    for frame in frames:
        poses, identities = _detected(frame)
        out = tracker.update(poses, frame.stamp_ns)
        if 'B' in identities:
            ids.add(out.ids[identities.index('B')])
        elif 'B' in frame.identities:
            hidden += 1
    # A hides B for a few frames; coasting bridges them, without coasting B's id changes.
    assert 1 <= hidden <= 10
    assert len(ids) == b_ids


def _person(x, y, size=100.0, k=17, skeleton='coco'):
    """A fake person: keypoints on a grid of ``size`` pixels at (x, y)."""
    grid = np.stack(np.meshgrid(np.linspace(0, 1, 4), np.linspace(0, 1, 5)), -1)
    kp = (grid.reshape(-1, 2)[:k] * (0.4 * size, size) + (x, y)).astype(np.float32)
    return kp


def _poses(people, skeleton='coco'):
    if not people:
        return Poses.empty(skeleton, 17)
    kp = np.stack(people)
    n = len(kp)
    box = np.concatenate([kp.min(axis=1), kp.max(axis=1)], axis=1)
    return Poses(keypoints=kp, confidence=np.ones(kp.shape[:2], np.float32),
                 scores=np.ones(kp.shape[:2], np.float32), boxes=box.astype(np.float32),
                 box_scores=np.ones(n, np.float32), skeleton=skeleton)


def test_coasting_through_a_short_dropout_keeps_the_id():
    tracker = Tracker(TrackerConfig(min_hits=2, max_age=5))
    ids = []
    for f in range(10):
        ids.append(tracker.update(_poses([_person(100 + 3 * f, 50)]), f * NS).ids)
    assert ids[-1] == ('1',) and set(ids) == {('1',)}
    assert tracker.tracks[0].state is TrackState.CONFIRMED
    # Three frames without the person: lost (reported once), coasting.
    out = tracker.update(_poses([]), 10 * NS)
    assert len(out) == 0 and tracker.lost_this_frame == ('1',)
    for f in (11, 12):
        tracker.update(_poses([]), f * NS)
        assert tracker.lost_this_frame == () and tracker.tracks[0].state is TrackState.LOST
    # Back where its velocity says it should be (3 px per frame).
    out = tracker.update(_poses([_person(100 + 3 * 13, 50)]), 13 * NS)
    assert out.ids == ('1',) and tracker.tracks[0].state is TrackState.CONFIRMED
    np.testing.assert_allclose(tracker.tracks[0].velocity_px_s, (3 * FPS, 0), atol=1.0)


def test_lost_tracks_are_deleted_after_max_age_and_ids_are_never_reused():
    tracker = Tracker(TrackerConfig(min_hits=1, max_age=2))
    assert tracker.update(_poses([_person(100, 50)]), 0).ids == ('1',)
    tracker.update(_poses([]), 1 * NS)
    tracker.update(_poses([]), 2 * NS)
    assert tracker.deleted_this_frame == () and len(tracker.tracks) == 1
    tracker.update(_poses([]), 3 * NS)
    assert tracker.deleted_this_frame == ('1',) and tracker.tracks == ()
    # The same person at the same place is a new track now.
    assert tracker.update(_poses([_person(100, 50)]), 4 * NS).ids == ('2',)
    tracker.reset()
    assert tracker.update(_poses([_person(100, 50)]), 5 * NS).ids == ('3',)
    # A stamp from the past (a looping bag) resets too, still without reusing ids.
    assert tracker.update(_poses([_person(100, 50)]), 0).ids == ('4',)


def test_tentative_tracks_are_published_at_once_unless_held_back():
    people = [_person(100 + f, 50) for f in range(4)]
    eager = Tracker(TrackerConfig(min_hits=3))
    assert [eager.update(_poses([p]), f * NS).ids for f, p in enumerate(people)] == \
        [('1',)] * 4
    held = Tracker(TrackerConfig(min_hits=3, publish_tentative=False))
    assert [held.update(_poses([p]), f * NS).ids for f, p in enumerate(people)] == \
        [(), (), ('1',), ('1',)]


def test_a_one_frame_false_positive_is_deleted_not_lost():
    tracker = Tracker(TrackerConfig(min_hits=3))
    tracker.update(_poses([_person(100, 50), _person(400, 50)]), 0)
    tracker.update(_poses([_person(100, 50)]), NS)
    assert tracker.lost_this_frame == () and tracker.deleted_this_frame == ('2',)
    assert [t.id for t in tracker.tracks] == ['1']


def test_far_away_detections_are_gated_not_matched():
    tracker = Tracker(TrackerConfig(min_hits=1))
    tracker.update(_poses([_person(100, 50)]), 0)
    out = tracker.update(_poses([_person(400, 300)]), NS)
    assert out.ids == ('2',) and tracker.lost_this_frame == ('1',)


def test_lost_tracks_can_be_published_and_predicted():
    tracker = Tracker(TrackerConfig(min_hits=1, publish_lost=True))
    for f in range(5):
        tracker.update(_poses([_person(100 + 2 * f, 50), _person(300, 50)]), f * NS)
    out = tracker.update(_poses([_person(300, 50)]), 5 * NS)
    assert out.ids == ('2', '1')
    # The coasting person is drawn where it would be now: 2 px per frame further.
    np.testing.assert_allclose(out.keypoints[1], _person(110, 50), atol=0.5)
    coasting = tracker.predict(7 * NS, states=(TrackState.LOST,))
    assert coasting.ids == ('1',)
    np.testing.assert_allclose(coasting.boxes[0, :2], _person(114, 50).min(axis=0), atol=0.5)
    assert tracker.predict(7 * NS).ids == ('2',)


def test_published_lost_tracks_get_nan_3d_when_the_frame_has_3d():
    tracker = Tracker(TrackerConfig(min_hits=1, publish_lost=True))
    tracker.update(_poses([_person(100, 50)]), 0)
    p = _poses([_person(300, 50)])
    p = p.with_3d(np.ones((1, 17, 3), np.float32), np.ones((1, 17), np.float32))
    out = tracker.update(p, NS)
    assert out.ids == ('2', '1') and np.isnan(out.keypoints_3d[1]).all()
    assert (out.confidence_3d[1] == 0).all()


def test_oks_cost_needs_a_known_skeleton():
    tracker = Tracker(TrackerConfig(min_hits=1))
    tracker.update(_poses([_person(100, 50)], skeleton='mystery'), 0)
    with pytest.raises(InvalidInputError, match='iou'):
        tracker.update(_poses([_person(100, 50)], skeleton='mystery'), NS)
    iou = Tracker(TrackerConfig(cost='iou', min_hits=1))
    iou.update(_poses([_person(100, 50)], skeleton='mystery'), 0)
    assert iou.update(_poses([_person(101, 50)], skeleton='mystery'), NS).ids == ('1',)


def test_bad_config_is_refused():
    for kwargs in ({'cost': 'euclid'}, {'min_hits': 0}, {'max_age': -1},
                   {'min_similarity': 2.0}, {'coast_spread': -0.1}):
        with pytest.raises(InvalidInputError):
            TrackerConfig(**kwargs)


def test_boxes_from_keypoints_cover_the_confident_keypoints():
    kp = np.stack([_person(100, 50, size=200), _person(600, 400, size=200),
                   _person(10, 10)])
    conf = np.ones(kp.shape[:2], np.float32)
    conf[2, 1:] = 0.1  # the third person has one confident keypoint only
    conf[0, -1] = 0.0  # an unconfident keypoint far away does not stretch the box
    kp[0, -1] = (630.0, 470.0)
    boxes = boxes_from_keypoints(kp, conf, (640, 480), min_confidence=0.3, expand=1.2)
    # Person 0: extents x 100..180, y 50..200 (without the last keypoint), grown by 20 %
    # about the centre.
    np.testing.assert_allclose(boxes[0], [92, 35, 188, 215], atol=1e-4)
    # Person 1: clipped to the image.
    assert boxes[1, 2] == 639 and boxes[1, 3] == 479 and boxes[1, 0] < 600
    assert np.isnan(boxes[2]).all()
    # With fallback boxes, the third person keeps (a clipped) one of those instead.
    fallback = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [-5, 5, 50, 60]], np.float32)
    with_fallback = boxes_from_keypoints(kp, conf, (640, 480), min_confidence=0.3,
                                         expand=1.2, fallback=fallback)
    np.testing.assert_array_equal(with_fallback[:2], boxes[:2])
    np.testing.assert_array_equal(with_fallback[2], [0, 5, 50, 60])
    assert boxes_from_keypoints(np.zeros((0, 17, 2)), np.zeros((0, 17)), (640, 480)).shape \
        == (0, 4)
    with pytest.raises(InvalidInputError):
        boxes_from_keypoints(np.zeros((2, 17, 2)), np.zeros((2, 16)), (640, 480))


def test_boxes_from_tracked_keypoints_follow_the_people(frames):
    tracker = Tracker(TrackerConfig(min_hits=1))
    for frame in frames[:3]:
        tracker.update(_detected(frame)[0], frame.stamp_ns)
    nxt = frames[3]
    predicted = tracker.predict(nxt.stamp_ns)
    boxes = boxes_from_keypoints(predicted.keypoints, predicted.confidence, (640, 480))
    truth, _ = _detected(nxt, noise_px=0.0)
    assert len(boxes) == len(truth) == 3
    # Each person's visible keypoints lie in the box made from the previous frames.
    for kp, visible in zip(truth.keypoints, truth.confidence > 0):
        x, y = kp[visible, 0:1], kp[visible, 1:2]
        inside = (x >= boxes[:, 0]) & (x <= boxes[:, 2]) & (y >= boxes[:, 1]) & (y <= boxes[:, 3])
        assert inside.all(axis=0).any()


def test_detector_scheduler_runs_every_n_frames_and_after_a_loss():
    scheduler = DetectorScheduler(every=5)
    runs = [scheduler.should_detect() for _ in range(11)]
    assert runs == [True, False, False, False, False, True, False, False, False, False, True]
    assert scheduler.should_detect(track_lost=True)  # frame 11: a track was lost
    assert [scheduler.should_detect() for _ in range(5)] == [False] * 4 + [True]
    scheduler.reset()
    assert scheduler.should_detect()
    every = DetectorScheduler(every=1)
    assert all(every.should_detect() for _ in range(4))
    with pytest.raises(InvalidInputError):
        DetectorScheduler(every=0)


@pytest.mark.parametrize('coast_spread, same_id', [(0.1, True), (0.0, False)])
def test_lost_tracks_accept_people_a_little_off_their_predicted_path(coast_spread, same_id):
    tracker = Tracker(TrackerConfig(min_hits=1, coast_spread=coast_spread))
    for f in range(5):
        tracker.update(_poses([_person(100 + 2 * f, 50)]), f * NS)
    for f in range(5, 15):
        tracker.update(_poses([]), f * NS)
    # Predicted at x = 130 after ten missed frames; the person is back 20 px further on
    # (OKS 0.12 against the prediction, 0.45 with the tolerance doubled; the gate is 0.3).
    out = tracker.update(_poses([_person(150, 50)]), 15 * NS)
    assert (out.ids == ('1',)) == same_id


def test_duplicate_poses_of_one_person_are_suppressed():
    a, b = _person(100, 50), _person(300, 50)
    poses = _poses([a, a + 1.5, b, b + 40])
    poses = Poses(keypoints=poses.keypoints, confidence=poses.confidence, scores=poses.scores,
                  boxes=poses.boxes, box_scores=np.array([0.8, 0.9, 0.9, 0.9], np.float32),
                  skeleton='coco')
    # The near-copy of a with the better score wins; b and the pose 40 px away stay.
    np.testing.assert_array_equal(suppress_duplicates(poses), [1, 2, 3])
    assert suppress_duplicates(poses.select(np.array([0]))).tolist() == [0]


def test_reconfiguring_keeps_tracks_and_ids():
    tracker = Tracker(TrackerConfig(min_hits=1))
    tracker.update(_poses([_person(100, 50)]), 0)
    tracker.reconfigure(TrackerConfig(cost='iou', min_hits=1))
    assert tracker.update(_poses([_person(102, 50), _person(400, 50)]), NS).ids == ('1', '2')
