"""The ``pose_estimator`` as a managed (lifecycle) node.

``ros2 run pose_bringup pose_estimator_lifecycle`` or ``ros2 launch pose_bringup
pose.launch.py lifecycle:=true``. Same parameters, topics and frame path as the plain node
(:class:`~humanpose.ros.estimator_node.PoseEstimatorNode`, whose logic it reuses); the
transitions decide when the heavy parts exist:

=============  ===========================================================================
configure      the worker thread loads the models (builds TensorRT engines if needed);
               fails (back to unconfigured, error on ``/diagnostics``) if they do not load
activate       subscribes the inputs, activates the output publishers and starts the
               ROS4HRI body output: frames flow
deactivate     unsubscribes, deactivates the outputs and ends the ROS4HRI bodies; models
               and GPU memory are kept, so activate resumes at once
cleanup        stops the worker, which releases the backend (GPU memory)
shutdown       all of the above, then the process exits with code 0
=============  ===========================================================================

The outputs (``humans/pose``, markers, annotated image) are lifecycle publishers: advertised
from start-up, publishing only while the node is active. ``/diagnostics`` is published in
every state (with the lifecycle state among its values).
"""

from __future__ import annotations

from typing import Any, Optional

from rclpy.lifecycle import (LifecycleNodeMixin, LifecyclePublisher, LifecycleState,
                             TransitionCallbackReturn)
from rclpy.node import Node
from rclpy.task import Future

from humanpose.ros.estimator_node import _JOIN_TIMEOUT_S, PoseEstimatorNode
from humanpose.ros.frames import FrameSlot
from humanpose.ros.spin import run_node


class PoseEstimatorLifecycleNode(LifecycleNodeMixin, PoseEstimatorNode):  # type: ignore[misc]
    """Managed variant of the pose node: models on configure, frames while active."""

    _start_at_init = False

    def __init__(self, **kwargs: Any) -> None:
        self._managed_outputs: list[LifecyclePublisher] = []
        PoseEstimatorNode.__init__(self, **kwargs)
        LifecycleNodeMixin.__init__(self)
        for publisher in self._managed_outputs:  # activated and deactivated with the node
            self.add_managed_entity(publisher)
        #: Done when the node went through shutdown (``main`` then exits).
        self.finished = Future()
        self._stats.set_info(lifecycle='unconfigured')

    def _create_output_publisher(self, *args: Any, **kwargs: Any) -> Any:
        """Create a lifecycle publisher: it publishes only while the node is active."""
        publisher = Node.create_publisher(self, *args, publisher_class=LifecyclePublisher,
                                          **kwargs)
        self._managed_outputs.append(publisher)
        return publisher

    # --- transitions ---------------------------------------------------------------------

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Load the models in the worker thread; fail if they do not load."""
        self._slot = FrameSlot()
        self._loaded.clear()
        self._start_worker()
        self._loaded.wait()
        if self._pipeline is None:
            self._stop_worker()
            return TransitionCallbackReturn.FAILURE
        self._stats.set_info(lifecycle='inactive')
        return super().on_configure(state)

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Subscribe the inputs and start the ROS4HRI output: frames flow."""
        self._subscribe_inputs(self._config)
        self._stats.set_info(**{'image topic': self._input_topic, 'lifecycle': 'active'})
        self._hri = self._create_hri_output(self._config)
        self.get_logger().info(f'active: listening on {self._input_topic}')
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop taking frames and end the ROS4HRI bodies; the models stay loaded."""
        self._pause()
        self._stats.set_info(lifecycle='inactive')
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop the worker, which releases the backend (and its GPU memory)."""
        self._stop_worker()
        self._stats.set_info(lifecycle='unconfigured')
        return super().on_cleanup(state)

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Release everything; ``main`` exits once this returns."""
        self._pause()
        self._stop_worker()
        self._stats.set_info(lifecycle='finalized')
        if not self.finished.done():
            self.finished.set_result(True)
        return super().on_shutdown(state)

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Release everything after a failed transition; back to unconfigured."""
        self._pause()
        self._stop_worker()
        self._stats.set_info(lifecycle='unconfigured')
        return TransitionCallbackReturn.SUCCESS

    # --- helpers -------------------------------------------------------------------------

    def _pause(self) -> None:
        """Destroy the input subscriptions and the ROS4HRI output (if any)."""
        for sub in self._subscriptions_in:
            self.destroy_subscription(getattr(sub, 'sub', sub))  # message_filters wraps one
        self._subscriptions_in, self._synchronizer = [], None
        self._end_hri()

    def _stop_worker(self) -> None:
        """Stop the worker thread; it closes the pipeline (the backend) as it ends."""
        self._slot.stop()
        if self._worker is not None:
            self._worker.join(_JOIN_TIMEOUT_S)
        self._worker, self._pipeline = None, None


def main(args: Optional[list[str]] = None) -> None:
    """Run the lifecycle node until shutdown, Ctrl-C, SIGTERM or the end of ROS (exit code 0)."""
    run_node(PoseEstimatorLifecycleNode, args, until=lambda node: node.finished)


if __name__ == '__main__':
    main()
