"""launch/pose.launch.py: the arguments the README lists; with ROS, what it starts."""

import ast
import importlib.util
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
LAUNCH = ROOT / 'launch' / 'pose.launch.py'
RVIZ = ROOT / 'config' / 'pose.rviz'

#: The launch arguments of issue 5 / the README's ROS 2 section.
README_ARGUMENTS = ('image', 'camera_info', 'depth', 'use_depth', 'compressed', 'pose_model',
                    'detector_model', 'backend', 'params_file', 'namespace', 'rviz',
                    'log_level', 'hri', 'lifecycle', 'autostart')


def _argument_names_from_source():
    """Names in the ARGUMENTS table, read without importing (no ROS needed)."""
    tree = ast.parse(LAUNCH.read_text())
    for node in tree.body:
        target = getattr(node, 'target', None) or (getattr(node, 'targets', None) or [None])[0]
        if isinstance(target, ast.Name) and target.id == 'ARGUMENTS':
            return tuple(entry.elts[0].value for entry in node.value.elts)
    raise AssertionError('launch/pose.launch.py has no ARGUMENTS table')


def test_declares_the_readme_arguments_without_ros():
    assert _argument_names_from_source() == README_ARGUMENTS


def test_launch_file_never_downloads():
    text = LAUNCH.read_text()
    for word in ('http://', 'https://', 'urllib', 'requests', 'download_model', 'humanpose'):
        assert word not in text


def test_rviz_config_shows_image_markers_and_tf():
    config = yaml.safe_load(RVIZ.read_text())
    displays = {d['Class']: d for d in config['Visualization Manager']['Displays']}
    assert displays['rviz_default_plugins/Image']['Topic']['Value'] == '/humans/pose/image'
    assert displays['rviz_default_plugins/MarkerArray']['Topic']['Value'] == '/humans/markers'
    assert 'rviz_default_plugins/TF' in displays
    frame = config['Visualization Manager']['Global Options']['Fixed Frame']
    assert frame.endswith('optical_frame')


@pytest.fixture(scope='module')
def launch_module():
    pytest.importorskip('launch', reason='needs a sourced ROS 2 (launch, launch_ros)')
    pytest.importorskip('launch_ros', reason='needs a sourced ROS 2 (launch, launch_ros)')
    spec = importlib.util.spec_from_file_location('pose_launch', LAUNCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_description_declares_the_arguments(launch_module):
    from launch.actions import DeclareLaunchArgument

    description = launch_module.generate_launch_description()
    names = tuple(e.name for e in description.entities if isinstance(e, DeclareLaunchArgument))
    assert names == README_ARGUMENTS


def _context(**arguments):
    from launch import LaunchContext

    context = LaunchContext()
    defaults = {'pose_model': '', 'detector_model': '', 'backend': '', 'use_depth': '',
                'compressed': '', 'rviz': 'false', 'hri': '', 'lifecycle': 'false',
                'autostart': 'true', 'image': '/image', 'camera_info': '/info',
                'depth': '/depth', 'params_file': 'p.yaml', 'namespace': '',
                'log_level': 'info'}
    context.launch_configurations.update({**defaults, **arguments})
    return context


def test_empty_arguments_leave_the_params_file_in_charge(launch_module):
    assert launch_module.parameter_overrides(_context()) == {}


def test_given_arguments_override_the_params_file(launch_module):
    overrides = launch_module.parameter_overrides(_context(
        pose_model='~/m/rtmw.onnx', backend='onnxruntime-cpu', use_depth='true',
        compressed='False', rviz='true'))
    assert overrides['pose_model'] == str(Path.home() / 'm' / 'rtmw.onnx')
    assert overrides['backend'] == 'onnxruntime-cpu'
    assert overrides['use_depth'] is True and overrides['compressed'] is False
    assert overrides['publish_annotated_image'] is True
    with pytest.raises(ValueError, match='use_depth'):
        launch_module.parameter_overrides(_context(use_depth='maybe'))


def test_hri_argument_sets_the_parameter(launch_module):
    assert launch_module.parameter_overrides(_context(hri='true'))['hri'] is True
    assert 'hri' not in launch_module.parameter_overrides(_context())


def test_lifecycle_starts_the_managed_node_and_autostarts_it(launch_module):
    from launch.actions import EmitEvent, RegisterEventHandler
    from launch_ros.actions import LifecycleNode, Node

    plain = launch_module._pose_estimator(_context())
    assert len(plain) == 1 and not isinstance(plain[0], LifecycleNode)
    assert isinstance(plain[0], Node) and plain[0].node_executable == 'pose_estimator'

    managed = launch_module._pose_estimator(_context(lifecycle='true'))
    node, handler, configure = managed
    assert isinstance(node, LifecycleNode)
    assert node.node_executable == 'pose_estimator_lifecycle'
    assert isinstance(handler, RegisterEventHandler) and isinstance(configure, EmitEvent)
    assert configure.event.transition_id == 1  # lifecycle_msgs Transition.CONFIGURE

    waiting = launch_module._pose_estimator(_context(lifecycle='true', autostart='false'))
    assert len(waiting) == 1 and isinstance(waiting[0], LifecycleNode)
    with pytest.raises(ValueError, match='lifecycle'):
        launch_module._pose_estimator(_context(lifecycle='maybe'))
