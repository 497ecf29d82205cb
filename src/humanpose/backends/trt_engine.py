"""TensorRT engines: cache keys, batch profiles, FP32 pins, the builder and the accuracy guard.

Engines are not portable across GPUs or TensorRT versions, so they are built from the ONNX
on the machine that runs them and cached under a key of ONNX sha256, TensorRT version, GPU
name and compute capability, precision and batch profile (:class:`EngineKey`). Most of
this module is plain Python that runs without TensorRT: the key, the profile, which layers
stay in FP32, the stale-engine policy (:func:`load_or_build`) and the comparison with ONNX
Runtime (:func:`compare_pose_outputs`). The calls into ``tensorrt`` and ``cuda-python`` sit
in small functions that take the imported module as an argument, so tests drive them with
fakes.

Version notes (checked against NVIDIA's Python bindings, see the project notes):
name-based I/O (``num_io_tensors`` ... ``execute_async_v3``) exists from TensorRT 8.5;
``IProgressMonitor`` from 9.1 (so not on JetPack 6.0's 8.6); ``EXPLICIT_BATCH`` is needed
before 10 and ignored from 10; TensorRT 11 builds strongly typed networks only and has no
``BuilderFlag.FP16``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import hashlib
from importlib import import_module
import json
import logging
import os
from pathlib import Path
import re
import tempfile
import threading
import time
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence
import warnings

import numpy as np
from numpy.typing import NDArray

from humanpose.backends.base import TensorSpec
from humanpose.errors import BackendUnavailableError, HumanPoseError, InvalidInputError, \
    ModelLoadError
from humanpose.paths import engines_dir

LOG = logging.getLogger(__name__)
TRT_LOG = logging.getLogger('humanpose.backends.tensorrt.trt')

INSTALL_HINT = (
    'Install TensorRT and the CUDA Python bindings: on x86-64, pip install tensorrt cuda-python '
    '(with a CUDA 12 driver: pip install tensorrt-cu12 "cuda-python>=12,<13"); on Jetson, '
    'sudo apt install python3-libnvinfer (JetPack; in a venv use --system-site-packages) and '
    'pip install "cuda-python>=12,<13" to match JetPack 6\'s CUDA 12.')

#: Bump when the build recipe changes in a way that changes engines (pins, flags).
KEY_SCHEMA = 1
PRECISIONS: tuple[str, ...] = ('fp32', 'fp16')
ENGINE_SUFFIX = '.engine'
SIDECAR_SUFFIX = '.json'

# cuda-python moved the runtime bindings to cuda.bindings.runtime in 12.6.1; the old
# ``cuda.cudart`` module warns from 12.9 and is gone in 13.0.
_CUDART_MODULES: tuple[str, ...] = ('cuda.bindings.runtime', 'cuda.cudart')


# --------------------------------------------------------------------------- imports, CUDA

def find_tensorrt() -> tuple[Optional[Any], str]:
    """Import ``tensorrt`` if it is there.

    :return: (module or None, why not). Never raises.
    """
    try:
        return import_module('tensorrt'), ''
    except (ImportError, OSError) as err:  # OSError: the wheel is there, its libraries not
        return None, f'the tensorrt Python package cannot be imported ({err})'


def import_tensorrt() -> Any:
    """Return the ``tensorrt`` module.

    :raises BackendUnavailableError: not installed (the message carries the install hint).
    """
    trt, why = find_tensorrt()
    if trt is None:
        raise BackendUnavailableError(f'TensorRT is not available: {why}. {INSTALL_HINT}')
    return trt


def find_cudart() -> tuple[Optional[Any], str]:
    """Import the CUDA runtime bindings of cuda-python (new or old module layout).

    :return: (module or None, why not). Never raises.
    """
    errors = []
    for name in _CUDART_MODULES:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter('ignore', FutureWarning)  # cuda.cudart on 12.9
                return import_module(name), ''
        except (ImportError, OSError) as err:
            errors.append(f'{name}: {err}')
    return None, 'cuda-python is not installed (' + '; '.join(errors) + ')'


def import_cudart() -> Any:
    """Return the CUDA runtime bindings module.

    :raises BackendUnavailableError: cuda-python is missing (with the install hint).
    """
    cudart, why = find_cudart()
    if cudart is None:
        raise BackendUnavailableError(f'{why}. {INSTALL_HINT}')
    return cudart


def native_handle(obj: Any) -> int:
    """Return the address a cuda-python object (a stream) wraps, as an int for TensorRT.

    ``int(obj)`` is deprecated from cuda-bindings 12.9.1 in favour of
    ``cuda.bindings.utils.get_cuda_native_handle``; older versions only have ``int``.
    """
    try:
        from cuda.bindings.utils import get_cuda_native_handle
    except ImportError:
        return int(obj)
    try:
        return int(get_cuda_native_handle(obj))
    except TypeError:  # a plain int, or a type the helper does not know
        return int(obj)


def _cuda_error_text(cudart: Any, err: Any) -> str:
    try:
        name = cudart.cudaGetErrorName(err)[1]
    except Exception:  # noqa: BLE001 - best effort for a message
        return str(err)
    return name.decode() if isinstance(name, bytes) else str(name)


def cuda_call(cudart: Any, result: Any, what: str,
              error: type[HumanPoseError] = BackendUnavailableError) -> Any:
    """Unpack a cuda-python result tuple ``(err, *values)``.

    :return: None, the single value, or a tuple of values.
    :raises HumanPoseError: ``error`` when ``err`` is not ``cudaSuccess``.
    """
    status, values = result[0], tuple(result[1:])
    if status != cudart.cudaError_t.cudaSuccess:
        raise error(f'CUDA call {what} failed: {_cuda_error_text(cudart, status)}')
    if not values:
        return None
    return values[0] if len(values) == 1 else values


def cuda_device_count(cudart: Any) -> tuple[int, str]:
    """Return (number of CUDA devices, why none) without raising."""
    try:
        result = cudart.cudaGetDeviceCount()
    except Exception as err:  # noqa: BLE001 - a broken driver raises anything
        return 0, f'cudaGetDeviceCount raised {err!r}'
    if result[0] != cudart.cudaError_t.cudaSuccess:
        return 0, f'cudaGetDeviceCount: {_cuda_error_text(cudart, result[0])}'
    return int(result[1]), ''


@dataclass(frozen=True)
class GpuInfo:
    """The GPU an engine is built for.

    :param name: marketing name as CUDA reports it, e.g. ``Orin`` or ``NVIDIA GeForce RTX 4090``.
    :param compute_capability: (major, minor), e.g. (8, 7) for Jetson Orin.
    """

    name: str
    compute_capability: tuple[int, int]

    @property
    def cc_text(self) -> str:
        """Compute capability as ``major.minor``."""
        return f'{self.compute_capability[0]}.{self.compute_capability[1]}'

    @property
    def slug(self) -> str:
        """Short file-name-safe form of the name plus ``-smXY``."""
        name = re.sub(r'^nvidia[\s_-]*', '', self.name.strip(), flags=re.IGNORECASE)
        major, minor = self.compute_capability
        return f'{slugify(name)[:32] or "gpu"}-sm{major}{minor}'


def gpu_info(cudart: Any, device_id: int) -> GpuInfo:
    """Return name and compute capability of CUDA device ``device_id``.

    :raises BackendUnavailableError: the device cannot be queried.
    """
    props = cuda_call(cudart, cudart.cudaGetDeviceProperties(device_id),
                      f'cudaGetDeviceProperties({device_id})')
    raw = props.name
    name = raw.decode(errors='replace') if isinstance(raw, (bytes, bytearray)) else str(raw)
    attr = cudart.cudaDeviceAttr
    major = cuda_call(cudart, cudart.cudaDeviceGetAttribute(
        attr.cudaDevAttrComputeCapabilityMajor, device_id), 'cudaDeviceGetAttribute')
    minor = cuda_call(cudart, cudart.cudaDeviceGetAttribute(
        attr.cudaDevAttrComputeCapabilityMinor, device_id), 'cudaDeviceGetAttribute')
    return GpuInfo(name.split('\x00', 1)[0].strip(), (int(major), int(minor)))


# --------------------------------------------------------------------------- versions

def parse_version(text: str) -> tuple[int, ...]:
    """Return the leading numeric fields of a version string: ``'10.3.0.30'`` -> (10, 3, 0, 30)."""
    fields = []
    for part in str(text).split('.'):
        digits = re.match(r'\d+', part)
        if digits is None:
            break
        fields.append(int(digits.group()))
    return tuple(fields)


@dataclass(frozen=True)
class TrtFeatures:
    """What the installed TensorRT Python API offers; see :data:`FEATURE_PROBES`."""

    version: tuple[int, ...]
    tensor_io: bool
    progress_monitor: bool
    explicit_batch_flag: bool
    fp16_flag: bool
    memory_pool_limit: bool
    precision_constraints: bool


#: Feature -> test on (tensorrt module, parsed version). Data, not scattered ifs.
FEATURE_PROBES: dict[str, Callable[[Any, tuple[int, ...]], bool]] = {
    # num_io_tensors / set_input_shape / set_tensor_address / execute_async_v3: 8.5+
    'tensor_io': lambda trt, v: hasattr(trt.ICudaEngine, 'num_io_tensors'),
    # trt.IProgressMonitor + IBuilderConfig.progress_monitor: Python bindings from 9.1
    'progress_monitor': lambda trt, v: hasattr(trt, 'IProgressMonitor'),
    # create_network needs EXPLICIT_BATCH before 10 (ignored in 10, removed in 11)
    'explicit_batch_flag': lambda trt, v: v < (10,) and hasattr(
        trt.NetworkDefinitionCreationFlag, 'EXPLICIT_BATCH'),
    # weakly typed FP16 builds; TensorRT 11 is strongly typed only
    'fp16_flag': lambda trt, v: hasattr(trt.BuilderFlag, 'FP16'),
    # set_memory_pool_limit(MemoryPoolType.WORKSPACE, bytes): 8.4+
    'memory_pool_limit': lambda trt, v: hasattr(trt.IBuilderConfig, 'set_memory_pool_limit'),
    # PREFER_PRECISION_CONSTRAINTS: 8.2 .. 10.x (deprecated in 10.12)
    'precision_constraints': lambda trt, v: hasattr(trt.BuilderFlag,
                                                    'PREFER_PRECISION_CONSTRAINTS'),
}


def trt_features(trt: Any) -> TrtFeatures:
    """Probe the installed TensorRT once for the API differences this package cares about."""
    version = parse_version(getattr(trt, '__version__', '0'))
    return TrtFeatures(version=version,
                       **{name: bool(test(trt, version)) for name, test in FEATURE_PROBES.items()})


# --------------------------------------------------------------------------- ONNX facts

_ONNX_ELEM_DTYPES: dict[int, Any] = {1: np.float32, 10: np.float16, 11: np.float64,
                                     6: np.int32, 7: np.int64, 2: np.uint8, 3: np.int8,
                                     9: np.bool_}


@dataclass(frozen=True)
class OnnxInfo:
    """What the engine builder needs to know about an ONNX model.

    :param inputs: graph inputs (initialisers excluded), shapes with None / str for dynamic axes.
    :param outputs: graph outputs.
    :param metadata: ``metadata_props`` (e.g. ``humanpose_card``).
    """

    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    metadata: Mapping[str, str] = field(default_factory=dict)

    def normalisation(self) -> tuple[tuple[float, ...], tuple[float, ...], bool]:
        """Return (mean, std, rgb order) from the model card, else MMPose's defaults."""
        card: dict[str, Any] = {}
        try:
            card = json.loads(self.metadata.get('humanpose_card', '{}'))
        except ValueError:
            pass
        mean = tuple(float(v) for v in card.get('mean', (123.675, 116.28, 103.53)))
        std = tuple(float(v) for v in card.get('std', (58.395, 57.12, 57.375)))
        return mean, std, str(card.get('color', 'rgb')).lower() != 'bgr'


def read_onnx_info(path: Path) -> OnnxInfo:
    """Read inputs, outputs and metadata of an ONNX file.

    :raises ModelLoadError: missing or unreadable file.
    """
    import onnx

    if not Path(path).is_file():
        raise ModelLoadError(f'model file not found: {path}; check the path, or fetch released '
                             'models with `humanpose models download`')
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as err:  # noqa: BLE001 - protobuf raises its own family
        raise ModelLoadError(f'cannot read {path} as ONNX: {err}. Re-download or re-export '
                             'it.') from err
    initialisers = {t.name for t in model.graph.initializer}

    def spec(value: Any) -> TensorSpec:
        dims = tuple(d.dim_value if d.HasField('dim_value') and d.dim_value > 0
                     else (d.dim_param or None) for d in value.type.tensor_type.shape.dim)
        dtype = np.dtype(_ONNX_ELEM_DTYPES.get(value.type.tensor_type.elem_type, np.float32))
        return TensorSpec(value.name, dims, dtype)

    return OnnxInfo(tuple(spec(v) for v in model.graph.input if v.name not in initialisers),
                    tuple(spec(v) for v in model.graph.output),
                    {p.key: p.value for p in model.metadata_props})


def sha256_file(path: Path, chunk_bytes: int = 1 << 20) -> str:
    """Return the hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, 'rb') as stream:
        for chunk in iter(lambda: stream.read(chunk_bytes), b''):
            digest.update(chunk)
    return digest.hexdigest()


def slugify(text: str) -> str:
    """Lower-case ``text`` with runs of anything but letters and digits turned into ``-``."""
    return re.sub(r'[^a-z0-9]+', '-', text.lower()).strip('-')


# --------------------------------------------------------------------------- profiles

@dataclass(frozen=True)
class InputProfile:
    """Optimisation profile of one input: the shapes TensorRT tunes for and accepts."""

    name: str
    min_shape: tuple[int, ...]
    opt_shape: tuple[int, ...]
    max_shape: tuple[int, ...]

    @property
    def batch_range(self) -> tuple[int, int, int]:
        """(min, opt, max) batch."""
        return self.min_shape[0], self.opt_shape[0], self.max_shape[0]

    @property
    def is_static(self) -> bool:
        """The input accepts one shape only."""
        return self.min_shape == self.max_shape

    def describe(self) -> str:
        """Return ``name:1x3x256x192/4x3x256x192/16x3x256x192``."""
        def text(shape: tuple[int, ...]) -> str:
            return 'x'.join(str(d) for d in shape)
        return (f'{self.name}:{text(self.min_shape)}/{text(self.opt_shape)}/'
                f'{text(self.max_shape)}')


def compute_profiles(inputs: Sequence[TensorSpec], max_batch: int, opt_batch: int
                     ) -> tuple[InputProfile, ...]:
    """Return the batch-axis optimisation profile of each input.

    A dynamic batch gets min 1, opt ``opt_batch`` (clamped to [1, max_batch]) and max
    ``max_batch``; a static batch gets a fixed profile. Other axes must be fixed.

    :raises InvalidInputError: ``max_batch`` below 1.
    :raises ModelLoadError: an input has a dynamic axis besides the batch.
    """
    if max_batch < 1:
        raise InvalidInputError(f'max_batch must be at least 1, got {max_batch}')
    profiles = []
    for spec in inputs:
        if not spec.shape:
            raise ModelLoadError(f'input {spec.name!r} is a scalar; a pose network takes '
                                 'N x C x H x W images')
        rest = spec.shape[1:]
        dynamic = [axis for axis, dim in enumerate(rest, 1)
                   if not (isinstance(dim, int) and dim > 0)]
        if dynamic:
            raise ModelLoadError(
                f'input {spec.name!r} has shape {spec.shape}: axes {dynamic} are dynamic besides '
                'the batch. TensorRT profiles here fix everything but the batch; export the '
                'model with a fixed input size (e.g. batch x 3 x 256 x 192).')
        fixed = tuple(int(d) for d in rest)  # type: ignore[arg-type]
        static = spec.static_batch
        if static is not None:
            low = opt = high = static
        else:
            low, high = 1, int(max_batch)
            opt = min(max(int(opt_batch), 1), high)
        profiles.append(InputProfile(spec.name, (low,) + fixed, (opt,) + fixed,
                                     (high,) + fixed))
    return tuple(profiles)


# --------------------------------------------------------------------------- precision

@dataclass(frozen=True)
class LayerInfo:
    """A network layer reduced to what the FP32-pinning rules look at.

    :param kind: neutral kind: ``normalization``, ``reduce``, ``softmax``, ``matmul``,
        ``convolution``, ``elementwise``, ``unary``, ``activation``, ``shuffle``,
        ``constant``, ``shape``, ``cast`` or another lower-case type name.
    :param op: operation of elementwise / unary layers, TensorRT's names lower-cased
        (``sum``, ``sub``, ``prod``, ``div``, ``pow``, ``sqrt``, ``recip``, ``exp`` ...).
    :param float_outputs: every output is a floating-point tensor.
    """

    index: int
    name: str
    kind: str
    op: str = ''
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    float_outputs: bool = True


#: Layers that compute normalisation statistics or softmax: FP16 range/rounding hurts them.
FP32_KINDS: dict[str, str] = {
    'normalization': 'normalisation layer',
    'reduce': 'reduction (normalisation statistics)',
    'softmax': 'softmax',
}
#: Pointwise operations of hand-written normalisation (LayerNorm / RTMCC ScaleNorm exports).
FP32_OPS: dict[tuple[str, str], str] = {
    ('unary', 'sqrt'): 'square root (normalisation)',
    ('unary', 'recip'): 'reciprocal (normalisation)',
    ('elementwise', 'pow'): 'power (normalisation)',
}
#: Pointwise kinds that carry statistics on to the division that normalises.
POINTWISE_KINDS = frozenset({'elementwise', 'unary', 'activation'})
#: How many pointwise layers after a statistic still belong to "the normalisation".
STATISTICS_REACH = 4
#: The output head ends (walking back from an output) at its last linear layer.
HEAD_STOP_KINDS = frozenset({'matmul', 'convolution'})
HEAD_REACH = 8
NEVER_PIN_KINDS = frozenset({'constant', 'shape'})


def select_fp32_layers(layers: Sequence[LayerInfo], head_outputs: Iterable[str]
                       ) -> dict[int, str]:
    """Choose the layers an FP16 build keeps in FP32.

    Rules (tables above): (1) normalisation, reduction and softmax layers, and sqrt /
    reciprocal / pow; (2) pointwise layers fed by those, up to and including the division
    that applies the statistics (at most :data:`STATISTICS_REACH` steps); (3) the output
    head: walking back from each of ``head_outputs`` (the ``simcc_x`` / ``simcc_y``
    tensors) through its producers up to and including the last MatMul / Gemm (or
    convolution) before it.

    :param layers: the network's layers in topological order.
    :param head_outputs: names of the output tensors whose head to keep in FP32.
    :return: layer index -> reason.
    """
    producers: dict[str, LayerInfo] = {}
    consumers: dict[str, list[LayerInfo]] = {}
    for layer in layers:
        for name in layer.outputs:
            producers[name] = layer
        for name in layer.inputs:
            consumers.setdefault(name, []).append(layer)

    picked: dict[int, str] = {}
    for layer in layers:
        reason = FP32_KINDS.get(layer.kind) or FP32_OPS.get((layer.kind, layer.op))
        if reason and layer.float_outputs:
            picked[layer.index] = reason

    frontier = [(layer, 0) for layer in layers if layer.index in picked]
    while frontier:
        layer, depth = frontier.pop()
        if depth >= STATISTICS_REACH:
            continue
        for name in layer.outputs:
            for user in consumers.get(name, ()):
                if user.kind not in POINTWISE_KINDS or not user.float_outputs:
                    continue
                if user.index not in picked:
                    picked[user.index] = 'uses normalisation statistics'
                if user.op != 'div':  # the division ends the normalisation
                    frontier.append((user, depth + 1))

    for output in head_outputs:
        start = producers.get(output)
        queue = [(start, 0)] if start is not None else []
        seen: set[int] = set()
        while queue:
            layer, depth = queue.pop()
            if (layer.index in seen or layer.kind in NEVER_PIN_KINDS or depth > HEAD_REACH
                    or not layer.float_outputs):
                continue
            seen.add(layer.index)
            picked.setdefault(layer.index, f'output head ({output})')
            if layer.kind in HEAD_STOP_KINDS:
                continue
            queue.extend((producers[name], depth + 1) for name in layer.inputs
                         if name in producers)
    return picked


_ONNX_KINDS: dict[str, tuple[str, str]] = {
    'LayerNormalization': ('normalization', ''), 'InstanceNormalization': ('normalization', ''),
    'GroupNormalization': ('normalization', ''), 'ReduceMean': ('reduce', 'avg'),
    'ReduceSum': ('reduce', 'sum'), 'ReduceL2': ('reduce', 'sum'),
    'ReduceSumSquare': ('reduce', 'sum'), 'ReduceMax': ('reduce', 'max'),
    'ReduceMin': ('reduce', 'min'), 'ReduceProd': ('reduce', 'prod'),
    'ReduceL1': ('reduce', 'sum'), 'ReduceLogSumExp': ('reduce', 'sum'),
    'Softmax': ('softmax', ''), 'LogSoftmax': ('softmax', ''),
    'MatMul': ('matmul', ''), 'Gemm': ('matmul', ''), 'Conv': ('convolution', ''),
    'Add': ('elementwise', 'sum'), 'Sub': ('elementwise', 'sub'), 'Mul': ('elementwise', 'prod'),
    'Div': ('elementwise', 'div'), 'Pow': ('elementwise', 'pow'), 'Max': ('elementwise', 'max'),
    'Min': ('elementwise', 'min'), 'Sqrt': ('unary', 'sqrt'), 'Reciprocal': ('unary', 'recip'),
    'Exp': ('unary', 'exp'), 'Log': ('unary', 'log'), 'Abs': ('unary', 'abs'),
    'Neg': ('unary', 'neg'), 'Erf': ('unary', 'erf'), 'Relu': ('activation', ''),
    'Sigmoid': ('activation', ''), 'Tanh': ('activation', ''), 'Clip': ('activation', ''),
    'LeakyRelu': ('activation', ''), 'HardSigmoid': ('activation', ''),
    'Identity': ('shuffle', ''), 'Reshape': ('shuffle', ''), 'Transpose': ('shuffle', ''),
    'Flatten': ('shuffle', ''), 'Squeeze': ('shuffle', ''), 'Unsqueeze': ('shuffle', ''),
    'Constant': ('constant', ''), 'Shape': ('shape', ''), 'Cast': ('cast', ''),
}
_ONNX_NON_FLOAT = frozenset({'ArgMax', 'ArgMin', 'Shape', 'Less', 'Greater', 'Equal', 'And',
                             'Or', 'Not', 'NonZero', 'Size'})


def onnx_layer_infos(model: Any) -> list[LayerInfo]:
    """Describe the nodes of an ``onnx.ModelProto`` as :class:`LayerInfo` (for previews, tests).

    TensorRT's parser maps nodes to layers roughly one to one for the ops the rules look at,
    so this preview matches what :func:`network_layer_infos` sees on the parsed network.
    """
    infos = []
    for index, node in enumerate(model.graph.node):
        kind, op = _ONNX_KINDS.get(node.op_type, (node.op_type.lower(), ''))
        infos.append(LayerInfo(index, node.name or f'{node.op_type}_{index}', kind, op,
                               tuple(i for i in node.input if i), tuple(node.output),
                               node.op_type not in _ONNX_NON_FLOAT))
    return infos


def enum_name(value: Any) -> str:
    """Return the member name of a TensorRT (pybind11) enum value."""
    name = getattr(value, 'name', None)
    return str(name) if name else str(value).rsplit('.', 1)[-1]


#: TensorRT LayerType name -> neutral kind (FULLY_CONNECTED exists before TensorRT 10 only).
TRT_LAYER_KINDS: dict[str, str] = {
    'NORMALIZATION': 'normalization', 'REDUCE': 'reduce', 'SOFTMAX': 'softmax',
    'MATRIX_MULTIPLY': 'matmul', 'FULLY_CONNECTED': 'matmul', 'CONVOLUTION': 'convolution',
    'ELEMENTWISE': 'elementwise', 'UNARY': 'unary', 'ACTIVATION': 'activation',
    'SHUFFLE': 'shuffle', 'IDENTITY': 'shuffle', 'CONSTANT': 'constant', 'SHAPE': 'shape',
    'CAST': 'cast',
}
#: Layer types whose ``op`` needs the subclass (the network returns ILayer).
TRT_OP_CLASSES: dict[str, str] = {'ELEMENTWISE': 'IElementWiseLayer', 'UNARY': 'IUnaryLayer'}


def _float_types(trt: Any) -> tuple[Any, ...]:
    return tuple(getattr(trt, name) for name in ('float32', 'float16', 'bfloat16')
                 if hasattr(trt, name))


def network_layer_infos(trt: Any, network: Any) -> list[LayerInfo]:
    """Describe the layers of a parsed ``trt.INetworkDefinition``."""
    floats = _float_types(trt)
    infos = []
    for index in range(network.num_layers):
        layer = network.get_layer(index)
        type_name = enum_name(layer.type)
        op = ''
        subclass = getattr(trt, TRT_OP_CLASSES.get(type_name, ''), None)
        if subclass is not None:
            layer.__class__ = subclass  # downcast to read .op (as NVIDIA's Polygraphy does)
            op = enum_name(layer.op).lower()
        ins = [layer.get_input(i) for i in range(layer.num_inputs)]
        outs = [layer.get_output(i) for i in range(layer.num_outputs)]
        kind = TRT_LAYER_KINDS.get(type_name, type_name.lower())
        infos.append(LayerInfo(index, layer.name, kind, op,
                               tuple(t.name for t in ins if t is not None),
                               tuple(t.name for t in outs if t is not None),
                               all(t.dtype in floats for t in outs if t is not None)))
    return infos


def pin_layers_fp32(trt: Any, network: Any, picks: Mapping[int, str]) -> int:
    """Set compute precision and float output types of the picked layers to FP32.

    :return: number of layers pinned.
    """
    floats = _float_types(trt)
    for index in picks:
        layer = network.get_layer(index)
        layer.precision = trt.float32
        for i in range(layer.num_outputs):
            tensor = layer.get_output(i)
            if tensor is not None and tensor.dtype in floats:
                layer.set_output_type(i, trt.float32)
    return len(picks)


@dataclass(frozen=True)
class PrecisionPlan:
    """Builder flags to set and clear, and whether sensitive layers are pinned to FP32."""

    flags_on: tuple[str, ...]
    flags_off: tuple[str, ...]
    pin_fp32: bool


#: (precision, keep_fp32) -> plan. FP32 clears TF32 so an "fp32" engine matches ONNX
#: Runtime (TF32 rounds GEMM inputs to 10-bit mantissas and is on by default); pinned FP32
#: layers in FP16 builds are real FP32 for the same reason.
PRECISION_PLANS: dict[tuple[str, bool], PrecisionPlan] = {
    ('fp32', False): PrecisionPlan((), ('TF32',), False),
    ('fp32', True): PrecisionPlan((), ('TF32',), False),
    ('fp16', True): PrecisionPlan(('FP16', 'PREFER_PRECISION_CONSTRAINTS'), ('TF32',), True),
    ('fp16', False): PrecisionPlan(('FP16',), (), False),
}


def check_precision(precision: str) -> str:
    """Return ``precision`` if known.

    :raises InvalidInputError: not ``fp32`` or ``fp16``.
    """
    if precision not in PRECISIONS:
        raise InvalidInputError(f'precision must be one of {", ".join(PRECISIONS)}, '
                                f'got {precision!r}')
    return precision


# --------------------------------------------------------------------------- cache key

@dataclass(frozen=True)
class EngineKey:
    """Everything an engine depends on; equal keys mean interchangeable engines."""

    onnx_sha256: str
    trt_version: str
    gpu_name: str
    compute_capability: str
    precision: str
    keep_fp32: bool
    profiles: tuple[InputProfile, ...]
    schema: int = KEY_SCHEMA

    @property
    def precision_tag(self) -> str:
        """``fp32``, ``fp16`` or ``fp16-mixed`` (FP16 with sensitive layers in FP32)."""
        return 'fp16-mixed' if self.precision == 'fp16' and self.keep_fp32 else self.precision

    def fields(self) -> dict[str, Any]:
        """Return the key as JSON-ready data (the sidecar's ``key``)."""
        return {'schema': self.schema, 'onnx_sha256': self.onnx_sha256,
                'trt_version': self.trt_version, 'gpu_name': self.gpu_name,
                'compute_capability': self.compute_capability, 'precision': self.precision,
                'keep_fp32': self.keep_fp32,
                'profiles': [{'name': p.name, 'min': list(p.min_shape), 'opt': list(p.opt_shape),
                              'max': list(p.max_shape)} for p in self.profiles]}

    @classmethod
    def from_fields(cls, data: Mapping[str, Any]) -> EngineKey:
        """Rebuild a key from :meth:`fields` output.

        :raises KeyError, TypeError, ValueError: malformed data.
        """
        profiles = tuple(InputProfile(str(p['name']), tuple(int(d) for d in p['min']),
                                      tuple(int(d) for d in p['opt']),
                                      tuple(int(d) for d in p['max']))
                         for p in data['profiles'])
        return cls(str(data['onnx_sha256']), str(data['trt_version']), str(data['gpu_name']),
                   str(data['compute_capability']), str(data['precision']),
                   bool(data['keep_fp32']), profiles, int(data['schema']))

    def digest(self) -> str:
        """Return a stable hex sha256 of the key fields."""
        text = json.dumps(self.fields(), sort_keys=True, separators=(',', ':'))
        return hashlib.sha256(text.encode()).hexdigest()

    def file_name(self, model_stem: str) -> str:
        """Return a readable, unique engine file name.

        ``<model>.<precision>.b<min>-<opt>-<max>.<gpu>-sm<cc>.trt<version>.<digest16>.engine``
        """
        low, opt, high = self.profiles[0].batch_range if self.profiles else (1, 1, 1)
        gpu = GpuInfo(self.gpu_name, _cc_tuple(self.compute_capability)).slug
        return (f'{slugify(model_stem)[:48] or "model"}.{self.precision_tag}.b{low}-{opt}-{high}.'
                f'{gpu}.trt{self.trt_version}.{self.digest()[:16]}{ENGINE_SUFFIX}')


def _cc_tuple(text: str) -> tuple[int, int]:
    major, _, minor = text.partition('.')
    return int(major or 0), int(minor or 0)


def make_engine_key(onnx_sha256: str, trt_version: str, gpu: GpuInfo, precision: str,
                    keep_fp32: bool, profiles: Sequence[InputProfile]) -> EngineKey:
    """Return the key; ``keep_fp32`` only counts for FP16 (FP32 engines are all FP32)."""
    check_precision(precision)
    return EngineKey(onnx_sha256, str(trt_version), gpu.name, gpu.cc_text, precision,
                     bool(keep_fp32) and precision == 'fp16', tuple(profiles))


# --------------------------------------------------------------------------- cache

def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix='.tmp')
    try:
        with os.fdopen(fd, 'wb') as stream:
            stream.write(data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def sidecar_path(engine_path: Path) -> Path:
    """Return the JSON sidecar next to an engine file."""
    return Path(engine_path).with_suffix(SIDECAR_SUFFIX)


def read_sidecar(engine_path: Path) -> Optional[dict[str, Any]]:
    """Return the sidecar of ``engine_path``, or None if missing or unreadable."""
    try:
        data = json.loads(sidecar_path(engine_path).read_text('utf-8'))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def sidecar_problem(sidecar: Optional[Mapping[str, Any]], key: EngineKey) -> Optional[str]:
    """Say why a cached engine does not belong to ``key`` (None if it does)."""
    if sidecar is None:
        return 'it has no readable sidecar file (copied in from elsewhere?)'
    recorded = sidecar.get('key') or {}
    if recorded.get('trt_version') != key.trt_version:
        return (f'it was built with TensorRT {recorded.get("trt_version")}, this is TensorRT '
                f'{key.trt_version}')
    if (recorded.get('gpu_name'), recorded.get('compute_capability')) != (
            key.gpu_name, key.compute_capability):
        return (f'it was built for {recorded.get("gpu_name")} (sm '
                f'{recorded.get("compute_capability")}), this is {key.gpu_name} (sm '
                f'{key.compute_capability})')
    if sidecar.get('digest') != key.digest():
        return 'its recorded key differs from this model/options key'
    return None


class EngineCache:
    """A directory of engines named by :meth:`EngineKey.file_name`, each with a JSON sidecar.

    :param directory: cache directory; None = :func:`humanpose.paths.engines_dir`.
    """

    def __init__(self, directory: Optional[Path] = None) -> None:
        self.directory = Path(directory) if directory is not None else engines_dir()

    def find(self, key: EngineKey) -> Optional[Path]:
        """Return the cached engine for ``key`` (any model file name), or None."""
        if not self.directory.is_dir():
            return None
        matches = sorted(self.directory.glob(f'*.{key.digest()[:16]}{ENGINE_SUFFIX}'))
        return matches[0] if matches else None

    def path_for(self, key: EngineKey, model_stem: str) -> Path:
        """Return where a new engine for ``key`` goes."""
        return self.directory / key.file_name(model_stem)

    def timing_cache_path(self, gpu: GpuInfo, trt_version: str) -> Path:
        """Return the timing cache file shared by all builds on this GPU and TensorRT."""
        return self.directory / f'timing.{gpu.slug}.trt{trt_version}.cache'

    def store(self, path: Path, engine: bytes, sidecar: Mapping[str, Any]) -> None:
        """Write an engine and its sidecar atomically."""
        write_atomic(path, engine)
        write_atomic(sidecar_path(path), json.dumps(sidecar, indent=2, sort_keys=True).encode())

    def update_sidecar(self, path: Path, **fields: Any) -> None:
        """Merge ``fields`` into the sidecar of ``path``."""
        data = read_sidecar(path) or {}
        data.update(fields)
        write_atomic(sidecar_path(path), json.dumps(data, indent=2, sort_keys=True).encode())

    def remove(self, path: Path) -> None:
        """Delete an engine and its sidecar."""
        for victim in (Path(path), sidecar_path(path)):
            try:
                victim.unlink()
            except FileNotFoundError:
                pass


def make_sidecar(key: EngineKey, onnx_path: Path, **extra: Any) -> dict[str, Any]:
    """Return the sidecar content for a new engine: key fields, digest, provenance."""
    data: dict[str, Any] = {'key': key.fields(), 'digest': key.digest(),
                            'onnx_path': str(onnx_path),
                            'built_at': time.strftime('%Y-%m-%dT%H:%M:%S%z')}
    data.update(extra)
    return data


@dataclass(frozen=True)
class LoadedEngine:
    """An engine object with where it came from.

    :param built: it was built in this call (else found in the cache).
    """

    engine: Any
    path: Path
    built: bool


def load_or_build(key: EngineKey, cache: EngineCache, model_stem: str,
                  build: Callable[[Path], None], load: Callable[[bytes], Any],
                  rebuild: bool = False) -> LoadedEngine:
    """Load the cached engine for ``key``, or build it; rebuild a stale one once.

    A cached engine whose sidecar does not match (other TensorRT, other GPU, no sidecar) or
    that TensorRT refuses to deserialise is logged, deleted and rebuilt once; if the fresh
    engine cannot be loaded either, that is an error.

    :param build: writes engine + sidecar to the given path (raises on failure).
    :param load: deserialises engine bytes; raises :class:`ModelLoadError` when it cannot.
    :param rebuild: ignore a cached engine (``build-engine --force``).
    :raises ModelLoadError: the fresh build cannot be loaded.
    """
    found = cache.find(key)
    if found is not None and rebuild:
        LOG.info('rebuilding %s as asked', found.name)
        cache.remove(found)
    elif found is not None:
        problem = sidecar_problem(read_sidecar(found), key)
        if problem is None:
            try:
                return LoadedEngine(load(found.read_bytes()), found, built=False)
            except ModelLoadError as err:
                problem = f'TensorRT cannot deserialise it ({err})'
        LOG.warning('cached TensorRT engine %s is stale or foreign: %s. Rebuilding it once from '
                    'the ONNX (this takes minutes on a Jetson).', found, problem)
        cache.remove(found)
    path = cache.path_for(key, model_stem)
    build(path)
    try:
        engine = load(path.read_bytes())
    except ModelLoadError as err:
        raise ModelLoadError(
            f'the TensorRT engine just built at {path} cannot be loaded either ({err}). The '
            'TensorRT installation looks broken (check that `python3 -c "import tensorrt"` '
            'matches the libnvinfer version), or use backend onnxruntime-cuda / '
            'onnxruntime-cpu.') from err
    return LoadedEngine(engine, path, built=True)


# --------------------------------------------------------------------------- TensorRT glue

#: TensorRT log severity name -> Python logging level. Errors are also kept for messages.
TRT_LOG_LEVELS: dict[str, int] = {'INTERNAL_ERROR': logging.ERROR, 'ERROR': logging.ERROR,
                                  'WARNING': logging.INFO, 'INFO': logging.DEBUG,
                                  'VERBOSE': logging.DEBUG - 1}


def make_logger(trt: Any) -> Any:
    """Return a ``trt.ILogger`` that forwards to Python logging and remembers errors.

    TensorRT warnings go to INFO (they are mostly about INT64 weights and tactics), errors
    are kept in ``errors`` and reported through the exceptions raised here.
    """
    base = trt.ILogger

    class _Logger(base):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            base.__init__(self)
            self.errors: list[str] = []

        def log(self, severity: Any, msg: str) -> None:
            level = TRT_LOG_LEVELS.get(enum_name(severity), logging.DEBUG)
            if level >= logging.ERROR:
                self.errors = (self.errors + [str(msg)])[-8:]
                level = logging.DEBUG  # surfaced in the exception that follows
            TRT_LOG.log(level, '%s', msg)

        def take_errors(self) -> str:
            text = ' | '.join(self.errors) or 'no error message from TensorRT'
            self.errors = []
            return text

    return _Logger()


def deserialize_engine(trt: Any, runtime: Any, logger: Any, data: bytes) -> Any:
    """Deserialise engine bytes.

    :raises ModelLoadError: TensorRT returns None or raises (stale/foreign/corrupt engine).
    """
    try:
        engine = runtime.deserialize_cuda_engine(data)
    except Exception as err:  # noqa: BLE001 - TensorRT raises RuntimeError/TypeError
        engine = None
        logger.errors.append(str(err))
    if engine is None:
        raise ModelLoadError(f'TensorRT {getattr(trt, "__version__", "?")} cannot deserialise '
                             f'the engine: {logger.take_errors()}')
    return engine


class BuildProgress:
    """A progress indication while TensorRT builds (minutes on a Jetson).

    A timer thread reports an "N s elapsed" line every ``interval_s``; where TensorRT has
    ``IProgressMonitor`` (9.1+), the current top-level phase is added to it and phase starts
    are reported as they happen.

    :param label: what is being built (model file name).
    :param report: where lines go (``LOG.info`` by default; the CLI prints them).
    :param interval_s: seconds between heartbeat lines.
    :param clock: monotonic clock (tests pass a fake).
    """

    def __init__(self, label: str, report: Optional[Callable[[str], None]] = None,
                 interval_s: float = 15.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.label = label
        self.report: Callable[[str], None] = report or (lambda line: LOG.info('%s', line))
        self.interval_s = interval_s
        self._clock = clock
        self._start = clock()
        self._lock = threading.Lock()
        self._phases: dict[str, list[int]] = {}  # name -> [step, num_steps]
        self._top: list[str] = []
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self.cancelled = False

    def elapsed_s(self) -> float:
        """Seconds since the build started."""
        return self._clock() - self._start

    def heartbeat_line(self) -> str:
        """Return the periodic line: elapsed time and the current phase if known."""
        line = f'building TensorRT engine for {self.label}: {self.elapsed_s():.0f} s elapsed'
        with self._lock:
            if self._top:
                name = self._top[-1]
                step, total = self._phases.get(name, [0, 0])
                line += f' ({name}: {step}/{total})'
        return line

    def phase_started(self, name: str, parent: Optional[str], num_steps: int) -> None:
        """Record a phase (IProgressMonitor.phase_start); report top-level phases."""
        with self._lock:
            self._phases[name] = [0, int(num_steps)]
            if parent is None:
                self._top.append(name)
        if parent is None:
            self.report(f'building {self.label}: {name} ({num_steps} steps)')

    def step_completed(self, name: str, step: int) -> bool:
        """Record a step (IProgressMonitor.step_complete); False cancels the build."""
        with self._lock:
            if name in self._phases:
                self._phases[name][0] = int(step) + 1
        return not self.cancelled

    def phase_finished(self, name: str) -> None:
        """Forget a finished phase (IProgressMonitor.phase_finish)."""
        with self._lock:
            self._phases.pop(name, None)
            if name in self._top:
                self._top.remove(name)

    def _beat(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.report(self.heartbeat_line())

    def __enter__(self) -> BuildProgress:
        self._start = self._clock()
        self.report(f'building TensorRT engine for {self.label} (minutes on a Jetson; the '
                    'result is cached)')
        self._thread = threading.Thread(target=self._beat, name='trt-build-progress',
                                        daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        outcome = 'failed' if exc and exc[0] is not None else 'done'
        self.report(f'building TensorRT engine for {self.label}: {outcome} after '
                    f'{self.elapsed_s():.0f} s')


def make_progress_monitor(trt: Any, progress: BuildProgress) -> Optional[Any]:
    """Return a ``trt.IProgressMonitor`` feeding ``progress``, or None before TensorRT 9.1."""
    base: Any = getattr(trt, 'IProgressMonitor', None)
    if base is None:
        return None

    class _Monitor(base):  # type: ignore[misc]
        def __init__(self) -> None:
            base.__init__(self)  # pybind11 trampolines need the explicit base init

        def phase_start(self, phase_name: str, parent_phase: Optional[str],
                        num_steps: int) -> None:
            progress.phase_started(phase_name, parent_phase, num_steps)

        def step_complete(self, phase_name: str, step: int) -> bool:
            return progress.step_completed(phase_name, step)

        def phase_finish(self, phase_name: str) -> None:
            progress.phase_finished(phase_name)

    return _Monitor()


def _load_timing_cache(trt: Any, config: Any, path: Path) -> Any:
    data = b''
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        pass
    cache = config.create_timing_cache(data)
    if cache is not None and config.set_timing_cache(cache, False):
        if data:
            LOG.info('reusing TensorRT timing cache %s', path)
        return cache
    LOG.info('timing cache %s does not fit this GPU/TensorRT; starting a new one', path)
    cache = config.create_timing_cache(b'')
    config.set_timing_cache(cache, False)
    return cache


@dataclass(frozen=True)
class BuiltEngine:
    """Result of :func:`build_serialized_engine`.

    :param data: the serialised engine.
    :param fp32_layers: layer name -> why it was kept in FP32.
    :param build_s: build time in seconds.
    """

    data: bytes
    fp32_layers: Mapping[str, str]
    build_s: float


def build_serialized_engine(trt: Any, logger: Any, onnx_path: Path,
                            profiles: Sequence[InputProfile], precision: str, keep_fp32: bool,
                            workspace_mb: int, timing_cache: Optional[Path],
                            progress: BuildProgress) -> BuiltEngine:
    """Parse ``onnx_path`` and build a serialised engine (on the current CUDA device).

    :raises BackendUnavailableError: the precision cannot be built by this TensorRT.
    :raises ModelLoadError: the ONNX does not parse or the build fails.
    """
    features = trt_features(trt)
    plan = PRECISION_PLANS[(check_precision(precision), bool(keep_fp32))]
    if 'FP16' in plan.flags_on and not features.fp16_flag:
        raise BackendUnavailableError(
            f'TensorRT {trt.__version__} builds strongly typed networks only (no FP16 builder '
            'flag): FP16 needs an FP16/mixed ONNX (e.g. NVIDIA ModelOpt AutoCast). Build fp32, '
            'or use TensorRT 10.')
    builder = trt.Builder(logger)
    flags = (1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
             if features.explicit_batch_flag else 0)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = '; '.join(str(parser.get_error(i)) for i in range(min(parser.num_errors, 3)))
        raise ModelLoadError(f'TensorRT {trt.__version__} cannot parse {onnx_path.name}: '
                             f'{errors or logger.take_errors()}. Check the opset/operators, or '
                             'use backend onnxruntime.')
    config = builder.create_builder_config()
    workspace = int(workspace_mb) << 20
    if features.memory_pool_limit:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace)
    else:
        config.max_workspace_size = workspace
    for name in plan.flags_on:
        if name == 'PREFER_PRECISION_CONSTRAINTS' and not features.precision_constraints:
            name = 'STRICT_TYPES'  # the pre-8.2 spelling
        config.set_flag(getattr(trt.BuilderFlag, name))
    for name in plan.flags_off:
        if hasattr(trt.BuilderFlag, name):
            config.clear_flag(getattr(trt.BuilderFlag, name))

    pinned: dict[str, str] = {}
    if plan.pin_fp32:
        infos = network_layer_infos(trt, network)
        heads = [network.get_output(i).name for i in range(network.num_outputs)]
        picks = select_fp32_layers(infos, heads)
        pin_layers_fp32(trt, network, picks)
        pinned = {infos[i].name: why for i, why in sorted(picks.items())}
        LOG.info('FP16 build of %s keeps %d of %d layers in FP32 (normalisation, softmax, '
                 'output head)', onnx_path.name, len(picks), len(infos))

    dynamic = {network.get_input(i).name for i in range(network.num_inputs)
               if any(int(d) < 0 for d in network.get_input(i).shape)}
    if dynamic:
        profile = builder.create_optimization_profile()
        for entry in profiles:
            if entry.name in dynamic:
                profile.set_shape(entry.name, list(entry.min_shape), list(entry.opt_shape),
                                  list(entry.max_shape))
        config.add_optimization_profile(profile)

    cache = _load_timing_cache(trt, config, timing_cache) if timing_cache is not None else None
    monitor = make_progress_monitor(trt, progress)
    if monitor is not None:
        config.progress_monitor = monitor
    with progress:
        serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise ModelLoadError(f'TensorRT {trt.__version__} could not build an engine from '
                             f'{onnx_path.name}: {logger.take_errors()}. A larger --workspace, '
                             'or fp32, may help.')
    if cache is not None and timing_cache is not None:
        try:
            write_atomic(timing_cache, bytes(memoryview(config.get_timing_cache().serialize())))
        except OSError as err:
            LOG.warning('cannot save the TensorRT timing cache %s: %s', timing_cache, err)
    return BuiltEngine(bytes(memoryview(serialized)), pinned, progress.elapsed_s())


# --------------------------------------------------------------------------- accuracy guard

def guard_sample_batch(input_shape: Sequence[int], batch: int, mean: Sequence[float],
                       std: Sequence[float], rgb: bool = True, seed: int = 0
                       ) -> NDArray[np.float32]:
    """Return ``batch`` normalised crops with one drawn person each, like top-down crops.

    People come from :mod:`humanpose.testing.scene` (skeleton drawings with hands and face),
    centred and scaled as a detector box padded by 1.25 would put them, with a little
    rotation and stretch. Inputs that are not 3-channel images get seeded noise.

    :param input_shape: (C, H, W) of the network input.
    :return: (batch, C, H, W) float32.
    """
    channels, height, width = (int(d) for d in input_shape)
    rng = np.random.default_rng(seed)
    if channels != 3:
        return rng.standard_normal((batch, channels, height, width)).astype(np.float32)
    from humanpose.testing.scene import PersonSpec, person_template, render_scene

    template = person_template()
    low, high = template.min(axis=0), template.max(axis=0)
    out = np.empty((batch, 3, height, width), np.float32)
    for i in range(batch):
        aspect = float(rng.uniform(0.9, 1.1))
        scale = min(height / (1.25 * (high[1] - low[1])),
                    width / (1.25 * (high[0] - low[0]) * aspect))
        centre = ((width - 1) / 2 - scale * aspect * (low[0] + high[0]) / 2
                  + rng.uniform(-2, 2),
                  (height - 1) / 2 - scale * (low[1] + high[1]) / 2 + rng.uniform(-2, 2))
        person = PersonSpec((float(centre[0]), float(centre[1])), float(scale),
                            angle_deg=float(rng.uniform(-8, 8)), aspect=aspect)
        image = render_scene(width, height, [person], seed=seed + i).image  # BGR
        pixels = image[..., ::-1] if rgb else image
        norm = (pixels.astype(np.float32) - np.asarray(mean, np.float32)) / np.asarray(
            std, np.float32)
        out[i] = norm.transpose(2, 0, 1)
    return out


def decode_argmax_keypoints(outputs: Mapping[str, NDArray[Any]], input_size: tuple[int, int]
                            ) -> Optional[tuple[NDArray[np.float32], NDArray[np.float32]]]:
    """Decode keypoints by argmax, in input pixels (SimCC or heatmap heads).

    Uses :mod:`humanpose.decode` (argmax, no DARK). SimCC: keypoint = argmax / split ratio,
    split ratio = output length / input side (per axis); score = min of the x and y maxima.
    Heatmap (``heatmaps`` N x K x h x w): argmax cell scaled by input / heatmap size.

    :param input_size: (width, height) of the network input.
    :return: (keypoints (N, K, 2) float32 input pixels, raw scores (N, K) float32), or None
        for outputs this does not know.
    """
    from humanpose.decode import decode_heatmap, decode_simcc

    width, height = input_size
    if 'simcc_x' in outputs and 'simcc_y' in outputs:
        simcc_x = np.asarray(outputs['simcc_x'], np.float32)
        simcc_y = np.asarray(outputs['simcc_y'], np.float32)
        split_x, split_y = simcc_x.shape[-1] / width, simcc_y.shape[-1] / height
        keypoints, scores, _ = decode_simcc(simcc_x, simcc_y, split_x)
        keypoints[..., 1] *= np.float32(split_x / split_y)  # y bins per pixel may differ
        return keypoints, scores
    maps = outputs.get('heatmaps')
    if maps is not None and np.ndim(maps) == 4:
        keypoints, scores, _ = decode_heatmap(np.asarray(maps, np.float32), input_size,
                                              dark=False)
        return keypoints, scores
    return None


@dataclass(frozen=True)
class GuardReport:
    """How far an engine's decoded keypoints are from ONNX Runtime's on a sample batch.

    :param max_px: largest keypoint distance, input pixels (over keypoints the reference
        scores at least ``min_score``).
    :param mean_px: mean keypoint distance, input pixels.
    :param worst_part: skeleton part of the worst keypoint (``left_hand`` ...).
    :param worst_keypoint: name of the worst keypoint.
    :param per_part_max_px: part -> largest distance.
    :param output_max_abs: output name -> largest absolute difference of the raw outputs.
    :param compared: keypoints compared (of batch x K).
    """

    batch: int
    max_px: float
    mean_px: float
    worst_part: str
    worst_keypoint: str
    per_part_max_px: Mapping[str, float]
    output_max_abs: Mapping[str, float]
    compared: int
    threshold_px: float

    @property
    def passed(self) -> bool:
        """The largest difference is within the threshold."""
        return self.max_px <= self.threshold_px

    def summary(self) -> str:
        """One line for logs and the CLI."""
        return (f'keypoints vs ONNX Runtime on {self.batch} sample crops: max '
                f'{self.max_px:.2f} px, mean {self.mean_px:.3f} px (worst: {self.worst_part}, '
                f'{self.worst_keypoint}); threshold {self.threshold_px:g} px')

    def to_json(self) -> dict[str, Any]:
        """Return JSON-ready data (stored in the engine's sidecar)."""
        return {'batch': self.batch, 'max_px': self.max_px, 'mean_px': self.mean_px,
                'worst_part': self.worst_part, 'worst_keypoint': self.worst_keypoint,
                'per_part_max_px': dict(self.per_part_max_px),
                'output_max_abs': dict(self.output_max_abs), 'compared': self.compared,
                'threshold_px': self.threshold_px, 'passed': self.passed}


def _parts_of(num_keypoints: int) -> tuple[list[str], NDArray[np.int64], tuple[str, ...]]:
    from humanpose.skeletons import skeleton_for_num_keypoints

    try:
        skeleton = skeleton_for_num_keypoints(num_keypoints)
    except HumanPoseError:
        return (['all'], np.zeros(num_keypoints, np.int64),
                tuple(f'keypoint {i}' for i in range(num_keypoints)))
    return list(skeleton.parts), skeleton.part_of_keypoint(), skeleton.keypoint_names


def compare_pose_outputs(reference: Mapping[str, NDArray[Any]],
                         candidate: Mapping[str, NDArray[Any]], input_size: tuple[int, int],
                         threshold_px: float = 1.0, min_score: float = 0.1
                         ) -> Optional[GuardReport]:
    """Compare decoded keypoints of two runs of the same batch.

    :param reference: outputs of ONNX Runtime.
    :param candidate: outputs of the TensorRT engine.
    :param input_size: (width, height) of the network input.
    :param min_score: keypoints the reference scores lower are not compared (invisible).
    :return: the report, or None when the outputs are not a known pose head.
    """
    output_max_abs = {
        name: float(np.max(np.abs(np.asarray(candidate[name], np.float64)
                                  - np.asarray(value, np.float64)), initial=0.0))
        for name, value in reference.items() if name in candidate}
    ref = decode_argmax_keypoints(reference, input_size)
    cand = decode_argmax_keypoints(candidate, input_size)
    if ref is None or cand is None:
        return None
    distance = np.linalg.norm(cand[0] - ref[0], axis=-1)  # (N, K) input pixels
    visible = ref[1] >= min_score
    if not visible.any():
        visible = np.ones_like(visible)
    part_names, part_index, keypoint_names = _parts_of(distance.shape[1])
    masked = np.where(visible, distance, -1.0)
    worst = np.unravel_index(int(masked.argmax()), masked.shape)
    per_part = {name: float(np.max(masked[:, part_index == i], initial=0.0))
                for i, name in enumerate(part_names) if np.any(part_index == i)}
    return GuardReport(batch=int(distance.shape[0]), max_px=float(masked.max()),
                       mean_px=float(distance[visible].mean()),
                       worst_part=part_names[int(part_index[worst[1]])],
                       worst_keypoint=keypoint_names[int(worst[1])], per_part_max_px=per_part,
                       output_max_abs=output_max_abs, compared=int(visible.sum()),
                       threshold_px=float(threshold_px))


#: (precision, keep_fp32) -> what to try when the guard fails.
GUARD_ADVICE: dict[tuple[str, bool], str] = {
    ('fp16', False): 'FP16 everywhere is known to cost hand/finger accuracy on these networks: '
                     'rebuild keeping normalisation and the SimCC head in FP32 (drop '
                     '--fp16-everywhere / keep_fp32=True), or build FP32 (omit --fp16)',
    ('fp16', True): 'rebuild in FP32 (omit --fp16) if hands or face matter',
    ('fp32', False): 'an FP32 engine should match ONNX Runtime; please report this with the '
                     'TensorRT version and GPU',
}


def warn_if_off(report: GuardReport, model_name: str, precision: str, keep_fp32: bool) -> None:
    """Log the report; a ``logging.warning`` naming the worst part above the threshold."""
    if report.passed:
        LOG.info('TensorRT %s engine of %s: %s', precision, model_name, report.summary())
        return
    advice = GUARD_ADVICE.get((precision, keep_fp32 and precision == 'fp16'),
                              GUARD_ADVICE[('fp32', False)])
    LOG.warning('TensorRT %s engine of %s differs from ONNX Runtime: %s. Worst part: %s. %s.',
                precision, model_name, report.summary(), report.worst_part, advice)
