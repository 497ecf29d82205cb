"""The managed (lifecycle) pose node under real rclpy: what each transition starts and ends."""

import time

import pytest

rclpy = pytest.importorskip('rclpy', reason='needs a sourced ROS 2 (rclpy)')
pytest.importorskip('pose_bringup.msg', reason='needs pose_bringup built and sourced '
                    '(colcon build; source install/setup.bash)')
pytest.importorskip('hri_msgs.msg', reason='needs hri_msgs (ros-$ROS_DISTRO-hri-msgs)')

from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.lifecycle import TransitionCallbackReturn  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402

from humanpose.ros.lifecycle_node import PoseEstimatorLifecycleNode  # noqa: E402
from humanpose.ros.messages import make_header, rclpy_namespace  # noqa: E402
from humanpose.testing.scene import PersonSpec, render_scene  # noqa: E402

SUCCESS = TransitionCallbackReturn.SUCCESS
FAILURE = TransitionCallbackReturn.FAILURE
#: DDS domain offset of this module's rclpy context (see conftest.py).
DOMAIN_OFFSET = 71


class Managed:
    count = 0

    def __init__(self, context, **params):
        Managed.count += 1
        self.prefix = f'/lc_{Managed.count}'
        self.ns = rclpy_namespace()
        self.node = PoseEstimatorLifecycleNode(
            context=context, namespace=self.prefix,
            parameter_overrides=[Parameter(k, value=v) for k, v in params.items()])
        self.client = rclpy.create_node(f'lc_client_{Managed.count}', namespace=self.prefix,
                                        context=context)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self.executor.add_node(self.client)
        self.poses = []
        self.client.create_subscription(self.ns.HumanPoseArray, 'humans/pose',
                                        self.poses.append, 10)
        self.image_pub = self.client.create_publisher(self.ns.Image, 'image', 10)
        scene = render_scene(640, 480, [PersonSpec((320, 250), 300)], seed=5)
        self.image = self.ns.Image()
        self.image.header = make_header(self.ns, 7, 'cam_optical_frame')
        self.image.height, self.image.width, self.image.encoding = 480, 640, 'bgr8'
        self.image.step = 640 * 3
        self.image.data = scene.image.tobytes()

    @property
    def state(self):
        return self.node._state_machine.current_state[1]

    def image_subscribers(self):
        return self.client.count_subscribers(f'{self.prefix}/image')

    def spin(self, seconds, until=None):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.image_pub.publish(self.image)
            self.executor.spin_once(timeout_sec=0.05)
            if until is not None and until():
                return True
        return False

    def close(self):
        for node in (self.node, self.client):
            self.executor.remove_node(node)
            node.destroy_node()
        self.executor.shutdown()


def test_transitions_load_run_pause_and_release(context, pose_model, detector_model):
    m = Managed(context, pose_model=str(pose_model), detector_model=str(detector_model),
                backend='onnxruntime-cpu', hri=True)
    try:
        assert m.state == 'unconfigured' and m.node._pipeline is None
        assert m.image_subscribers() == 0

        assert m.node.trigger_configure() == SUCCESS and m.state == 'inactive'
        pipeline = m.node._pipeline
        assert pipeline is not None and m.node._worker.is_alive()
        assert not m.spin(1.0, until=lambda: m.poses), 'inactive, yet poses were published'
        assert m.image_subscribers() == 0

        assert m.node.trigger_activate() == SUCCESS and m.state == 'active'
        assert m.spin(60, until=lambda: m.poses), 'active, but no poses'
        # (the graph learns of new and removed endpoints asynchronously)
        assert m.spin(10, until=lambda: m.image_subscribers() == 1 and m.client.count_publishers(
            f'{m.prefix}/humans/bodies/tracked') == 1)

        # Deactivate pauses: no input, no ROS4HRI output, the models stay loaded.
        assert m.node.trigger_deactivate() == SUCCESS and m.state == 'inactive'
        assert m.spin(10, until=lambda: m.image_subscribers() == 0 and m.client.count_publishers(
            f'{m.prefix}/humans/bodies/tracked') == 0)
        assert m.node._pipeline is pipeline and m.node._worker.is_alive()
        m.spin(0.5)
        m.poses.clear()
        assert not m.spin(1.0, until=lambda: m.poses)

        # Activate again resumes with the same models (no reload).
        assert m.node.trigger_activate() == SUCCESS
        assert m.spin(30, until=lambda: m.poses)
        assert m.node._pipeline is pipeline

        # Cleanup releases the backend; configure would load it again.
        assert m.node.trigger_deactivate() == SUCCESS
        assert m.node.trigger_cleanup() == SUCCESS and m.state == 'unconfigured'
        assert m.node._pipeline is None and m.node._worker is None

        # Configure again loads new models; shutdown from active releases everything.
        assert m.node.trigger_configure() == SUCCESS
        assert m.node._pipeline is not None and m.node._pipeline is not pipeline
        m.poses.clear()
        assert m.node.trigger_activate() == SUCCESS
        assert m.spin(30, until=lambda: m.poses)
        worker = m.node._worker
        assert not m.node.finished.done()
        assert m.node.trigger_shutdown() == SUCCESS and m.state == 'finalized'
        assert m.node.finished.done()
        assert not worker.is_alive() and m.node._pipeline is None
        assert m.spin(10, until=lambda: m.image_subscribers() == 0)
    finally:
        m.close()


def test_configure_fails_without_a_model_and_says_why(context):
    m = Managed(context)
    try:
        assert m.node.trigger_configure() == FAILURE
        assert m.state == 'unconfigured'
        snap = m.node._stats.snapshot(time.monotonic())
        assert snap.state == 'failed' and 'pose_model is not set' in snap.last_error
        assert m.node.trigger_shutdown() == SUCCESS and m.node.finished.done()
    finally:
        m.close()
