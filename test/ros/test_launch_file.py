"""launch/pose.launch.py: the arguments the README lists; with ROS, what it starts."""

import ast
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
LAUNCH = ROOT / 'launch' / 'pose.launch.py'
RVIZ = ROOT / 'config' / 'pose.rviz'

#: The launch arguments of issue 5 / the README's ROS 2 section.
README_ARGUMENTS = ('image', 'camera_info', 'depth', 'use_depth', 'compressed', 'pose_model',
                    'detector_model', 'backend', 'params_file', 'namespace', 'rviz',
                    'log_level', 'hri', 'lifecycle', 'autostart', 'publish_camera_tf',
                    'camera_frame', 'optical_frame')


def _assigned_in_source(name):
    """The value node assigned to ``name`` at module level, read without importing."""
    tree = ast.parse(LAUNCH.read_text())
    for node in tree.body:
        target = getattr(node, 'target', None) or (getattr(node, 'targets', None) or [None])[0]
        if isinstance(target, ast.Name) and target.id == name:
            return node.value
    raise AssertionError(f'launch/pose.launch.py has no {name}')


def _argument_names_from_source():
    """Names in the ARGUMENTS table, read without importing (no ROS needed)."""
    return tuple(entry.elts[0].value for entry in _assigned_in_source('ARGUMENTS').elts)


def test_declares_the_readme_arguments_without_ros():
    assert _argument_names_from_source() == README_ARGUMENTS


def _rotation(quaternion):
    """(x, y, z, w) unit quaternion -> 3x3 rotation matrix."""
    x, y, z, w = quaternion
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def test_static_camera_tf_maps_the_z_up_camera_frame_to_the_optical_frame():
    """REP-103: optical z = camera x (forward), optical x = -camera y, optical y = -camera z."""
    quaternion = ast.literal_eval(_assigned_in_source('OPTICAL_IN_CAMERA_QUATERNION'))
    assert np.linalg.norm(quaternion) == pytest.approx(1.0)
    rotation = _rotation(quaternion)  # columns: the optical axes in the camera frame
    np.testing.assert_allclose(rotation[:, 2], [1, 0, 0], atol=1e-12)   # forward
    np.testing.assert_allclose(rotation[:, 0], [0, -1, 0], atol=1e-12)  # right
    np.testing.assert_allclose(rotation[:, 1], [0, 0, -1], atol=1e-12)  # down
    # A point 2 m in front of the camera and 0.5 m above its axis (a head): optical
    # (0, -0.5, 2) is camera (2, 0, 0.5), i.e. up is up in a Z-up fixed frame.
    np.testing.assert_allclose(rotation @ [0.0, -0.5, 2.0], [2.0, 0.0, 0.5], atol=1e-12)


def test_launch_file_never_downloads():
    text = LAUNCH.read_text()
    for word in ('http://', 'https://', 'urllib', 'requests', 'download_model', 'humanpose'):
        assert word not in text


def _rviz():
    return yaml.safe_load(RVIZ.read_text())


def test_rviz_config_shows_image_markers_and_tf():
    config = _rviz()
    displays = {d['Class']: d for d in config['Visualization Manager']['Displays']}
    assert displays['rviz_default_plugins/Image']['Topic']['Value'] == '/humans/pose/image'
    assert displays['rviz_default_plugins/MarkerArray']['Topic']['Value'] == '/humans/markers'
    assert 'rviz_default_plugins/TF' in displays


def test_rviz_fixed_frame_is_the_z_up_camera_frame_of_the_launch_file():
    config = _rviz()
    frame = config['Visualization Manager']['Global Options']['Fixed Frame']
    defaults = {entry.elts[0].value: entry.elts[1] for entry in
                _assigned_in_source('ARGUMENTS').elts}
    assert frame == defaults['camera_frame'].value == 'camera_link'
    grid = next(d for d in config['Visualization Manager']['Displays']
                if d['Class'] == 'rviz_default_plugins/Grid')
    assert grid['Plane'] == 'XY' and grid['Offset']['Z'] < 0  # a floor below the camera


def _orbit_eye(view):
    """Eye position of RViz's orbit view (fixed frame), as OrbitViewController places it."""
    focal = np.array([view['Focal Point'][k] for k in 'XYZ'], float)
    yaw, pitch, distance = view['Yaw'], view['Pitch'], view['Distance']
    return focal + distance * np.array([np.cos(yaw) * np.cos(pitch),
                                        np.sin(yaw) * np.cos(pitch), np.sin(pitch)])


def test_rviz_view_looks_at_the_people_from_behind_and_above_the_camera():
    """Camera at the origin looking along +x, people 2-3 m ahead: they stand upright."""
    view = _rviz()['Visualization Manager']['Views']['Current']
    assert view['Class'] == 'rviz_default_plugins/Orbit'
    assert view['Target Frame'] == '<Fixed Frame>'
    assert view['Invert Z Axis'] is False                  # up on screen is +z: upright
    focal = np.array([view['Focal Point'][k] for k in 'XYZ'], float)
    assert 2.0 <= focal[0] <= 3.0 and abs(focal[1]) < 0.5  # among the people
    eye = _orbit_eye(view)
    assert eye[0] < 0                                       # behind the camera
    assert 1.0 < eye[2] < 3.0                               # above head height, not below
    gaze = (focal - eye) / np.linalg.norm(focal - eye)
    assert gaze[0] > 0.8                                    # looking forward, as the camera
    assert -0.5 < gaze[2] < 0                               # slightly down


def _dock_sizes(state_hex):
    """Docks of a QMainWindow state: {object name: size along its dock area, px}.

    Qt's QDockAreaLayout format: a widget item is the marker byte 0xfb, its object name
    (uint32 byte length + UTF-16BE), a flags byte, then int32 position and size.
    """
    state = bytes.fromhex(state_hex)
    sizes, i = {}, 0
    while (i := state.find(b'\xfb', i)) >= 0:
        length = int.from_bytes(state[i + 1:i + 5], 'big')
        if 0 < length < 200 and length % 2 == 0 and i + 5 + length + 9 <= len(state):
            name = state[i + 5:i + 5 + length].decode('utf-16-be', errors='replace')
            at = i + 5 + length + 1
            sizes[name] = int.from_bytes(state[at + 4:at + 8], 'big', signed=True)
        i += 1
    return sizes


def test_rviz_layout_gives_the_annotated_image_a_real_panel():
    config = _rviz()
    image = next(d for d in config['Visualization Manager']['Displays']
                 if d['Class'] == 'rviz_default_plugins/Image')
    geometry = config['Window Geometry']
    assert geometry[image['Name']]['collapsed'] is False
    sizes = _dock_sizes(geometry['QMainWindow State'])
    # The dock is found by the display's name: renaming the display loses the layout.
    assert sizes.get(image['Name'], 0) >= 400, sizes     # panel height, px (was ~150)
    left_area = bytes.fromhex(geometry['QMainWindow State'])
    width = int.from_bytes(left_area[17:21], 'big')       # the left dock area's width
    assert 500 <= width <= geometry['Width'] // 2, width   # wide image, 3D view still larger


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


def _nodes(launch_module, package):
    from launch_ros.actions import Node

    description = launch_module.generate_launch_description()
    return [e for e in description.entities
            if isinstance(e, Node) and e.node_package == package]


def _performed(context, items):
    from launch.utilities import perform_substitutions, normalize_to_list_of_substitutions

    return [perform_substitutions(context, normalize_to_list_of_substitutions(item))
            for item in items]


def test_static_camera_tf_only_when_asked(launch_module):
    (tf_node,) = _nodes(launch_module, 'tf2_ros')
    assert tf_node.node_executable == 'static_transform_publisher'
    context = _context(publish_camera_tf='false', camera_frame='camera_link',
                       optical_frame='camera_color_optical_frame', namespace='')
    assert not tf_node.condition.evaluate(context)         # drivers publish their own
    context.launch_configurations['publish_camera_tf'] = 'true'
    assert tf_node.condition.evaluate(context)
    # static_transform_publisher's named arguments (Humble and later): rotation only.
    arguments = _performed(context, launch_module.camera_tf_arguments(
        'camera_link', 'camera_color_optical_frame'))
    assert arguments == ['--qx', '-0.5', '--qy', '0.5', '--qz', '-0.5', '--qw', '0.5',
                         '--frame-id', 'camera_link',
                         '--child-frame-id', 'camera_color_optical_frame']


def test_rviz_gets_the_camera_frame_as_fixed_frame(launch_module):
    (rviz,) = _nodes(launch_module, 'rviz2')
    context = _context(rviz='true', camera_frame='base_link')
    context.launch_configurations['camera_frame'] = 'base_link'
    arguments = _performed(context, rviz._Node__arguments)  # as given to the Node action
    assert arguments[arguments.index('-f') + 1] == 'base_link'
    assert arguments[arguments.index('-d') + 1].endswith('pose.rviz')
