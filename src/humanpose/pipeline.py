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
from dataclasses import replace
import math
from os import PathLike
from pathlib import Path
import threading
import time
from typing import Any, Iterator, Optional, Union

import numpy as np
from numpy.typing import NDArray

from humanpose.backends.base import (BackendOptions, InferenceBackend, create_backend,
                                     run_batched)
from humanpose.cues import CueConfig, CueEstimator, Cues
from humanpose.decode import check_head_outputs, decode_pose
from humanpose.detect import PersonDetector
from humanpose.errors import (ClosedError, HumanPoseError, InferenceError, InvalidInputError,
                              ModelLoadError)
from humanpose.filters import PoseSmoother, SmootherConfig
from humanpose.pose3d import DEFAULT_HFOV_DEG, poses_with_3d, REFERENCE_HEIGHT_M, resolve_source
from humanpose.models.card import ModelCard, resolve_card
from humanpose.preprocess import (CropBatcher, check_box_scores, check_boxes, check_color,
                                  check_image, crop_to_image, whole_image_box)
from humanpose.skeletons import get_skeleton
from humanpose.track import (DetectorScheduler, Tracker, TrackerConfig, boxes_from_keypoints,
                             suppress_duplicates)
from humanpose.types import CameraModel, Detections, Poses

F32 = NDArray[np.float32]

#: Stages timed by :class:`Pipeline` (seconds of the last call in ``timings``).
STAGES = ('detect', 'crop', 'infer', 'decode', 'track', 'lift3d', 'cues')


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


def model_path(model: object, what: str) -> Path:
    """Return ``model`` as a Path, or raise a clear error for None and non-paths.

    :raises InvalidInputError: ``model`` is not a str or os.PathLike (e.g. None).
    """
    if isinstance(model, bool) or not isinstance(model, (str, PathLike)):
        raise InvalidInputError(f'{what} must be a model file path (str or Path), got '
                                f'{model!r}; pass e.g. "rtmw-m.onnx"')
    return Path(model)


def run_model(backend: InferenceBackend, run: Any, model: Path, count: int) -> Any:
    """Call ``run()`` (a backend call) and turn a runtime failure into :class:`InferenceError`.

    The runtimes (ONNX Runtime, TensorRT) raise their own exception types; a model that
    fails while running is named with the batch it failed on.
    """
    try:
        return run()
    except HumanPoseError:
        raise
    except Exception as err:
        detail = ' '.join(str(err).split())[:300]
        raise InferenceError(
            f'{model.name} failed while running on {backend.name} ({count} input(s)): '
            f'{type(err).__name__}: {detail}. Check that the model file is complete and that '
            'its card matches it') from err


def check_count(value: object, name: str, low: int = 1) -> int:
    """Return ``value`` if it is an integer >= ``low``, else raise InvalidInputError."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise InvalidInputError(f'{name} must be an integer >= {low}, got {value!r}')
    return int(value)


def check_fraction(value: object, name: str) -> float:
    """Return ``value`` if it is a number in [0, 1], else raise InvalidInputError."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or not (
            math.isfinite(value) and 0.0 <= value <= 1.0):
        raise InvalidInputError(f'{name} must be a number in [0, 1], got {value!r}')
    return float(value)


class PoseEstimator:
    """A top-down pose network: people boxes in, keypoints in image pixels out.

    Thread-safe: calls from several threads (ROS executors, web servers) run one at a
    time (the crop buffer and the backend are shared). Calls after :meth:`close` raise
    :class:`~humanpose.errors.ClosedError`.

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
        self.model_path = model_path(model, 'the pose model')
        self._lock = threading.Lock()
        self._closed = False
        if backend_instance is None and not self.model_path.is_file():
            raise ModelLoadError(f'pose model not found: {self.model_path}; pass the path of an '
                                 'ONNX file, or see `humanpose models list`')
        self.backend = backend_instance or create_backend(self.model_path, backend, options)
        if not self.backend.inputs:
            raise ModelLoadError(f'{self.model_path.name} has no inputs')
        outputs = {o.name: o.shape for o in self.backend.outputs}
        self.card: ModelCard = resolve_card(self.model_path, card, self.backend.inputs[0].shape,
                                            outputs, 'pose')
        check_head_outputs(self.card.head, outputs, self.card.input_size)
        self.skeleton = get_skeleton(str(self.card.skeleton))
        self.input_name = self.backend.inputs[0].name
        self.timer = StageTimer()
        self._batcher = CropBatcher(self.card.input_size, self.card.mean, self.card.std,
                                    network_rgb=self.card.color == 'rgb',
                                    padding=self.card.padding)

    @property
    def backend_name(self) -> str:
        return self.backend.name

    @property
    def predicts_depth(self) -> bool:
        """The network predicts root-relative depth per keypoint (a 3D head, RTMW3D)."""
        return self.card.head_type == 'simcc3d'

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
        color = check_color(color)
        checked = check_boxes(whole_image_box(image.shape) if boxes is None else boxes,
                              image.shape)
        scores = check_box_scores(box_scores, len(checked))
        return self.estimate_checked(image, checked, scores, color)

    def _check_open(self) -> None:
        if self._closed:
            raise ClosedError(f'this PoseEstimator ({self.model_path.name}) was closed; create '
                              'a new one')

    def estimate_checked(self, image: NDArray[np.uint8], boxes: F32, box_scores: F32,
                         color: str = 'bgr') -> Poses:
        """:meth:`estimate` for an already validated image, boxes and colour order."""
        with self._lock:
            self._check_open()
            return self._estimate_locked(image, boxes, box_scores, color)

    def _estimate_locked(self, image: NDArray[np.uint8], boxes: F32, box_scores: F32,
                         color: str) -> Poses:
        k = self.skeleton.num_keypoints
        if len(boxes) == 0:
            return Poses.empty(self.skeleton.name, k)
        with self.timer.stage('crop'):
            batch, centers, scales = self._batcher(image, boxes, color)
        with self.timer.stage('infer'):
            outputs = run_model(self.backend, lambda: run_batched(
                self.backend, self.input_name, batch), self.model_path, len(batch))
        with self.timer.stage('decode'):
            decoded = decode_pose(
                {k: np.asarray(v, np.float32) for k, v in outputs.items()}, self.card.head,
                self.card.input_size)
            keypoints = crop_to_image(decoded.keypoints, centers, scales, self.card.input_size)
        return Poses(keypoints=keypoints, confidence=decoded.confidence, scores=decoded.scores,
                     boxes=boxes.astype(np.float32), box_scores=box_scores.astype(np.float32),
                     skeleton=self.skeleton.name, relative_depth=decoded.relative_depth,
                     relative_depth_confidence=decoded.relative_depth_confidence)

    def close(self) -> None:
        """Release the backend; later calls raise ClosedError (closing twice is fine)."""
        with self._lock:
            if not self._closed:
                self._closed = True
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
    :param pose3d_source: where 3D comes from (:mod:`humanpose.pose3d`): ``auto`` (fused
        with a 3D network and depth, monocular with a 3D network alone, depth with a 2D
        network and depth), ``none``, ``depth``, ``monocular`` or ``fused``.
    :param body_height_m: monocular 3D: height of the reference adult whose torso size
        places people in depth.
    :param fusion_tolerance_m: fused 3D: a keypoint keeps its depth reading within this of
        the predicted body, else takes the prediction.
    :param assumed_hfov_deg: monocular 3D without a camera model: the horizontal field of
        view assumed (results flagged ``intrinsics_assumed``).
    :raises InvalidInputError: ``monocular`` / ``fused`` with a 2D network, or an unknown
        ``pose3d_source``.
    :param cues: also estimate the HRI cues (head pose, attention, pointing, hands,
        waving, engagement) of every person: True or a :class:`~humanpose.cues.CueConfig`;
        each call's cues are in :attr:`last_cues`. The tracker then runs internally so
        that waving and engagement have track ids.

    Thread-safe: calls from several threads run one at a time (tracker, smoother and
    networks keep per-run state). Calls after :meth:`close` raise ClosedError.
    """

    def __init__(self, pose: Union[str, Path, PoseEstimator],
                 detector: Union[None, str, Path, PersonDetector] = None, *,
                 pose_card: Any = None, detector_card: Any = None, backend: str = 'auto',
                 options: Optional[BackendOptions] = None, detect_every: int = 1,
                 score_threshold: float = 0.5, iou_threshold: float = 0.65,
                 max_people: int = 20, tracking: bool = False, smoothing: bool = False,
                 tracker: Optional[TrackerConfig] = None,
                 smoother: Optional[SmootherConfig] = None, depth_window: int = 5,
                 depth_outlier_m: Optional[float] = None, rectified: bool = False,
                 pose3d_source: str = 'auto', body_height_m: float = REFERENCE_HEIGHT_M,
                 fusion_tolerance_m: float = 0.15,
                 assumed_hfov_deg: float = DEFAULT_HFOV_DEG,
                 cues: Union[bool, CueConfig] = False) -> None:
        check_count(detect_every, 'detect_every')
        check_count(max_people, 'max_people')
        check_fraction(score_threshold, 'score_threshold')
        check_fraction(iou_threshold, 'iou_threshold')
        self._lock = threading.RLock()
        self._closed = False
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
        resolve_source(pose3d_source, self.pose.predicts_depth, False)  # a clear error now
        self.pose3d_source = pose3d_source
        self.body_height_m = body_height_m
        self.fusion_tolerance_m = fusion_tolerance_m
        self.assumed_hfov_deg = assumed_hfov_deg
        self.timer = self.pose.timer
        # One tracker for the whole run (its id counter must never restart); it also
        # carries people between detector runs, so it runs whenever detect_every > 1.
        self.tracker = Tracker(tracker)
        self.smoother = PoseSmoother(smoother)
        self.scheduler = DetectorScheduler(detect_every)
        self.detector_runs = 0
        self._frame = 0
        self.cue_estimator: Optional[CueEstimator] = None
        if cues:
            self.cue_estimator = CueEstimator(
                self.pose.skeleton.name, cues if isinstance(cues, CueConfig)
                else CueConfig(default_hfov_deg=assumed_hfov_deg))
        #: The cues of the last call (None without ``cues``).
        self.last_cues: Optional[Cues] = None

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
        return (self.tracking or self.smoothing or self.detect_every > 1
                or self.cue_estimator is not None)

    def set_thresholds(self, score_threshold: Optional[float] = None,
                       iou_threshold: Optional[float] = None,
                       max_people: Optional[int] = None) -> None:
        """Change detection thresholds at run time.

        :raises InvalidInputError: a threshold outside [0, 1] or max_people < 1.
        """
        if score_threshold is not None:
            check_fraction(score_threshold, 'score_threshold')
        if iou_threshold is not None:
            check_fraction(iou_threshold, 'iou_threshold')
        if max_people is not None:
            check_count(max_people, 'max_people')
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
        check_count(every, 'detect_every')
        self.scheduler = DetectorScheduler(every)

    def _people_boxes(self, image: NDArray[np.uint8], stamp_ns: int, color: str) -> Detections:
        h, w = image.shape[:2]
        if self.detector is None:
            return Detections(whole_image_box(image.shape), np.ones(1, np.float32))
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
        :param camera: camera model of the colour image (needed with ``depth``; without
            it, monocular 3D assumes ``assumed_hfov_deg`` and flags the results).
        :param depth_encoding: encoding of ``depth`` (None = from its dtype).
        :return: poses in image pixels (+ ids, + 3D from the source ``pose3d_source``
            selects, with ``source_3d`` and ``residual_3d`` per person).
        :raises InvalidInputError: bad image, colour order, boxes, scores or depth.
        :raises ClosedError: the pipeline was closed.
        """
        with self._lock:
            if self._closed:
                raise ClosedError('this Pipeline was closed; create a new one')
            return self._call_locked(image, boxes, color, stamp_ns, box_scores, depth, camera,
                                     depth_encoding)

    def _call_locked(self, image: NDArray[np.uint8], boxes: Optional[NDArray[np.generic]],
                     color: str, stamp_ns: Optional[int],
                     box_scores: Optional[NDArray[np.generic]],
                     depth: Optional[NDArray[np.generic]], camera: Optional[CameraModel],
                     depth_encoding: Optional[str]) -> Poses:
        self.timer.reset()
        image = check_image(image)
        color = check_color(color)
        if stamp_ns is None:
            stamp_ns = self._frame * 1_000_000_000 // 30
        if boxes is not None:
            checked = check_boxes(boxes, image.shape)
            people = Detections(checked, check_box_scores(box_scores, len(checked)))
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
        if depth is not None or poses.relative_depth is not None:
            with self.timer.stage('lift3d'):
                poses = poses_with_3d(
                    poses, self.pose3d_source, camera=camera, depth=depth,
                    depth_encoding=depth_encoding, image_size=(image.shape[1], image.shape[0]),
                    rectified=self.rectified, window=self.depth_window,
                    outlier_m=self.depth_outlier_m, tolerance_m=self.fusion_tolerance_m,
                    body_height_m=self.body_height_m, hfov_deg=self.assumed_hfov_deg)
        if self.smoothing:
            with self.timer.stage('track'):
                poses = self.smoother.update(poses, stamp_ns)
        if self.cue_estimator is not None:
            with self.timer.stage('cues'):
                self.last_cues = self._cues(poses, stamp_ns, camera, image.shape)
        if not self.tracking:
            poses = poses.with_ids(())
        self._frame += 1
        return poses

    def _cues(self, poses: Poses, stamp_ns: int, camera: Optional[CameraModel],
              image_shape: tuple[int, ...]) -> Cues:
        """Return the cues of one frame's poses (track ids internal without tracking)."""
        assert self.cue_estimator is not None
        self.cue_estimator.forget(self.tracker.deleted_this_frame)
        cues = self.cue_estimator(poses, stamp_ns, camera=camera,
                                  image_size=(image_shape[1], image_shape[0]),
                                  rectified=self.rectified)
        return cues if self.tracking else replace(cues, ids=())

    def close(self) -> None:
        """Release both networks; later calls raise ClosedError (closing twice is fine)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self.pose.close()
            if self.detector is not None:
                self.detector.close()
