"""Synthetic sequences: deterministic frames, identities, visibility and stamps."""

import numpy as np
import pytest

from humanpose.testing.scene import PersonSpec
from humanpose.testing.sequence import Walker, crossing_walkers, render_sequence

N = 24


@pytest.fixture(scope='module')
def frames():
    return list(render_sequence(crossing_walkers(num_frames=N), N, fps=15.0, start_ns=10))


def test_stamps_and_identities_follow_the_plan(frames):
    assert [f.stamp_ns for f in frames[:3]] == [10, 10 + 66_666_667, 10 + 133_333_333]
    present = [set(f.identities) for f in frames]
    assert present[0] == {'A', 'B', 'D'}
    assert present[N // 3] == {'A', 'B', 'D'} and present[N // 3 + 1] == {'A', 'B'}
    assert present[N // 2 - 1] == {'A', 'B'} and present[N // 2] == {'A', 'B', 'C'}
    for f in frames:
        assert len(f.identities) == len(f.scene.people) == len(f.scene.keypoints)
        # Far people are drawn first so that nearer ones cover them.
        depths = [p.depth_m for p in f.scene.people]
        assert depths == sorted(depths, reverse=True)


def test_walkers_move_linearly_from_start_to_end():
    walker = Walker('X', PersonSpec((0.0, 100.0), 200.0, depth_m=2.0),
                    PersonSpec((100.0, 100.0), 300.0, depth_m=3.0), 10, 20)
    assert walker.at(9) is None and walker.at(21) is None
    middle = walker.at(15)
    assert middle.centre_px == (50.0, 100.0) and middle.height_px == 250.0
    assert middle.depth_m == 2.5
    assert walker.at(20).centre_px == (100.0, 100.0)


def test_the_sequence_is_deterministic(frames):
    again = next(iter(render_sequence(crossing_walkers(num_frames=N), N, fps=15.0,
                                      start_ns=10)))
    np.testing.assert_array_equal(again.scene.image, frames[0].scene.image)
    np.testing.assert_array_equal(again.poses(noise_px=2.0, seed=3).keypoints,
                                  frames[0].poses(noise_px=2.0, seed=3).keypoints)


def test_visibility_accounts_for_occlusion_and_the_image_border(frames):
    # At the crossing A (2 m) covers part of B (3 m); A itself is fully visible.
    crossing = frames[N // 2]
    a, b = crossing.identities.index('A'), crossing.identities.index('B')
    visible = crossing.visible
    assert visible[a][crossing.scene.inside[a]].all()
    assert 0 < visible[b].sum() < crossing.scene.inside[b].sum()
    # C enters from the right: only part of it is in the image at first.
    c = crossing.identities.index('C')
    assert visible[c].sum() < 133


def test_ground_truth_poses(frames):
    frame = frames[N // 2]
    poses = frame.poses(noise_px=1.5, seed=1, hidden_confidence=0.05)
    assert len(poses) == len(frame.identities) and poses.num_keypoints == 133
    np.testing.assert_array_equal(poses.confidence == 1.0, frame.visible)
    assert set(np.unique(poses.confidence)) <= {np.float32(0.05), np.float32(1.0)}
    error = poses.keypoints - frame.scene.keypoints
    assert 1.2 < error.std() < 1.8
    exact = frame.poses()
    np.testing.assert_allclose(exact.keypoints, frame.scene.keypoints, atol=1e-4)


def test_an_empty_frame():
    walker = Walker('X', PersonSpec((100.0, 100.0), 100.0), PersonSpec((100.0, 100.0), 100.0),
                    5, 6)
    frame = next(iter(render_sequence([walker], 1, width=160, height=120)))
    assert frame.identities == () and len(frame.poses()) == 0
    assert frame.visible.shape == (0, 133)
