"""One PoseEstimator / Pipeline called from several threads (ROS executors, web servers)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from humanpose.pipeline import Pipeline, PoseEstimator
from humanpose.testing.scene import random_people, render_scene


def _scenes(count: int) -> list:
    return [render_scene(320, 240, random_people(2, 320, 240, seed=s), seed=s)
            for s in range(count)]


def test_estimator_from_two_threads_equals_one_thread(pose_model: Path) -> None:
    scenes = _scenes(4)
    estimator = PoseEstimator(pose_model, backend='onnxruntime-cpu')
    alone = [estimator.estimate(s.image, s.boxes).keypoints for s in scenes]
    jobs = [i % len(scenes) for i in range(24)]

    def estimate(i: int) -> np.ndarray:
        return estimator.estimate(scenes[i].image, scenes[i].boxes).keypoints

    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(estimate, jobs))
    for i, keypoints in zip(jobs, together):
        np.testing.assert_array_equal(keypoints, alone[i])


def test_pipeline_from_two_threads_equals_one_thread(pose_model: Path) -> None:
    scenes = _scenes(3)
    pipe = Pipeline(pose_model, backend='onnxruntime-cpu')
    alone = [pipe(s.image, boxes=s.boxes).keypoints for s in scenes]
    jobs = [i % len(scenes) for i in range(18)]
    with ThreadPoolExecutor(3) as pool:
        together = list(pool.map(lambda i: pipe(scenes[i].image, boxes=scenes[i].boxes), jobs))
    for i, poses in zip(jobs, together):
        np.testing.assert_array_equal(poses.keypoints, alone[i])
    pipe.close()
