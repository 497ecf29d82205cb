"""``Pipeline(..., cues=True)``: cues of every person of every frame, in the Python API."""

from __future__ import annotations

import numpy as np

from humanpose.cues import CueConfig
from humanpose.pipeline import Pipeline
from humanpose.testing.scene import PersonSpec, render_scene


def test_pipeline_gives_the_cues_of_each_frame(pose_model, detector_model):
    people = [PersonSpec((200, 250), 300, depth_m=2.0), PersonSpec((460, 250), 280,
                                                                   depth_m=2.5)]
    scene = render_scene(640, 480, people, seed=3)
    pipe = Pipeline(pose_model, detector_model, backend='onnxruntime-cpu', tracking=True,
                    cues=True)
    assert pipe.uses_tracker
    for frame in range(3):
        poses = pipe(scene.image, stamp_ns=frame * 33_333_333, depth=scene.depth_m,
                     camera=scene.camera)
        cues = pipe.last_cues
        assert cues is not None and len(cues) == len(poses) == 2
        assert cues.ids == poses.ids and all(cues.ids)
        assert not cues.intrinsics_assumed and 'cues' in pipe.timings
    order = np.argsort(poses.boxes[:, 0])
    # Body keypoints on planes at 2.0 and 2.5 m, a little off the optical axis.
    assert np.all((cues.distance_m[order] > [2.0, 2.5]) & (cues.distance_m[order] < [2.3, 2.8]))
    assert cues.has_head_pose.all()
    assert not cues.hand_raised.any() and not cues.waving.any()
    assert np.all(cues.looking_duration_s >= 0.0)


def test_without_tracking_or_camera_the_cues_say_so(pose_model):
    scene = render_scene(320, 240, [PersonSpec((160, 120), 200)], seed=1)
    pipe = Pipeline(pose_model, backend='onnxruntime-cpu', cues=CueConfig(looking_max_deg=5.0))
    assert pipe.uses_tracker  # internally, so waving and engagement have ids
    poses = pipe(scene.image, stamp_ns=0)
    cues = pipe.last_cues
    assert cues is not None and cues.ids == () and poses.ids == ()
    assert cues.intrinsics_assumed and np.isnan(cues.distance_m).all()
    assert pipe.cue_estimator is not None and pipe.cue_estimator.config.looking_max_deg == 5.0
    plain = Pipeline(pose_model, backend='onnxruntime-cpu')
    plain(scene.image)
    assert plain.last_cues is None and 'cues' not in plain.timings
