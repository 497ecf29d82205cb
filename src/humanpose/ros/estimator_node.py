"""The ``pose_estimator`` ROS 2 node: camera images in, HumanPoseArray and markers out.

Run it with ``ros2 run pose_bringup pose_estimator`` or ``ros2 launch pose_bringup
pose.launch.py``. The node turns parameters into a :class:`~humanpose.ros.params.NodeConfig`,
images into arrays, calls the core :class:`~humanpose.pipeline.Pipeline`, turns the results
into messages and publishes them; nothing else.

Latency rule: frames are never queued. Input subscriptions keep depth 1, the callback only
stores the newest frame in a :class:`FrameSlot`, and one worker thread (which creates the
pipeline, so the inference backend and its CUDA context live in that thread) takes the
newest frame, processes it and publishes. Frames replaced before the worker took them are
counted as dropped on ``/diagnostics``.
"""

from __future__ import annotations

import copy
from pathlib import Path
import threading
import time
import traceback
from typing import Any, Optional

import numpy as np
from numpy.typing import NDArray
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, qos_profile_sensor_data, ReliabilityPolicy
from rclpy.qos_overriding_options import QoSOverridingOptions
from rcl_interfaces.msg import (FloatingPointRange, IntegerRange, ParameterDescriptor,
                                ParameterType, SetParametersResult)

from humanpose.backends.base import BackendOptions
from humanpose.cues import CueEstimator
from humanpose.errors import (HumanPoseError, InvalidInputError, ModelLoadError,
                              UnsupportedEncodingError)
from humanpose.pipeline import Pipeline
from humanpose.pose3d import check_intrinsics
from humanpose.ros import diagnostics
from humanpose.lift3d import camera_from_info
from humanpose.ros.cdr import encode_pose_array
from humanpose.ros.cue_markers import cue_marker_specs
from humanpose.ros.cue_cdr import encode_cues_array
from humanpose.ros.cue_messages import CUES_TOPIC
from humanpose.ros.frames import Frame, FrameSlot
from humanpose.ros.hri_messages import HriUnavailableError
from humanpose.ros.hri_output import HriOutput
from humanpose.ros.images import (compressed_to_rgb, depth_image_to_array, image_to_rgb,
                                  rgb_to_image_msg)
from humanpose.ros.marker_timing import FramePeriod, marker_lifetime_s
from humanpose.ros.markers import MarkerBuilder
from humanpose.ros.messages import (MessageNamespace, make_header,
                                    rclpy_namespace, stamp_to_ns)
from humanpose.ros.params import (NodeConfig, PARAMETERS, PARAMETERS_BY_NAME, ParamSpec,
                                  config_from_values, cue_config, pose3d_options,
                                  read_only_changes,
                                  smoother_config, tracker_config)
from humanpose.ros.spin import run_node
from humanpose.types import CameraModel, Poses
from humanpose.viz import draw_poses

NODE_NAME = 'pose_estimator'

#: ROS parameter type of each Python type of the parameter table.
_ROS_TYPES = {bool: ParameterType.PARAMETER_BOOL, int: ParameterType.PARAMETER_INTEGER,
              float: ParameterType.PARAMETER_DOUBLE, str: ParameterType.PARAMETER_STRING}

#: Seconds the worker waits for a frame before it checks whether to stop.
_TAKE_TIMEOUT_S = 0.1
#: Seconds ``destroy_node`` waits for the worker to finish its frame.
_JOIN_TIMEOUT_S = 5.0
#: Seconds between two log lines about the same kind of per-frame error.
_THROTTLE_S = 10.0


def parameter_descriptor(spec: ParamSpec) -> ParameterDescriptor:
    """Return the rclpy descriptor of one row of the parameter table."""
    descriptor = ParameterDescriptor(
        name=spec.name, type=_ROS_TYPES[spec.type], description=spec.description,
        read_only=spec.read_only)
    if spec.choices is not None:
        descriptor.additional_constraints = spec.constraints
    if spec.min_value is not None and spec.max_value is not None:
        if spec.type is float:
            descriptor.floating_point_range = [FloatingPointRange(
                from_value=float(spec.min_value), to_value=float(spec.max_value), step=0.0)]
        elif spec.type is int:
            descriptor.integer_range = [IntegerRange(
                from_value=int(spec.min_value), to_value=int(spec.max_value), step=1)]
    return descriptor


class PoseEstimatorNode(Node):  # type: ignore[misc,unused-ignore]  # rclpy untyped here
    """Whole-body pose of every person in a camera stream.

    Subscribes ``image`` (or ``image/compressed``), optionally ``depth`` and
    ``camera_info`` synchronised with it; publishes ``humans/pose``, ``humans/cues``
    (parameter ``cues``), ``humans/markers``, ``humans/pose/image`` (off by default) and
    ``/diagnostics``.
    """

    #: Subscribe and load the models in the constructor (False: the lifecycle node's
    #: transitions do it, see :mod:`humanpose.ros.lifecycle_node`).
    _start_at_init = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(NODE_NAME, **kwargs)
        self._ns: MessageNamespace = rclpy_namespace()
        self._stats = diagnostics.PipelineStats()
        self._slot = FrameSlot()
        self._reported: set[str] = set()
        self._camera_key: Optional[tuple[Any, ...]] = None
        self._camera_model: Optional[CameraModel] = None
        self._last_log: dict[str, float] = {}
        self._frame_period = FramePeriod()
        self._config, problems = self._declare_parameters()
        self.add_on_set_parameters_callback(self._on_set_parameters)

        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        overrides = QoSOverridingOptions.with_default_policies()
        self._pose_pub = self._create_output_publisher(
            self._ns.HumanPoseArray, 'humans/pose', reliable, qos_overriding_options=overrides)
        self._marker_pub = self._create_output_publisher(
            self._ns.MarkerArray, 'humans/markers', reliable, qos_overriding_options=overrides)
        self._cues_pub = self._create_output_publisher(
            self._ns.HumanCuesArray, CUES_TOPIC, reliable, qos_overriding_options=overrides)
        self._image_pub = self._create_output_publisher(
            self._ns.Image, 'humans/pose/image',
            QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE),
            qos_overriding_options=overrides)
        self._diag_pub = self.create_publisher(self._ns.DiagnosticArray, '/diagnostics', 10)
        self._subscriptions_in: list[Any] = []
        self._synchronizer: Any = None
        self._input_topic = ''
        self._hri: Optional[HriOutput] = None
        self._pipeline: Optional[Pipeline] = None
        self._worker: Optional[threading.Thread] = None
        #: Set by the worker once it loaded the models or failed to (lifecycle configure).
        self._loaded = threading.Event()
        self._problems = problems
        if self._start_at_init:  # the lifecycle variant does this in its transitions
            self._subscribe_inputs(self._config)
            self._stats.set_info(**{'image topic': self._input_topic})
            self._hri = self._create_hri_output(self._config)
            self._start_worker()
        self._diag_timer = self.create_timer(self._config.diagnostics_period_s,
                                             self._publish_diagnostics)

    def _create_output_publisher(self, *args: Any, **kwargs: Any) -> Any:
        """Create a publisher of an output (the lifecycle node makes managed ones)."""
        return self.create_publisher(*args, **kwargs)

    # --- parameters ----------------------------------------------------------------------

    def _declare_parameters(self) -> tuple[NodeConfig, list[str]]:
        """Declare every parameter of the table; return the config and any problems.

        A value rclpy rejects (wrong type, out of range) is replaced by its default and
        reported, so the node stays up and says what is wrong instead of crash-looping.
        """
        values: dict[str, Any] = {}
        problems: list[str] = []
        for spec in PARAMETERS:
            try:
                param = self.declare_parameter(spec.name, spec.default,
                                               parameter_descriptor(spec))
            except Exception as err:  # rclpy's InvalidParameter{Type,Value}Exception
                problems.append(f'{spec.name}: {err}')
                param = self.declare_parameter(spec.name, spec.default,
                                               parameter_descriptor(spec), ignore_override=True)
            values[spec.name] = param.value
        try:
            return config_from_values(values), problems
        except HumanPoseError as err:
            return config_from_values({}), problems + [str(err)]

    def _on_set_parameters(self, params: list[Parameter]) -> SetParametersResult:
        """Validate run-time changes of our parameters and apply them atomically."""
        ours = {p.name: p.value for p in params if p.name in PARAMETERS_BY_NAME}
        if not ours:
            return SetParametersResult(successful=True)
        fixed = read_only_changes(ours)
        if fixed:
            return SetParametersResult(
                successful=False,
                reason=f'{", ".join(fixed)} cannot change at run time; restart the node')
        try:
            self._config = config_from_values(ours, base=self._config)
        except HumanPoseError as err:
            return SetParametersResult(successful=False, reason=str(err))
        return SetParametersResult(successful=True)

    # --- inputs --------------------------------------------------------------------------

    def _subscribe_inputs(self, config: NodeConfig) -> None:
        """Create the image subscription, synchronised with depth / camera_info if asked."""
        sensor_qos = copy.copy(qos_profile_sensor_data)
        sensor_qos.depth = 1
        overrides = QoSOverridingOptions.with_default_policies()
        image_type = self._ns.CompressedImage if config.compressed else self._ns.Image
        image_topic = 'image/compressed' if config.compressed else 'image'
        if not config.synchronised_inputs:
            sub = self.create_subscription(image_type, image_topic, self._on_image, sensor_qos,
                                           qos_overriding_options=overrides)
            self._subscriptions_in = [sub]
            self._input_topic = sub.topic_name
            return
        import message_filters

        types = {'depth': self._ns.Image, 'camera_info': self._ns.CameraInfo}
        filters = [message_filters.Subscriber(self, image_type, image_topic,
                                              qos_profile=sensor_qos,
                                              qos_overriding_options=overrides)]
        filters += [message_filters.Subscriber(self, types[name], name, qos_profile=sensor_qos,
                                               qos_overriding_options=overrides)
                    for name in config.synchronised_inputs]
        self._synchronizer = message_filters.ApproximateTimeSynchronizer(
            filters, config.sync_queue_size, config.sync_slop_s)
        self._synchronizer.registerCallback(self._on_synchronised)
        self._subscriptions_in = filters
        self._input_topic = filters[0].sub.topic_name

    def _on_image(self, msg: Any) -> None:
        self._store(Frame(msg, self._config.compressed, None, None, time.monotonic()))

    def _on_synchronised(self, image: Any, *others: Any) -> None:
        paired = dict(zip(self._config.synchronised_inputs, others))
        self._store(Frame(image, self._config.compressed, paired.get('depth'),
                          paired.get('camera_info'), time.monotonic()))

    def _store(self, frame: Frame) -> None:
        """Keep only the newest frame; count the one it replaces as dropped."""
        self._stats.image_received(frame.received_s)
        if self._worker is None or not self._worker.is_alive():
            return
        if self._slot.put(frame):
            self._stats.frames_dropped()

    # --- the worker: owns the pipeline (and the backend's CUDA context) -------------------

    def _start_worker(self) -> None:
        """Start the worker thread (it loads the models), unless the parameters are invalid."""
        if self._problems:
            self._fail('invalid parameters: ' + '; '.join(self._problems) + '. Fix them in '
                       'the params file or on the command line and restart the node.')
            self._loaded.set()
            return
        self._worker = threading.Thread(target=self._run_worker, name='pose_worker',
                                        daemon=True)
        self._worker.start()

    def _load_pipeline(self, config: NodeConfig) -> Pipeline:
        """Create the pipeline from the read-only model parameters.

        :raises HumanPoseError: missing or unusable model, unavailable backend.
        """
        if not config.pose_model:
            raise ModelLoadError(
                'pose_model is not set. Give the path of a pose model (ONNX), e.g. '
                'ros2 launch pose_bringup pose.launch.py pose_model:=/path/to/rtmw-m.onnx, '
                'or set pose_model in the params file')
        options = BackendOptions(
            device_id=config.device, precision=config.precision,
            cache_dir=Path(config.engine_cache_dir).expanduser()
            if config.engine_cache_dir else None)
        return Pipeline(
            Path(config.pose_model).expanduser(),
            Path(config.detector_model).expanduser() if config.detector_model else None,
            pose_card=config.pose_card or None, detector_card=config.detector_card or None,
            backend=config.backend, options=options, detect_every=config.detect_every,
            score_threshold=config.detection_threshold,
            iou_threshold=config.nms_iou_threshold, max_people=config.max_people,
            tracking=config.tracking, smoothing=config.smoothing,
            tracker=tracker_config(config), smoother=smoother_config(config),
            depth_window=config.depth_window,
            depth_outlier_m=config.depth_outlier_m or None, rectified=config.image_rectified,
            **pose3d_options(config), cues=cue_config(config) if config.cues else False)

    def _run_worker(self) -> None:
        """Load the models, then process the newest frame until the node stops."""
        config = self._config
        try:
            pipeline = self._load_pipeline(config)
        except Exception as err:  # also unexpected ones: the node must stay up
            detail = str(err) if isinstance(err, HumanPoseError) else \
                f'{type(err).__name__}: {err}\n{traceback.format_exc()}'
            self._fail(f'cannot load the models: {detail}. Model parameters are read-only: '
                       'fix them and restart the node.')
            self._loaded.set()
            return
        self._pipeline = pipeline
        self._loaded.set()
        markers = MarkerBuilder(pipeline.skeleton, config.keypoint_threshold,
                                config.marker_lifetime_s)
        info = {'backend': pipeline.pose.backend_name,
                'pose model': f'{pipeline.pose.card.name} ({config.pose_model})',
                'detector model': config.detector_model or 'none (whole image)',
                'skeleton': pipeline.skeleton,
                '3d source': f'{config.pose3d_source} ('
                             f'{"3D" if pipeline.pose.predicts_depth else "2D"} pose network)'}
        self._stats.set_running(info)
        self.get_logger().info(
            f'ready: {info["pose model"]} on {info["backend"]}, detector '
            f'{info["detector model"]}; listening on '
            f'{self._input_topic or "nothing until activated (lifecycle)"}')
        applied = config
        try:
            # Also stop when the context is shut down (Ctrl-C / launch's SIGINT shuts it
            # down before destroy_node stops the slot): nothing can be published then.
            while not self._slot.stopped and self.context.ok():
                frame = self._slot.take(_TAKE_TIMEOUT_S)
                if frame is None:
                    continue
                config = self._config
                if config is not applied:
                    self._apply_runtime(pipeline, markers, config)
                    applied = config
                self._process(pipeline, markers, frame, config)
        finally:
            pipeline.close()

    @staticmethod
    def _apply_runtime(pipeline: Pipeline, markers: MarkerBuilder, config: NodeConfig) -> None:
        """Apply the run-time parameters to the worker's objects (in the worker thread)."""
        pipeline.set_thresholds(score_threshold=config.detection_threshold,
                                iou_threshold=config.nms_iou_threshold,
                                max_people=config.max_people)
        if config.detect_every != pipeline.detect_every:
            pipeline.set_detect_every(config.detect_every)
        pipeline.tracking, pipeline.smoothing = config.tracking, config.smoothing
        pipeline.depth_window = config.depth_window
        pipeline.depth_outlier_m = config.depth_outlier_m or None
        for name, value in pose3d_options(config).items():
            setattr(pipeline, name, value)
        if tracker_config(config) != pipeline.tracker.config:
            pipeline.tracker.reconfigure(tracker_config(config))  # ids are kept
        if smoother_config(config) != pipeline.smoother.config:
            pipeline.smoother.reconfigure(smoother_config(config))
        markers.threshold = config.keypoint_threshold
        PoseEstimatorNode._apply_cue_parameters(pipeline, config)

    @staticmethod
    def _apply_cue_parameters(pipeline: Pipeline, config: NodeConfig) -> None:
        """Turn the cues on or off and apply their thresholds (the track memory is kept)."""
        if not config.cues:
            pipeline.cue_estimator = None
        elif pipeline.cue_estimator is None:
            pipeline.cue_estimator = CueEstimator(pipeline.skeleton, cue_config(config))
        elif cue_config(config) != pipeline.cue_estimator.config:
            pipeline.cue_estimator.reconfigure(cue_config(config))

    def _estimate(self, pipeline: Pipeline, frame: Frame, rgb: NDArray[np.uint8]) -> Poses:
        """Return the poses of one frame: the place where a frame's inputs meet the core.

        The colour image with its stamp (tracking and smoothing run on image time), plus
        the synchronised depth and camera model for 3D when ``use_depth`` is on.

        :param pipeline: the worker's pipeline.
        :param frame: the frame with its paired inputs.
        :param rgb: (H, W, 3) uint8 RGB of ``frame.image``.
        """
        stamp_ns = stamp_to_ns(frame.image.header.stamp)
        if frame.camera_info is None:
            # Monocular 3D and head poses without camera_info assume a field of view (flagged).
            return pipeline(rgb, color='rgb', stamp_ns=stamp_ns)
        if frame.depth is None:
            # Monocular 3D and the cues' head poses use the intrinsics.
            return pipeline(rgb, color='rgb', stamp_ns=stamp_ns,
                            camera=self._camera_or_assumed(frame.camera_info))
        try:
            camera = self._camera(frame.camera_info)
        except InvalidInputError as err:  # uncalibrated: no 3D from depth, 2D goes on
            self._frame_warning(f'{err} No 3D from depth until camera_info carries a '
                                'calibration (reported once).', key='camera_info')
            return pipeline(rgb, color='rgb', stamp_ns=stamp_ns)
        depth, encoding = depth_image_to_array(frame.depth)
        return pipeline(rgb, color='rgb', stamp_ns=stamp_ns, depth=depth,
                        camera=camera, depth_encoding=encoding)

    def _camera_or_assumed(self, info: Any) -> Optional[CameraModel]:
        """Return the camera of ``info``, or None (assumed intrinsics, flagged) if unusable.

        Without depth only monocular 3D needs the camera; an uncalibrated camera_info
        (zero or singular K) then falls back to the default field of view, which the
        published HumanPoseArray flags (intrinsics_assumed), and is logged once.
        """
        try:
            camera = self._camera(info)
            check_intrinsics(camera, self._config.image_rectified)
            return camera
        except InvalidInputError as err:
            self._frame_warning(f'{err} Monocular 3D assumes a {self._config.assumed_hfov_deg:g} '
                                'degree field of view meanwhile (intrinsics_assumed: true).',
                                key='camera_info')
            return None

    def _frame_warning(self, message: str, key: str) -> None:
        """Log ``message`` once per ``key``; the frame is still processed."""
        if key not in self._reported:
            self._reported.add(key)
            self.get_logger().warning(message)

    def _camera(self, info: Any) -> CameraModel:
        """Return the camera model of a CameraInfo, rebuilt only when the calibration changes."""
        key = (tuple(info.k), tuple(info.d), tuple(info.p), int(info.width), int(info.height),
               str(info.distortion_model), int(info.binning_x), int(info.binning_y))
        if key != self._camera_key:
            self._camera_key, self._camera_model = key, camera_from_info(info)
        assert self._camera_model is not None
        return self._camera_model

    def _process(self, pipeline: Pipeline, markers: MarkerBuilder, frame: Frame,
                 config: NodeConfig) -> None:
        """Convert, estimate and publish one frame; errors skip the frame, not the node."""
        try:
            rgb = compressed_to_rgb(frame.image) if frame.compressed else \
                image_to_rgb(frame.image)
            poses = self._estimate(pipeline, frame, rgb)
        except UnsupportedEncodingError as err:
            kind = getattr(frame.image, 'encoding', None) or getattr(frame.image, 'format', '')
            self._frame_error(str(err), key=f'encoding:{kind}', once=True)
            return
        except HumanPoseError as err:
            self._frame_error(str(err), key=type(err).__name__)
            return
        except Exception as err:  # a bug or a runtime failure: report, keep the node up
            self._frame_error(f'{type(err).__name__}: {err}', key='unexpected',
                              detail=traceback.format_exc())
            return
        try:
            published = self._publish_results(pipeline, markers, frame, rgb, poses, config)
        except Exception as err:  # never let the worker die on one frame's outputs
            if not self._can_publish():
                return  # shutting down while publishing: the frame's outputs are moot
            self._frame_error(f'cannot publish the results: {type(err).__name__}: {err}',
                              key='publish', detail=traceback.format_exc())
            return
        if published:
            latency_s = (self.get_clock().now().nanoseconds -
                         stamp_to_ns(frame.image.header.stamp)) / 1e9
            self._stats.frame_published(time.monotonic(), latency_s, len(poses),
                                        pipeline.timings)

    def _can_publish(self) -> bool:
        """Return whether outputs may be published: the node is not stopping."""
        return not self._slot.stopped and self.context.ok()

    def _publish_results(self, pipeline: Pipeline, markers: MarkerBuilder, frame: Frame,
                         rgb: NDArray[np.uint8], poses: Poses, config: NodeConfig) -> bool:
        """Publish the poses, cues, markers and annotated image of one frame.

        :return: False when the node is stopping (or its context is shut down) and nothing
            was published: after shutdown the publishers must not be touched (rcl raises).
        """
        if not self._can_publish():
            return False
        source = frame.image.header
        header = make_header(self._ns, stamp_to_ns(source.stamp),
                             config.frame_id or source.frame_id)
        # CDR bytes straight from the arrays: the same messages as poses_to_msg,
        # cues_to_msg and MarkerBuilder.build make, without thousands of per-keypoint
        # objects (rclpy publishes bytes as they are).
        self._pose_pub.publish(encode_pose_array(
            poses, header.stamp.sec, header.stamp.nanosec, header.frame_id))
        cues = pipeline.last_cues if pipeline.cue_estimator is not None else None
        if cues is not None:
            self._cues_pub.publish(encode_cues_array(
                cues, header.stamp.sec, header.stamp.nanosec, header.frame_id))
        # Markers outlast the gap to the next frame at any rate (see marker_timing).
        markers.lifetime_s = marker_lifetime_s(self._frame_period.tick(time.monotonic()),
                                               config.marker_lifetime_periods,
                                               config.marker_lifetime_s)
        if config.publish_markers:
            # The cue markers (cues/<label>) ride in the skeletons' array: its one DELETEALL
            # replaces the whole frame and RViz never shows skeletons without their cues.
            extra = cue_marker_specs(cues, markers.lifetime_s) if cues is not None else ()
            marker_bytes = markers.encode(poses, header.stamp.sec, header.stamp.nanosec,
                                          header.frame_id, extra)
            if marker_bytes is not None:
                self._marker_pub.publish(marker_bytes)
        hri = self._hri  # the lifecycle node may end it meanwhile
        if hri is not None:
            self._publish_hri(hri, poses, header, rgb, config)
        if config.publish_annotated_image and self._image_pub.get_subscription_count() > 0:
            drawn = draw_poses(rgb, poses, config.keypoint_threshold, color='rgb')
            self._image_pub.publish(rgb_to_image_msg(drawn, self._ns, header))
        return True

    # --- ROS4HRI output (hri: true) -------------------------------------------------------

    def _create_hri_output(self, config: NodeConfig) -> Optional[HriOutput]:
        """Return the ROS4HRI output if ``hri`` is on and hri_msgs is there, else None.

        Without hri_msgs the node runs on and says in one line what to install.
        """
        if not config.hri:
            return None
        try:
            return HriOutput(self, cropped=config.hri_cropped)
        except HriUnavailableError as err:
            self.get_logger().error(f'{err}; the other outputs run without it')
            self._stats.set_info(hri=str(err))
            return None

    def _publish_hri(self, hri: HriOutput, poses: Poses, header: Any, rgb: NDArray[np.uint8],
                     config: NodeConfig) -> None:
        """Publish the ROS4HRI topics and TF of one frame; a failure skips only them."""
        hri.cropped = config.hri_cropped
        try:
            hri.publish(poses, (header.stamp.sec, header.stamp.nanosec), header.frame_id,
                        rgb, (rgb.shape[1], rgb.shape[0]))
        except Exception as err:  # a bug or a runtime failure: report, keep the node up
            if not self._can_publish():
                return  # the context went down meanwhile (Ctrl-C): not an error
            self._frame_error(f'ROS4HRI output: {type(err).__name__}: {err}', key='hri',
                              detail=traceback.format_exc())

    # --- errors and diagnostics ----------------------------------------------------------

    def _fail(self, message: str) -> None:
        """Report that the node cannot process frames; it stays up and says so on diagnostics."""
        self._stats.set_failed(time.monotonic(), message)
        self.get_logger().error(message)

    def _frame_error(self, message: str, key: str, once: bool = False,
                     detail: str = '') -> None:
        """Count a skipped frame; log ``message`` once per ``key`` or throttled."""
        now = time.monotonic()
        self._stats.frame_failed(now, message)
        if once:
            if key in self._reported:
                return
            self._reported.add(key)
        elif now - self._last_log.get(key, -_THROTTLE_S) < _THROTTLE_S:
            return
        self._last_log[key] = now
        suffix = '' if once else f' (frames with this error are skipped; repeated at most ' \
            f'every {_THROTTLE_S:.0f} s)'
        self.get_logger().error(f'{message}{suffix}' + (f'\n{detail}' if detail else ''))

    def _publish_diagnostics(self) -> None:
        snap = self._stats.snapshot(time.monotonic())
        config = self._config
        hardware = f'{snap.info.get("backend", config.backend)} device {config.device}'
        self._diag_pub.publish(diagnostics.diagnostic_array(
            snap, self._ns, self.get_clock().now().nanoseconds, hardware_id=hardware))

    def destroy_node(self) -> None:
        """Stop the worker, end the ROS4HRI bodies, then destroy the node.

        The worker finishes its frame and releases the backend as it ends.
        """
        self._slot.stop()
        if self._worker is not None:
            self._worker.join(_JOIN_TIMEOUT_S)
        self._end_hri()
        super().destroy_node()

    def _end_hri(self) -> None:
        """End the ROS4HRI bodies (an empty ``tracked`` list) and destroy their publishers.

        Consumers (pyhri, hri_person_manager) then see everyone leave instead of keeping the
        last bodies of a node that stopped. Skipped once the context is shut down (nothing
        can be published then).
        """
        hri, self._hri = self._hri, None
        if hri is not None and self.context.ok():
            now = self.get_clock().now().nanoseconds
            hri.clear(divmod(now, 1_000_000_000))
            hri.destroy()


def main(args: Optional[list[str]] = None) -> None:
    """Run the node until Ctrl-C, SIGTERM or shutdown (exit code 0 in each case)."""
    run_node(PoseEstimatorNode, args)


if __name__ == '__main__':
    main()
