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
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

import yaml

from humanpose.errors import ModelCardError, ModelLoadError

MMPOSE_MEAN_RGB = (123.675, 116.28, 103.53)
MMPOSE_STD_RGB = (58.395, 57.12, 57.375)
#: MMPose's SimCC codec default for the visibility softmax.
DEFAULT_BETA = 150.0
#: Split ratio -> typical SimCC sigma (x, y) by input size, from the RTMPose/RTMW configs.
_SIMCC_SIGMA = {(192, 256): (4.9, 5.66), (288, 384): (6.93, 7.99)}

TASKS = ('pose', 'detection')
HEAD_FIELDS: dict[str, dict[str, Any]] = {
    'simcc': {'split_ratio': None, 'sigma': (4.9, 5.66), 'beta': DEFAULT_BETA},
    'heatmap': {'heatmap_size': None, 'blur_kernel': 11},
    # RTMW3D, MMPose's SimCC3DLabel codec: z_rel = (z / (depth_size / 2) - 1) * z_range_m.
    'simcc3d': {'split_ratio': None, 'sigma': (6.0, 6.93, 6.0), 'beta': DEFAULT_BETA,
                'depth_size': 288, 'z_range_m': 2.1744869, 'root': (11, 12), 'outputs': None},
    'dets': {'pad_value': 114, 'person_label': 0},
    'yolox': {'pad_value': 114, 'person_label': 0, 'strides': (8, 16, 32)},
}


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


def card_from_dict(data: Mapping[str, Any], source: str = '<dict>') -> ModelCard:
    """Validate ``data`` and return the card.

    :raises ModelCardError: a required field is missing or a value is out of its domain.
    """
    def fail(problem: str) -> ModelCardError:
        return ModelCardError(f'model card {source}: {problem}')

    if not isinstance(data, Mapping):
        raise fail(f'expected a mapping, got {type(data).__name__}')
    missing = [k for k in ('name', 'task', 'input_size', 'head') if k not in data]
    if missing:
        raise fail(f'missing field(s) {", ".join(missing)}')
    task = data['task']
    if task not in TASKS:
        raise fail(f'task must be one of {TASKS}, got {task!r}')
    try:
        width, height = (int(v) for v in data['input_size'])
    except (TypeError, ValueError):
        raise fail(f'input_size must be [width, height], got {data["input_size"]!r}') from None
    head = dict(data['head']) if isinstance(data['head'], Mapping) else {'type': data['head']}
    kind = head.get('type')
    if kind not in HEAD_FIELDS:
        raise fail(f'head.type must be one of {tuple(HEAD_FIELDS)}, got {kind!r}')
    head = {**HEAD_FIELDS[kind], **head}
    if kind in ('simcc', 'simcc3d') and head['split_ratio'] is None:
        raise fail(f'a {kind} head needs split_ratio')
    if kind == 'simcc3d' and (len(tuple(head['sigma'])) != 3 or (
            head['outputs'] is not None and len(tuple(head['outputs'])) != 3)):
        raise fail('a simcc3d head needs sigma [x, y, z] and, if given, outputs [x, y, z]')
    if kind == 'heatmap' and head['heatmap_size'] is None:
        raise fail('a heatmap head needs heatmap_size [w, h]')
    for key in ('sigma', 'heatmap_size', 'strides', 'root', 'outputs'):
        if key in head and head[key] is not None:
            head[key] = tuple(head[key])
    color = str(data.get('color', 'rgb')).lower()
    if color not in ('rgb', 'bgr'):
        raise fail(f'color must be rgb or bgr, got {color!r}')
    mean = tuple(float(v) for v in data.get('mean', MMPOSE_MEAN_RGB))
    std = tuple(float(v) for v in data.get('std', MMPOSE_STD_RGB))
    if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
        raise fail('mean and std need 3 values each, std positive')
    known = {'name', 'task', 'input_size', 'head', 'color', 'mean', 'std', 'skeleton',
             'padding', 'url', 'sha256', 'file', 'description'}
    return ModelCard(
        name=str(data['name']), task=task, input_size=(width, height), head=head, color=color,
        mean=(mean[0], mean[1], mean[2]), std=(std[0], std[1], std[2]),
        skeleton=data.get('skeleton'), padding=float(data.get('padding', 1.25)),
        url=data.get('url'), sha256=data.get('sha256'), file=data.get('file'),
        description=str(data.get('description', '')),
        extra={k: v for k, v in data.items() if k not in known})


def load_card(path: Union[str, Path]) -> ModelCard:
    """Read a card from a YAML file.

    :raises ModelCardError: unreadable file, bad YAML or invalid fields.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text('utf-8'))
    except (OSError, yaml.YAMLError) as err:
        raise ModelCardError(f'cannot read model card {path}: {err}') from err
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
    import onnx
    try:
        model = onnx.load(str(model_path), load_external_data=False)
    except Exception as err:  # protobuf decode errors have no common base
        raise ModelLoadError(f'{model_path} is not a readable ONNX file ({err}); re-download '
                             'or re-export it') from err
    for prop in model.metadata_props:
        if prop.key == 'humanpose_card':
            return card_from_dict(json.loads(prop.value), f'{model_path} metadata')
    return None


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
    return found
