"""launch_testing: ``pose.launch.py lifecycle:=true hri:=true`` through its transitions.

The launch file's autostart configures and activates the managed node; the test then sees
poses and ROS4HRI bodies, deactivates, cleans up and shuts the node down with the
lifecycle services (what ``ros2 lifecycle set`` calls), and checks it exits with code 0.
Run with ``colcon test --packages-select pose_bringup`` or ``launch_test`` in a sourced
workspace.
"""

from pathlib import Path
import tempfile
import time
import unittest

import pytest

rclpy = pytest.importorskip('rclpy', reason='needs a sourced ROS 2 (rclpy, launch_testing)')
launch_testing = pytest.importorskip('launch_testing',
                                     reason='needs a sourced ROS 2 (rclpy, launch_testing)')
pytest.importorskip('pose_bringup.msg', reason='needs pose_bringup built and sourced '
                    '(colcon build; source install/setup.bash)')
pytest.importorskip('hri_msgs.msg', reason='needs hri_msgs (ros-$ROS_DISTRO-hri-msgs)')
pytest.importorskip('lifecycle_msgs.srv', reason='needs lifecycle_msgs')

import launch  # noqa: E402
from launch.actions import IncludeLaunchDescription  # noqa: E402
from launch.launch_description_sources import PythonLaunchDescriptionSource  # noqa: E402
import launch_testing.actions  # noqa: E402
import launch_testing.asserts  # noqa: E402
from lifecycle_msgs.msg import Transition  # noqa: E402
from lifecycle_msgs.srv import ChangeState, GetState  # noqa: E402

from humanpose.ros.messages import make_header, rclpy_namespace  # noqa: E402
from humanpose.testing.scene import PersonSpec, render_scene  # noqa: E402

LAUNCH_FILE = Path(__file__).resolve().parents[1] / 'launch' / 'pose.launch.py'
IMAGE_TOPIC = '/lifecycle_test/camera/image_raw'
NODE = '/pose_estimator'
TIMEOUT_S = 120.0
_LAUNCHED = []


@pytest.mark.launch_test
def generate_test_description():
    _LAUNCHED.append(True)
    models = Path(tempfile.mkdtemp(prefix='humanpose-lifecycle-test-'))
    from humanpose.testing.models import analytic_detector_model, analytic_pose_model

    arguments = {'image': IMAGE_TOPIC, 'pose_model': str(analytic_pose_model(directory=models)),
                 'detector_model': str(analytic_detector_model(directory=models)),
                 'backend': 'onnxruntime-cpu', 'lifecycle': 'true', 'hri': 'true'}
    pose_launch = IncludeLaunchDescription(PythonLaunchDescriptionSource(str(LAUNCH_FILE)),
                                           launch_arguments=arguments.items())
    return launch.LaunchDescription([pose_launch, launch_testing.actions.ReadyToTest()]), {}


def _require_launch():
    if not _LAUNCHED:
        raise unittest.SkipTest('a launch test: run it with launch_test (or colcon test)')


class TestLifecycle(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        _require_launch()
        rclpy.init()
        cls.node = rclpy.create_node('lifecycle_launch_test_client')
        cls.ns = rclpy_namespace()

    @classmethod
    def tearDownClass(cls):
        cls.node.destroy_node()
        rclpy.shutdown()

    def _call(self, client, request):
        self.assertTrue(client.wait_for_service(timeout_sec=TIMEOUT_S), client.srv_name)
        future = client.call_async(request)
        rclpy.spin_until_future_complete(self.node, future, timeout_sec=TIMEOUT_S)
        self.assertTrue(future.done(), f'{client.srv_name} did not answer')
        return future.result()

    def _state(self):
        return self._call(self.get_state, GetState.Request()).current_state.label

    def _set(self, transition_id):
        request = ChangeState.Request()
        request.transition.id = transition_id
        self.assertTrue(self._call(self.change_state, request).success, transition_id)

    def _spin_publishing(self, until, seconds=TIMEOUT_S):
        end = time.monotonic() + seconds
        stamp = 1_700_000_000_000_000_000
        while time.monotonic() < end:
            stamp += 33_000_000
            self.image.header = make_header(self.ns, stamp, 'lifecycle_test_optical_frame')
            self.image_pub.publish(self.image)
            rclpy.spin_once(self.node, timeout_sec=0.1)
            if until():
                return True
        return False

    def test_autostart_then_deactivate_cleanup_shutdown(self, proc_info):
        import hri_msgs.msg

        self.get_state = self.node.create_client(GetState, f'{NODE}/get_state')
        self.change_state = self.node.create_client(ChangeState, f'{NODE}/change_state')
        poses, tracked = [], []
        self.node.create_subscription(self.ns.HumanPoseArray, '/humans/pose', poses.append, 10)
        self.node.create_subscription(hri_msgs.msg.IdsList, '/humans/bodies/tracked',
                                      tracked.append, 10)
        self.image_pub = self.node.create_publisher(self.ns.Image, IMAGE_TOPIC, 10)
        scene = render_scene(640, 480, [PersonSpec((320, 250), 300)], seed=5)
        self.image = self.ns.Image()
        self.image.height, self.image.width, self.image.encoding = 480, 640, 'bgr8'
        self.image.step = 640 * 3
        self.image.data = scene.image.tobytes()

        # autostart (the default): configure, then activate once inactive.
        end = time.monotonic() + TIMEOUT_S
        while self._state() != 'active' and time.monotonic() < end:
            time.sleep(0.2)
        self.assertEqual(self._state(), 'active')
        self.assertTrue(self._spin_publishing(lambda: poses and any(m.ids for m in tracked)),
                        'active, but no poses or no tracked bodies')

        self._set(Transition.TRANSITION_DEACTIVATE)
        self.assertEqual(self._state(), 'inactive')
        self._spin_publishing(lambda: False, seconds=0.5)
        poses.clear()
        self.assertFalse(self._spin_publishing(lambda: poses, seconds=1.5),
                         'inactive, yet poses were published')

        self._set(Transition.TRANSITION_CLEANUP)
        self.assertEqual(self._state(), 'unconfigured')
        self._set(Transition.TRANSITION_UNCONFIGURED_SHUTDOWN)
        # The node exits after shutdown: its services disappear.
        end = time.monotonic() + 30
        while self.get_state.service_is_ready() and time.monotonic() < end:
            rclpy.spin_once(self.node, timeout_sec=0.2)
        self.assertFalse(self.get_state.service_is_ready(), 'the node did not exit')
        proc_info.assertWaitForShutdown(process='pose_estimator_lifecycle', timeout=30)


@launch_testing.post_shutdown_test()
class TestShutdown(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        _require_launch()

    def test_exit_code_is_zero(self, proc_info):
        launch_testing.asserts.assertExitCodes(proc_info)
