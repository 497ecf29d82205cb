"""The ROS4HRI output of the pose node under real rclpy: bodies, stamps, TF, departures."""

import time

import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy', reason='needs a sourced ROS 2 (rclpy)')
pytest.importorskip('pose_bringup.msg', reason='needs pose_bringup built and sourced '
                    '(colcon build; source install/setup.bash)')
pytest.importorskip('hri_msgs.msg', reason='needs hri_msgs (ros-$ROS_DISTRO-hri-msgs)')
tf2_ros = pytest.importorskip('tf2_ros', reason='needs tf2_ros_py')

from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from rclpy.time import Time  # noqa: E402

from humanpose.ros import hri_output  # noqa: E402
from humanpose.ros.estimator_node import PoseEstimatorNode  # noqa: E402
from humanpose.ros.hri_messages import HriUnavailableError  # noqa: E402
from humanpose.ros.messages import make_header, rclpy_namespace, stamp_to_ns  # noqa: E402
from humanpose.skeletons import get_skeleton  # noqa: E402
from humanpose.testing.scene import PersonSpec, render_scene  # noqa: E402

FRAME_ID = 'camera_color_optical_frame'
PEOPLE = [PersonSpec((200, 250), 300, depth_m=2.0), PersonSpec((460, 250), 280, depth_m=3.0)]
TIMEOUT_S = 60.0
RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
#: DDS domain offset of this module's rclpy context (see conftest.py).
DOMAIN_OFFSET = 37


@pytest.fixture(scope='module')
def ns():
    return rclpy_namespace()


@pytest.fixture(scope='module')
def hri_ns():
    import hri_msgs.msg
    return hri_msgs.msg


def _image(ns, array, stamp_ns, encoding):
    msg = ns.Image()
    msg.header = make_header(ns, stamp_ns, FRAME_ID)
    msg.height, msg.width = array.shape[:2]
    msg.encoding = encoding
    msg.step = array[0].nbytes
    msg.data = array.tobytes()
    return msg


class Rig:
    """Node under test, a client node with a TF listener, and the scene's inputs."""

    count = 0

    def __init__(self, context, ns, **params):
        Rig.count += 1
        self.ns = ns
        self.prefix = f'/hri_{Rig.count}'
        self.node = PoseEstimatorNode(
            context=context, namespace=self.prefix,
            parameter_overrides=[Parameter(k, value=v) for k, v in params.items()])
        self.client = rclpy.create_node(f'hri_client_{Rig.count}', namespace=self.prefix,
                                        context=context)
        self.tf_buffer = tf2_ros.Buffer()
        self.tf_listener = tf2_ros.TransformListener(self.tf_buffer, self.client,
                                                     spin_thread=False)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self.executor.add_node(self.client)
        self.pubs = {}
        self.sent = []

    def subscribe(self, msg_type, topic):
        box = []
        self.client.create_subscription(msg_type, topic, box.append, RELIABLE)
        return box

    def publish_scene(self, scene, stamp_ns):
        self.sent.append(stamp_ns)
        info = self.ns.CameraInfo()
        info.header = make_header(self.ns, stamp_ns, FRAME_ID)
        info.width, info.height = scene.image.shape[1], scene.image.shape[0]
        info.k = scene.camera.k.reshape(-1).tolist()
        depth = (scene.depth_m * 1000).astype(np.uint16)
        for topic, msg_type, msg in (
                ('image', self.ns.Image, _image(self.ns, scene.image, stamp_ns, 'bgr8')),
                ('depth', self.ns.Image, _image(self.ns, depth, stamp_ns, '16UC1')),
                ('camera_info', self.ns.CameraInfo, info)):
            if topic not in self.pubs:
                self.pubs[topic] = self.client.create_publisher(msg_type, topic, 10)
            self.pubs[topic].publish(msg)

    def spin_until(self, predicate, every=None, timeout_s=TIMEOUT_S):
        end, last = time.monotonic() + timeout_s, 0.0
        while time.monotonic() < end:
            if every is not None and time.monotonic() - last > 0.2:
                every()
                last = time.monotonic()
            self.executor.spin_once(timeout_sec=0.05)
            if predicate():
                return True
        return False

    def close(self):
        for node in (self.node, self.client):
            self.executor.remove_node(node)
            node.destroy_node()
        self.executor.shutdown()


def _drawn_hips_m(scene):
    """(N, 3) hips' midpoint of each drawn person in the optical frame, metres."""
    names = get_skeleton('coco_wholebody').keypoint_names
    kp = scene.keypoints[:, [names.index('left_hip'), names.index('right_hip')]].mean(axis=1)
    k = scene.camera.k
    z = np.array([p.depth_m for p in scene.people])
    return np.stack([(kp[:, 0] - k[0, 2]) / k[0, 0] * z, (kp[:, 1] - k[1, 2]) / k[1, 1] * z, z],
                    axis=-1)


def test_bodies_appear_with_the_source_stamp_and_tf_then_leave(context, ns, hri_ns,
                                                               pose_model, detector_model):
    rig = Rig(context, ns, pose_model=str(pose_model), detector_model=str(detector_model),
              backend='onnxruntime-cpu', use_depth=True, hri=True)
    scene = render_scene(640, 480, PEOPLE, seed=8)
    stamps = iter(range(41_000_000_000, 99_000_000_000, 33_000_000))
    try:
        tracked = rig.subscribe(hri_ns.IdsList, 'humans/bodies/tracked')

        def ours(box):
            return [m for m in box if stamp_to_ns(m.header.stamp) in rig.sent]

        assert rig.spin_until(lambda: any(len(m.ids) == 2 for m in ours(tracked)),
                              every=lambda: rig.publish_scene(scene, next(stamps)))
        ids = sorted(next(m for m in ours(tracked) if len(m.ids) == 2).ids)
        assert all(i.startswith('b') for i in ids)
        assert tracked[-1].header.frame_id == FRAME_ID

        # Per-body topics, stamped with the source image.
        rois = {i: rig.subscribe(hri_ns.NormalizedRegionOfInterest2D,
                                 f'humans/bodies/{i}/roi') for i in ids}
        skeletons = {i: rig.subscribe(hri_ns.Skeleton2D, f'humans/bodies/{i}/skeleton2d')
                     for i in ids}
        assert rig.spin_until(lambda: all(ours(rois[i]) and ours(skeletons[i]) for i in ids),
                              every=lambda: rig.publish_scene(scene, next(stamps)))
        hips = _drawn_hips_m(scene)
        for i in ids:
            roi, skel = ours(rois[i])[-1], ours(skeletons[i])[-1]
            assert roi.header.frame_id == skel.header.frame_id == FRAME_ID
            assert 0 <= roi.xmin < roi.xmax <= 1 and 0 <= roi.ymin < roi.ymax <= 1
            assert roi.c > 0.5
            neck = skel.skeleton[hri_ns.Skeleton2D.NECK]
            assert roi.xmin < neck.x < roi.xmax and roi.ymin < neck.y < roi.ymax
            left_eye = skel.skeleton[hri_ns.Skeleton2D.LEFT_EYE]
            right_eye = skel.skeleton[hri_ns.Skeleton2D.RIGHT_EYE]
            assert left_eye.x > right_eye.x  # facing the camera: the left eye is image-right

            # TF at that very stamp: body_<id> at the drawn hips (3D from depth).
            stamp = Time(nanoseconds=stamp_to_ns(roi.header.stamp))
            got = {}

            def looked_up():
                try:
                    got['t'] = rig.tf_buffer.lookup_transform(FRAME_ID, f'body_{i}', stamp)
                    got['j'] = rig.tf_buffer.lookup_transform(f'body_{i}', f'l_wrist_{i}',
                                                              stamp)
                    return True
                except tf2_ros.TransformException:
                    return False
            assert rig.spin_until(looked_up, timeout_s=10), f'no TF body_{i} at the image stamp'
            t = got['t'].transform.translation
            error = np.linalg.norm(hips - [t.x, t.y, t.z], axis=1).min()
            assert error < 0.02, f'body_{i} is {error:.3f} m from the drawn hips'
            wrist = got['j'].transform.translation
            assert wrist.y > 0.1  # the left wrist is on the body's left (+y)

        # cropped: published while someone subscribes, the person box of the source image.
        cropped = rig.subscribe(ns.Image, f'humans/bodies/{ids[0]}/cropped')
        assert rig.spin_until(lambda: ours(cropped),
                              every=lambda: rig.publish_scene(scene, next(stamps)))
        image, roi = ours(cropped)[-1], ours(rois[ids[0]])[-1]
        assert image.encoding == 'rgb8' and image.header.frame_id == FRAME_ID
        assert abs(image.width - (roi.xmax - roi.xmin) * 640) <= 2
        assert abs(image.height - (roi.ymax - roi.ymin) * 480) <= 2
        x0, y0 = int(np.ceil(roi.xmin * 640 - 0.5)), int(np.ceil(roi.ymin * 480 - 0.5))
        rgb = np.frombuffer(bytes(image.data), np.uint8).reshape(image.height, image.width, 3)
        drawn = scene.image[y0:y0 + image.height, x0:x0 + image.width, ::-1]
        assert np.abs(rgb.astype(int) - drawn).mean() < 1.0

        # hri needs the track ids: tracking cannot be turned off under it.
        assert not rig.node.set_parameters([Parameter('tracking', value=False)])[0].successful

        # Everybody leaves: the ids drop from tracked and their topics go away.
        empty = render_scene(640, 480, [], seed=9)
        assert rig.spin_until(lambda: any(m.ids == [] for m in ours(tracked)[-3:]),
                              every=lambda: rig.publish_scene(empty, next(stamps)))
        assert rig.spin_until(lambda: all(
            rig.client.count_publishers(f'{rig.prefix}/humans/bodies/{i}/roi') == 0
            for i in ids), timeout_s=10)
    finally:
        rig.close()


def test_a_stopping_node_ends_its_bodies(context, ns, hri_ns, pose_model, detector_model):
    # Ctrl-C ends in destroy_node (run_node): consumers must see the bodies leave, not keep
    # the last list of a node that is gone.
    rig = Rig(context, ns, pose_model=str(pose_model), detector_model=str(detector_model),
              backend='onnxruntime-cpu', use_depth=True, hri=True)
    scene = render_scene(640, 480, PEOPLE, seed=8)
    stamps = iter(range(141_000_000_000, 199_000_000_000, 33_000_000))
    destroyed = False
    try:
        tracked = rig.subscribe(hri_ns.IdsList, 'humans/bodies/tracked')
        assert rig.spin_until(lambda: any(len(m.ids) == 2 for m in tracked),
                              every=lambda: rig.publish_scene(scene, next(stamps)))
        ids = sorted(next(m for m in tracked if len(m.ids) == 2).ids)
        rig.executor.remove_node(rig.node)
        before = len(tracked)
        rig.node.destroy_node()
        destroyed = True
        assert rig.spin_until(lambda: any(m.ids == [] for m in tracked[before:]), timeout_s=10)
        assert all(rig.client.count_publishers(f'{rig.prefix}/humans/bodies/{i}/roi') == 0
                   for i in ids)
    finally:
        if destroyed:
            rig.executor.remove_node(rig.client)
            rig.client.destroy_node()
            rig.executor.shutdown()
        else:
            rig.close()


def test_without_hri_msgs_the_node_runs_and_says_what_to_install(context, ns, pose_model,
                                                                 monkeypatch):
    def unavailable():
        raise HriUnavailableError('hri is on but hri_msgs.msg cannot be imported: install '
                                  'ros-$ROS_DISTRO-hri-msgs')
    monkeypatch.setattr(hri_output, 'rclpy_hri_namespace', unavailable)
    rig = Rig(context, ns, pose_model=str(pose_model), backend='onnxruntime-cpu', hri=True)
    scene = render_scene(640, 480, PEOPLE[:1], seed=2)
    try:
        poses = rig.subscribe(ns.HumanPoseArray, 'humans/pose')
        assert rig.node._hri is None
        assert 'hri-msgs' in rig.node._stats.snapshot(time.monotonic()).info['hri']
        image = _image(ns, scene.image, 5, 'bgr8')
        pub = rig.client.create_publisher(ns.Image, 'image', 10)
        assert rig.spin_until(lambda: poses, every=lambda: pub.publish(image))
    finally:
        rig.close()


def test_hri_needs_tracking(context, ns, pose_model):
    rig = Rig(context, ns, pose_model=str(pose_model), hri=True, tracking=False)
    try:
        def failed():
            snap = rig.node._stats.snapshot(time.monotonic())
            return snap.state == 'failed' and 'hri needs tracking' in snap.last_error
        assert rig.spin_until(failed, timeout_s=10)
    finally:
        rig.close()
