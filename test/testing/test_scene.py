import numpy as np
import pytest

from humanpose.testing.scene import (ANCHORS, PersonSpec, person_template, random_people,
                                     random_scene, render_scene)


def test_template_is_a_plausible_wholebody_person():
    t = person_template()
    assert t.shape == (133, 2)
    # Head above shoulders above hips above ankles (y down), left side on image right.
    nose, l_sh, r_sh, l_hip, l_ankle = t[0], t[5], t[6], t[11], t[15]
    assert nose[1] < l_sh[1] < l_hip[1] < l_ankle[1]
    assert l_sh[0] > 0 > r_sh[0]
    np.testing.assert_allclose(t[[5, 6, 11, 12]].mean(axis=0), 0, atol=1e-12)
    # Hand roots sit on the wrists.
    np.testing.assert_array_equal(t[91], t[9])
    np.testing.assert_array_equal(t[112], t[10])


def test_keypoints_follow_the_affine():
    spec = PersonSpec(centre_px=(100.0, 200.0), height_px=300.0, angle_deg=90.0, aspect=0.5)
    kp = spec.keypoints()
    # Rotated 90 deg counter-clockwise on screen: the template's +y (down) points to +x.
    t = person_template()
    np.testing.assert_allclose(kp[15] - (100, 200), (t[15, 1] * 300, -t[15, 0] * 150), atol=1e-9)


def test_scene_draws_people_and_depth():
    people = [PersonSpec((160, 240), 300, depth_m=1.5), PersonSpec((480, 240), 200, depth_m=2.5)]
    scene = render_scene(640, 480, people, background_depth_m=4.0)
    assert scene.image.shape == (480, 640, 3) and scene.image.dtype == np.uint8
    assert scene.keypoints.shape == (2, 133, 2)
    # Red anchor pixel at each torso centre, and the person's depth there.
    for spec in people:
        x, y = (int(round(v)) for v in spec.centre_px)
        assert tuple(scene.image[y, x]) == (0, 0, 255)
        assert scene.depth_m[y, x] == pytest.approx(spec.depth_m)
    assert scene.depth_m[5, 5] == pytest.approx(4.0)
    # Depth covers every keypoint of the person (silhouette wide enough for windows).
    for i, spec in enumerate(people):
        xy = np.round(scene.keypoints[i]).astype(int)
        assert np.all(scene.depth_m[xy[:, 1], xy[:, 0]] == np.float32(spec.depth_m))
    np.testing.assert_array_equal(scene.depth_mm()[5, 5], 4000)


def test_nothing_but_anchors_is_strongly_coloured():
    scene = random_scene(4, seed=3)
    img = scene.image.astype(int)
    b, g, r = img[..., 0], img[..., 1], img[..., 2]
    strong = (r - g - b > 100) | (g - r - b > 100) | (b - r - g > 100)
    # Only anchor discs (3 per person) are saturated: their area (+1 px of anti-aliased
    # rim) bounds the count.
    areas = sum(np.pi * ((ANCHORS[:, 2] * p.height_px * np.sqrt(p.aspect) + 1) ** 2).sum()
                for p in scene.people)
    assert 0 < strong.sum() <= areas


def test_partial_people_and_grid_placement():
    people = random_people(6, 640, 480, seed=1, allow_partial=True)
    assert len(people) == 6
    scene = render_scene(640, 480, [PersonSpec((620, 240), 400)])
    inside = scene.inside[0]
    assert 0 < inside.sum() < 133
    assert scene.boxes[0, 2] == 639


def test_metric_people_project_onto_the_drawn_keypoints():
    from humanpose.testing.scene import default_camera, person_at, person_relief
    camera = default_camera(1280, 720)
    people = [person_at(camera, (-0.8, 0.1, 2.0)), person_at(camera, (0.9, 0.0, 4.0))]
    scene = render_scene(1280, 720, people, camera=camera)
    truth = scene.keypoints_3d
    # Each keypoint lies on its pixel's ray at the person's depth plus its relief ...
    projected = truth @ camera.k.T
    np.testing.assert_allclose(projected[..., :2] / projected[..., 2:], scene.keypoints,
                               atol=1e-9)
    np.testing.assert_allclose(truth[..., 2], [p.depth_m + person_relief() for p in people])
    # ... the root (mid-hip) is at the person's depth, the torso is metric (1.70 m adult:
    # shoulders 0.374 m apart), and the hands are 0.35 m in front of the body.
    np.testing.assert_allclose(truth[:, [11, 12], 2].mean(1), [2.0, 4.0])
    np.testing.assert_allclose(np.linalg.norm(truth[:, 5] - truth[:, 6], axis=-1), 0.374,
                               rtol=1e-6)
    assert person_relief()[9] == pytest.approx(-0.35, abs=0.004)
    # The depth image shows every keypoint at its own depth.
    for n in range(2):
        x, y = np.rint(scene.keypoints[n, [0, 9, 11, 13]]).astype(int).T
        np.testing.assert_allclose(scene.depth_m[y, x], truth[n, [0, 9, 11, 13], 2], rtol=1e-6)


def test_relief_values_sit_on_rtmw3d_z_bins():
    from humanpose.testing.scene import person_relief, relief_bins
    bins = relief_bins(person_relief())
    np.testing.assert_allclose(bins, np.round(bins), atol=1e-9)
    assert person_relief()[[5, 6, 11, 12]].tolist() == [0.0] * 4
