"""The public Python API: a pose estimator on given boxes, and the full pipeline.

::

    from humanpose import PoseEstimator, Pipeline
    est = PoseEstimator('rtmw.onnx')              # card inferred, or card='x.yaml'
    poses = est.estimate(image_bgr, boxes_xyxy)    # one batched network call
    pipe = Pipeline(pose='rtmw.onnx', detector='rtmdet.onnx', detect_every=1)
    poses = pipe(image_bgr)

Images are OpenCV BGR uint8 unless ``color='rgb'`` says otherwise. All people of an image
go through the pose network in ONE backend call (chunked only past the backend's max
batch). Without boxes and without a detector, the whole image is one person box.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
import time
from typing import Any, Iterator, Optional, Union

import numpy as np
from numpy.typing import NDArray

from humanpose.backends.base import (BackendOptions, InferenceBackend, create_backend,
                                     run_batched)
from humanpose.decode import decode_pose_outputs
from humanpose.detect import PersonDetector
from humanpose.errors import InvalidInputError, ModelLoadError
from humanpose.filters import PoseSmoother, SmootherConfig
from humanpose.lift3d import lift_poses
from humanpose.models.card import ModelCard, resolve_card
from humanpose.preprocess import CropBatcher, check_boxes, check_image, crop_to_image
from humanpose.skeletons import get_skeleton
from humanpose.track import (DetectorScheduler, Tracker, TrackerConfig, boxes_from_keypoints,
                             suppress_duplicates)
from humanpose.types import CameraModel, Detections, Poses

F32 = NDArray[np.float32]

#: Stages timed by :class:`Pipeline` (seconds of the last call in ``timings``).
STAGES = ('detect', 'crop', 'infer', 'decode', 'track', 'lift3d')


class StageTimer:
    """Wall-clock seconds per named stage of the last frame."""

    def __init__(self) -> None:
        self.last: dict[str, float] = {}

    def reset(self) -> None:
        self.last = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.last[name] = self.last.get(name, 0.0) + time.perf_counter() - start


class PoseEstimator:
    """A top-down pose network: people boxes in, keypoints in image pixels out.

    :param model: ONNX (or TensorRT engine) path.
    :param card: model card (object, dict, YAML path or built-in name); None = embedded in
        the ONNX, a sidecar ``<model>.yaml``, or inferred from the output shapes.
    :param backend: ``auto`` (TensorRT > ONNX Runtime CUDA > CPU), or a backend name.
    :param options: backend options (threads, device, precision, max batch ...).
    :param backend_instance: an already loaded backend (tests, custom runtimes).
    :raises ModelLoadError: missing/corrupt model, or outputs that match no decoder.
    :raises BackendUnavailableError: the requested backend cannot run here.
    """

    def __init__(self, model: Union[str, Path], card: Any = None, backend: str = 'auto',
                 options: Optional[BackendOptions] = None,
                 backend_instance: Optional[InferenceBackend] = None) -> None:
        self.model_path = Path(model)
        if backend_instance is None and not self.model_path.is_file():
            raise ModelLoadError(f'pose model not found: {self.model_path}; pass the path of an '
                                 'ONNX file, or see `humanpose models list`')
        self.backend = backend_instance or create_backend(self.model_path, backend, options)
        if not self.backend.inputs:
            raise ModelLoadError(f'{self.model_path.name} has no inputs')
        outputs = {o.name: o.shape for o in self.backend.outputs}
        self.card: ModelCard = resolve_card(self.model_path, card, self.backend.inputs[0].shape,
                                            outputs, 'pose')
        self.skeleton = get_skeleton(str(self.card.skeleton))
        self.input_name = self.backend.inputs[0].name
        self.timer = StageTimer()
        self._batcher = CropBatcher(self.card.input_size, self.card.mean, self.card.std,
                                    network_rgb=self.card.color == 'rgb',
                                    padding=self.card.padding)

    @property
    def backend_name(self) -> str:
        return self.backend.name

    def estimate(self, image: NDArray[np.uint8], boxes: Optional[NDArray[np.generic]] = None,
                 box_scores: Optional[NDArray[np.generic]] = None, color: str = 'bgr') -> Poses:
        """Estimate the pose of every person in ``boxes``.

        :param image: (H, W, 3) uint8 in ``color`` order.
        :param boxes: (N, 4) x_min, y_min, x_max, y_max pixels; None = the whole image.
        :param box_scores: (N,) person confidences (default 1).
        :param color: ``bgr`` (OpenCV) or ``rgb``.
        :return: poses in image pixels.
        :raises InvalidInputError: bad image or boxes (the message says which and why).
        """
        image = check_image(image)
        h, w = image.shape[:2]
        if boxes is None:
            boxes = np.array([[0, 0, w - 1, h - 1]], np.float32)
        checked = check_boxes(np.asarray(boxes), image.shape)
        scores = (np.ones(len(checked), np.float32) if box_scores is None
                  else np.asarray(box_scores, np.float32).reshape(-1))
        return self.estimate_checked(image, checked, scores, color)

    def estimate_checked(self, image: NDArray[np.uint8], boxes: F32, box_scores: F32,
                         color: str = 'bgr') -> Poses:
        """:meth:`estimate` for an already validated image and clipped boxes."""
        k = self.skeleton.num_keypoints
        if len(boxes) == 0:
            return Poses.empty(self.skeleton.name, k)
        with self.timer.stage('crop'):
            batch, centers, scales = self._batcher(image, boxes, color)
        with self.timer.stage('infer'):
            outputs = run_batched(self.backend, self.input_name, batch)
        with self.timer.stage('decode'):
            keypoints, raw, confidence = decode_pose_outputs(
                {k: np.asarray(v, np.float32) for k, v in outputs.items()}, self.card.head,
                self.card.input_size)
            keypoints = crop_to_image(keypoints, centers, scales, self.card.input_size)
        return Poses(keypoints=keypoints, confidence=confidence, scores=raw,
                     boxes=boxes.astype(np.float32), box_scores=box_scores.astype(np.float32),
                     skeleton=self.skeleton.name)

    def close(self) -> None:
        self.backend.close()


class Pipeline:
    """Detector + pose estimator, plus the HRI stages: ids, smoothing, 3D from depth.

    Per frame: person boxes (detector on schedule, else from the tracked people's previous
    keypoints) -> ONE pose call -> duplicates removed -> tracking -> 3D from depth ->
    One-Euro smoothing (2D and 3D).

    :param pose: pose model path (or a :class:`PoseEstimator`).
    :param detector: detector model path (or a :class:`PersonDetector`); None = boxes
        must be given per call, else the whole image is one person.
    :param pose_card: card of the pose model (see :class:`PoseEstimator`).
    :param detector_card: card of the detector.
    :param backend: backend for both networks.
    :param options: backend options for both networks.
    :param detect_every: run the detector on one frame in N (and whenever a track is lost
        or nobody is tracked); in between, each person's box comes from its previous
        keypoints.
    :param score_threshold: minimum person score of the detector.
    :param iou_threshold: detector NMS IoU threshold.
    :param max_people: at most this many people per frame.
    :param tracking: give people stable ids (``Poses.ids``); off = empty ids.
    :param smoothing: One-Euro smoothing of keypoints per track (needs image stamps).
    :param tracker: tracker parameters.
    :param smoother: smoothing parameters.
    :param depth_window: side of the depth median window, in depth pixels.
    :param depth_outlier_m: keypoints this far behind their person's median depth are
        invalid in 3D (None = keep all).
    :param rectified: the images are rectified (3D rays from P, else K + distortion).
    """

    def __init__(self, pose: Union[str, Path, PoseEstimator],
                 detector: Union[None, str, Path, PersonDetector] = None, *,
                 pose_card: Any = None, detector_card: Any = None, backend: str = 'auto',
                 options: Optional[BackendOptions] = None, detect_every: int = 1,
                 score_threshold: float = 0.5, iou_threshold: float = 0.65,
                 max_people: int = 20, tracking: bool = False, smoothing: bool = False,
                 tracker: Optional[TrackerConfig] = None,
                 smoother: Optional[SmootherConfig] = None, depth_window: int = 5,
                 depth_outlier_m: Optional[float] = None, rectified: bool = False) -> None:
        if detect_every < 1:
            raise InvalidInputError(f'detect_every must be >= 1, got {detect_every}')
        self.pose = (pose if isinstance(pose, PoseEstimator)
                     else PoseEstimator(pose, pose_card, backend, options))
        if detector is None or isinstance(detector, PersonDetector):
            self.detector = detector
        else:
            self.detector = PersonDetector(detector, detector_card, backend, options,
                                           score_threshold, iou_threshold, max_people)
        self.max_people = max_people
        self.tracking = tracking
        self.smoothing = smoothing
        self.depth_window = depth_window
        self.depth_outlier_m = depth_outlier_m
        self.rectified = rectified
        self.timer = self.pose.timer
        # One tracker for the whole run (its id counter must never restart); it also
        # carries people between detector runs, so it runs whenever detect_every > 1.
        self.tracker = Tracker(tracker)
        self.smoother = PoseSmoother(smoother)
        self.scheduler = DetectorScheduler(detect_every)
        self.detector_runs = 0
        self._frame = 0

    @property
    def detect_every(self) -> int:
        return self.scheduler.every

    @property
    def timings(self) -> dict[str, float]:
        """Seconds per stage of the last call."""
        return dict(self.timer.last)

    @property
    def skeleton(self) -> str:
        return self.pose.skeleton.name

    @property
    def uses_tracker(self) -> bool:
        return self.tracking or self.smoothing or self.detect_every > 1

    def set_thresholds(self, score_threshold: Optional[float] = None,
                       iou_threshold: Optional[float] = None,
                       max_people: Optional[int] = None) -> None:
        """Change detection thresholds at run time."""
        if max_people is not None:
            self.max_people = max_people
        if self.detector is None:
            return
        if score_threshold is not None:
            self.detector.score_threshold = score_threshold
        if iou_threshold is not None:
            self.detector.iou_threshold = iou_threshold
        if max_people is not None:
            self.detector.max_people = max_people

    def set_detect_every(self, every: int) -> None:
        """Change the detector schedule at run time (ids are kept)."""
        if every < 1:
            raise InvalidInputError(f'detect_every must be >= 1, got {every}')
        self.scheduler = DetectorScheduler(every)

    def _people_boxes(self, image: NDArray[np.uint8], stamp_ns: int, color: str) -> Detections:
        h, w = image.shape[:2]
        if self.detector is None:
            return Detections(np.array([[0, 0, w - 1, h - 1]], np.float32),
                              np.ones(1, np.float32))
        due = self.scheduler.should_detect(track_lost=bool(self.tracker.lost_this_frame))
        # The tracked people's predicted poses are needed only between detector runs.
        previous = (self.tracker.predict(stamp_ns) if self.uses_tracker and not due
                    else None)
        if previous is None or not len(previous):
            with self.timer.stage('detect'):
                self.detector_runs += 1
                return self.detector.detect(image, color)
        boxes = boxes_from_keypoints(previous.keypoints, previous.confidence, (w, h),
                                     fallback=previous.boxes)
        return Detections(boxes, previous.box_scores)

    def __call__(self, image: NDArray[np.uint8], boxes: Optional[NDArray[np.generic]] = None,
                 color: str = 'bgr', stamp_ns: Optional[int] = None,
                 box_scores: Optional[NDArray[np.generic]] = None,
                 depth: Optional[NDArray[np.generic]] = None,
                 camera: Optional[CameraModel] = None,
                 depth_encoding: Optional[str] = None) -> Poses:
        """Estimate all people in one frame.

        :param image: (H, W, 3) uint8 in ``color`` order.
        :param boxes: external person boxes (N, 4); they replace the detector.
        :param color: ``bgr`` or ``rgb``.
        :param box_scores: (N,) scores of the external boxes (default 1).
        :param stamp_ns: the image's time stamp (ROS header, bag or video frame time);
            tracking and smoothing use it, never the wall clock. Default: frame count at
            30 frames per second.
        :param depth: aligned depth image (16UC1 millimetres or 32FC1 metres) for 3D.
        :param camera: camera model of the colour image (needed with ``depth``).
        :param depth_encoding: encoding of ``depth`` (None = from its dtype).
        :return: poses in image pixels (+ ids, + 3D when depth was given).
        """
        self.timer.reset()
        image = check_image(image)
        if stamp_ns is None:
            stamp_ns = self._frame * 1_000_000_000 // 30
        if boxes is not None:
            checked = check_boxes(np.asarray(boxes), image.shape)
            scores = (np.ones(len(checked), np.float32) if box_scores is None
                      else np.asarray(box_scores, np.float32).reshape(-1))
            people = Detections(checked, scores)
        else:
            people = self._people_boxes(image, stamp_ns, color)
        order = np.argsort(-people.scores, kind='stable')[:self.max_people]
        poses = self.pose.estimate_checked(image, people.boxes[order], people.scores[order],
                                           color)
        if self.uses_tracker:
            with self.timer.stage('track'):
                poses = poses.select(suppress_duplicates(poses))
                poses = self.tracker.update(poses, stamp_ns)
                self.smoother.forget(self.tracker.lost_this_frame
                                     + self.tracker.deleted_this_frame)
        if depth is not None:
            if camera is None:
                raise InvalidInputError('a depth image needs the camera model (camera_info) '
                                        'to turn pixels into metres')
            with self.timer.stage('lift3d'):
                poses = lift_poses(poses, depth, camera, encoding=depth_encoding,
                                   window=self.depth_window, rectified=self.rectified,
                                   outlier_m=self.depth_outlier_m,
                                   image_size=(image.shape[1], image.shape[0]))
        if self.smoothing:
            with self.timer.stage('track'):
                poses = self.smoother.update(poses, stamp_ns)
        if not self.tracking:
            poses = poses.with_ids(())
        self._frame += 1
        return poses

    def close(self) -> None:
        self.pose.close()
        if self.detector is not None:
            self.detector.close()
