"""Start the pose_estimator node on a camera, optionally with RViz.

    ros2 launch pose_bringup pose.launch.py image:=/camera/color/image_raw
        pose_model:=/path/to/rtmw-m.onnx detector_model:=/path/to/rtmdet-m.onnx  (one line)

Arguments left empty take their value from ``params_file`` (default: the package's
``config/pose_estimator.yaml``); arguments given on the command line override it.
Nothing is downloaded at launch.

RViz's fixed frame is ``camera_frame`` (Z up), so people stand upright. A camera driver
(RealSense, ZED, OAK) publishes the transform from it to the optical frame; a plain webcam
does not: ``publish_camera_tf:=true`` then publishes a static one (rotation only).
"""

from __future__ import annotations

import os
from typing import Any

from launch import LaunchContext, LaunchDescription
from launch.actions import (DeclareLaunchArgument, EmitEvent, OpaqueFunction,
                            RegisterEventHandler)
from launch.conditions import IfCondition
from launch.events import matches_action
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import LifecycleNode, Node
from launch_ros.event_handlers import OnStateTransition
from launch_ros.events.lifecycle import ChangeState
from lifecycle_msgs.msg import Transition
from launch_ros.substitutions import FindPackageShare

PACKAGE = 'pose_bringup'

#: (name, default, description) of every launch argument (the README lists them).
ARGUMENTS: tuple[tuple[str, Any, str], ...] = (
    ('image', '/camera/color/image_raw', 'Colour image topic (sensor_msgs/Image); with '
     'compressed:=true the node subscribes <image>/compressed.'),
    ('camera_info', '/camera/color/camera_info',
     'CameraInfo topic of the colour camera (used with use_depth).'),
    ('depth', '/camera/aligned_depth_to_color/image_raw',
     'Depth image aligned to the colour image (16UC1 mm or 32FC1 m).'),
    ('use_depth', '', 'true: subscribe depth and camera_info synchronised with the image. '
     'Empty: the params file decides (default false).'),
    ('compressed', '', 'true: subscribe <image>/compressed (JPEG/PNG). Empty: the params file '
     'decides (default false).'),
    ('pose_model', '', 'Pose model path (ONNX or TensorRT engine), e.g. /models/rtmw-m.onnx. '
     'Empty: the params file decides.'),
    ('detector_model', '', 'Person detector path (ONNX). Empty: the params file decides (no '
     'detector: the whole image is one person).'),
    ('backend', '', 'auto, tensorrt, onnxruntime-cuda or onnxruntime-cpu. Empty: the params '
     'file decides (auto).'),
    ('params_file', PathJoinSubstitution([FindPackageShare(PACKAGE), 'config',
                                          'pose_estimator.yaml']),
     'Parameters of the node (YAML).'),
    ('namespace', '', 'Namespace of the node and its topics.'),
    ('rviz', 'false', 'true: start rviz2 with config/pose.rviz (annotated image, markers, TF) '
     'and turn on publish_annotated_image.'),
    ('log_level', 'info', 'Log level of the node: debug, info, warn, error or fatal.'),
    ('hri', '', 'true: also publish the ROS4HRI (REP-155) body topics /humans/bodies/... and '
     'TF body_<id> (needs hri_msgs). Empty: the params file decides (default false).'),
    ('lifecycle', 'false', 'true: run the managed (lifecycle) node pose_estimator_lifecycle '
     'instead of the plain one.'),
    ('autostart', 'true', 'With lifecycle:=true: configure and activate the node at launch '
     '(false: it waits unconfigured for ros2 lifecycle set).'),
    ('publish_camera_tf', 'false', 'true: publish a static transform camera_frame -> '
     'optical_frame (for cameras whose driver publishes no TF, e.g. USB webcams). Leave '
     'false when the driver or the robot publishes it: two sources of one transform clash.'),
    ('camera_frame', 'camera_link', 'Z-up frame of the camera (x forward, y left, z up): '
     "RViz's fixed frame, and the parent of the transform publish_camera_tf publishes. "
     'On a robot, e.g. base_link.'),
    ('optical_frame', 'camera_color_optical_frame', 'Optical frame of the colour camera '
     '(x right, y down, z forward): the frame_id of its images; the child of the '
     'transform publish_camera_tf publishes.'),
)

#: Rotation of a REP-103 optical frame (x right, y down, z forward) in a Z-up camera frame
#: (x forward, y left, z up), quaternion (x, y, z, w): optical z = camera x, optical x =
#: -camera y, optical y = -camera z (roll -90 deg, then yaw -90 deg).
OPTICAL_IN_CAMERA_QUATERNION = (-0.5, 0.5, -0.5, 0.5)

_TRUE = ('true', '1', 'yes', 'on')
_FALSE = ('false', '0', 'no', 'off')


def _flag(name: str, value: str) -> bool:
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ValueError(f'launch argument {name} must be true or false, got {value!r}')


def parameter_overrides(context: LaunchContext) -> dict[str, Any]:
    """Return the node parameters set by non-empty launch arguments."""
    def arg(name: str) -> str:
        return LaunchConfiguration(name).perform(context).strip()

    overrides: dict[str, Any] = {}
    for name in ('pose_model', 'detector_model'):
        if arg(name):
            overrides[name] = os.path.expanduser(arg(name))
    if arg('backend'):
        overrides['backend'] = arg('backend')
    for name in ('use_depth', 'compressed', 'hri'):
        if arg(name):
            overrides[name] = _flag(name, arg(name))
    if _flag('rviz', arg('rviz') or 'false'):
        # RViz's Image display shows the annotated image (the only skeleton view without 3D).
        overrides['publish_annotated_image'] = True
    return overrides


def _pose_estimator(context: LaunchContext) -> list[Any]:
    image = LaunchConfiguration('image')
    overrides = parameter_overrides(context)
    parameters: list[Any] = [LaunchConfiguration('params_file')]
    if overrides:
        parameters.append(overrides)
    common: dict[str, Any] = dict(
        package=PACKAGE, name='pose_estimator', namespace=LaunchConfiguration('namespace'),
        output='screen', parameters=parameters,
        remappings=[('image', image), ('image/compressed', [image, '/compressed']),
                    ('camera_info', LaunchConfiguration('camera_info')),
                    ('depth', LaunchConfiguration('depth'))],
        arguments=['--ros-args', '--log-level', LaunchConfiguration('log_level')])
    if not _flag('lifecycle', LaunchConfiguration('lifecycle').perform(context).strip()):
        return [Node(executable='pose_estimator', **common)]
    return _lifecycle_node(context, common)


def _transition(node: LifecycleNode, transition_id: int) -> EmitEvent:
    return EmitEvent(event=ChangeState(lifecycle_node_matcher=matches_action(node),
                                       transition_id=transition_id))


def _lifecycle_node(context: LaunchContext, common: dict[str, Any]) -> list[Any]:
    """Return the managed node, plus configure and activate when ``autostart`` is true."""
    node = LifecycleNode(executable='pose_estimator_lifecycle', **common)
    if not _flag('autostart', LaunchConfiguration('autostart').perform(context).strip()):
        return [node]
    # Activate once the first configure (model loading) has succeeded; a later
    # deactivate -> inactive is left alone.
    activate = RegisterEventHandler(OnStateTransition(
        target_lifecycle_node=node, start_state='configuring', goal_state='inactive',
        entities=[_transition(node, Transition.TRANSITION_ACTIVATE)]))
    return [node, activate, _transition(node, Transition.TRANSITION_CONFIGURE)]


def camera_tf_arguments(camera_frame: Any, optical_frame: Any) -> list[Any]:
    """Return tf2_ros static_transform_publisher's arguments: camera_frame -> optical_frame."""
    qx, qy, qz, qw = (str(v) for v in OPTICAL_IN_CAMERA_QUATERNION)
    return ['--qx', qx, '--qy', qy, '--qz', qz, '--qw', qw,
            '--frame-id', camera_frame, '--child-frame-id', optical_frame]


def generate_launch_description() -> LaunchDescription:
    """Return the launch description: arguments, the node, the camera TF and RViz if asked."""
    rviz_config = PathJoinSubstitution([FindPackageShare(PACKAGE), 'config', 'pose.rviz'])
    camera_frame = LaunchConfiguration('camera_frame')
    return LaunchDescription([
        *(DeclareLaunchArgument(name, default_value=default, description=description)
          for name, default, description in ARGUMENTS),
        OpaqueFunction(function=_pose_estimator),
        Node(package='tf2_ros', executable='static_transform_publisher',
             name='camera_optical_tf', namespace=LaunchConfiguration('namespace'),
             output='screen',
             arguments=camera_tf_arguments(camera_frame, LaunchConfiguration('optical_frame')),
             condition=IfCondition(LaunchConfiguration('publish_camera_tf'))),
        Node(package='rviz2', executable='rviz2', name='rviz2', output='screen',
             arguments=['-d', rviz_config, '-f', camera_frame],
             condition=IfCondition(LaunchConfiguration('rviz'))),
    ])
