"""Fakes of ``tensorrt`` and cuda-python's runtime for the TensorRT backend tests.

They follow the documented Python API (names, argument order, return conventions such as
``(err, value)`` tuples and ``None`` from a failed deserialisation) closely enough to drive
the backend's control flow here: build, cache, deserialise, run, close. A fake "engine" is
JSON naming its ONNX file; executing it runs that ONNX with ONNX Runtime on host memory that
stands in for device memory, so every byte still travels through the backend's pinned
buffers, memcpy calls and tensor addresses. A fake FP16 build without FP32 pins shifts the
hand keypoints of SimCC outputs by 3 px (a stand-in for the reported finger-accuracy loss)
so the accuracy guard has something to find.
"""

from __future__ import annotations

import ctypes
import json
import sys
import types
from types import SimpleNamespace

import numpy as np
import onnx
import onnxruntime as ort


class FakeEnum:
    """A pybind11-style enum value: ``.name``, ``int()``, equality within its enum."""

    def __init__(self, owner, name, value):
        self.owner, self.name, self.value = owner, name, value

    def __int__(self):
        return self.value

    def __eq__(self, other):
        return isinstance(other, FakeEnum) and (other.owner, other.value) == (
            self.owner, self.value)

    def __hash__(self):
        return hash((self.owner, self.value))

    def __repr__(self):
        return f'{self.owner}.{self.name}'


def fake_enum(owner, *names):
    return SimpleNamespace(**{n: FakeEnum(owner, n, i) for i, n in enumerate(names)})


DataType = fake_enum('DataType', 'FLOAT', 'HALF', 'INT8', 'INT32', 'BOOL', 'INT64')
LayerType = fake_enum('LayerType', 'CONVOLUTION', 'ACTIVATION', 'SOFTMAX', 'ELEMENTWISE', 'UNARY',
                      'SHUFFLE', 'REDUCE', 'TOPK', 'GATHER', 'MATRIX_MULTIPLY', 'CONSTANT',
                      'IDENTITY', 'CAST', 'NORMALIZATION', 'SHAPE', 'OTHER')
ElementWiseOperation = fake_enum('ElementWiseOperation', 'SUM', 'PROD', 'MAX', 'MIN', 'SUB',
                                 'DIV', 'POW', 'AND', 'OR', 'EQUAL', 'GREATER', 'LESS')
UnaryOperation = fake_enum('UnaryOperation', 'EXP', 'LOG', 'SQRT', 'RECIP', 'ABS', 'NEG')
Severity = fake_enum('Severity', 'INTERNAL_ERROR', 'ERROR', 'WARNING', 'INFO', 'VERBOSE')

# ONNX op type -> (LayerType member, operation member or None), like the ONNX parser maps them.
_ELEMENTWISE = {'Add': 'SUM', 'Sub': 'SUB', 'Mul': 'PROD', 'Div': 'DIV', 'Pow': 'POW',
                'Max': 'MAX', 'Min': 'MIN', 'And': 'AND', 'Or': 'OR', 'Equal': 'EQUAL',
                'Greater': 'GREATER', 'Less': 'LESS'}
_UNARY = {'Exp': 'EXP', 'Log': 'LOG', 'Sqrt': 'SQRT', 'Reciprocal': 'RECIP', 'Abs': 'ABS',
          'Neg': 'NEG'}
_LAYER_TYPES = {'Conv': 'CONVOLUTION', 'MatMul': 'MATRIX_MULTIPLY', 'Gemm': 'MATRIX_MULTIPLY',
                'Relu': 'ACTIVATION', 'Sigmoid': 'ACTIVATION', 'Clip': 'ACTIVATION',
                'Softmax': 'SOFTMAX', 'ReduceSum': 'REDUCE', 'ReduceMean': 'REDUCE',
                'ReduceL2': 'REDUCE', 'ReduceMax': 'REDUCE', 'LayerNormalization': 'NORMALIZATION',
                'Reshape': 'SHUFFLE', 'Transpose': 'SHUFFLE', 'Unsqueeze': 'SHUFFLE',
                'Squeeze': 'SHUFFLE', 'Flatten': 'SHUFFLE', 'Identity': 'IDENTITY',
                'Gather': 'GATHER', 'ArgMax': 'TOPK', 'Cast': 'CAST', 'Constant': 'CONSTANT',
                'Shape': 'SHAPE'}
_OUTPUT_DTYPES = {'ArgMax': DataType.INT32, 'Less': DataType.BOOL, 'Greater': DataType.BOOL,
                  'Equal': DataType.BOOL, 'And': DataType.BOOL, 'Or': DataType.BOOL,
                  'Shape': DataType.INT64}
HAND_KEYPOINTS = slice(91, 133)
FP16_HAND_SHIFT_BINS = 6  # 3 px at split ratio 2


class FakeTensor:
    def __init__(self, name, dtype=DataType.FLOAT, shape=()):
        self.name, self.dtype, self.shape = name, dtype, tuple(shape)


class FakeLayer:
    def __init__(self, name, layer_type, inputs, outputs, op=None):
        self.name, self.type, self._op = name, layer_type, op
        self._inputs, self._outputs = inputs, outputs
        self.precision = DataType.FLOAT
        self.precision_set = False
        self.output_types = {}

    num_inputs = property(lambda self: len(self._inputs))
    num_outputs = property(lambda self: len(self._outputs))

    def get_input(self, i):
        return self._inputs[i] if i < len(self._inputs) else None

    def get_output(self, i):
        return self._outputs[i] if i < len(self._outputs) else None

    def __setattr__(self, name, value):
        if name == 'precision' and 'precision' in self.__dict__:
            self.__dict__['precision_set'] = True
        super().__setattr__(name, value)

    def set_output_type(self, i, dtype):
        self.output_types[i] = dtype


class IElementWiseLayer(FakeLayer):
    op = property(lambda self: self._op)


class IUnaryLayer(FakeLayer):
    op = property(lambda self: self._op)


class FakeNetwork:
    def __init__(self, flags):
        self.flags = flags
        self.layers, self.inputs, self.outputs = [], [], []

    num_layers = property(lambda self: len(self.layers))
    num_inputs = property(lambda self: len(self.inputs))
    num_outputs = property(lambda self: len(self.outputs))

    def get_layer(self, i):
        return self.layers[i]

    def get_input(self, i):
        return self.inputs[i]

    def get_output(self, i):
        return self.outputs[i]


def _dims(value):
    return tuple(d.dim_value if d.HasField('dim_value') else -1
                 for d in value.type.tensor_type.shape.dim)


class FakeOnnxParser:
    def __init__(self, network, logger):
        self.network, self.logger, self.errors = network, logger, []

    num_errors = property(lambda self: len(self.errors))

    def get_error(self, i):
        return self.errors[i]

    def parse_from_file(self, path):
        try:
            model = onnx.load(path)
        except Exception as err:  # noqa: BLE001
            self.errors.append(f'fake parser: {err}')
            return False
        tensors = {}
        for value in model.graph.input:
            tensors[value.name] = FakeTensor(value.name, DataType.FLOAT, _dims(value))
            self.network.inputs.append(tensors[value.name])
        for index, node in enumerate(model.graph.node):
            type_name = ('ELEMENTWISE' if node.op_type in _ELEMENTWISE else 'UNARY'
                         if node.op_type in _UNARY else _LAYER_TYPES.get(node.op_type, 'OTHER'))
            op = (getattr(ElementWiseOperation, _ELEMENTWISE[node.op_type], None)
                  if node.op_type in _ELEMENTWISE else getattr(UnaryOperation,
                                                               _UNARY.get(node.op_type, ''), None))
            dtype = _OUTPUT_DTYPES.get(node.op_type, DataType.FLOAT)
            outs = [tensors.setdefault(o, FakeTensor(o, dtype)) for o in node.output]
            ins = [tensors[i] for i in node.input if i in tensors]
            self.network.layers.append(FakeLayer(node.name or f'node_of_{node.output[0]}',
                                                 getattr(LayerType, type_name), ins, outs, op))
        self.network.outputs = [tensors[o.name] for o in model.graph.output]
        self.network.onnx_path = str(path)
        return True


class FakeHostMemory(bytes):
    nbytes = property(len)


class FakeTimingCache:
    def __init__(self, data):
        self.data = bytes(data)

    def serialize(self):
        return FakeHostMemory(b'fake-timing-cache:' + self.data[-8:] + b'+')


class IBuilderConfig:
    def __init__(self):
        self.flags = {'TF32'}  # TensorRT enables TF32 by default
        self.pools, self.profiles = {}, []
        self.timing_cache = None
        self.progress_monitor = None

    def set_memory_pool_limit(self, pool, size):
        self.pools[pool.name] = size

    def set_flag(self, flag):
        self.flags.add(flag.name)

    def clear_flag(self, flag):
        self.flags.discard(flag.name)

    def add_optimization_profile(self, profile):
        self.profiles.append(profile)
        return len(self.profiles) - 1

    def create_timing_cache(self, data):
        return FakeTimingCache(data)

    def set_timing_cache(self, cache, ignore_mismatch):
        if cache.data.startswith(b'other-gpu'):
            return False
        self.timing_cache = cache
        return True

    def get_timing_cache(self):
        return self.timing_cache


class FakeProfile:
    def __init__(self):
        self.shapes = {}

    def set_shape(self, name, min, opt, max):  # noqa: A002 - TensorRT's keyword names
        self.shapes[name] = (tuple(min), tuple(opt), tuple(max))


class _FakeEngineBase:
    def __init__(self, trt, meta):
        self.trt, self.meta = trt, meta
        self.session = trt.session(meta['onnx'])
        self.names = ([i.name for i in self.session.get_inputs()]
                      + [o.name for o in self.session.get_outputs()])
        self.n_inputs = len(self.session.get_inputs())
        self.profiles = {k: [tuple(s) for s in v] for k, v in meta['profiles'].items()}

    def _static(self, name):
        for arg in list(self.session.get_inputs()) + list(self.session.get_outputs()):
            if arg.name == name:
                return tuple(d if isinstance(d, int) else -1 for d in arg.shape)
        raise KeyError(name)


class FakeEngine(_FakeEngineBase):
    """Engine with the tensor-name API (TensorRT >= 8.5)."""

    num_io_tensors = property(lambda self: len(self.names))

    def get_tensor_name(self, index):
        return self.names[index]

    def get_tensor_mode(self, name):
        return self.trt.TensorIOMode.INPUT if self.names.index(name) < self.n_inputs \
            else self.trt.TensorIOMode.OUTPUT

    def get_tensor_shape(self, name):
        return self._static(name)

    def get_tensor_dtype(self, name):
        return DataType.FLOAT

    def get_tensor_profile_shape(self, name, profile_index):
        assert profile_index == 0
        return self.profiles[name]

    def create_execution_context(self):
        return FakeContext(self)


class FakeBindingEngine(_FakeEngineBase):
    """Engine with the binding API only (TensorRT < 8.5)."""

    num_bindings = property(lambda self: len(self.names))

    def get_binding_name(self, index):
        return self.names[index]

    def binding_is_input(self, index):
        return index < self.n_inputs

    def get_binding_shape(self, index):
        return self._static(self.names[index])

    def get_binding_dtype(self, index):
        return DataType.FLOAT

    def get_profile_shape(self, profile_index, binding):
        assert profile_index == 0
        return self.profiles[self.names[binding]]

    def create_execution_context(self):
        return FakeBindingContext(self)


class FakeContext:
    def __init__(self, engine):
        self.engine, self.shapes, self.addresses = engine, {}, {}
        self.executions = []

    def set_input_shape(self, name, shape):
        low, _, high = self.engine.profiles.get(name, [self.engine._static(name)] * 3)
        shape = tuple(shape)
        if len(shape) != len(low) or any(not lo <= s <= hi
                                         for s, lo, hi in zip(shape, low, high)):
            return False
        self.shapes[name] = shape
        return True

    def get_tensor_shape(self, name):
        if name in self.shapes:
            return self.shapes[name]
        static = self.engine._static(name)
        batch = next(iter(self.shapes.values()), (-1,))[0]
        return (batch if static[0] < 0 else static[0],) + static[1:]

    def set_tensor_address(self, name, memory):
        assert isinstance(memory, int)
        self.addresses[name] = memory
        return True

    def execute_async_v3(self, stream_handle):
        assert isinstance(stream_handle, int), 'TensorRT takes the stream handle as an int'
        return self._execute()

    def _execute(self):
        engine = self.engine
        feeds = {}
        for arg in engine.session.get_inputs():
            shape = self.shapes[arg.name]
            count = int(np.prod(shape))
            feeds[arg.name] = np.ctypeslib.as_array(
                ctypes.cast(self.addresses[arg.name], ctypes.POINTER(ctypes.c_float)),
                (count,)).reshape(shape).copy()
        outputs = dict(zip([o.name for o in engine.session.get_outputs()],
                           engine.session.run(None, feeds)))
        if engine.meta['fp16'] and not engine.meta['pinned'] and 'simcc_x' in outputs:
            outputs['simcc_x'][:, HAND_KEYPOINTS] = np.roll(
                outputs['simcc_x'][:, HAND_KEYPOINTS], FP16_HAND_SHIFT_BINS, axis=-1)
        for name, value in outputs.items():
            value = np.ascontiguousarray(value, np.float32)
            assert value.shape == tuple(self.get_tensor_shape(name))
            ctypes.memmove(self.addresses[name], value.ctypes.data, value.nbytes)
        self.executions.append({k: v.shape for k, v in feeds.items()})
        return True


class FakeBindingContext(FakeContext):
    def set_binding_shape(self, binding, shape):
        return self.set_input_shape(self.engine.names[binding], shape)

    def get_binding_shape(self, binding):
        return self.get_tensor_shape(self.engine.names[binding])

    def execute_async_v2(self, bindings, stream_handle):
        assert isinstance(stream_handle, int)
        for name, address in zip(self.engine.names, bindings):
            self.addresses[name] = address
        return self._execute()


class FakeTensorRT(types.ModuleType):
    """A ``tensorrt`` module: ``version`` picks the API generation it mimics.

    8.4: binding I/O only, no progress monitor. 8.6: both I/O APIs, no progress monitor.
    10.x: tensor I/O, ``IProgressMonitor``. 11.x: no ``BuilderFlag.FP16``.
    """

    def __init__(self, version='10.3.0', fail_builds=False, reject_engines=False):
        super().__init__('tensorrt')
        major_minor = tuple(int(p) for p in version.split('.')[:2])
        self.__version__ = version
        self.fail_builds, self.reject_engines = fail_builds, reject_engines
        self.builds, self.deserialized, self.networks, self.configs = [], 0, [], []
        self._sessions = {}
        self.float32, self.float16, self.int32, self.bool = (DataType.FLOAT, DataType.HALF,
                                                             DataType.INT32, DataType.BOOL)
        self.int64 = DataType.INT64
        self.LayerType, self.ElementWiseOperation = LayerType, ElementWiseOperation
        self.UnaryOperation = UnaryOperation
        self.IElementWiseLayer, self.IUnaryLayer = IElementWiseLayer, IUnaryLayer
        self.TensorIOMode = fake_enum('TensorIOMode', 'NONE', 'INPUT', 'OUTPUT')
        self.MemoryPoolType = fake_enum('MemoryPoolType', 'WORKSPACE')
        flags = ['INT8', 'TF32', 'PREFER_PRECISION_CONSTRAINTS', 'OBEY_PRECISION_CONSTRAINTS']
        if major_minor < (11, 0):
            flags.append('FP16')
        self.BuilderFlag = fake_enum('BuilderFlag', *flags)
        self.NetworkDefinitionCreationFlag = fake_enum(
            'NetworkDefinitionCreationFlag', *(['EXPLICIT_BATCH'] if major_minor < (11, 0)
                                               else []), 'STRONGLY_TYPED')
        self.IBuilderConfig = IBuilderConfig
        self.ICudaEngine = FakeBindingEngine if major_minor < (8, 5) else FakeEngine
        trt = self

        class ILogger:
            Severity = globals()['Severity']

            def __init__(self):
                self.initialised = True

        self.ILogger = ILogger
        if major_minor >= (9, 1):
            class IProgressMonitor:
                def __init__(self):
                    self.initialised = True

            self.IProgressMonitor = IProgressMonitor

        class Builder:
            def __init__(self, logger):
                assert getattr(logger, 'initialised', False), 'ILogger.__init__ not called'
                self.logger = logger

            def create_network(self, flags=0):
                network = FakeNetwork(flags)
                trt.networks.append(network)
                return network

            def create_builder_config(self):
                config = IBuilderConfig()
                trt.configs.append(config)
                return config

            def create_optimization_profile(self):
                return FakeProfile()

            def build_serialized_network(self, network, config):
                monitor = config.progress_monitor
                if monitor is not None:
                    assert monitor.initialised, 'IProgressMonitor.__init__ not called'
                    monitor.phase_start('Building engine', None, 2)
                    monitor.phase_start('Tactic selection', 'Building engine', 3)
                    for step in range(3):
                        monitor.step_complete('Tactic selection', step)
                    monitor.phase_finish('Tactic selection')
                    monitor.step_complete('Building engine', 0)
                    monitor.phase_finish('Building engine')
                if trt.fail_builds:
                    self.logger.log(Severity.ERROR, 'fake: out of workspace')
                    return None
                meta = {'magic': 'fake-trt-engine', 'version': trt.__version__,
                        'onnx': network.onnx_path, 'fp16': 'FP16' in config.flags,
                        'tf32': 'TF32' in config.flags, 'flags': sorted(config.flags),
                        'pinned': [layer.name for layer in network.layers if layer.precision_set],
                        'profiles': {name: [list(s) for s in shapes] for p in config.profiles
                                     for name, shapes in p.shapes.items()}}
                trt.builds.append(meta)
                return FakeHostMemory(json.dumps(meta).encode())

        class Runtime:
            def __init__(self, logger):
                self.logger = logger

            def deserialize_cuda_engine(self, data):
                try:
                    meta = json.loads(bytes(data))
                    assert meta['magic'] == 'fake-trt-engine'
                except Exception:  # noqa: BLE001
                    self.logger.log(Severity.ERROR, 'fake: magic tag does not match')
                    return None
                if trt.reject_engines or meta['version'] != trt.__version__:
                    self.logger.log(Severity.ERROR, 'fake: serialization version mismatch')
                    return None
                trt.deserialized += 1
                return trt.ICudaEngine(trt, meta)

        self.Builder, self.Runtime, self.OnnxParser = Builder, Runtime, FakeOnnxParser

    def nptype(self, dtype):
        return {DataType.FLOAT: np.float32, DataType.HALF: np.float16,
                DataType.INT32: np.int32, DataType.BOOL: np.bool_}[dtype]

    def session(self, path):
        if path not in self._sessions:
            self._sessions[path] = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
        return self._sessions[path]


class FakeCudart(types.ModuleType):
    """``cuda.bindings.runtime``: device and pinned memory are both plain host memory."""

    def __init__(self, devices=1, name=b'Orin\x00\x00', cc=(8, 7)):
        super().__init__('cuda.bindings.runtime')
        self.devices, self.name, self.cc = devices, name, cc
        self.cudaError_t = SimpleNamespace(cudaSuccess=0, cudaErrorNoDevice=100,
                                           cudaErrorInvalidDevice=101)
        self.cudaMemcpyKind = SimpleNamespace(cudaMemcpyHostToDevice=1, cudaMemcpyDeviceToHost=2)
        self.cudaDeviceAttr = SimpleNamespace(cudaDevAttrComputeCapabilityMajor=75,
                                              cudaDevAttrComputeCapabilityMinor=76)
        self.device_memory, self.pinned_memory, self.streams = {}, {}, set()
        self.copies = []

    def cudaGetErrorName(self, err):
        return 0, {100: b'cudaErrorNoDevice', 101: b'cudaErrorInvalidDevice'}.get(err, b'?')

    def cudaGetDeviceCount(self):
        return (0, self.devices) if self.devices else (100, 0)

    def cudaSetDevice(self, device):
        return (0,) if 0 <= device < self.devices else (101,)

    def cudaGetDeviceProperties(self, device):
        if not 0 <= device < self.devices:
            return 101, None
        return 0, SimpleNamespace(name=self.name, major=self.cc[0], minor=self.cc[1])

    def cudaDeviceGetAttribute(self, attr, device):
        return 0, self.cc[0] if attr == 75 else self.cc[1]

    @staticmethod
    def _alloc(table, nbytes):
        buffer = ctypes.create_string_buffer(nbytes)
        table[ctypes.addressof(buffer)] = buffer
        return 0, ctypes.addressof(buffer)

    def cudaMalloc(self, nbytes):
        return self._alloc(self.device_memory, nbytes)

    def cudaMallocHost(self, nbytes):
        return self._alloc(self.pinned_memory, nbytes)

    def cudaFree(self, address):
        del self.device_memory[address]
        return (0,)

    def cudaFreeHost(self, address):
        del self.pinned_memory[address]
        return (0,)

    def cudaStreamCreate(self):
        stream = 7000 + len(self.streams)
        self.streams.add(stream)
        return 0, stream

    def cudaStreamDestroy(self, stream):
        self.streams.discard(stream)
        return (0,)

    def cudaMemcpyAsync(self, dst, src, count, kind, stream):
        assert stream in self.streams
        if kind == self.cudaMemcpyKind.cudaMemcpyHostToDevice:
            assert src in self.pinned_memory and dst in self.device_memory
        else:
            assert src in self.device_memory and dst in self.pinned_memory
        ctypes.memmove(dst, src, count)
        self.copies.append((kind, count))
        return (0,)

    def cudaStreamSynchronize(self, stream):
        return (0,)


def install_fakes(monkeypatch, trt=None, cudart=None):
    """Put fake ``tensorrt`` / ``cuda.bindings.runtime`` modules into ``sys.modules``."""
    if trt is not None:
        monkeypatch.setitem(sys.modules, 'tensorrt', trt)
    if cudart is not None:
        cuda = types.ModuleType('cuda')
        cuda.__path__ = []
        bindings = types.ModuleType('cuda.bindings')
        bindings.__path__ = []
        bindings.runtime = cudart
        cuda.bindings = bindings
        monkeypatch.setitem(sys.modules, 'cuda', cuda)
        monkeypatch.setitem(sys.modules, 'cuda.bindings', bindings)
        monkeypatch.setitem(sys.modules, 'cuda.bindings.runtime', cudart)
        monkeypatch.setitem(sys.modules, 'cuda.bindings.utils', None)
        monkeypatch.setitem(sys.modules, 'cuda.cudart', None)
