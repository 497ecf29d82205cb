"""Model cards: what a network expects and emits.

A card is a small YAML document::

    name: rtmw-m-256x192
    task: pose                       # pose | detection
    input_size: [192, 256]           # width, height
    color: rgb                       # channel order the network wants
    mean: [123.675, 116.28, 103.53]
    std: [58.395, 57.12, 57.375]
    skeleton: coco_wholebody
    head: {type: simcc, split_ratio: 2.0, sigma: [4.9, 5.66], beta: 150.0}
    url: https://...                 # released models only
    sha256: ...                      # of the downloaded file, where known

Heads: ``simcc`` (split_ratio, sigma [x, y], beta), ``heatmap`` (heatmap_size [w, h],
blur_kernel for DARK), ``dets`` (exported detector with NMS: ``dets`` N x D x 5 and
``labels``; pad_value, person_label), ``yolox`` (raw YOLOX grids; strides, pad_value,
person_label), ``simcc3d`` (RTMW3D: split_ratio, sigma [x, y, z], beta, depth_size and
z_range_m of the z codec, root keypoints; optional ``outputs`` [x, y, z] names, else the
three outputs are taken in the model's order). A card may be omitted for an ONNX file
whose shapes say everything (:func:`infer_card`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
import json
import logging
import math
import numbers
from pathlib import Path
import re
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import yaml

from humanpose.errors import ModelCardError, ModelLoadError

_log = logging.getLogger(__name__)

MMPOSE_MEAN_RGB = (123.675, 116.28, 103.53)
MMPOSE_STD_RGB = (58.395, 57.12, 57.375)
#: MMPose's SimCC codec default for the visibility softmax.
DEFAULT_BETA = 150.0
#: Split ratio -> typical SimCC sigma (x, y) by input size, from the RTMPose/RTMW configs.
_SIMCC_SIGMA = {(192, 256): (4.9, 5.66), (288, 384): (6.93, 7.99)}

TASKS = ('pose', 'detection')
#: A field without a default must be given.
REQUIRED: Any = object()


class FieldProblem(ValueError):
    """A card value outside its type or range (the message says what was expected)."""


Reader = Callable[[Any], Any]


@dataclass(frozen=True)
class Field:
    """One card field: how its YAML value is read and checked, and its default.

    :param read: value -> typed value; raises :class:`FieldProblem` saying what is expected.
    :param default: the value when the field is absent (:data:`REQUIRED`: it must be given).
    """

    read: Reader
    default: Any = REQUIRED


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise FieldProblem(f'a number, got {value!r}')
    if not math.isfinite(value):
        raise FieldProblem(f'a finite number, got {value!r}')
    return float(value)


def _float_in(low: float, high: float, low_open: bool = False) -> Reader:
    """Read a finite number in [low, high] (or (low, high] with ``low_open``)."""
    def read(value: Any) -> float:
        number = _number(value)
        if number > high or number < low or (low_open and number == low):
            raise FieldProblem(f'a number in {"(" if low_open else "["}{low:g}, {high:g}], '
                               f'got {value!r}')
        return number
    return read


def _int_in(low: int, high: int) -> Reader:
    def read(value: Any) -> int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # 192.0 from a JSON writer is 192
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not (
                low <= int(value) <= high):
            raise FieldProblem(f'an integer in [{low}, {high}], got {value!r}')
        return int(value)
    return read


def _odd_int(value: Any) -> int:
    number = _int_in(1, 255)(value)
    if number % 2 == 0:
        raise FieldProblem(f'an odd integer, got {value!r}')
    return int(number)


def _sequence(item: Reader, length: Optional[int], what: str) -> Reader:
    """Read a list of ``length`` items (any length >= 1 when None) as a tuple."""
    def read(value: Any) -> tuple[Any, ...]:
        if hasattr(value, 'tolist'):  # a NumPy array in a card given as a dict
            value = value.tolist()
        if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
            raise FieldProblem(f'{what}, got {value!r}')
        if (length is not None and len(value) != length) or not value:
            raise FieldProblem(f'{what}, got {list(value)!r}')
        try:
            return tuple(item(v) for v in value)
        except FieldProblem as err:
            raise FieldProblem(f'{what} ({err}), got {list(value)!r}') from None
    return read


def _pair_or_number(item: Reader, what: str) -> Reader:
    """Read [x, y], or one number for both axes (as MMPose's SimCC codec accepts sigma)."""
    pair = _sequence(item, 2, what)

    def read(value: Any) -> tuple[Any, ...]:
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            number = item(value)
            return (number, number)
        return tuple(pair(value))
    return read


def _choice(options: Sequence[str], lower: bool = False) -> Reader:
    def read(value: Any) -> str:
        text = value.lower() if lower and isinstance(value, str) else value
        if text not in options:
            raise FieldProblem(f'one of {", ".join(options)}, got {value!r}')
        return str(text)
    return read


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise FieldProblem(f'a non-empty string, got {value!r}')
    return value


def _optional(read: Reader) -> Reader:
    return lambda value: None if value is None or value == '' else read(value)


def _sha256(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r'[0-9a-fA-F]{64}', value.strip()):
        raise FieldProblem(f'64 hexadecimal digits or null, got {value!r}')
    return value.strip().lower()


def _skeleton(value: Any) -> str:
    from humanpose.skeletons import skeleton_names
    return str(_choice(skeleton_names())(value))


_size = _sequence(_int_in(1, 8192), 2, '[width, height] of two positive integers')
_positive = _float_in(0.0, 1e6, low_open=True)

#: Fields of every card (the head's fields are in :data:`HEADS`).
CARD_FIELDS: dict[str, Field] = {
    'name': Field(_text),
    'task': Field(_choice(TASKS)),
    'input_size': Field(_size),
    'head': Field(lambda v: v),  # read by its type's entry in HEADS
    'color': Field(_choice(('rgb', 'bgr'), lower=True), 'rgb'),
    'mean': Field(_sequence(_float_in(-1e4, 1e4), 3, '3 numbers'), MMPOSE_MEAN_RGB),
    'std': Field(_sequence(_positive, 3, '3 positive numbers'), MMPOSE_STD_RGB),
    'skeleton': Field(_optional(_skeleton), None),
    # MMPose pads boxes by 1.25 (RTMPose, RTMW, DWPose); below 1 the crop cuts the person.
    'padding': Field(_float_in(1.0, 3.0), 1.25),
    'url': Field(_optional(_text), None),
    'sha256': Field(_optional(_sha256), None),
    'file': Field(_optional(_text), None),
    'description': Field(lambda v: '' if v is None else str(v), ''),
}


@dataclass(frozen=True)
class HeadSpec:
    """A head type: its task, its fields, and how a model that has it must look.

    :param task: ``pose`` or ``detection``.
    :param fields: head field -> :class:`Field`.
    :param check: (card, input shape, output shapes) -> problem with the model ('' = fits);
        dynamic axes (strings, None, non-positive) are not checked.
    """

    task: str
    fields: Mapping[str, Field]
    check: Callable[[ModelCard, Sequence[Any], Mapping[str, Sequence[Any]]], str]


def _static(dim: Any) -> Optional[int]:
    """Return the size of an axis when fixed, else None."""
    return int(dim) if isinstance(dim, int) and not isinstance(dim, bool) and dim > 0 else None


def _listed(outputs: Mapping[str, Sequence[Any]]) -> str:
    return ', '.join(f'{k} {list(v)}' for k, v in outputs.items())


def _keypoint_problem(card: ModelCard, count: Any, output: str) -> str:
    from humanpose.skeletons import get_skeleton
    if card.skeleton is None or _static(count) is None:
        return ''
    expected = get_skeleton(card.skeleton).num_keypoints
    if count == expected:
        return ''
    return (f'output {output} has {count} keypoints, but the skeleton {card.skeleton} '
            f'has {expected}; fix `skeleton` in the card')


def _check_simcc(card: ModelCard, input_shape: Sequence[Any],
                 outputs: Mapping[str, Sequence[Any]]) -> str:
    """Check a SimCC head (2D ``simcc``, 3D ``simcc3d``); outputs picked as the decoder does."""
    three = card.head_type == 'simcc3d'
    wanted = tuple(card.head.get('outputs') or (
        ('simcc_x', 'simcc_y', 'simcc_z') if three else ('simcc_x', 'simcc_y')))
    rank3 = [k for k, v in outputs.items() if len(v) == 3]
    if len(rank3) != len(wanted):
        hint = {3: '; three SimCC outputs are a 3D (RTMW3D) model: give it a simcc3d card',
                2: '; two SimCC outputs are a 2D model: give it a simcc card'}.get(len(rank3), '')
        return (f'a {card.head_type} head needs {len(wanted)} outputs N x K x bins '
                f'({", ".join(wanted)}); the model has {_listed(outputs)}{hint}')
    names = wanted if all(n in outputs for n in wanted) else tuple(rank3)
    ratio = float(card.head['split_ratio'])
    sides = [*card.input_size, *([float(card.head['depth_size'])] if three else [])]
    for name, side, axis in zip(names, sides, ('input width', 'input height', 'depth_size')):
        shape = outputs[name]
        problem = _keypoint_problem(card, shape[1], name)
        if problem:
            return problem
        bins = _static(shape[2])
        expected = int(round(side * ratio))
        if bins is not None and bins != expected:
            fix = ('`head.depth_size` (or split_ratio)' if axis == 'depth_size' else
                   f'`head.split_ratio` (the model has {bins / side:g}) or input_size')
            return (f'output {name} has {bins} bins, but {axis} {side:g} x split_ratio '
                    f'{ratio:g} needs {expected}; fix {fix} in the card')
    return ''


def _check_heatmap(card: ModelCard, input_shape: Sequence[Any],
                   outputs: Mapping[str, Sequence[Any]]) -> str:
    maps = {k: v for k, v in outputs.items() if len(v) == 4}
    if len(maps) != 1:
        return f'a heatmap head needs one output N x K x h x w; the model has {_listed(outputs)}'
    ((name, shape),) = maps.items()
    problem = _keypoint_problem(card, shape[1], name)
    if problem:
        return problem
    width, height = card.head['heatmap_size']
    if (_static(shape[3]) or width, _static(shape[2]) or height) != (width, height):
        return (f'output {name} {list(shape)} has heatmaps of {shape[3]}x{shape[2]}, the card '
                f'says heatmap_size [{width}, {height}]; fix the card')
    return ''


def _check_dets(card: ModelCard, input_shape: Sequence[Any],
                outputs: Mapping[str, Sequence[Any]]) -> str:
    if 'dets' not in outputs or 'labels' not in outputs:
        return (f'a dets head needs outputs dets (N x D x 5) and labels (N x D); the model has '
                f'{_listed(outputs)}')
    dets = outputs['dets']
    if len(dets) != 3 or _static(dets[2]) not in (None, 5):
        return f'output dets {list(dets)} is not N x D x 5 (x0, y0, x1, y1, score)'
    return ''


def _check_yolox(card: ModelCard, input_shape: Sequence[Any],
                 outputs: Mapping[str, Sequence[Any]]) -> str:
    if len(outputs) != 1:
        return f'a yolox head needs one output N x A x (5 + C); the model has {_listed(outputs)}'
    ((name, shape),) = outputs.items()
    if len(shape) != 3:
        return f'output {name} {list(shape)} is not N x A x (5 + C)'
    classes = _static(shape[2])
    label = int(card.head['person_label'])
    if classes is not None and classes <= 5 + label:
        return (f'output {name} {list(shape)} has {classes - 5} class(es); person_label '
                f'{label} does not exist: fix the card')
    width, height = card.input_size
    anchors = sum((width // s) * (height // s) for s in card.head['strides'])
    if _static(shape[1]) not in (None, anchors):
        return (f'output {name} has {shape[1]} anchor points, but input {width}x{height} with '
                f'strides {list(card.head["strides"])} gives {anchors}; fix input_size or '
                'strides in the card')
    return ''


def _names(count: int) -> Reader:
    return _sequence(_text, count, f'{count} output names')


#: Head type -> its task, fields and model check. A new head type is one entry here (and
#: its decoder in :mod:`humanpose.decode`).
HEADS: dict[str, HeadSpec] = {
    'simcc': HeadSpec('pose', {
        'split_ratio': Field(_float_in(0.0, 64.0, low_open=True)),
        'sigma': Field(_pair_or_number(_positive, '[sigma_x, sigma_y] of positive numbers'),
                       (4.9, 5.66)),
        'beta': Field(_positive, DEFAULT_BETA),
        'outputs': Field(_optional(_names(2)), None),
    }, _check_simcc),
    # RTMW3D, MMPose's SimCC3DLabel codec: z_rel = (z / (depth_size / 2) - 1) * z_range_m.
    'simcc3d': HeadSpec('pose', {
        'split_ratio': Field(_float_in(0.0, 64.0, low_open=True)),
        'sigma': Field(_sequence(_positive, 3, '[sigma_x, sigma_y, sigma_z] of positive numbers'),
                       (6.0, 6.93, 6.0)),
        'beta': Field(_positive, DEFAULT_BETA),
        'depth_size': Field(_positive, 288),
        'z_range_m': Field(_positive, 2.1744869),
        'root': Field(_sequence(_int_in(0, 100000), None, 'a list of keypoint indices'),
                      (11, 12)),
        'outputs': Field(_optional(_names(3)), None),
    }, _check_simcc),
    'heatmap': HeadSpec('pose', {
        'heatmap_size': Field(_size),
        'blur_kernel': Field(_odd_int, 11),
        'dark': Field(lambda v: v if isinstance(v, bool) else _choice(('true', 'false'))(v),
                      True),
    }, _check_heatmap),
    'dets': HeadSpec('detection', {
        'pad_value': Field(_int_in(0, 255), 114),
        'person_label': Field(_int_in(0, 100000), 0),
    }, _check_dets),
    'yolox': HeadSpec('detection', {
        'pad_value': Field(_int_in(0, 255), 114),
        'person_label': Field(_int_in(0, 100000), 0),
        'strides': Field(_sequence(_int_in(1, 1024), None, 'a list of positive integers'),
                         (8, 16, 32)),
    }, _check_yolox),
}
#: Head type -> field defaults (REQUIRED fields as None), for cards built in code.
HEAD_FIELDS: dict[str, dict[str, Any]] = {
    kind: {name: None if f.default is REQUIRED else f.default for name, f in spec.fields.items()}
    for kind, spec in HEADS.items()}


@dataclass(frozen=True)
class ModelCard:
    """What a network expects and emits (see the module docstring for the YAML form)."""

    name: str
    task: str
    input_size: tuple[int, int]
    head: Mapping[str, Any]
    color: str = 'rgb'
    mean: tuple[float, float, float] = MMPOSE_MEAN_RGB
    std: tuple[float, float, float] = MMPOSE_STD_RGB
    skeleton: Optional[str] = None
    padding: float = 1.25
    url: Optional[str] = None
    sha256: Optional[str] = None
    file: Optional[str] = None
    description: str = ''
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def head_type(self) -> str:
        return str(self.head['type'])

    @property
    def input_width(self) -> int:
        return self.input_size[0]

    @property
    def input_height(self) -> int:
        return self.input_size[1]


def _read_fields(data: Mapping[str, Any], fields: Mapping[str, Field], where: str,
                 fail: Callable[[str], ModelCardError]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, spec in fields.items():
        if name not in data or (data[name] is None and spec.default is not REQUIRED):
            if spec.default is REQUIRED:
                raise fail(f'{where}{name} is missing')
            values[name] = spec.default
            continue
        try:
            values[name] = spec.read(data[name])
        except FieldProblem as err:
            raise fail(f'{where}{name} must be {err}') from None
    return values


def card_from_dict(data: Mapping[str, Any], source: str = '<dict>') -> ModelCard:
    """Validate ``data`` field by field (:data:`CARD_FIELDS`, :data:`HEADS`); return the card.

    :raises ModelCardError: a required field is missing, or a value has the wrong type or
        is out of its range (the message names the field and what it must be).
    """
    def fail(problem: str) -> ModelCardError:
        return ModelCardError(f'model card {source}: {problem}; fix the card')

    if not isinstance(data, Mapping):
        raise fail(f'expected a mapping of fields, got {type(data).__name__}')
    missing = [k for k, f in CARD_FIELDS.items() if f.default is REQUIRED and k not in data]
    if missing:
        raise fail(f'missing field(s) {", ".join(missing)}')
    values = _read_fields(data, CARD_FIELDS, '', fail)
    raw_head = data['head']
    head = dict(raw_head) if isinstance(raw_head, Mapping) else {'type': raw_head}
    kind = head.get('type')
    spec = HEADS.get(kind) if isinstance(kind, str) else None
    if spec is None:
        raise fail(f'head.type must be one of {", ".join(HEADS)}, got {kind!r}')
    if spec.task != values['task']:
        raise fail(f'a {kind} head belongs to a {spec.task} model, but task is '
                   f'{values["task"]!r}')
    unknown = sorted(set(head) - set(spec.fields) - {'type'})
    if unknown:
        _log.warning('model card %s: head field(s) %s are not used by a %s head', source,
                     ', '.join(map(str, unknown)), kind)
    head = {**head, **_read_fields(head, spec.fields, 'head.', fail), 'type': kind}
    return ModelCard(
        name=values['name'], task=values['task'], input_size=values['input_size'], head=head,
        color=values['color'], mean=values['mean'], std=values['std'],
        skeleton=values['skeleton'], padding=values['padding'], url=values['url'],
        sha256=values['sha256'], file=values['file'], description=values['description'],
        extra={k: v for k, v in data.items() if k not in CARD_FIELDS})


def check_card_against_model(card: ModelCard, input_shape: Sequence[Any],
                             outputs: Mapping[str, Sequence[Any]], model_name: str) -> None:
    """Check that ``card`` describes the model with these input and output shapes.

    The input must be N x 3 x H x W with the card's input_size (where the axes are fixed);
    the outputs must be what the card's head decodes, with the card's skeleton and codec
    (e.g. SimCC bins = input side x split_ratio). A card that contradicts its model would
    give keypoints that are wrong by many pixels at full confidence, so it is an error.

    :raises ModelCardError: the first contradiction, naming the field to fix.
    """
    def fail(problem: str) -> ModelCardError:
        return ModelCardError(f'{model_name}: model card {card.name!r} does not fit the model: '
                              f'{problem}')

    shape = list(input_shape)
    if shape:
        if len(shape) != 4:
            raise fail(f'the input is {shape}, expected N x 3 x H x W')
        width, height = card.input_size
        if _static(shape[1]) not in (None, 3):
            raise fail(f'the input has {shape[1]} channels, expected 3')
        found = (_static(shape[3]) or width, _static(shape[2]) or height)
        if found != (width, height):
            raise fail(f'the input of the model is {found[0]}x{found[1]} (W x H), the card says '
                       f'input_size [{width}, {height}]; fix input_size in the card')
    if outputs:
        problem = HEADS[card.head_type].check(card, shape, outputs)
        if problem:
            raise fail(problem)


def load_card(path: Union[str, Path]) -> ModelCard:
    """Read a card from a YAML file.

    :raises ModelCardError: unreadable file, bad YAML or invalid fields.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_bytes().decode('utf-8'))
    except OSError as err:
        raise ModelCardError(f'cannot read model card {path}: {err.strerror or err}') from err
    except UnicodeDecodeError as err:
        raise ModelCardError(f'model card {path} is not UTF-8 text (byte {err.start}); save it '
                             'as UTF-8 YAML') from err
    except yaml.YAMLError as err:
        raise ModelCardError(f'model card {path} is not valid YAML: '
                             f'{" ".join(str(err).split())}') from err
    return card_from_dict(data, str(path))


@lru_cache(maxsize=1)
def builtin_cards() -> dict[str, ModelCard]:
    """Return the cards shipped with humanpose, by name."""
    cards: dict[str, ModelCard] = {}
    folder = resources.files('humanpose').joinpath('models/cards')
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith('.yaml'):
            for doc in yaml.safe_load_all(entry.read_text('utf-8')):
                card = card_from_dict(doc, f'builtin {entry.name}')
                cards[card.name] = card
    return cards


def get_card(name: str) -> ModelCard:
    """Return a built-in card by name.

    :raises ModelCardError: unknown name (the message lists the known ones).
    """
    try:
        return builtin_cards()[name]
    except KeyError:
        raise ModelCardError(f'no built-in model card {name!r}; known: '
                             f'{", ".join(builtin_cards())}') from None


def onnx_metadata_card(model_path: Path) -> Optional[ModelCard]:
    """Return the card embedded in an ONNX file's metadata (key ``humanpose_card``), if any."""
    if model_path.suffix.lower() != '.onnx' or not model_path.is_file():
        return None
    embedded = onnx_metadata(model_path).get('humanpose_card')
    if embedded is None:
        return None
    try:
        data = json.loads(embedded)
    except ValueError as err:
        raise ModelCardError(
            f'{model_path}: the card in its ONNX metadata (humanpose_card) is not valid '
            f'JSON ({err}); re-export the model, or pass a card (card=... / '
            '--pose-card)') from err
    return card_from_dict(data, f'{model_path} metadata')


def onnx_metadata(model_path: Path) -> dict[str, str]:
    """Return an ONNX file's ``metadata_props`` as a dict.

    Read with the ``onnx`` package where it is installed, else with ONNX Runtime: the ROS
    node's install needs only ONNX Runtime (onnx is for the command line and the tests).
    """
    try:
        import onnx
    except ImportError:
        from humanpose.backends.onnxruntime import model_metadata
        return model_metadata(model_path)
    try:
        model = onnx.load(str(model_path), load_external_data=False)
    except Exception as err:  # protobuf decode errors have no common base
        raise ModelLoadError(f'{model_path} is not a readable ONNX file ({err}); re-download '
                             'or re-export it') from err
    return {prop.key: prop.value for prop in model.metadata_props}


def infer_card(name: str, input_shape: Sequence[Any], outputs: Mapping[str, Sequence[Any]],
               task: Optional[str] = None) -> ModelCard:
    """Infer a card from I/O shapes where they say everything.

    Pose: two rank-3 outputs (N, K, Lx), (N, K, Ly) -> SimCC with split ratio Lx / W; one
    rank-4 output (N, K, h, w) -> heatmap; K = 133 -> coco_wholebody, 17 -> coco; MMPose's
    default RGB mean/std. Detection: ``dets`` + ``labels`` -> exported detector; one
    (N, A, 5 + C) output -> raw YOLOX grids.

    :raises ModelLoadError: the shapes match no known decoder (the message shows them).
    """
    from humanpose.skeletons import skeleton_for_num_keypoints

    shapes = {k: tuple(v) for k, v in outputs.items()}
    described = ', '.join(f'{k} {list(v)}' for k, v in shapes.items())
    if len(input_shape) != 4 or not all(isinstance(d, int) for d in input_shape[1:]):
        raise ModelLoadError(f'{name}: input shape {list(input_shape)} is not N x 3 x H x W with '
                             'a fixed H and W; give the model a card (card=...)')
    height, width = int(input_shape[2]), int(input_shape[3])
    rank3 = {k: v for k, v in shapes.items() if len(v) == 3}
    if task in (None, 'detection') and 'dets' in shapes and 'labels' in shapes:
        return ModelCard(name=name, task='detection', input_size=(width, height),
                         head={**HEAD_FIELDS['dets'], 'type': 'dets'}, color='bgr',
                         mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))
    if task in (None, 'pose') and len(shapes) == 2 and len(rank3) == 2:
        (nx, sx), (ny, sy) = sorted(rank3.items(), key=lambda kv: (
            0 if kv[0].endswith('x') else 1 if kv[0].endswith('y') else 2))
        if isinstance(sx[2], int) and isinstance(sy[2], int) and isinstance(sx[1], int):
            ratio_x, ratio_y = sx[2] / width, sy[2] / height
            if abs(ratio_x - ratio_y) < 1e-6:
                skeleton = skeleton_for_num_keypoints(int(sx[1])).name
                sigma = _SIMCC_SIGMA.get((width, height), (4.9, 5.66))
                return ModelCard(name=name, task='pose', input_size=(width, height),
                                 head={'type': 'simcc', 'split_ratio': ratio_x, 'sigma': sigma,
                                       'beta': DEFAULT_BETA}, skeleton=skeleton)
    if task in (None, 'pose') and len(shapes) == 3 and len(rank3) == 3:
        # RTMW3D: x, y, z in the model's order (published exports name them generically).
        sx, sy, sz = rank3.values()
        if all(isinstance(s[2], int) for s in (sx, sy, sz)) and isinstance(sx[1], int) \
                and abs(sx[2] / width - sy[2] / height) < 1e-6:
            ratio = sx[2] / width
            return ModelCard(name=name, task='pose', input_size=(width, height),
                             head={**HEAD_FIELDS['simcc3d'], 'type': 'simcc3d',
                                   'split_ratio': ratio, 'depth_size': sz[2] / ratio},
                             skeleton=skeleton_for_num_keypoints(int(sx[1])).name)
    if task in (None, 'pose') and len(shapes) == 1:
        (shape,) = shapes.values()
        if len(shape) == 4 and all(isinstance(d, int) for d in shape[1:]):
            skeleton = skeleton_for_num_keypoints(int(shape[1])).name
            return ModelCard(name=name, task='pose', input_size=(width, height),
                             head={'type': 'heatmap', 'heatmap_size': (shape[3], shape[2]),
                                   'blur_kernel': 11}, skeleton=skeleton)
    if task in (None, 'detection') and len(shapes) == 1:
        (shape,) = shapes.values()
        if len(shape) == 3 and isinstance(shape[2], int) and shape[2] > 5:
            return ModelCard(name=name, task='detection', input_size=(width, height),
                             head={**HEAD_FIELDS['yolox'], 'type': 'yolox'}, color='bgr',
                             mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))
    raise ModelLoadError(
        f'{name}: outputs {described} match no known decoder (SimCC: simcc_x N x K x 2W and '
        'simcc_y N x K x 2H, plus simcc_z N x K x 576 for RTMW3D; heatmaps N x K x h x w; '
        'detector: dets N x D x 5 + labels, or raw '
        'YOLOX N x A x (5 + C)); give the model a card (card=...)')


def resolve_card(model_path: Path, card: Union[None, str, Path, ModelCard, Mapping[str, Any]],
                 input_shape: Sequence[Any], outputs: Mapping[str, Sequence[Any]],
                 task: str) -> ModelCard:
    """Find the card of ``model_path``: explicit > embedded metadata > sidecar YAML > shapes.

    ``card`` may be a :class:`ModelCard`, a dict, a YAML path or a built-in card name.
    """
    if isinstance(card, ModelCard):
        found = card
    elif isinstance(card, Mapping):
        found = card_from_dict(card)
    elif card is not None:
        candidate = Path(card)
        found = load_card(candidate) if candidate.suffix in ('.yaml', '.yml') else get_card(
            str(card))
    else:
        sidecar = model_path.with_suffix('.yaml')
        found = (onnx_metadata_card(model_path)
                 or (load_card(sidecar) if sidecar.is_file() else None)
                 or infer_card(model_path.name, input_shape, outputs, task))
    if found.task != task:
        raise ModelCardError(f'{model_path.name}: card {found.name!r} is a {found.task} model, '
                             f'but a {task} model is needed here')
    if found.task == 'pose' and found.skeleton is None:
        found = replace(found, skeleton=infer_card(
            model_path.name, input_shape, outputs, task).skeleton)
    check_card_against_model(found, input_shape, outputs, model_path.name)
    return found
