"""Fakes of ``tensorrt`` (per generation) and cuda-python's runtime for the backend tests.

They offer exactly the names, enum members (with their values) and call signatures of the
real modules that the backend uses, generation by generation: the conformance tests
(``test_trt_conformance.py``) check every public member of these fakes against the real
bindings wheels of TensorRT 8.6.1, 10.3.0 and 11.x and cuda-python 12.x / 13.x, so a fake
cannot accept what real TensorRT refuses. Test bookkeeping lives in names starting with
``_`` (``trt._fake.builds``), which the conformance check skips.

Behaviour that matters to the backend is real-like: ``Builder`` / ``Runtime`` raise
pybind11's ``TypeError`` when CUDA cannot start, ``nptype`` raises ``TypeError`` for the
types numpy lacks, flags must be members of their own enum, ``cudaStreamCreate`` returns a
``cudaStream_t``, copies and executions are queued on the stream and happen at
``cudaStreamSynchronize``. A fake engine is a JSON header plus the ONNX it was parsed from;
executing it runs that ONNX with ONNX Runtime on host memory standing in for device memory,
so every byte still travels through the backend's pinned buffers, memcpy calls and tensor
addresses. A weakly typed FP16 build without FP32 pins shifts the hand keypoints of SimCC
outputs by 3 px (a stand-in for the reported finger-accuracy loss) so the accuracy guard has
something to find; a strongly typed build runs the FP16 ONNX it was given, for real.
"""

from __future__ import annotations

import ctypes
import json
import sys
import types
from types import SimpleNamespace
import weakref

import numpy as np
import onnx
import onnxruntime as ort

NULLPTR = 'pybind11::init(): factory function returned nullptr'
NO_NUMPY = 'Could not resolve TensorRT datatype to an equivalent numpy datatype.'


class FakeEnum:
    """A pybind11-style enum value: ``.name``, ``int()``, equality within its enum."""

    def __init__(self, owner, name, value):
        self._owner, self.name, self.value = owner, name, value

    def __int__(self):
        return self.value

    def __eq__(self, other):
        return isinstance(other, FakeEnum) and (other._owner, other.value) == (
            self._owner, self.value)

    def __hash__(self):
        return hash((self._owner, self.value))

    def __repr__(self):
        return f'{self._owner}.{self.name}'


def fake_enum(owner, members):
    """Return a namespace of :class:`FakeEnum` members from ``{name: value}``."""
    return SimpleNamespace(**{n: FakeEnum(owner, n, v) for n, v in members.items()})


#: Per generation: enum members and values (as the real bindings have them), module-level
#: dtype aliases, and which optional API exists. Checked against the real wheels.
GENERATIONS = {
    '8': {
        'DataType': {'FLOAT': 0, 'HALF': 1, 'INT8': 2, 'INT32': 3, 'BOOL': 4, 'UINT8': 5,
                     'FP8': 6},
        'BuilderFlag': {'FP16': 0, 'INT8': 1, 'TF32': 7, 'OBEY_PRECISION_CONSTRAINTS': 10,
                        'PREFER_PRECISION_CONSTRAINTS': 11},
        'NetworkDefinitionCreationFlag': {'EXPLICIT_BATCH': 0},
        'LayerType': {'CONVOLUTION': 0, 'ACTIVATION': 2, 'SOFTMAX': 6, 'ELEMENTWISE': 9,
                      'UNARY': 11, 'SHUFFLE': 13, 'REDUCE': 14, 'TOPK': 15, 'GATHER': 16,
                      'MATRIX_MULTIPLY': 17, 'CONSTANT': 19, 'IDENTITY': 21, 'SHAPE': 24,
                      'SELECT': 31, 'NORMALIZATION': 46, 'CAST': 47},
        'aliases': {'float32': 'FLOAT', 'float16': 'HALF', 'int32': 'INT32', 'bool': 'BOOL',
                    'int8': 'INT8', 'uint8': 'UINT8'},
        'progress_monitor': False, 'layer_precision': True,
    },
    '10': {
        'DataType': {'FLOAT': 0, 'HALF': 1, 'INT8': 2, 'INT32': 3, 'BOOL': 4, 'UINT8': 5,
                     'FP8': 6, 'BF16': 7, 'INT64': 8, 'INT4': 9},
        'BuilderFlag': {'FP16': 0, 'INT8': 1, 'TF32': 6, 'OBEY_PRECISION_CONSTRAINTS': 9,
                        'PREFER_PRECISION_CONSTRAINTS': 10, 'BF16': 17},
        'NetworkDefinitionCreationFlag': {'EXPLICIT_BATCH': 0, 'STRONGLY_TYPED': 1},
        'LayerType': {'CONVOLUTION': 0, 'CAST': 1, 'ACTIVATION': 2, 'SOFTMAX': 6,
                      'ELEMENTWISE': 9, 'UNARY': 11, 'SHUFFLE': 13, 'REDUCE': 14, 'TOPK': 15,
                      'GATHER': 16, 'MATRIX_MULTIPLY': 17, 'CONSTANT': 19, 'IDENTITY': 20,
                      'SHAPE': 23, 'SELECT': 30, 'NORMALIZATION': 45},
        'aliases': {'float32': 'FLOAT', 'float16': 'HALF', 'int32': 'INT32', 'bool': 'BOOL',
                    'int8': 'INT8', 'uint8': 'UINT8', 'int64': 'INT64', 'bfloat16': 'BF16'},
        'progress_monitor': True, 'layer_precision': True,
    },
    '11': {
        'DataType': {'FLOAT': 0, 'HALF': 1, 'INT8': 2, 'INT32': 3, 'BOOL': 4, 'UINT8': 5,
                     'FP8': 6, 'BF16': 7, 'INT64': 8, 'INT4': 9, 'FP4': 10, 'E8M0': 11},
        'BuilderFlag': {'TF32': 6},
        'NetworkDefinitionCreationFlag': {'STRONGLY_TYPED': 0},
        'LayerType': {'CONVOLUTION': 0, 'CAST': 1, 'ACTIVATION': 2, 'SOFTMAX': 6,
                      'ELEMENTWISE': 9, 'UNARY': 11, 'SHUFFLE': 13, 'REDUCE': 14, 'TOPK': 15,
                      'GATHER': 16, 'MATRIX_MULTIPLY': 17, 'CONSTANT': 19, 'IDENTITY': 20,
                      'SHAPE': 23, 'SELECT': 30, 'NORMALIZATION': 45},
        'aliases': {'float32': 'FLOAT', 'float16': 'HALF', 'int32': 'INT32', 'bool': 'BOOL',
                    'int8': 'INT8', 'uint8': 'UINT8', 'int64': 'INT64', 'bfloat16': 'BF16'},
        'progress_monitor': True, 'layer_precision': False,
    },
}
#: The same in every generation checked.
COMMON_ENUMS = {
    'ElementWiseOperation': {'SUM': 0, 'PROD': 1, 'MAX': 2, 'MIN': 3, 'SUB': 4, 'DIV': 5,
                             'POW': 6, 'AND': 8, 'OR': 9, 'EQUAL': 11, 'GREATER': 12,
                             'LESS': 13},
    'UnaryOperation': {'EXP': 0, 'LOG': 1, 'SQRT': 2, 'RECIP': 3, 'ABS': 4, 'NEG': 5},
    'TensorIOMode': {'NONE': 0, 'INPUT': 1, 'OUTPUT': 2},
    'MemoryPoolType': {'WORKSPACE': 0},
}
SEVERITY = {'INTERNAL_ERROR': 0, 'ERROR': 1, 'WARNING': 2, 'INFO': 3, 'VERBOSE': 4}
_NUMPY_TYPES = {'FLOAT': np.float32, 'HALF': np.float16, 'INT8': np.int8, 'INT32': np.int32,
                'BOOL': np.bool_, 'UINT8': np.uint8, 'INT64': np.int64}
_ONNX_TO_TRT = {1: 'FLOAT', 10: 'HALF', 6: 'INT32', 7: 'INT64', 9: 'BOOL', 2: 'UINT8',
                3: 'INT8'}

# ONNX op type -> LayerType / operation names, like the ONNX parser maps them.
_ELEMENTWISE = {'Add': 'SUM', 'Sub': 'SUB', 'Mul': 'PROD', 'Div': 'DIV', 'Pow': 'POW',
                'Max': 'MAX', 'Min': 'MIN', 'And': 'AND', 'Or': 'OR', 'Equal': 'EQUAL',
                'Greater': 'GREATER', 'Less': 'LESS'}
_UNARY = {'Exp': 'EXP', 'Log': 'LOG', 'Sqrt': 'SQRT', 'Reciprocal': 'RECIP', 'Abs': 'ABS',
          'Neg': 'NEG'}
_LAYER_TYPES = {'Conv': 'CONVOLUTION', 'MatMul': 'MATRIX_MULTIPLY', 'Gemm': 'MATRIX_MULTIPLY',
                'Relu': 'ACTIVATION', 'Sigmoid': 'ACTIVATION', 'Clip': 'ACTIVATION',
                'Tanh': 'ACTIVATION', 'Softmax': 'SOFTMAX', 'ReduceSum': 'REDUCE',
                'ReduceMean': 'REDUCE', 'ReduceL2': 'REDUCE', 'ReduceMax': 'REDUCE',
                'LayerNormalization': 'NORMALIZATION', 'Reshape': 'SHUFFLE',
                'Transpose': 'SHUFFLE', 'Unsqueeze': 'SHUFFLE', 'Squeeze': 'SHUFFLE',
                'Flatten': 'SHUFFLE', 'Identity': 'IDENTITY', 'Gather': 'GATHER',
                'ArgMax': 'TOPK', 'Cast': 'CAST', 'Constant': 'CONSTANT', 'Shape': 'SHAPE',
                'Where': 'SELECT'}
_NON_FLOAT_OUTPUTS = {'ArgMax': 'INT32', 'Less': 'BOOL', 'Greater': 'BOOL', 'Equal': 'BOOL',
                      'And': 'BOOL', 'Or': 'BOOL', 'Shape': 'INT64'}
HAND_KEYPOINTS = slice(91, 133)
FP16_HAND_SHIFT_BINS = 6  # 3 px at split ratio 2
ENGINE_MAGIC = b'fake-trt-engine\n'


def _generation(version):
    major = int(version.split('.')[0])
    return '8' if major < 10 else '10' if major < 11 else '11'


# --------------------------------------------------------------------------- network side

class ITensor:
    _real_name = 'ITensor'
    _instance_api = ('name', 'dtype', 'shape')

    def __init__(self, name, dtype, shape=()):
        self.name, self.dtype, self.shape = name, dtype, tuple(shape)


class ILayer:
    """Layer of a parsed network; ``precision`` / ``set_output_type`` exist before 11 only."""

    _real_name = 'ILayer'
    _instance_api = ('name', 'type')

    def __init__(self, name, layer_type, inputs, outputs, op=None):
        self.name, self.type, self._op = name, layer_type, op
        self._inputs, self._outputs = inputs, outputs
        self._precision = None
        self._output_types = {}

    num_inputs = property(lambda self: len(self._inputs))
    num_outputs = property(lambda self: len(self._outputs))

    def get_input(self, index):
        return self._inputs[index] if index < len(self._inputs) else None

    def get_output(self, index):
        return self._outputs[index] if index < len(self._outputs) else None


class _LayerPrecision:
    """``ILayer.precision`` and ``set_output_type`` of weakly typed generations."""

    @property
    def precision(self):
        return self._precision

    @precision.setter
    def precision(self, value):
        assert isinstance(value, FakeEnum) and value._owner == 'DataType', value
        self._precision = value

    def set_output_type(self, index, dtype):
        assert isinstance(dtype, FakeEnum) and dtype._owner == 'DataType', dtype
        self._output_types[index] = dtype


class INetworkDefinition:
    _real_name = 'INetworkDefinition'

    def __init__(self, flags):
        self._flags = flags
        self._layers, self._inputs, self._outputs = [], [], []
        self._onnx = b''

    num_layers = property(lambda self: len(self._layers))
    num_inputs = property(lambda self: len(self._inputs))
    num_outputs = property(lambda self: len(self._outputs))

    def get_layer(self, index):
        return self._layers[index]

    def get_input(self, index):
        return self._inputs[index]

    def get_output(self, index):
        return self._outputs[index]


def _dims(value):
    return tuple(d.dim_value if d.HasField('dim_value') else -1
                 for d in value.type.tensor_type.shape.dim)


class OnnxParser:
    _real_name = 'OnnxParser'

    def __init__(self, network, logger):
        self._network, self._logger, self._errors = network, logger, []
        self._trt = network._trt

    num_errors = property(lambda self: len(self._errors))

    def get_error(self, index):
        return self._errors[index]

    def parse_from_file(self, model):
        trt, network = self._trt, self._network
        explicit = getattr(trt.NetworkDefinitionCreationFlag, 'EXPLICIT_BATCH', None)
        if _generation(trt.__version__) == '8' and not network._flags >> int(explicit) & 1:
            self._errors.append('fake parser: the ONNX parser needs an explicit-batch network')
            return False
        try:
            proto = onnx.load(model)
        except Exception as err:  # noqa: BLE001
            self._errors.append(f'fake parser: {err}')
            return False
        data_type = trt.DataType
        tensors = {}
        for value in proto.graph.input:
            dtype = getattr(data_type, _ONNX_TO_TRT[value.type.tensor_type.elem_type])
            tensors[value.name] = ITensor(value.name, dtype, _dims(value))
            network._inputs.append(tensors[value.name])
        layer_class = trt.ILayer
        for index, node in enumerate(proto.graph.node):
            type_name = ('ELEMENTWISE' if node.op_type in _ELEMENTWISE else 'UNARY'
                         if node.op_type in _UNARY else _LAYER_TYPES.get(node.op_type, 'SELECT'))
            op = (getattr(trt.ElementWiseOperation, _ELEMENTWISE[node.op_type])
                  if node.op_type in _ELEMENTWISE else getattr(
                      trt.UnaryOperation, _UNARY[node.op_type]) if node.op_type in _UNARY
                  else None)
            dtype = getattr(data_type, _NON_FLOAT_OUTPUTS.get(node.op_type, 'FLOAT'))
            outs = [tensors.setdefault(o, ITensor(o, dtype)) for o in node.output]
            ins = [tensors[i] for i in node.input if i in tensors]
            network._layers.append(layer_class(node.name or f'node_of_{node.output[0]}',
                                               getattr(trt.LayerType, type_name), ins, outs,
                                               op))
        network._outputs = [tensors[o.name] for o in proto.graph.output]
        network._onnx = proto.SerializeToString()
        return True


# --------------------------------------------------------------------------- builder side

class IHostMemory(bytes):
    _real_name = 'IHostMemory'
    nbytes = property(len)


class ITimingCache:
    _real_name = 'ITimingCache'

    def __init__(self, data):
        self._data = bytes(data)

    def serialize(self):
        return IHostMemory(b'fake-timing-cache:' + self._data[-8:] + b'+')


class IOptimizationProfile:
    _real_name = 'IOptimizationProfile'

    def __init__(self):
        self._shapes = {}

    def set_shape(self, input, min, opt, max):  # noqa: A002 - TensorRT's parameter names
        self._shapes[input] = (tuple(min), tuple(opt), tuple(max))


class IBuilderConfig:
    _real_name = 'IBuilderConfig'

    def __init__(self):
        self._flags = {'TF32'}  # TensorRT enables TF32 by default
        self._pools, self._profiles = {}, []
        self._timing_cache = None
        self._monitor = None

    def set_memory_pool_limit(self, pool, pool_size):
        assert isinstance(pool, FakeEnum) and pool._owner == 'MemoryPoolType', pool
        self._pools[pool.name] = pool_size

    def set_flag(self, flag):
        assert isinstance(flag, FakeEnum) and flag._owner == 'BuilderFlag', flag
        self._flags.add(flag.name)

    def clear_flag(self, flag):
        assert isinstance(flag, FakeEnum) and flag._owner == 'BuilderFlag', flag
        self._flags.discard(flag.name)

    def add_optimization_profile(self, profile):
        assert isinstance(profile, IOptimizationProfile)
        self._profiles.append(profile)
        return len(self._profiles) - 1

    def create_timing_cache(self, serialized_timing_cache):
        return ITimingCache(serialized_timing_cache)

    def set_timing_cache(self, cache, ignore_mismatch):
        if cache._data.startswith(b'other-gpu'):
            return False
        self._timing_cache = cache
        return True

    def get_timing_cache(self):
        return self._timing_cache


class _ProgressMonitorConfig(IBuilderConfig):
    """``IBuilderConfig.progress_monitor``: 9.1+."""

    @property
    def progress_monitor(self):
        return self._monitor

    @progress_monitor.setter
    def progress_monitor(self, value):
        assert value._initialised, 'IProgressMonitor.__init__ not called'
        self._monitor = value


# --------------------------------------------------------------------------- runtime side

class ICudaEngine:
    _real_name = 'ICudaEngine'

    def __init__(self, trt, meta, onnx_bytes):
        self._trt, self._meta = trt, meta
        self._session = ort.InferenceSession(onnx_bytes, providers=['CPUExecutionProvider'])
        inputs, outputs = self._session.get_inputs(), self._session.get_outputs()
        self._names = [i.name for i in inputs] + [o.name for o in outputs]
        self._n_inputs = len(inputs)
        self._args = {a.name: a for a in list(inputs) + list(outputs)}
        self._profiles = {k: [tuple(s) for s in v] for k, v in meta['profiles'].items()}

    def _static(self, name):
        return tuple(d if isinstance(d, int) else -1 for d in self._args[name].shape)

    num_io_tensors = property(lambda self: len(self._names))

    def get_tensor_name(self, index):
        return self._names[index]

    def get_tensor_mode(self, name):
        mode = self._trt.TensorIOMode
        return mode.INPUT if self._names.index(name) < self._n_inputs else mode.OUTPUT

    def get_tensor_shape(self, name):
        return self._static(name)

    def get_tensor_dtype(self, name):
        forced = self._meta.get('io_dtypes', {}).get(name)
        if forced:
            return getattr(self._trt.DataType, forced)
        return self._trt.DataType.FLOAT

    def get_tensor_profile_shape(self, name, profile_index):
        assert profile_index == 0
        return self._profiles[name]

    def create_execution_context(self):
        return IExecutionContext(self)


class IExecutionContext:
    _real_name = 'IExecutionContext'

    def __init__(self, engine):
        self._engine, self._shapes, self._addresses = engine, {}, {}

    def set_input_shape(self, name, shape):
        low, _, high = self._engine._profiles.get(name, [self._engine._static(name)] * 3)
        shape = tuple(shape)
        if len(shape) != len(low) or any(not lo <= s <= hi
                                         for s, lo, hi in zip(shape, low, high)):
            return False
        self._shapes[name] = shape
        return True

    def get_tensor_shape(self, name):
        if name in self._shapes:
            return self._shapes[name]
        static = self._engine._static(name)
        batch = next(iter(self._shapes.values()), (-1,))[0]
        return (batch if static[0] < 0 else static[0],) + static[1:]

    def set_tensor_address(self, name, memory):
        assert isinstance(memory, int)
        self._addresses[name] = memory
        return True

    def execute_async_v3(self, stream_handle):
        assert type(stream_handle) is int, 'TensorRT takes the stream handle as an int'
        shapes = dict(self._shapes)  # what was set when the work was enqueued
        cudart = self._engine._trt._fake.cudart
        if cudart is None:
            self._execute(shapes)
        else:
            cudart._enqueue(stream_handle, lambda: self._execute(shapes))
        return True

    def _execute(self, shapes):
        engine, fake = self._engine, self._engine._trt._fake
        feeds = {}
        for arg in engine._session.get_inputs():
            shape = shapes[arg.name]
            feeds[arg.name] = np.ctypeslib.as_array(
                ctypes.cast(self._addresses[arg.name], ctypes.POINTER(ctypes.c_float)),
                (int(np.prod(shape)),)).reshape(shape).copy()
        outputs = dict(zip([o.name for o in engine._session.get_outputs()],
                           engine._session.run(None, feeds)))
        meta = engine._meta
        if meta['fp16_flag'] and not meta['pinned'] and 'simcc_x' in outputs:
            outputs['simcc_x'][:, HAND_KEYPOINTS] = np.roll(
                outputs['simcc_x'][:, HAND_KEYPOINTS], FP16_HAND_SHIFT_BINS, axis=-1)
        for name, value in outputs.items():
            value = np.ascontiguousarray(value, np.float32)
            assert value.shape[1:] == tuple(engine._static(name))[1:]
            ctypes.memmove(self._addresses[name], value.ctypes.data, value.nbytes)
        fake.executions.append({k: v.shape for k, v in feeds.items()})


# --------------------------------------------------------------------------- the module

class _FakeState:
    """What the tests look at: builds, networks, configs, and switches for failures."""

    def __init__(self, cuda_starts, fail_builds, reject_engines):
        self.cuda_starts, self.fail_builds = cuda_starts, fail_builds
        self.reject_engines = reject_engines
        self.builds, self.networks, self.configs, self.executions = [], [], [], []
        self.engines = []
        self.io_dtypes = {}  # tensor name -> DataType member name the engine reports
        self.deserialized = 0
        self.cudart = None


class FakeTensorRT(types.ModuleType):
    """A ``tensorrt`` module of one generation: ``version`` '8.6.1', '10.3.0', '11.4.0' ...

    :param cuda_starts: False makes ``Builder`` / ``Runtime`` raise like the real bindings
        when TensorRT cannot start CUDA.
    """

    def __init__(self, version='10.3.0', *, cuda_starts=True, fail_builds=False,
                 reject_engines=False):
        super().__init__('tensorrt')
        generation = GENERATIONS[_generation(version)]
        self.__version__ = version
        self._fake = _FakeState(cuda_starts, fail_builds, reject_engines)
        for name in ('DataType', 'BuilderFlag', 'NetworkDefinitionCreationFlag', 'LayerType'):
            setattr(self, name, fake_enum(name, generation[name]))
        for name, members in COMMON_ENUMS.items():
            setattr(self, name, fake_enum(name, members))
        for alias, member in generation['aliases'].items():
            setattr(self, alias, getattr(self.DataType, member))
        trt = self

        layer_bases = (_LayerPrecision, ILayer) if generation['layer_precision'] else (ILayer,)
        self.ILayer = type('ILayer', layer_bases, {'_real_name': 'ILayer'})
        self.IElementWiseLayer = type('IElementWiseLayer', (self.ILayer,), {
            '_real_name': 'IElementWiseLayer', 'op': property(lambda self: self._op)})
        self.IUnaryLayer = type('IUnaryLayer', (self.ILayer,), {
            '_real_name': 'IUnaryLayer', 'op': property(lambda self: self._op)})
        self.ITensor, self.INetworkDefinition = ITensor, INetworkDefinition
        self.IOptimizationProfile, self.ITimingCache = IOptimizationProfile, ITimingCache
        self.IHostMemory, self.ICudaEngine = IHostMemory, ICudaEngine
        self.IExecutionContext = IExecutionContext
        self.IBuilderConfig = (_ProgressMonitorConfig if generation['progress_monitor']
                               else IBuilderConfig)
        self.OnnxParser = OnnxParser

        class ILogger:
            _real_name = 'ILogger'
            Severity = fake_enum('Severity', SEVERITY)

            def __init__(self):
                self._initialised = True

            def log(self, severity, msg):
                raise NotImplementedError('subclasses implement log')

        self.ILogger = ILogger
        if generation['progress_monitor']:
            class IProgressMonitor:
                _real_name = 'IProgressMonitor'

                def __init__(self):
                    self._initialised = True

                def phase_start(self, phase_name, parent_phase, num_steps):
                    raise NotImplementedError

                def step_complete(self, phase_name, step):
                    raise NotImplementedError

                def phase_finish(self, phase_name):
                    raise NotImplementedError

            self.IProgressMonitor = IProgressMonitor

        def _start(logger):
            assert getattr(logger, '_initialised', False), 'ILogger.__init__ not called'
            if not trt._fake.cuda_starts:
                raise TypeError(NULLPTR)

        class Builder:
            _real_name = 'Builder'

            def __init__(self, logger):
                _start(logger)
                self._logger = logger

            def create_network(self, flags=0):
                network = INetworkDefinition(flags)
                network._trt = trt
                trt._fake.networks.append(network)
                return network

            def create_builder_config(self):
                config = trt.IBuilderConfig()
                trt._fake.configs.append(config)
                return config

            def create_optimization_profile(self):
                return IOptimizationProfile()

            def build_serialized_network(self, network, config):
                monitor = config._monitor
                if monitor is not None:
                    monitor.phase_start('Building engine', None, 2)
                    monitor.phase_start('Tactic selection', 'Building engine', 3)
                    for step in range(3):
                        monitor.step_complete('Tactic selection', step)
                    monitor.phase_finish('Tactic selection')
                    monitor.step_complete('Building engine', 0)
                    monitor.phase_finish('Building engine')
                if trt._fake.fail_builds:
                    self._logger.log(trt.ILogger.Severity.ERROR, 'fake: out of workspace')
                    return None
                set_flags = {name for name, flag in vars(trt.NetworkDefinitionCreationFlag).items()
                             if network._flags >> int(flag) & 1}
                strongly_typed = ('STRONGLY_TYPED' in set_flags
                                  or _generation(trt.__version__) == '11')
                precision_flags = {'FP16', 'BF16', 'INT8'} & config._flags
                assert not (strongly_typed and precision_flags), \
                    'strongly typed networks take no precision flags'
                meta = {'version': trt.__version__, 'fp16_flag': 'FP16' in config._flags,
                        'strongly_typed': strongly_typed, 'tf32': 'TF32' in config._flags,
                        'flags': sorted(config._flags), 'network_flags': network._flags,
                        'io_dtypes': dict(trt._fake.io_dtypes),
                        'pinned': [layer.name for layer in network._layers
                                   if layer._precision is not None],
                        'profiles': {name: [list(s) for s in shapes] for p in config._profiles
                                     for name, shapes in p._shapes.items()}}
                trt._fake.builds.append(meta)
                return IHostMemory(ENGINE_MAGIC + json.dumps(meta).encode() + b'\n'
                                   + network._onnx)

        class Runtime:
            _real_name = 'Runtime'

            def __init__(self, logger):
                _start(logger)
                self._logger = logger

            def deserialize_cuda_engine(self, serialized_engine):
                data = bytes(serialized_engine)
                error = trt.ILogger.Severity.ERROR
                if not data.startswith(ENGINE_MAGIC):
                    self._logger.log(error, 'fake: magic tag does not match')
                    return None
                header, _, onnx_bytes = data[len(ENGINE_MAGIC):].partition(b'\n')
                meta = json.loads(header)
                if trt._fake.reject_engines or meta['version'] != trt.__version__:
                    self._logger.log(error, 'fake: serialization version mismatch')
                    return None
                trt._fake.deserialized += 1
                engine = ICudaEngine(trt, meta, onnx_bytes)
                trt._fake.engines.append(weakref.ref(engine))
                return engine

        self.Builder, self.Runtime = Builder, Runtime

    def nptype(self, trt_type):
        """Like ``tensorrt.nptype``: numpy type, ``TypeError`` where numpy has none."""
        try:
            return _NUMPY_TYPES[trt_type.name]
        except KeyError:
            raise TypeError(NO_NUMPY) from None


# --------------------------------------------------------------------------- cuda-python

class cudaStream_t:  # noqa: N801 - cuda-python's name
    """A stream object like cuda-python's: not an int, converts to its handle."""

    _real_name = 'cudaStream_t'

    def __init__(self, init_value=0):
        self._handle = int(init_value)

    def __int__(self):
        return self._handle


class FakeCudart(types.ModuleType):
    """``cuda.bindings.runtime``: device and pinned memory are both plain host memory.

    Copies and engine executions are queued per stream and run at ``cudaStreamSynchronize``,
    so reading a host buffer before synchronising reads stale data, as on a GPU.
    """

    def __init__(self, devices=1, name=b'Orin\x00\x00', cc=(8, 7), error_on_count=None,
                 fail_malloc=False):
        super().__init__('cuda.bindings.runtime')
        self._devices, self._name, self._cc = devices, name, cc
        self._error_on_count, self._fail_malloc = error_on_count, fail_malloc
        self.cudaError_t = fake_enum('cudaError_t', {
            'cudaSuccess': 0, 'cudaErrorInvalidValue': 1, 'cudaErrorMemoryAllocation': 2,
            'cudaErrorInsufficientDriver': 35, 'cudaErrorNoDevice': 100,
            'cudaErrorInvalidDevice': 101})
        self.cudaMemcpyKind = fake_enum('cudaMemcpyKind', {'cudaMemcpyHostToDevice': 1,
                                                           'cudaMemcpyDeviceToHost': 2})
        self.cudaDeviceAttr = fake_enum('cudaDeviceAttr', {
            'cudaDevAttrComputeCapabilityMajor': 75, 'cudaDevAttrComputeCapabilityMinor': 76})
        self.cudaStream_t = cudaStream_t
        self._device_memory, self._pinned_memory, self._streams = {}, {}, {}
        self._copies = []

    def _status(self, name):
        return getattr(self.cudaError_t, name)

    def _ok(self):
        return self.cudaError_t.cudaSuccess

    def cudaGetErrorName(self, error):
        return self._ok(), error.name.encode()

    def cudaGetDeviceCount(self):
        if self._error_on_count:
            return self._status(self._error_on_count), None
        return (self._ok(), self._devices) if self._devices else (
            self._status('cudaErrorNoDevice'), None)

    def cudaSetDevice(self, device):
        return (self._ok(),) if 0 <= device < self._devices else (
            self._status('cudaErrorInvalidDevice'),)

    def cudaGetDeviceProperties(self, device):
        if not 0 <= device < self._devices:
            return self._status('cudaErrorInvalidDevice'), None
        return self._ok(), SimpleNamespace(name=self._name, major=self._cc[0],
                                           minor=self._cc[1])

    def cudaDeviceGetAttribute(self, attr, device):
        major = attr == self.cudaDeviceAttr.cudaDevAttrComputeCapabilityMajor
        return self._ok(), self._cc[0] if major else self._cc[1]

    def _alloc(self, table, size):
        buffer = ctypes.create_string_buffer(size)
        table[ctypes.addressof(buffer)] = buffer
        return self._ok(), ctypes.addressof(buffer)

    def cudaMalloc(self, size):
        if self._fail_malloc:
            return self._status('cudaErrorMemoryAllocation'), None
        return self._alloc(self._device_memory, size)

    def cudaMallocHost(self, size):
        return self._alloc(self._pinned_memory, size)

    def cudaFree(self, devPtr):  # noqa: N803 - cuda-python's parameter name
        del self._device_memory[devPtr]
        return (self._ok(),)

    def cudaFreeHost(self, ptr):
        del self._pinned_memory[ptr]
        return (self._ok(),)

    def cudaStreamCreate(self):
        stream = cudaStream_t(7000 + len(self._streams) + 1)
        self._streams[int(stream)] = []
        return self._ok(), stream

    def cudaStreamDestroy(self, stream):
        assert isinstance(stream, cudaStream_t)
        self._streams.pop(int(stream))
        return (self._ok(),)

    def _enqueue(self, handle, work):
        self._streams[handle].append(work)

    def cudaMemcpyAsync(self, dst, src, count, kind, stream):
        assert isinstance(stream, cudaStream_t) and int(stream) in self._streams
        if kind == self.cudaMemcpyKind.cudaMemcpyHostToDevice:
            assert src in self._pinned_memory and dst in self._device_memory
        else:
            assert src in self._device_memory and dst in self._pinned_memory
        self._enqueue(int(stream), lambda: ctypes.memmove(dst, src, count))
        self._copies.append((kind, count))
        return (self._ok(),)

    def cudaStreamSynchronize(self, stream):
        assert isinstance(stream, cudaStream_t)
        queue = self._streams[int(stream)]
        while queue:
            queue.pop(0)()
        return (self._ok(),)


def fake_cuda_utils():
    """``cuda.bindings.utils`` with ``get_cuda_native_handle`` for fake streams."""
    utils = types.ModuleType('cuda.bindings.utils')

    def get_cuda_native_handle(obj):
        if not isinstance(obj, cudaStream_t):
            raise TypeError(f'unknown type {type(obj)}')
        return obj._handle

    utils.get_cuda_native_handle = get_cuda_native_handle
    return utils


def install_fakes(monkeypatch, trt=None, cudart=None):
    """Put fake ``tensorrt`` / ``cuda.bindings.runtime`` modules into ``sys.modules``."""
    if trt is not None:
        monkeypatch.setitem(sys.modules, 'tensorrt', trt)
        if cudart is not None:
            trt._fake.cudart = cudart
    if cudart is not None:
        cuda = types.ModuleType('cuda')
        cuda.__path__ = []
        bindings = types.ModuleType('cuda.bindings')
        bindings.__path__ = []
        bindings.runtime = cudart
        bindings.utils = fake_cuda_utils()
        cuda.bindings = bindings
        monkeypatch.setitem(sys.modules, 'cuda', cuda)
        monkeypatch.setitem(sys.modules, 'cuda.bindings', bindings)
        monkeypatch.setitem(sys.modules, 'cuda.bindings.runtime', cudart)
        monkeypatch.setitem(sys.modules, 'cuda.bindings.utils', bindings.utils)
        monkeypatch.setitem(sys.modules, 'cuda.cudart', None)
