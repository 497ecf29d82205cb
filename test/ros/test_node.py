"""The pose_estimator node in-process with rclpy: topics, encodings, parameters, failures."""

import os
import threading
import time

import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy', reason='needs a sourced ROS 2 (rclpy)')
pytest.importorskip('pose_bringup.msg', reason='needs pose_bringup built and sourced '
                    '(colcon build; source install/setup.bash)')

import cv2  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402

from humanpose.ros.diagnostics import level_number  # noqa: E402
from humanpose.ros.estimator_node import PoseEstimatorNode  # noqa: E402
from humanpose.ros.messages import make_header, rclpy_namespace, stamp_to_ns  # noqa: E402
from humanpose.testing.scene import PersonSpec, render_scene  # noqa: E402

FRAME_ID = 'camera_color_optical_frame'
PEOPLE = [PersonSpec((200, 250), 300), PersonSpec((460, 250), 280)]
TIMEOUT_S = 60.0


@pytest.fixture(scope='module')
def ns():
    return rclpy_namespace()


@pytest.fixture(scope='module')
def scene():
    return render_scene(640, 480, PEOPLE, seed=3)


class Harness:
    """The node under test plus a client node that feeds images and collects outputs."""

    count = 0

    def __init__(self, context, ns, node_class=PoseEstimatorNode, **params):
        Harness.count += 1
        self.ns = ns
        namespace = f'/test_{Harness.count}'
        self.node = node_class(
            context=context, namespace=namespace,
            parameter_overrides=[Parameter(k, value=v) for k, v in params.items()])
        self.client = rclpy.create_node(f'client_{Harness.count}', namespace=namespace,
                                        context=context)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self.executor.add_node(self.client)
        self.received = {'pose': [], 'markers': [], 'image': [], 'diagnostics': []}
        for key, msg_type, topic in (('pose', ns.HumanPoseArray, 'humans/pose'),
                                     ('markers', ns.MarkerArray, 'humans/markers'),
                                     ('image', ns.Image, 'humans/pose/image'),
                                     ('diagnostics', ns.DiagnosticArray, '/diagnostics')):
            self.client.create_subscription(msg_type, topic, self.received[key].append, 10)
        self.pubs = {}

    def publish(self, topic, msg_type, msg):
        if topic not in self.pubs:
            self.pubs[topic] = self.client.create_publisher(msg_type, topic, 10)
        self.pubs[topic].publish(msg)

    def spin_until(self, predicate, timeout_s=TIMEOUT_S, every=None):
        """Spin until ``predicate()``; call ``every()`` about every 0.2 s (re-publish)."""
        end = time.monotonic() + timeout_s
        last = 0.0
        while time.monotonic() < end:
            if every is not None and time.monotonic() - last > 0.2:
                every()
                last = time.monotonic()
            self.executor.spin_once(timeout_sec=0.05)
            if predicate():
                return True
        return False

    def last_status(self):
        statuses = [m.status[0] for m in self.received['diagnostics'] if m.status]
        return statuses[-1] if statuses else None

    def close(self):
        self.executor.remove_node(self.node)
        self.executor.remove_node(self.client)
        self.node.destroy_node()
        self.client.destroy_node()
        self.executor.shutdown()


def _image_msg(ns, image_bgr, stamp_ns, encoding='bgr8', pad=4):
    h, w = image_bgr.shape[:2]
    rows = image_bgr.reshape(h, -1)
    data = np.concatenate([rows, np.zeros((h, pad), np.uint8)], axis=1)
    msg = ns.Image()
    msg.header = make_header(ns, stamp_ns, FRAME_ID)
    msg.height, msg.width, msg.encoding = h, w, encoding
    msg.step = rows.shape[1] + pad
    msg.data = data.tobytes()
    return msg


def _matches_scene(msg, scene):
    """Return the largest body-keypoint error (px) of the drawn people, matched by x."""
    assert len(msg.humans) == len(scene.people)
    found = np.array([[(k.x, k.y) for k in h.keypoints] for h in msg.humans])
    found = found[np.argsort(found[:, :17, 0].mean(axis=1))]
    truth = scene.keypoints[np.argsort(scene.keypoints[:, :17, 0].mean(axis=1))]
    return np.linalg.norm(found - truth, axis=-1)[:, :17].max()


@pytest.fixture
def running(context, ns, pose_model, detector_model):
    harness = Harness(context, ns, pose_model=str(pose_model),
                      detector_model=str(detector_model), backend='onnxruntime-cpu',
                      publish_annotated_image=True)
    yield harness
    harness.close()


def test_poses_carry_the_source_header_and_the_drawn_people(running, ns, scene):
    stamp = 1_700_000_123_456_789_000
    ok = running.spin_until(lambda: running.received['pose'], every=lambda: running.publish(
        'image', ns.Image, _image_msg(ns, scene.image, stamp)))
    assert ok, 'no HumanPoseArray arrived'
    msg = running.received['pose'][0]
    assert stamp_to_ns(msg.header.stamp) == stamp and msg.header.frame_id == FRAME_ID
    assert msg.skeleton == 'coco_wholebody'
    assert _matches_scene(msg, scene) < 1.5
    assert all(len(h.keypoints) == 133 and len(h.keypoints_3d) == 0 for h in msg.humans)


def test_markers_without_3d_clear_and_annotated_image_on_request(running, ns, scene):
    stamp = 5_000_000_000
    ok = running.spin_until(lambda: running.received['image'] and running.received['markers'],
                            every=lambda: running.publish(
                                'image', ns.Image, _image_msg(ns, scene.image, stamp)))
    assert ok, 'no annotated image / markers arrived'
    markers = running.received['markers'][0].markers
    assert [m.action for m in markers] == [3]  # DELETEALL: without 3D nothing else to show
    image = running.received['image'][0]
    assert (image.encoding, image.height, image.width) == ('rgb8', 480, 640)
    assert stamp_to_ns(image.header.stamp) == stamp
    drawn = np.frombuffer(bytes(image.data), np.uint8).reshape(480, 640, 3)
    changed = np.abs(drawn.astype(int) - scene.image[..., ::-1]).sum(axis=-1) > 30
    assert changed.sum() > 500  # skeletons and boxes were drawn


def test_nobody_gives_an_empty_array(running, ns):
    empty = render_scene(640, 480, [], seed=1).image
    ok = running.spin_until(lambda: running.received['pose'], every=lambda: running.publish(
        'image', ns.Image, _image_msg(ns, empty, 7)))
    assert ok and running.received['pose'][0].humans == []


def test_unsupported_encoding_is_reported_and_skipped(running, ns, scene):
    bad = _image_msg(ns, np.zeros((4, 8, 2), np.uint8), 11, encoding='16UC1')
    ok = running.spin_until(
        lambda: (s := running.last_status()) is not None and '16UC1' in s.message,
        every=lambda: running.publish('image', ns.Image, bad))
    assert ok
    status = running.last_status()
    assert level_number(status.level) == 1 and 'yuv422_yuy2' in status.message
    assert running.received['pose'] == []  # the bad frames were skipped
    good = _image_msg(ns, scene.image, 12)
    assert running.spin_until(lambda: running.received['pose'],
                              every=lambda: running.publish('image', ns.Image, good))
    assert {stamp_to_ns(m.header.stamp) for m in running.received['pose']} == {12}


def test_thresholds_are_validated_at_run_time(running):
    node = running.node
    assert not node.set_parameters([Parameter('detection_threshold', value=1.5)])[0].successful
    result = node.set_parameters([Parameter('detection_threshold', value=0.7)])[0]
    assert result.successful and node._config.detection_threshold == 0.7
    result = node.set_parameters([Parameter('backend', value='tensorrt')])[0]
    assert not result.successful and node._config.backend == 'onnxruntime-cpu'
    result = node.set_parameters([Parameter('max_people', value=0)])[0]
    assert not result.successful


def test_missing_model_keeps_the_node_up_with_an_error(context, ns):
    harness = Harness(context, ns)
    try:
        assert harness.spin_until(lambda: len(harness.received['diagnostics']) >= 2)
        status = harness.last_status()
        assert level_number(status.level) == 2
        assert 'pose_model is not set' in status.message and 'restart' in status.message
    finally:
        harness.close()


def test_invalid_startup_parameter_is_an_error_not_a_crash(context, ns, pose_model):
    harness = Harness(context, ns, pose_model=str(pose_model), detection_threshold=5.0)
    try:
        assert harness.spin_until(lambda: harness.last_status() is not None)
        status = harness.last_status()
        assert level_number(status.level) == 2 and 'detection_threshold' in status.message
    finally:
        harness.close()


def test_compressed_input(context, ns, pose_model, detector_model, scene):
    harness = Harness(context, ns, pose_model=str(pose_model),
                      detector_model=str(detector_model), backend='onnxruntime-cpu',
                      compressed=True)
    ok, png = cv2.imencode('.png', scene.image)
    msg = ns.CompressedImage()
    msg.header = make_header(ns, 21, FRAME_ID)
    msg.format = 'png'
    msg.data = png.tobytes()
    try:
        assert harness.spin_until(lambda: harness.received['pose'], every=lambda: harness.publish(
            'image/compressed', ns.CompressedImage, msg))
        assert _matches_scene(harness.received['pose'][0], scene) < 1.5
    finally:
        harness.close()


class RecordingNode(PoseEstimatorNode):
    """Records what reaches ``_estimate`` (where the 3D stage will use depth and camera)."""

    def _estimate(self, pipeline, frame, rgb):
        self.seen = getattr(self, 'seen', []) + [frame]
        return super()._estimate(pipeline, frame, rgb)


def test_depth_and_camera_info_arrive_paired_with_the_image(context, ns, pose_model, scene):
    # Lifetime 10 frame periods, no floor: the first frame's markers get 10 x the assumed
    # 1 s period, later ones 10 x the measured one.
    harness = Harness(context, ns, RecordingNode, pose_model=str(pose_model),
                      backend='onnxruntime-cpu', use_depth=True,
                      marker_lifetime_periods=10.0, marker_lifetime_s=0.0)
    stamp = 31_000_000_000
    depth = _image_msg(ns, (scene.depth_m * 1000).astype(np.uint16).view(np.uint8)
                       .reshape(480, 640, 2), stamp, encoding='16UC1')
    info = ns.CameraInfo()
    info.header = make_header(ns, stamp, FRAME_ID)
    info.width, info.height = 640, 480
    info.k = scene.camera.k.reshape(-1).tolist()

    def publish_all():
        harness.publish('image', ns.Image, _image_msg(ns, scene.image, stamp))
        harness.publish('depth', ns.Image, depth)
        harness.publish('camera_info', ns.CameraInfo, info)

    try:
        assert harness.spin_until(lambda: harness.received['pose'], every=publish_all)
        frame = harness.node.seen[0]
        assert stamp_to_ns(frame.depth.header.stamp) == stamp
        assert frame.depth.encoding == '16UC1' and frame.camera_info.width == 640
        # The 3D stage used them: body keypoints lie on each person's drawn depth plane.
        msg = harness.received['pose'][0]
        drawn = sorted(p.depth_m for p in scene.people)
        for human in msg.humans:
            assert len(human.keypoints_3d) == len(human.keypoints)
            z = np.array([k.position.z for k in human.keypoints_3d[:17]])
            assert min(abs(np.nanmedian(z) - d) for d in drawn) < 0.02

        # The skeletons in space, published as CDR bytes, arrive as a real MarkerArray.
        def joint_markers():
            return [m for a in harness.received['markers'] for m in a.markers if m.type == 7]
        assert harness.spin_until(lambda: len(joint_markers()) >= 3, every=publish_all)
        lifetimes = [m.lifetime.sec + m.lifetime.nanosec / 1e9 for m in joint_markers()]
        assert lifetimes[0] == pytest.approx(10.0)          # no period measured yet
        # Then 10 x the measured period (whatever this machine's speed makes it).
        assert all(t > 0.0 and t != pytest.approx(10.0, rel=1e-3) for t in lifetimes[1:])
        # Cue markers (head directions) ride in the skeletons' arrays, after the DELETEALL.
        with_cues = [a.markers for a in harness.received['markers']
                     if any(m.ns.startswith('cues/') for m in a.markers)]
        assert with_cues, 'no cue markers'
        for markers in with_cues:
            assert markers[0].action == 3 and any(m.type == 7 for m in markers)
        for joints in joint_markers():
            assert joints.header.frame_id == FRAME_ID
            assert stamp_to_ns(joints.header.stamp) == stamp
            assert len(joints.colors) == len(joints.points) > 0
            assert joints.pose.orientation.w == 1.0
            z = np.array([p.z for p in joints.points])
            assert min(abs(np.median(z) - d) for d in drawn) < 0.05
    finally:
        harness.close()


def _camera_info(ns, camera, stamp, k=None):
    info = ns.CameraInfo()
    info.header = make_header(ns, stamp, FRAME_ID)
    info.width, info.height = camera.width, camera.height
    info.k = (camera.k.reshape(-1) if k is None else np.asarray(k, float)).tolist()
    return info


def test_monocular_3d_arrives_in_the_published_message(context, ns, pose3d_model):
    from humanpose.testing.scene import default_camera, person_at
    camera = default_camera(640, 480, hfov_deg=75.0)
    scene3d = render_scene(640, 480, [person_at(camera, (0.0, 0.0, 2.5))], camera=camera)
    stamp = 41_000_000_000
    image = _image_msg(ns, scene3d.image, stamp)

    def root_depth(human):
        return np.mean([human.keypoints_3d[k].position.z for k in (11, 12)])

    # With camera_info: monocular 3D placed with the real intrinsics.
    harness = Harness(context, ns, pose_model=str(pose3d_model), backend='onnxruntime-cpu',
                      use_camera_info=True)
    info = _camera_info(ns, camera, stamp)

    def publish_all():
        harness.publish('image', ns.Image, image)
        harness.publish('camera_info', ns.CameraInfo, info)

    try:
        assert harness.spin_until(lambda: harness.received['pose'], every=publish_all)
        msg = harness.received['pose'][0]
        assert not msg.intrinsics_assumed and len(msg.humans) == 1
        human = msg.humans[0]
        assert human.source_3d == ns.HumanPose.SOURCE_MONOCULAR == 2
        assert root_depth(human) == pytest.approx(2.5, rel=0.05)
        assert 0.0 <= human.residual_3d < 0.01
        # RViz gets the skeleton in space without any depth camera.
        assert harness.spin_until(lambda: any(
            m.type == 7 for a in harness.received['markers'] for m in a.markers),
            every=publish_all)
    finally:
        harness.close()

    # No camera_info at all, or an uncalibrated one: the assumed field of view, flagged.
    for params, info in (({}, None),
                         ({'use_camera_info': True}, _camera_info(ns, camera, stamp, [0] * 9))):
        harness = Harness(context, ns, pose_model=str(pose3d_model), backend='onnxruntime-cpu',
                          assumed_hfov_deg=75.0, **params)

        def publish():
            harness.publish('image', ns.Image, image)
            if info is not None:
                harness.publish('camera_info', ns.CameraInfo, info)

        try:
            assert harness.spin_until(lambda: harness.received['pose'], every=publish)
            msg = harness.received['pose'][0]
            assert msg.intrinsics_assumed and msg.humans[0].source_3d == 2
            assert root_depth(msg.humans[0]) == pytest.approx(2.5, rel=0.05)  # right guess
        finally:
            harness.close()


def test_cues_arrive_with_the_source_header_one_per_person(running, ns, scene):
    cues = []
    running.client.create_subscription(ns.HumanCuesArray, 'humans/cues', cues.append, 10)
    stamp = 1_700_000_222_333_444_000
    ok = running.spin_until(lambda: cues and running.received['pose'],
                            every=lambda: running.publish(
                                'image', ns.Image, _image_msg(ns, scene.image, stamp)))
    assert ok, 'no HumanCuesArray arrived'
    msg = cues[0]
    assert stamp_to_ns(msg.header.stamp) == stamp and msg.header.frame_id == FRAME_ID
    assert msg.intrinsics_assumed  # no camera_info subscribed: the default field of view
    poses = [m for m in running.received['pose'] if stamp_to_ns(m.header.stamp) == stamp]
    assert [h.id for h in msg.humans] == [h.id for h in poses[0].humans]
    assert len(msg.humans) == len(PEOPLE) and all(h.has_head_pose for h in msg.humans)
    assert all(np.isnan(h.distance_m) and not h.pointing_target_valid for h in msg.humans)
    # Off at run time: no more cues.
    assert running.node.set_parameters([Parameter('cues', value=False)])[0].successful
    assert not running.node.set_parameters(
        [Parameter('cues_wave_min_hz', value=5.0)])[0].successful  # above max_hz
    count = len(cues)
    later = stamp + 1_000_000_000
    assert running.spin_until(
        lambda: any(stamp_to_ns(m.header.stamp) == later for m in running.received['pose']),
        every=lambda: running.publish('image', ns.Image, _image_msg(ns, scene.image, later)))
    running.spin_until(lambda: False, timeout_s=0.5)
    assert all(stamp_to_ns(m.header.stamp) != later for m in cues[count:])


class WarningsCountingNode(PoseEstimatorNode):
    """Counts the warnings the node logs (rclpy's logger does not reach Python logging)."""

    def get_logger(self):
        logger = super().get_logger()
        node = self

        class Counting:
            def warning(self, message, *args, **kwargs):
                node.warnings = getattr(node, 'warnings', []) + [message]
                return logger.warning(message, *args, **kwargs)

            def __getattr__(self, name):
                return getattr(logger, name)

        return Counting()


def test_uncalibrated_camera_is_reported_once_and_2d_poses_go_on(
        context, ns, pose_model, scene):
    harness = Harness(context, ns, WarningsCountingNode, pose_model=str(pose_model),
                      backend='onnxruntime-cpu', use_depth=True)
    stamps = iter(range(41_000_000_000, 42_000_000_000, 50_000_000))

    def publish_all():
        stamp = next(stamps)
        depth = _image_msg(ns, (scene.depth_m * 1000).astype(np.uint16).view(np.uint8)
                           .reshape(480, 640, 2), stamp, encoding='16UC1')
        info = ns.CameraInfo()  # K all zero: an uncalibrated camera
        info.header = make_header(ns, stamp, FRAME_ID)
        info.width, info.height = 640, 480
        harness.publish('image', ns.Image, _image_msg(ns, scene.image, stamp))
        harness.publish('depth', ns.Image, depth)
        harness.publish('camera_info', ns.CameraInfo, info)

    try:
        assert harness.spin_until(lambda: len(harness.received['pose']) >= 3,
                                  every=publish_all)
        for msg in harness.received['pose']:
            assert len(msg.humans) == 1  # no detector: the whole image is one person
            assert len(msg.humans[0].keypoints) == 133
            assert len(msg.humans[0].keypoints_3d) == 0
        calibration = [w for w in getattr(harness.node, 'warnings', [])
                       if 'no calibration' in w]
        assert len(calibration) == 1 and 'reported once' in calibration[0]
    finally:
        harness.close()


class BlockingNode(PoseEstimatorNode):
    """Holds the worker inside a frame until the test lets it go (a frame in flight)."""

    def __init__(self, **kwargs):
        self.in_frame = threading.Event()
        self.release = threading.Event()
        super().__init__(**kwargs)

    def _estimate(self, pipeline, frame, rgb):
        poses = super()._estimate(pipeline, frame, rgb)
        self.in_frame.set()
        self.release.wait(TIMEOUT_S)
        return poses


def test_shutdown_with_a_frame_in_flight_is_quiet(ns, pose_model, detector_model, scene,
                                                  monkeypatch):
    """Ctrl-C shuts the context down while the worker is inside a frame (issue 18).

    The worker then must neither publish nor ask a publisher for its subscription count
    (rcl raises "publisher's context is invalid"), and must end without a traceback.
    """
    thread_errors = []
    monkeypatch.setattr(threading, 'excepthook', thread_errors.append)
    ctx = rclpy.Context()
    rclpy.init(context=ctx, domain_id=100 + (os.getpid() + 50) % 100)
    harness = Harness(ctx, ns, BlockingNode, pose_model=str(pose_model),
                      detector_model=str(detector_model), backend='onnxruntime-cpu',
                      publish_annotated_image=True)
    node = harness.node
    try:
        assert harness.spin_until(node.in_frame.is_set, every=lambda: harness.publish(
            'image', ns.Image, _image_msg(ns, scene.image, 41)))
        published_before = len(harness.received['pose'])
        rclpy.shutdown(context=ctx)          # what rclpy's SIGINT handler does
        node.release.set()
        node._worker.join(TIMEOUT_S)
        assert not node._worker.is_alive()   # the worker saw the shutdown and ended
        assert thread_errors == []
        snap = node._stats.snapshot(time.monotonic())
        assert snap.failed == 0 and snap.last_error == ''  # shutting down is not an error
        assert len(harness.received['pose']) == published_before
    finally:
        node.release.set()
        harness.close()
        rclpy.try_shutdown(context=ctx)
