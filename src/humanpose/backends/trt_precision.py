"""Which layers an FP16 engine keeps in FP32, and how each generation is told so.

The pose networks lose finger accuracy when normalisation statistics and the SimCC head run
in FP16, so FP16 builds keep them in FP32 (:func:`select_fp32_layers`, rules as tables).
Weakly typed generations (TensorRT 8.6, 10.0-10.11) are told per layer on the parsed
network (:func:`pin_layers_fp32`: ``ILayer.precision`` / ``set_output_type``). Strongly
typed generations (10.12+, where those calls are deprecated, and 11.x, where they are gone)
build what the ONNX says, so FP16 there starts from an FP16 ONNX (:func:`fp16_onnx_model`)
made by onnxconverter-common's ``float16`` converter with the same layers on its node block
list and the graph inputs and outputs kept FP32.

Why onnxconverter-common rather than NVIDIA ModelOpt's AutoCast: it is a small pure-Python
package (onnx, numpy, protobuf, packaging) kept by the ONNX project, installs on Jetson and
x86 alike, needs no GPU, CUDA or PyTorch, and takes exactly the block list the rules above
produce, so weakly and strongly typed engines keep the same layers in FP32. AutoCast picks
layers itself by running the model with calibration data, pulls in a large dependency tree,
and would make the two paths disagree about what stays FP32.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence
import warnings

from humanpose.backends.trt_api import enum_name
from humanpose.errors import BackendUnavailableError


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
    """How one precision is built on one kind of network.

    :param flags_on: builder flags to set; ``flags_off``: builder flags to clear.
    :param pin_fp32: pin the sensitive layers on the parsed network (weak typing).
    :param fp16_onnx: build from an FP16 ONNX (strong typing).
    """

    flags_on: tuple[str, ...]
    flags_off: tuple[str, ...]
    pin_fp32: bool
    fp16_onnx: bool = False


#: (network typing, precision, keep_fp32) -> plan. FP32 clears TF32 so an "fp32" engine
#: matches ONNX Runtime (TF32 rounds GEMM inputs to 10-bit mantissas and is on by default);
#: pinned FP32 layers in FP16 builds are real FP32 for the same reason.
PRECISION_PLANS: dict[tuple[str, str, bool], PrecisionPlan] = {
    ('weak', 'fp32', False): PrecisionPlan((), ('TF32',), False),
    ('weak', 'fp32', True): PrecisionPlan((), ('TF32',), False),
    ('weak', 'fp16', True): PrecisionPlan(('FP16', 'PREFER_PRECISION_CONSTRAINTS'), ('TF32',),
                                          True),
    ('weak', 'fp16', False): PrecisionPlan(('FP16',), (), False),
    ('strong', 'fp32', False): PrecisionPlan((), ('TF32',), False),
    ('strong', 'fp32', True): PrecisionPlan((), ('TF32',), False),
    ('strong', 'fp16', True): PrecisionPlan((), ('TF32',), False, fp16_onnx=True),
    ('strong', 'fp16', False): PrecisionPlan((), (), False, fp16_onnx=True),
}

#: The Python package that makes FP16 ONNX models for strongly typed builds.
FP16_CONVERTER = 'onnxconverter-common'
_ONNX_FLOAT, _ONNX_FLOAT16 = 1, 10


def fp16_converter_missing() -> str:
    """Return why FP16 ONNX models cannot be made here ('' when they can)."""
    try:
        from onnxconverter_common import float16  # noqa: F401
    except ImportError as err:
        return (f'FP16 on a strongly typed TensorRT needs {FP16_CONVERTER} ({err}): pip install '
                f'{FP16_CONVERTER} (in the [cu12] / [cu13] extras), or use precision fp32')
    return ''


def fp16_onnx_model(model: Any, keep_fp32: bool, head_outputs: Iterable[str]
                    ) -> tuple[Any, dict[str, str]]:
    """Return an FP16 copy of an ``onnx.ModelProto`` for a strongly typed build.

    Weights and compute become FP16; graph inputs and outputs stay FP32. With ``keep_fp32``
    the layers :func:`select_fp32_layers` picks (normalisation, SimCC head) stay FP32.
    ``Cast`` nodes to FP32 keep their type (the converter would otherwise retype their
    outputs and leave the graph invalid). The input model is not changed.

    :return: (FP16 model, node name -> why it stayed FP32).
    :raises BackendUnavailableError: onnxconverter-common is not installed.
    """
    import onnx

    missing = fp16_converter_missing()
    if missing:
        raise BackendUnavailableError(missing)
    from onnxconverter_common import float16

    work = onnx.ModelProto()
    work.CopyFrom(model)
    taken = {node.name for node in work.graph.node if node.name}
    for index, node in enumerate(work.graph.node):
        if not node.name:  # the block list goes by node name
            name = f'{node.op_type}_{index}'
            while name in taken:
                name += '_'
            node.name = name
            taken.add(name)
    infos = onnx_layer_infos(work)
    picks = select_fp32_layers(infos, head_outputs) if keep_fp32 else {}
    kept = {infos[i].name: why for i, why in sorted(picks.items())}
    casts = [node.name for node in work.graph.node if node.op_type == 'Cast'
             and any(a.name == 'to' and a.i == _ONNX_FLOAT for a in node.attribute)]
    float_outputs = {o.name for o in work.graph.output
                     if o.type.tensor_type.elem_type == _ONNX_FLOAT}
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # it warns about each weight it clamps to FP16 range
        converted = float16.convert_float_to_float16(
            work, keep_io_types=True, node_block_list=sorted(set(kept) | set(casts)))
    _keep_outputs_fp32(converted, float_outputs)
    return converted, kept


def _keep_outputs_fp32(model: Any, names: set[str]) -> None:
    """Make graph outputs that were FP32 FP32 again.

    The converter ends a blocked (FP32) node that feeds a graph output with a Cast to FP16
    even with ``keep_io_types``; that Cast is turned back into a (lossless) FP32 one.
    """
    from onnx import helper

    producers = {out: node for node in model.graph.node for out in node.output}
    for output in model.graph.output:
        if output.name not in names or output.type.tensor_type.elem_type != _ONNX_FLOAT16:
            continue
        node = producers.get(output.name)
        if node is not None and node.op_type == 'Cast':
            for attribute in node.attribute:
                if attribute.name == 'to':
                    attribute.i = _ONNX_FLOAT
        else:  # an FP16 node feeds the output: cast its result up
            inner = output.name + '_fp16'
            if node is not None:
                node.output[list(node.output).index(output.name)] = inner
            model.graph.node.append(helper.make_node('Cast', [inner], [output.name],
                                                     name=output.name + '_to_fp32',
                                                     to=_ONNX_FLOAT))
        output.type.tensor_type.elem_type = _ONNX_FLOAT
        for info in model.graph.value_info:
            if info.name == output.name:
                info.type.tensor_type.elem_type = _ONNX_FLOAT
