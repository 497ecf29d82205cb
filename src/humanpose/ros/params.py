"""Parameters of the ``pose_estimator`` node as data, and their validation (pure, no ROS).

:data:`PARAMETERS` is the one place where a parameter's name, type, default, range and
meaning live. The node declares each with a descriptor built from it, the tests check
``config/pose_estimator.yaml`` against it, and :func:`config_from_values` turns a set of
values into a validated, frozen :class:`NodeConfig` (one field per parameter, same name).

Read-only parameters (models, backend, inputs) are fixed for the life of the node; the
others (thresholds, display, publish flags) can be changed at run time with
``ros2 param set`` and are validated the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Mapping, Optional, Union, cast

from humanpose.cues import CueConfig, PointingConfig, WaveConfig
from humanpose.errors import InvalidInputError
from humanpose.filters import SmootherConfig
from humanpose.ros.marker_timing import DEFAULT_FLOOR_S, DEFAULT_PERIODS
from humanpose.track import TrackerConfig

Value = Union[bool, int, float, str]

#: ROS name of the type of each parameter type.
ROS_TYPE_NAMES: dict[type, str] = {bool: 'bool', int: 'integer', float: 'double', str: 'string'}


@dataclass(frozen=True)
class ParamSpec:
    """One node parameter.

    :param name: parameter name (also the :class:`NodeConfig` field).
    :param type: ``bool``, ``int``, ``float`` (ROS double) or ``str``.
    :param default: value when neither the YAML file nor the command line set it.
    :param description: what it does, with its unit; shown by ``ros2 param describe``.
    :param read_only: fixed after start-up (a restart is needed to change it).
    :param min_value: inclusive lower bound (numbers), or None.
    :param max_value: inclusive upper bound (numbers), or None.
    :param choices: the allowed values (strings), or None for any.
    :param group: section of the parameter table (docs and YAML layout).
    """

    name: str
    type: type
    default: Value
    description: str
    read_only: bool = False
    min_value: Optional[float] = None
    max_value: Optional[float] = None
    choices: Optional[tuple[str, ...]] = None
    group: str = ''

    @property
    def constraints(self) -> str:
        """Return the range or the choices in words ('' when unconstrained)."""
        if self.choices is not None:
            return 'one of: ' + ', '.join(self.choices)
        if self.min_value is not None and self.max_value is not None:
            return f'[{self.min_value:g}, {self.max_value:g}]'
        return ''


def _p(name: str, type_: type, default: Value, description: str, **kw: Any) -> ParamSpec:
    return ParamSpec(name, type_, default, description, **kw)


_MODEL = dict(read_only=True, group='model')
_INPUT = dict(read_only=True, group='input')

#: The parameter table. Add a parameter here and a field of the same name to NodeConfig.
PARAMETERS: tuple[ParamSpec, ...] = (
    # Models and backend: read-only, a restart applies a change.
    _p('pose_model', str, '',
       'Pose model (ONNX, or a TensorRT engine) path, e.g. /models/rtmw-m.onnx. Required; '
       'nothing is downloaded at start-up.', **_MODEL),
    _p('pose_card', str, '',
       'Model card of the pose model: built-in name or YAML path. Empty = the card '
       'embedded in the ONNX, a sidecar <model>.yaml, or inferred from its shapes.', **_MODEL),
    _p('detector_model', str, '',
       'Person detector (ONNX) path. Empty = no detector: the whole image is one person.',
       **_MODEL),
    _p('detector_card', str, '', 'Model card of the detector (like pose_card).', **_MODEL),
    _p('backend', str, 'auto',
       'Inference backend: auto (TensorRT > ONNX Runtime CUDA > CPU), tensorrt, '
       'onnxruntime-cuda or onnxruntime-cpu.', **_MODEL),
    _p('device', int, 0, 'CUDA device index.', min_value=0, max_value=63, **_MODEL),
    _p('precision', str, 'fp16', 'TensorRT engine precision (other backends ignore it).',
       choices=('fp32', 'fp16'), **_MODEL),
    _p('engine_cache_dir', str, '',
       'Directory of built TensorRT engines. Empty = $HUMANPOSE_HOME/engines '
       '(~/.cache/humanpose/engines).', **_MODEL),
    # Inputs: read-only.
    _p('compressed', bool, False,
       'Subscribe image/compressed (sensor_msgs/CompressedImage, JPEG or PNG) instead of '
       'image (sensor_msgs/Image).', **_INPUT),
    _p('use_camera_info', bool, False,
       'Subscribe camera_info, synchronised with the colour image.', **_INPUT),
    _p('use_depth', bool, False,
       'Subscribe depth (aligned to the colour image; 16UC1 mm or 32FC1 m) and '
       'camera_info, synchronised with the colour image.', **_INPUT),
    _p('sync_slop_s', float, 0.05,
       'Largest stamp difference, seconds, between a colour image and the depth / '
       'camera_info it is paired with.', min_value=0.001, max_value=1.0, **_INPUT),
    _p('sync_queue_size', int, 5,
       'Messages per input the approximate-time synchroniser holds to find pairs.',
       min_value=1, max_value=100, **_INPUT),
    # Detection: settable at run time.
    _p('max_people', int, 20, 'At most this many people per image (highest scores first).',
       min_value=1, max_value=100, group='detection'),
    _p('detection_threshold', float, 0.5, 'Minimum person score of the detector.',
       min_value=0.0, max_value=1.0, group='detection'),
    _p('nms_iou_threshold', float, 0.65, 'IoU above which the detector merges two boxes.',
       min_value=0.0, max_value=1.0, group='detection'),
    _p('detect_every', int, 1,
       'Run the detector on one image in N; in between, boxes follow the previous '
       'keypoints.', min_value=1, max_value=300, group='detection'),
    # Output and display: settable at run time.
    _p('keypoint_threshold', float, 0.3,
       'Keypoints below this confidence are not drawn (markers, annotated image); the '
       'HumanPoseArray always carries every keypoint with its confidence.',
       min_value=0.0, max_value=1.0, group='output'),
    _p('marker_lifetime_s', float, DEFAULT_FLOOR_S,
       'Shortest marker lifetime, seconds. Each frame replaces all markers; the lifetime, '
       'max(this, marker_lifetime_periods x the measured frame period), only removes them '
       'when frames stop (node stopped, camera stalled). Both 0 = forever.',
       min_value=0.0, max_value=10.0, group='output'),
    _p('marker_lifetime_periods', float, DEFAULT_PERIODS,
       'Marker lifetime in measured frame periods (median of the last 15), so markers never '
       'blink however slow the frames come; 0 = marker_lifetime_s alone.',
       min_value=0.0, max_value=100.0, group='output'),
    _p('publish_markers', bool, True, 'Publish humans/markers (visualization_msgs/MarkerArray).',
       group='output'),
    _p('publish_annotated_image', bool, False,
       'Publish humans/pose/image: the input image with the skeletons drawn (costs CPU).',
       group='output'),
    _p('frame_id', str, '',
       'frame_id written into the outputs. Empty = the frame_id of the source image.',
       group='output'),
    _p('diagnostics_period_s', float, 1.0, 'Seconds between two /diagnostics messages.',
       min_value=0.1, max_value=60.0, read_only=True, group='output'),
    # 3D from depth (use_depth turns it on).
    _p('image_rectified', bool, False,
       'The colour image is rectified (image_rect*): 3D uses camera_info P and no '
       'distortion. false: raw image (image_raw), K and D.', read_only=True, group='input'),
    _p('depth_window', int, 5,
       "Side (odd, depth pixels) of the window whose median valid depth is a keypoint's "
       'depth.', min_value=1, max_value=31, group='depth'),
    _p('depth_outlier_m', float, 0.5,
       "A keypoint more than this many metres behind its person's median depth has no 3D "
       '(NaN, confidence 0); 0 = keep all.', min_value=0.0, max_value=10.0, group='depth'),
    # Where 3D comes from (humanpose.pose3d).
    _p('pose3d_source', str, 'auto',
       '3D keypoints from: auto (fused with a 3D network such as RTMW3D and depth, monocular '
       'with a 3D network alone, depth with a 2D network and depth, else none), none, depth, '
       'monocular or fused. monocular and fused need a 3D network.',
       choices=('auto', 'none', 'depth', 'monocular', 'fused'), read_only=True, group='3d'),
    _p('body_height_m', float, 1.70,
       'Monocular 3D: height of the reference adult whose torso size places people in '
       'depth (a person 10 % larger is placed 10 % too close).', min_value=0.5,
       max_value=2.5, group='3d'),
    _p('fusion_tolerance_m', float, 0.15,
       'Fused 3D: a keypoint keeps its depth reading within this many metres of the '
       'predicted body, else takes the predicted depth (hands in front, holes).',
       min_value=0.01, max_value=2.0, group='3d'),
    _p('assumed_hfov_deg', float, 60.0,
       'Monocular 3D and the head poses of the cues without (usable) camera_info: '
       'horizontal field of view assumed, degrees; HumanPoseArray.intrinsics_assumed and '
       'HumanCuesArray.intrinsics_assumed say so.', min_value=10.0,
       max_value=170.0, group='3d'),
    # Tracking.
    _p('tracking', bool, True, 'Give people stable ids (HumanPose.id); false = empty ids.',
       group='tracking'),
    _p('track_cost', str, 'oks', 'Matching similarity: oks (body keypoints) or iou (boxes).',
       choices=('oks', 'iou'), group='tracking'),
    _p('track_min_similarity', float, 0.3,
       'Smallest OKS / IoU for a person to continue a track.', min_value=0.0,
       max_value=1.0, group='tracking'),
    _p('track_min_hits', int, 3, 'Frames before a new track is confirmed.', min_value=1,
       max_value=100, group='tracking'),
    _p('track_max_age', int, 30,
       'Frames a lost track coasts (and can take its person back) before it is deleted.',
       min_value=0, max_value=1000, group='tracking'),
    _p('track_coast_spread', float, 0.1,
       'Per missed frame, the matching tolerance of a lost track grows by this fraction.',
       min_value=0.0, max_value=1.0, group='tracking'),
    _p('track_publish_tentative', bool, True,
       'Publish new people with their id at once (false: only after track_min_hits frames).',
       group='tracking'),
    _p('track_publish_lost', bool, False,
       'Also publish lost (coasting) people at their predicted pose.', group='tracking'),
    # HRI cues (humans/cues; the tracker runs internally when tracking is off).
    _p('cues', bool, True,
       'Publish humans/cues (HumanCuesArray: head pose, attention, pointing, raised hands, '
       'hand states, waving, engagement per person) and cue markers.', group='cues'),
    _p('cues_looking_max_deg', float, 25.0,
       'looking_at_camera up to this angle, degrees, between the face direction and the '
       'line from the head to the camera.', min_value=1.0, max_value=90.0, group='cues'),
    _p('cues_engaged_min_s', float, 1.0,
       'engaged after looking at the camera this long, seconds of image time.',
       min_value=0.0, max_value=60.0, group='cues'),
    _p('cues_engaged_max_distance_m', float, 2.5,
       'engaged only this near, metres (people without 3D are not held back).',
       min_value=0.1, max_value=50.0, group='cues'),
    _p('cues_hand_raised_margin', float, 0.1,
       'A hand is raised with the wrist this far above its shoulder, in torso lengths.',
       min_value=-1.0, max_value=2.0, group='cues'),
    _p('cues_pointing_min_confidence', float, 0.5,
       'An arm points at or above this confidence (straight, lifted arm or pointing '
       'finger).', min_value=0.0, max_value=1.0, group='cues'),
    _p('cues_pointing_plane_normal_x', float, 0.0,
       'Pointing targets lie on the plane n . p + d = 0 in the camera optical frame: x of '
       'its normal n (towards the camera side; normalised).', min_value=-1.0, max_value=1.0,
       group='cues'),
    _p('cues_pointing_plane_normal_y', float, -1.0,
       'y of the plane normal (-1: a level camera looking at a floor below).',
       min_value=-1.0, max_value=1.0, group='cues'),
    _p('cues_pointing_plane_normal_z', float, 0.0, 'z of the plane normal.', min_value=-1.0,
       max_value=1.0, group='cues'),
    _p('cues_pointing_plane_distance_m', float, 1.0,
       'd of the pointing plane, metres: the camera height above a floor for normal '
       '(0, -1, 0).', min_value=-100.0, max_value=100.0, group='cues'),
    _p('cues_wave_min_hz', float, 0.7, 'Slowest waving frequency, Hz.', min_value=0.1,
       max_value=10.0, group='cues'),
    _p('cues_wave_max_hz', float, 3.5, 'Fastest waving frequency, Hz.', min_value=0.1,
       max_value=10.0, group='cues'),
    _p('cues_wave_window_s', float, 1.5,
       'Seconds of each track looked at for waving.', min_value=0.5, max_value=5.0,
       group='cues'),
    _p('cues_wave_min_amplitude', float, 0.08,
       'Smallest waving amplitude (wrist sideways from the elbow), torso lengths.',
       min_value=0.0, max_value=2.0, group='cues'),
    # Smoothing (the tracker runs internally when tracking is off).
    _p('smoothing', bool, True, 'One-Euro smoothing of 2D and 3D keypoints per person.',
       group='smoothing'),
    _p('one_euro_min_cutoff', float, 0.5,
       'Cutoff frequency at rest, Hz: lower = less jitter, more lag.', min_value=0.01,
       max_value=30.0, group='smoothing'),
    _p('one_euro_beta', float, 4.0,
       'Cutoff increase per (person sizes per second) of 2D speed: higher = less lag.',
       min_value=0.0, max_value=1000.0, group='smoothing'),
    _p('one_euro_beta_3d', float, 2.5,
       'Cutoff increase per (metre per second) of 3D speed.', min_value=0.0,
       max_value=1000.0, group='smoothing'),
    _p('one_euro_d_cutoff', float, 1.0, 'Cutoff frequency of the speed estimate, Hz.',
       min_value=0.01, max_value=30.0, group='smoothing'),
    _p('smoothing_min_confidence', float, 0.1,
       'Keypoints below this confidence are published unsmoothed.', min_value=0.0,
       max_value=1.0, group='smoothing'),
    # ROS4HRI (REP-155) output (needs hri_msgs).
    _p('hri', bool, False,
       'Publish the ROS4HRI (REP-155) body topics humans/bodies/tracked, '
       'humans/bodies/<id>/{roi,skeleton2d,cropped} and TF body_<id> plus joint frames '
       '(with 3D). Needs hri_msgs and tracking: true.', read_only=True, group='hri'),
    _p('hri_cropped', bool, True,
       'With hri: publish humans/bodies/<id>/cropped (rgb8 crop of the person box; one '
       'copy per body and frame, only while someone subscribes).', group='hri'),
)

#: Name -> spec.
PARAMETERS_BY_NAME: dict[str, ParamSpec] = {spec.name: spec for spec in PARAMETERS}


@dataclass(frozen=True)
class NodeConfig:
    """Validated parameter values of the node; see :data:`PARAMETERS` for each field."""

    pose_model: str
    pose_card: str
    detector_model: str
    detector_card: str
    backend: str
    device: int
    precision: str
    engine_cache_dir: str
    compressed: bool
    use_camera_info: bool
    use_depth: bool
    sync_slop_s: float
    sync_queue_size: int
    max_people: int
    detection_threshold: float
    nms_iou_threshold: float
    detect_every: int
    keypoint_threshold: float
    marker_lifetime_s: float
    marker_lifetime_periods: float
    publish_markers: bool
    publish_annotated_image: bool
    frame_id: str
    diagnostics_period_s: float
    image_rectified: bool
    depth_window: int
    depth_outlier_m: float
    pose3d_source: str
    body_height_m: float
    fusion_tolerance_m: float
    assumed_hfov_deg: float
    tracking: bool
    track_cost: str
    track_min_similarity: float
    track_min_hits: int
    track_max_age: int
    track_coast_spread: float
    track_publish_tentative: bool
    track_publish_lost: bool
    cues: bool
    cues_looking_max_deg: float
    cues_engaged_min_s: float
    cues_engaged_max_distance_m: float
    cues_hand_raised_margin: float
    cues_pointing_min_confidence: float
    cues_pointing_plane_normal_x: float
    cues_pointing_plane_normal_y: float
    cues_pointing_plane_normal_z: float
    cues_pointing_plane_distance_m: float
    cues_wave_min_hz: float
    cues_wave_max_hz: float
    cues_wave_window_s: float
    cues_wave_min_amplitude: float
    smoothing: bool
    one_euro_min_cutoff: float
    one_euro_beta: float
    one_euro_beta_3d: float
    one_euro_d_cutoff: float
    smoothing_min_confidence: float
    hri: bool
    hri_cropped: bool

    @property
    def synchronised_inputs(self) -> tuple[str, ...]:
        """Return the inputs paired with the colour image (``depth``, ``camera_info``)."""
        return (('depth',) if self.use_depth else ()) + (
            ('camera_info',) if self.use_depth or self.use_camera_info else ())


def check_value(spec: ParamSpec, value: Any) -> Value:
    """Return ``value`` if it fits ``spec`` (ints are accepted where floats are wanted).

    :raises InvalidInputError: wrong type, out of range, or not one of the choices; the
        message names the parameter and what it accepts.
    """
    wanted = ROS_TYPE_NAMES[spec.type]
    if spec.type is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, spec.type) or (spec.type is int and isinstance(value, bool)):
        raise InvalidInputError(
            f'parameter {spec.name} must be of type {wanted}, got {value!r} '
            f'({type(value).__name__}); e.g. {spec.name}: {spec.default!r}')
    if spec.choices is not None and value not in spec.choices:
        raise InvalidInputError(
            f'parameter {spec.name} must be one of {", ".join(spec.choices)}, got {value!r}')
    low = spec.min_value if spec.min_value is not None else -float('inf')
    high = spec.max_value if spec.max_value is not None else float('inf')
    if isinstance(value, (int, float)) and not isinstance(value, bool) and not (
            low <= value <= high):
        raise InvalidInputError(
            f'parameter {spec.name} must be in {spec.constraints}, got {value!r}')
    return cast(Value, value)


def default_values() -> dict[str, Value]:
    """Return parameter name -> default, for every parameter."""
    return {spec.name: spec.default for spec in PARAMETERS}


def config_from_values(values: Mapping[str, Any], base: Optional[NodeConfig] = None
                       ) -> NodeConfig:
    """Validate ``values`` and return the node configuration.

    :param values: parameter name -> value; names not given keep ``base``'s value (or
        the default without a base).
    :param base: the configuration the values change (run-time updates).
    :return: the new frozen configuration.
    :raises InvalidInputError: an unknown name or an invalid value (all problems are
        listed in one message).
    """
    problems: list[str] = []
    checked: dict[str, Any] = {}
    for name, value in values.items():
        spec = PARAMETERS_BY_NAME.get(name)
        if spec is None:
            problems.append(f'unknown parameter {name!r}')
            continue
        try:
            checked[name] = check_value(spec, value)
        except InvalidInputError as err:
            problems.append(str(err))
    if problems:
        raise InvalidInputError('; '.join(problems))
    config = (replace(base, **checked) if base is not None
              else NodeConfig(**{**default_values(), **checked}))
    problem = cue_config_problem(config)
    if problem:
        raise InvalidInputError(problem)
    if config.depth_window % 2 == 0:
        raise InvalidInputError(
            f'parameter depth_window must be odd (the window is centred on the keypoint), '
            f'got {config.depth_window}')
    if config.hri and not config.tracking:
        raise InvalidInputError(
            'parameter hri needs tracking: true (ROS4HRI body ids are track ids); set '
            'tracking: true or hri: false')
    return config


def read_only_changes(values: Mapping[str, Any]) -> tuple[str, ...]:
    """Return the names in ``values`` that cannot change at run time."""
    return tuple(name for name in values
                 if name in PARAMETERS_BY_NAME and PARAMETERS_BY_NAME[name].read_only)


def config_field_names() -> tuple[str, ...]:
    """Return the field names of :class:`NodeConfig` (equal to the parameter names)."""
    return tuple(f.name for f in fields(NodeConfig))


def markdown_table() -> str:
    """Return the parameter table in Markdown (README)."""
    rows = ['| parameter | type | default | range | run time | description |',
            '|---|---|---|---|---|---|']
    for spec in PARAMETERS:
        default = repr(spec.default) if spec.type is str else str(spec.default).lower() \
            if spec.type is bool else str(spec.default)
        rows.append(f'| `{spec.name}` | {ROS_TYPE_NAMES[spec.type]} | `{default}` | '
                    f'{spec.constraints} | {"no" if spec.read_only else "yes"} | '
                    f'{spec.description} |')
    return '\n'.join(rows)


def tracker_config(config: NodeConfig) -> TrackerConfig:
    """Return the tracker parameters of the node configuration."""
    return TrackerConfig(cost=config.track_cost, min_similarity=config.track_min_similarity,
                         min_hits=config.track_min_hits, max_age=config.track_max_age,
                         coast_spread=config.track_coast_spread,
                         publish_tentative=config.track_publish_tentative,
                         publish_lost=config.track_publish_lost)


def smoother_config(config: NodeConfig) -> SmootherConfig:
    """Return the One-Euro smoothing parameters of the node configuration."""
    return SmootherConfig(min_cutoff=config.one_euro_min_cutoff, beta=config.one_euro_beta,
                          d_cutoff=config.one_euro_d_cutoff, beta_3d=config.one_euro_beta_3d,
                          min_confidence=config.smoothing_min_confidence)


def pose3d_options(config: NodeConfig) -> dict[str, Any]:
    """Return the :class:`~humanpose.pipeline.Pipeline` 3D options of the configuration."""
    return {'pose3d_source': config.pose3d_source, 'body_height_m': config.body_height_m,
            'fusion_tolerance_m': config.fusion_tolerance_m,
            'assumed_hfov_deg': config.assumed_hfov_deg}


def cue_config(config: NodeConfig) -> CueConfig:
    """Return the cue thresholds of the node configuration."""
    return CueConfig(
        keypoint_threshold=config.keypoint_threshold,
        default_hfov_deg=config.assumed_hfov_deg,
        looking_max_deg=config.cues_looking_max_deg, engaged_min_s=config.cues_engaged_min_s,
        engaged_max_distance_m=config.cues_engaged_max_distance_m,
        hand_raised_margin=config.cues_hand_raised_margin,
        pointing=PointingConfig(
            min_confidence=config.cues_pointing_min_confidence,
            plane_normal=(config.cues_pointing_plane_normal_x,
                          config.cues_pointing_plane_normal_y,
                          config.cues_pointing_plane_normal_z),
            plane_distance_m=config.cues_pointing_plane_distance_m),
        waving=WaveConfig(window_s=config.cues_wave_window_s, min_hz=config.cues_wave_min_hz,
                          max_hz=config.cues_wave_max_hz,
                          min_amplitude=config.cues_wave_min_amplitude))


def cue_config_problem(config: NodeConfig) -> str:
    """Return what is wrong with the cue parameters together ('' when nothing is)."""
    if config.cues_wave_min_hz >= config.cues_wave_max_hz:
        return (f'parameter cues_wave_min_hz ({config.cues_wave_min_hz}) must be below '
                f'cues_wave_max_hz ({config.cues_wave_max_hz})')
    if (config.cues_pointing_plane_normal_x, config.cues_pointing_plane_normal_y,
            config.cues_pointing_plane_normal_z) == (0.0, 0.0, 0.0):
        return ('the pointing plane normal (cues_pointing_plane_normal_x/y/z) must not be '
                'zero; e.g. 0, -1, 0 for a floor below a level camera')
    return ''
