"""launch_testing: pose.launch.py on generated models, synthetic images in, HumanPoseArray out.

Run with ``colcon test --packages-select pose_bringup`` (CMakeLists.txt registers it with
add_launch_test) or ``launch_test test/test_launch_pose.py`` in a sourced workspace.
"""

from pathlib import Path
import tempfile
import threading
import time
import unittest

import pytest

rclpy = pytest.importorskip('rclpy', reason='needs a sourced ROS 2 (rclpy, launch_testing)')
launch_testing = pytest.importorskip('launch_testing',
                                     reason='needs a sourced ROS 2 (rclpy, launch_testing)')
pytest.importorskip('pose_bringup.msg', reason='needs pose_bringup built and sourced '
                    '(colcon build; source install/setup.bash)')

import launch  # noqa: E402
from launch.actions import IncludeLaunchDescription  # noqa: E402
from launch.launch_description_sources import PythonLaunchDescriptionSource  # noqa: E402
import launch_testing.actions  # noqa: E402
import launch_testing.asserts  # noqa: E402
import numpy as np  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402

from humanpose.ros.messages import make_header, rclpy_namespace, stamp_to_ns  # noqa: E402
from humanpose.testing.scene import PersonSpec, render_scene  # noqa: E402

LAUNCH_FILE = Path(__file__).resolve().parents[1] / 'launch' / 'pose.launch.py'
IMAGE_TOPIC = '/launch_test/camera/image_raw'
FRAME_ID = 'launch_test_optical_frame'
PEOPLE = [PersonSpec((190, 250), 300), PersonSpec((450, 240), 270)]
#: Model loading plus ONNX Runtime on a slow CPU: generous, the test stops at the first hit.
TIMEOUT_S = 120.0
#: Set when launch_testing started the launch description (plain pytest never does).
_LAUNCHED = []
#: Frames keep arriving while launch shuts the node down (see TestShutdownUnderLoad).
_FEEDERS = []


@pytest.mark.launch_test
def generate_test_description():
    # Generated models (no weights, no download) in a cache of this test run.
    # (The directory is passed explicitly: the test process's environment stays as it
    # is, so tests collected after this one in the same pytest run are not affected.)
    _LAUNCHED.append(True)
    models = Path(tempfile.mkdtemp(prefix='humanpose-launch-test-'))
    from humanpose.testing.models import analytic_detector_model, analytic_pose_model

    # The annotated image on, as with rviz:=true: its publisher is asked for its
    # subscription count every frame, also the frame in flight at shutdown (issue 18).
    params = models / 'params.yaml'
    params.write_text('/**:\n  ros__parameters:\n    publish_annotated_image: true\n')
    arguments = {'image': IMAGE_TOPIC, 'pose_model': str(analytic_pose_model(directory=models)),
                 'detector_model': str(analytic_detector_model(directory=models)),
                 'backend': 'onnxruntime-cpu', 'rviz': 'false', 'params_file': str(params)}
    pose_launch = IncludeLaunchDescription(PythonLaunchDescriptionSource(str(LAUNCH_FILE)),
                                           launch_arguments=arguments.items())
    return launch.LaunchDescription([pose_launch, launch_testing.actions.ReadyToTest()]), {}


def _require_launch():
    if not _LAUNCHED:
        raise unittest.SkipTest('a launch test: run it with launch_test (or colcon test); '
                                'plain pytest without the launch_testing plugin does not start '
                                'the node')


def _image_msg(ns, image_bgr, stamp_ns):
    msg = ns.Image()
    msg.header = make_header(ns, stamp_ns, FRAME_ID)
    msg.height, msg.width = image_bgr.shape[:2]
    msg.encoding, msg.step = 'bgr8', image_bgr.shape[1] * 3
    msg.data = image_bgr.tobytes()
    return msg


class TestPosesArrive(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        _require_launch()
        rclpy.init()
        cls.node = rclpy.create_node('pose_launch_test_client')
        cls.ns = rclpy_namespace()

    @classmethod
    def tearDownClass(cls):
        cls.node.destroy_node()
        rclpy.shutdown()

    def _publish_until(self, image_bgr, first_stamp_ns, wanted):
        """Publish ``image_bgr`` with new stamps until ``wanted`` poses arrived."""
        arrived, stamps = [], []
        sub = self.node.create_subscription(self.ns.HumanPoseArray, '/humans/pose',
                                            arrived.append, 10)
        pub = self.node.create_publisher(self.ns.Image, IMAGE_TOPIC, 10)

        def ours():  # answers to the images of this test (not late ones of another)
            sent = set(stamps)
            return [m for m in arrived if stamp_to_ns(m.header.stamp) in sent]

        try:
            end = time.monotonic() + TIMEOUT_S
            while time.monotonic() < end and len(ours()) < wanted:
                stamps.append(first_stamp_ns + len(stamps) * 33_000_000)
                pub.publish(_image_msg(self.ns, image_bgr, stamps[-1]))
                rclpy.spin_once(self.node, timeout_sec=0.1)
        finally:
            self.node.destroy_subscription(sub)
            self.node.destroy_publisher(pub)
        return ours(), stamps

    def test_poses_have_the_source_stamp_and_the_drawn_people(self):
        scene = render_scene(640, 480, PEOPLE, seed=5)
        received, stamps = self._publish_until(scene.image, 1_700_000_000_000_000_000, 3)
        self.assertGreaterEqual(len(received), 3, 'fewer than 3 HumanPoseArray messages')
        truth = scene.keypoints[np.argsort(scene.keypoints[:, :17, 0].mean(axis=1))]
        for msg in received:
            self.assertIn(stamp_to_ns(msg.header.stamp), stamps)
            self.assertEqual(msg.header.frame_id, FRAME_ID)
            self.assertEqual(len(msg.humans), 2)
            found = np.array([[(k.x, k.y) for k in h.keypoints] for h in msg.humans])
            found = found[np.argsort(found[:, :17, 0].mean(axis=1))]
            error = np.linalg.norm(found - truth, axis=-1)[:, :17].max()
            self.assertLess(error, 1.5, f'body keypoints {error:.2f} px off the drawn ones')

    def test_nobody_gives_empty_arrays(self):
        empty = render_scene(640, 480, [], seed=6).image
        received, stamps = self._publish_until(empty, 1_800_000_000_000_000_000, 1)
        self.assertTrue(received)
        self.assertIn(stamp_to_ns(received[0].header.stamp), stamps)
        self.assertEqual(len(received[0].humans), 0)


class Feeder(threading.Thread):
    """Publishes the scene at about 10 Hz from its own context until stopped."""

    def __init__(self, image_bgr, first_stamp_ns):
        super().__init__(name='image_feeder', daemon=True)
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node('pose_launch_test_feeder', context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.ns = rclpy_namespace()
        self.image, self.first_stamp_ns = image_bgr, first_stamp_ns
        self.stamps, self.answered = [], []
        self.stop = threading.Event()
        self.last_publish_s = 0.0

    def run(self):
        pub = self.node.create_publisher(self.ns.Image, IMAGE_TOPIC, 10)
        self.node.create_subscription(self.ns.HumanPoseArray, '/humans/pose',
                                      lambda m: self.answered.append(stamp_to_ns(m.header.stamp)),
                                      10)
        while not self.stop.is_set():
            self.stamps.append(self.first_stamp_ns + len(self.stamps) * 100_000_000)
            pub.publish(_image_msg(self.ns, self.image, self.stamps[-1]))
            self.last_publish_s = time.monotonic()
            self.executor.spin_once(timeout_sec=0.1)

    def close(self):
        self.stop.set()
        self.join(5.0)
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


class TestShutdownUnderLoad(unittest.TestCase):
    """Leaves frames arriving, so launch's SIGINT comes while the node is busy.

    (Runs after TestPosesArrive: unittest orders the classes by name.)
    """

    def setUp(self):
        _require_launch()

    def test_frames_are_processed_when_shutdown_comes(self):
        scene = render_scene(640, 480, PEOPLE, seed=7)
        feeder = Feeder(scene.image, 1_900_000_000_000_000_000)
        _FEEDERS.append(feeder)
        feeder.start()
        end = time.monotonic() + TIMEOUT_S
        while time.monotonic() < end and len(set(feeder.answered) & set(feeder.stamps)) < 5:
            time.sleep(0.1)
        self.assertGreaterEqual(len(set(feeder.answered) & set(feeder.stamps)), 5,
                                'the node did not answer the fed frames')
        # The feeder keeps publishing: launch shuts the node down under load.


@launch_testing.post_shutdown_test()
class TestShutdown(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        _require_launch()

    @classmethod
    def tearDownClass(cls):
        for feeder in _FEEDERS:
            feeder.close()

    def test_exit_code_is_zero(self, proc_info):
        launch_testing.asserts.assertExitCodes(proc_info)

    def test_no_traceback_while_frames_kept_arriving(self, proc_output):
        self.assertTrue(_FEEDERS, 'TestShutdownUnderLoad did not run')
        feeder = _FEEDERS[0]
        # Frames were still arriving through the shutdown (the feeder is still at it).
        self.assertLess(time.monotonic() - feeder.last_publish_s, 1.0)
        text = b''.join(bytes(output.text) for output in proc_output)
        self.assertNotIn(b'Traceback', text)
        self.assertNotIn(b'context is invalid', text)
