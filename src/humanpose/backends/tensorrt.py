"""TensorRT backend: one cached engine per ONNX model, one execution context, reused buffers.

``create_backend('rtmw.onnx', 'tensorrt')`` finds (or builds, then checks against ONNX
Runtime) the engine for this model, GPU, TensorRT version, precision and batch profile in
the engine cache (:func:`humanpose.paths.engines_dir`); a ``.engine`` file is loaded as it
is. Device buffers are allocated once for the profile's largest batch, host buffers are
pinned, and every ``run`` is: copy in, ``execute_async_v3`` on a CUDA stream, copy out.
CUDA is reached through cuda-python only (no pycuda, no torch). A backend object is made
and used in one thread (the worker that owns the CUDA context).

This module imports cleanly without TensorRT or CUDA; they are imported when a backend is
made or probed. Registering it adds ``tensorrt`` to :func:`humanpose.backends.create_backend`.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass, field, replace
import logging
from pathlib import Path
import shutil
import threading
from typing import Any, Callable, Mapping, Optional, Union

import numpy as np
from numpy.typing import NDArray

from humanpose.backends.base import BackendOptions, TensorSpec, register_backend
from humanpose.backends.cuda import (GpuInfo, cuda_call, cuda_device_count, find_cudart,
                                     gpu_info, import_cudart, native_handle)
from humanpose.backends.trt_api import (INSTALL_HINT, deserialize_engine, find_tensorrt,
                                        import_tensorrt, make_logger, numpy_dtype,
                                        start_tensorrt)
from humanpose.backends.trt_build import (OnnxInfo, build_serialized_engine, precision_problem,
                                          read_onnx_info, select_build_path)
from humanpose.backends.trt_cache import (EngineCache, LoadedEngine, compute_profiles,
                                          load_or_build, make_engine_key, make_sidecar,
                                          read_sidecar, sha256_file, sidecar_path, write_atomic)
from humanpose.backends.trt_guard import (DEFAULT_THRESHOLD_PX, GuardReport,
                                          compare_pose_outputs, guard_sample_batch, warn_if_off)
from humanpose.backends.trt_progress import BuildProgress
from humanpose.errors import BackendUnavailableError, HumanPoseError, InvalidInputError, \
    ModelLoadError

LOG = logging.getLogger(__name__)

__all__ = ['INSTALL_HINT', 'EngineBuildResult', 'TensorRTBackend', 'build_engine',
           'engine_source', 'probe']

#: Model file suffix -> how it is loaded.
MODEL_SOURCES: dict[str, str] = {'.onnx': 'onnx', '.engine': 'engine', '.plan': 'engine',
                                 '.trt': 'engine'}


def engine_source(model_path: Path) -> str:
    """Return ``onnx`` (cache lookup / build) or ``engine`` (direct load) for a model file.

    :raises ModelLoadError: missing file or unknown suffix.
    """
    path = Path(model_path)
    kind = MODEL_SOURCES.get(path.suffix.lower())
    if kind is None:
        raise ModelLoadError(f'the TensorRT backend takes an .onnx model (engine built and '
                             f'cached here) or a serialised engine ({", ".join(MODEL_SOURCES)}), '
                             f'got {path.name}')
    if not path.is_file():
        raise ModelLoadError(f'model file not found: {path}; check the path, or fetch released '
                             'models with `humanpose models download`')
    return kind


def probe(options: BackendOptions) -> tuple[bool, str]:
    """Say whether TensorRT can run here without loading a model.

    Imports ``tensorrt`` and cuda-python, asks CUDA for its devices, checks that this
    TensorRT generation can build ``options.precision`` and that ``trt.Runtime`` starts.

    :return: (available, reason).
    """
    trt, why = find_tensorrt()
    if trt is None:
        return False, why
    cudart, why = find_cudart()
    if cudart is None:
        return False, why
    count, why = cuda_device_count(cudart)
    if count == 0:
        return False, f'no CUDA device ({why or "cudaGetDeviceCount reports 0 devices"})'
    if not 0 <= options.device_id < count:
        return False, f'CUDA device {options.device_id} asked for, {count} present'
    try:
        gpu = gpu_info(cudart, options.device_id)
    except HumanPoseError as err:
        return False, str(err)
    problem = precision_problem(trt, options.precision)
    if problem:
        return False, (f'TensorRT {trt.__version__} cannot build {options.precision} engines '
                       f'here: {problem}')
    try:  # where TensorRT cannot start CUDA this raises, so auto moves on
        start_tensorrt(trt, 'Runtime', make_logger(trt))
    except BackendUnavailableError as err:
        return False, str(err)
    return True, (f'TensorRT {trt.__version__} on {gpu.name} (compute capability '
                  f'{gpu.cc_text}), {select_build_path(trt).name} build path')


# --------------------------------------------------------------------------- I/O adapters

@dataclass
class _IoTensor:
    """One engine input/output and its buffers (device + pinned host)."""

    name: str
    index: int
    is_input: bool
    dtype: np.dtype
    shape: tuple[int, ...]           # engine shape, -1 for dynamic axes
    max_shape: tuple[int, ...] = ()  # largest shape the profile allows (inputs)
    device: int = 0
    host_ptr: int = 0
    host: Optional[NDArray[Any]] = field(default=None, repr=False)


class _TensorNameIo:
    """I/O by tensor name, ``execute_async_v3`` (TensorRT 8.5+: 8.6, 10.x, 11.x)."""

    def __init__(self, trt: Any, engine: Any) -> None:
        self._trt = trt
        self._engine = engine

    def tensors(self) -> list[_IoTensor]:
        trt, engine = self._trt, self._engine
        out = []
        for index in range(engine.num_io_tensors):
            name = engine.get_tensor_name(index)
            is_input = engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
            shape = tuple(int(d) for d in engine.get_tensor_shape(name))
            max_shape = shape
            if is_input and min(shape, default=0) < 0:
                max_shape = tuple(int(d) for d in engine.get_tensor_profile_shape(name, 0)[2])
            out.append(_IoTensor(name, index, is_input,
                                 numpy_dtype(trt, engine.get_tensor_dtype(name), name), shape,
                                 max_shape))
        return out

    def set_input_shape(self, context: Any, tensor: _IoTensor, shape: tuple[int, ...]) -> bool:
        return bool(context.set_input_shape(tensor.name, [int(d) for d in shape]))

    def output_shape(self, context: Any, tensor: _IoTensor) -> tuple[int, ...]:
        return tuple(int(d) for d in context.get_tensor_shape(tensor.name))

    def bind(self, context: Any, tensor: _IoTensor, address: int) -> None:
        if not context.set_tensor_address(tensor.name, address):
            raise ModelLoadError(f'TensorRT refused the buffer of tensor {tensor.name!r}')

    def execute(self, context: Any, stream_handle: int) -> bool:
        return bool(context.execute_async_v3(stream_handle))


#: First adapter whose test accepts the engine wins: the name API wherever it exists.
IO_ADAPTERS: tuple[tuple[Callable[[Any], bool], type], ...] = (
    (lambda engine: hasattr(engine, 'num_io_tensors'), _TensorNameIo),
)


def select_io_adapter(trt: Any, engine: Any) -> Any:
    """Return the I/O adapter for this TensorRT's engine API."""
    for accepts, adapter in IO_ADAPTERS:
        if accepts(engine):
            return adapter(trt, engine)
    raise BackendUnavailableError(f'TensorRT {getattr(trt, "__version__", "?")} has no '
                                  f'tensor-name I/O API (8.5+). {INSTALL_HINT}')


def _host_view(address: int, nbytes: int, dtype: np.dtype) -> NDArray[Any]:
    """Return a flat numpy array over ``nbytes`` of (pinned) host memory at ``address``."""
    pointer = ctypes.cast(address, ctypes.POINTER(ctypes.c_ubyte))
    raw: NDArray[np.uint8] = np.ctypeslib.as_array(pointer, (nbytes,))
    return raw[:nbytes - nbytes % dtype.itemsize].view(dtype)


def _spec(tensor: _IoTensor, dynamic_batch: bool) -> TensorSpec:
    dims: list[Union[int, str, None]] = [d if d >= 0 else None for d in tensor.shape]
    if dims and dynamic_batch:
        dims[0] = None
    return TensorSpec(tensor.name, tuple(dims), tensor.dtype)


# --------------------------------------------------------------------------- backend

class TensorRTBackend:
    """A network as a TensorRT engine on one CUDA device.

    :param model_path: ``.onnx`` (engine from the cache, built on first use) or ``.engine``.
    :param options: precision, batch profile, workspace, cache dir, device. ``options.extra``
        may hold ``check_engine`` (bool, default True: compare a fresh build with ONNX
        Runtime) and ``guard_threshold_px`` (float, default 1.0).
    :param rebuild: ignore a cached engine and build anew.
    :param progress: where build progress lines go (default: INFO log).
    :raises BackendUnavailableError: TensorRT, cuda-python or the device is missing.
    :raises ModelLoadError: the model cannot be parsed, built or deserialised.
    """

    def __init__(self, model_path: Union[str, Path], options: Optional[BackendOptions] = None,
                 *, rebuild: bool = False, progress: Optional[Callable[[str], None]] = None
                 ) -> None:
        options = options or BackendOptions()
        self.name = 'tensorrt'
        self.model_path = Path(model_path)
        self.engine_path = self.model_path
        self.built = False
        self.guard: Optional[GuardReport] = None
        self._options = options
        self._tensors: list[_IoTensor] = []
        self._stream: Any = None
        self._context: Any = None
        self._engine: Any = None
        self._runtime: Any = None
        self._cache: Optional[EngineCache] = None
        self._io: Any = None
        source = engine_source(self.model_path)
        self._trt = import_tensorrt()
        self._cudart = import_cudart()
        self._device_id = options.device_id
        self._thread = threading.get_ident()
        try:
            cuda_call(self._cudart, self._cudart.cudaSetDevice(options.device_id),
                      f'cudaSetDevice({options.device_id})')
            self.gpu: GpuInfo = gpu_info(self._cudart, options.device_id)
            self._logger = make_logger(self._trt)
            self._runtime = start_tensorrt(self._trt, 'Runtime', self._logger)
            onnx_info: Optional[OnnxInfo] = None
            if source == 'onnx':
                onnx_info = read_onnx_info(self.model_path)
                loaded = self._engine_from_onnx(onnx_info, rebuild, progress)
            else:
                loaded = self._engine_from_file()
            self._engine, self.engine_path, self.built = loaded.engine, loaded.path, loaded.built
            self._context = self._engine.create_execution_context()
            if self._context is None:
                raise ModelLoadError(f'TensorRT cannot create an execution context for '
                                     f'{self.engine_path.name}: {self._logger.take_errors()} '
                                     '(out of GPU memory?)')
            self._io = select_io_adapter(self._trt, self._engine)
            self._allocate()
            if (self.built and onnx_info is not None
                    and bool(options.extra.get('check_engine', True))):
                threshold = options.extra.get('guard_threshold_px', DEFAULT_THRESHOLD_PX)
                self.guard = self._check_against_onnxruntime(
                    onnx_info, float(threshold) if isinstance(threshold, (int, float))
                    else DEFAULT_THRESHOLD_PX)
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ loading

    def _deserialize(self, data: bytes) -> Any:
        return deserialize_engine(self._trt, self._runtime, self._logger, data)

    def _engine_from_onnx(self, info: OnnxInfo, rebuild: bool,
                          progress: Optional[Callable[[str], None]]) -> LoadedEngine:
        options, trt = self._options, self._trt
        profiles = compute_profiles(info.inputs, options.max_batch, options.opt_batch)
        key = make_engine_key(sha256_file(self.model_path), trt.__version__, self.gpu,
                              options.precision, options.keep_fp32, profiles,
                              select_build_path(trt).name)
        cache = EngineCache(options.cache_dir)
        self._cache = cache

        def build(path: Path) -> None:
            built = build_serialized_engine(
                trt, self._logger, self.model_path, profiles, key.precision, key.keep_fp32,
                options.workspace_mb, cache.timing_cache_path(self.gpu, trt.__version__),
                BuildProgress(self.model_path.name, progress))
            cache.store(path, built.data, make_sidecar(
                key, self.model_path, build_s=round(built.build_s, 1),
                workspace_mb=options.workspace_mb, fp32_layers=dict(built.fp32_layers),
                build_path=built.build_path))
            LOG.info('TensorRT engine for %s written to %s', self.model_path.name, path)

        return load_or_build(key, cache, self.model_path.stem, build, self._deserialize,
                             rebuild=rebuild)

    def _engine_from_file(self) -> LoadedEngine:
        path, trt = self.model_path, self._trt
        LOG.warning('loading the TensorRT engine %s as given: it cannot be checked against an '
                    'ONNX model, and a stale engine cannot be rebuilt. Pass the .onnx to use the '
                    'engine cache and the accuracy check.', path)
        recorded = (read_sidecar(path) or {}).get('key') or {}
        if recorded and recorded.get('trt_version') != trt.__version__:
            LOG.warning('%s was built with TensorRT %s; this is TensorRT %s', path.name,
                        recorded.get('trt_version'), trt.__version__)
        try:
            engine = self._deserialize(path.read_bytes())
        except ModelLoadError as err:
            raise ModelLoadError(
                f'{path} cannot be loaded by TensorRT {trt.__version__} on {self.gpu.name} '
                f'({err}). Engines are tied to the TensorRT version and GPU that built them: '
                'rebuild it here with `humanpose build-engine MODEL.onnx`.') from err
        return LoadedEngine(engine, path, built=False)

    # ------------------------------------------------------------------ buffers

    def _allocate(self) -> None:
        cudart, io, context = self._cudart, self._io, self._context
        self._tensors = io.tensors()
        inputs = [t for t in self._tensors if t.is_input]
        if not inputs:
            raise ModelLoadError(f'{self.engine_path.name} has no inputs')
        for tensor in inputs:
            if not io.set_input_shape(context, tensor, tensor.max_shape):
                raise ModelLoadError(f'TensorRT refused shape {tensor.max_shape} for input '
                                     f'{tensor.name!r}: {self._logger.take_errors()}')
        for tensor in self._tensors:
            if not tensor.is_input:
                tensor.max_shape = io.output_shape(context, tensor)
            nbytes = max(int(np.prod(tensor.max_shape)) * tensor.dtype.itemsize, 1)
            tensor.device = int(cuda_call(cudart, cudart.cudaMalloc(nbytes), 'cudaMalloc'))
            tensor.host_ptr = int(cuda_call(cudart, cudart.cudaMallocHost(nbytes),
                                            'cudaMallocHost'))
            tensor.host = _host_view(tensor.host_ptr, nbytes, tensor.dtype)
            io.bind(context, tensor, tensor.device)
        self._stream = cuda_call(cudart, cudart.cudaStreamCreate(), 'cudaStreamCreate')
        self._stream_handle = native_handle(self._stream)
        first = inputs[0]
        dynamic = first.shape[0] < 0
        self.max_batch = int(first.max_shape[0])
        self._min_batch = 1 if dynamic else self.max_batch
        self.inputs = tuple(_spec(t, t.shape[0] < 0) for t in inputs)
        self.outputs = tuple(_spec(t, dynamic) for t in self._tensors if not t.is_input)

    # ------------------------------------------------------------------ inference

    def run(self, feeds: Mapping[str, NDArray[np.float32]]) -> dict[str, NDArray[np.generic]]:
        """Run one batch (at most ``max_batch``) and return the outputs by name.

        :raises InvalidInputError: missing/unknown inputs, wrong shapes, batch out of range.
        :raises HumanPoseError: TensorRT or CUDA fails while running.
        """
        unknown = set(feeds) - {s.name for s in self.inputs}
        if unknown:
            raise InvalidInputError(f'unknown inputs {sorted(unknown)}; {self.model_path.name} '
                                    f'takes {[s.name for s in self.inputs]}')
        arrays = {}
        for spec in self.inputs:
            if spec.name not in feeds:
                raise InvalidInputError(f'input {spec.name!r} missing; {self.model_path.name} '
                                        f'takes {[s.name for s in self.inputs]}')
            array = np.ascontiguousarray(feeds[spec.name], dtype=spec.dtype)
            if array.ndim != len(spec.shape) or array.shape[1:] != spec.shape[1:]:
                raise InvalidInputError(f'input {spec.name!r} must be (N, '
                                        f'{", ".join(str(d) for d in spec.shape[1:])}), got '
                                        f'{array.shape}')
            arrays[spec.name] = array
        batch = len(arrays[self.inputs[0].name])
        if batch == 0:
            return {o.name: np.zeros((0,) + tuple(int(d or 0) for d in o.shape[1:]), o.dtype)
                    for o in self.outputs}
        if not self._min_batch <= batch <= self.max_batch:
            raise InvalidInputError(f"batch {batch} is outside this engine's profile "
                                    f'[{self._min_batch}, {self.max_batch}]; split it '
                                    '(humanpose.backends.run_batched) or rebuild with a larger '
                                    '--max-batch')
        if threading.get_ident() != self._thread:  # CUDA's current device is per thread
            cuda_call(self._cudart, self._cudart.cudaSetDevice(self._device_id), 'cudaSetDevice',
                      HumanPoseError)
            self._thread = threading.get_ident()
        return self._execute(arrays)

    def _execute(self, arrays: Mapping[str, NDArray[Any]]) -> dict[str, NDArray[np.generic]]:
        cudart, io, context, stream = self._cudart, self._io, self._context, self._stream
        to_device = cudart.cudaMemcpyKind.cudaMemcpyHostToDevice
        to_host = cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
        for tensor in self._tensors:
            if not tensor.is_input:
                continue
            array = arrays[tensor.name]
            assert tensor.host is not None
            np.copyto(tensor.host[:array.size].reshape(array.shape), array)
            if not io.set_input_shape(context, tensor, array.shape):
                raise InvalidInputError(f'TensorRT refused input shape {array.shape} for '
                                        f'{tensor.name!r}: {self._logger.take_errors()}')
            cuda_call(cudart, cudart.cudaMemcpyAsync(tensor.device, tensor.host_ptr, array.nbytes,
                                                     to_device, stream),
                      'cudaMemcpyAsync', HumanPoseError)
        shapes = {t.name: io.output_shape(context, t) for t in self._tensors if not t.is_input}
        if not io.execute(context, self._stream_handle):
            raise HumanPoseError(f'TensorRT failed to run {self.engine_path.name}: '
                                 f'{self._logger.take_errors()}')
        for tensor in self._tensors:
            if tensor.is_input:
                continue
            nbytes = int(np.prod(shapes[tensor.name])) * tensor.dtype.itemsize
            cuda_call(cudart, cudart.cudaMemcpyAsync(tensor.host_ptr, tensor.device, nbytes,
                                                     to_host, stream),
                      'cudaMemcpyAsync', HumanPoseError)
        cuda_call(cudart, cudart.cudaStreamSynchronize(stream), 'cudaStreamSynchronize',
                  HumanPoseError)
        results: dict[str, NDArray[np.generic]] = {}
        for tensor in self._tensors:
            if not tensor.is_input:
                shape = shapes[tensor.name]
                assert tensor.host is not None
                results[tensor.name] = tensor.host[:int(np.prod(shape))].reshape(shape).copy()
        return results

    # ------------------------------------------------------------------ accuracy guard

    def _check_against_onnxruntime(self, info: OnnxInfo, threshold_px: float
                                   ) -> Optional[GuardReport]:
        if len(self.inputs) != 1 or len(self.inputs[0].shape) != 4:
            LOG.info('accuracy check skipped: %s is not a single-image-input network',
                     self.model_path.name)
            return None
        from humanpose.backends.onnxruntime import OnnxRuntimeBackend

        try:
            reference = OnnxRuntimeBackend(self.model_path,
                                           BackendOptions(threads=self._options.threads), 'cpu')
        except HumanPoseError as err:
            LOG.warning('accuracy check of the new engine skipped: %s', err)
            return None
        spec = self.inputs[0]
        channels, height, width = (int(d or 0) for d in spec.shape[1:])
        mean, std, rgb = info.normalisation()
        sample = guard_sample_batch((channels, height, width), min(self.max_batch, 4), mean,
                                    std, rgb)
        try:
            expected = reference.run({spec.name: sample})
        finally:
            reference.close()
        report = compare_pose_outputs(expected, self.run({spec.name: sample}), (width, height),
                                      threshold_px)
        if report is None:
            LOG.info('accuracy check: the outputs of %s are not a SimCC or heatmap head; not '
                     'compared', self.model_path.name)
            return None
        warn_if_off(report, self.model_path.name, self._options.precision,
                    self._options.keep_fp32)
        if self._cache is not None:
            self._cache.update_sidecar(self.engine_path, guard=report.to_json())
        return report

    # ------------------------------------------------------------------ teardown

    def close(self) -> None:
        """Free buffers, stream, context and engine (safe to call twice)."""
        cudart = getattr(self, '_cudart', None)
        for tensor in self._tensors:
            tensor.host = None
            for address, free in ((tensor.device, 'cudaFree'), (tensor.host_ptr, 'cudaFreeHost')):
                if address and cudart is not None:
                    try:
                        getattr(cudart, free)(address)
                    except Exception as err:  # noqa: BLE001 - teardown is best effort
                        LOG.debug('%s failed: %s', free, err)
            tensor.device = tensor.host_ptr = 0
        self._tensors = []
        self._io = None  # the adapter holds the engine too
        if self._stream is not None and cudart is not None:
            try:
                cudart.cudaStreamDestroy(self._stream)
            except Exception as err:  # noqa: BLE001
                LOG.debug('cudaStreamDestroy failed: %s', err)
        self._stream = None
        # Context before engine before runtime: TensorRT's required destruction order.
        self._context = None
        self._engine = None
        self._runtime = None


# --------------------------------------------------------------------------- build API

@dataclass(frozen=True)
class EngineBuildResult:
    """What :func:`build_engine` did.

    :param engine_path: the engine (``out`` if given, else in the cache).
    :param cache_path: the engine in the cache.
    :param built: built now (else it was up to date in the cache).
    :param sidecar: the engine's sidecar (key fields, build time, FP32 layers, guard).
    :param guard: the accuracy check of this build, if it ran.
    """

    engine_path: Path
    cache_path: Path
    built: bool
    sidecar: Mapping[str, Any]
    guard: Optional[GuardReport]


def build_engine(model_path: Union[str, Path], options: Optional[BackendOptions] = None, *,
                 out: Optional[Union[str, Path]] = None, force: bool = False, check: bool = True,
                 threshold_px: float = 1.0, progress: Optional[Callable[[str], None]] = None
                 ) -> EngineBuildResult:
    """Build the TensorRT engine of an ONNX model, or find it up to date in the cache.

    The Python side of ``humanpose build-engine``.

    :param out: also copy the engine (and its sidecar) here.
    :param force: rebuild even if the cache has it.
    :param check: compare a fresh build with ONNX Runtime (warn above ``threshold_px``).
    :param progress: where progress lines go (default: INFO log).
    :raises BackendUnavailableError: no TensorRT / CUDA here (message with install hint).
    :raises ModelLoadError: not an ONNX file, or it cannot be built.
    """
    options = options or BackendOptions()
    path = Path(model_path)
    if engine_source(path) != 'onnx':
        raise ModelLoadError(f'build-engine takes an ONNX model, got {path.name}; an engine is '
                             'used as it is (pass it as the model)')
    ok, why = probe(options)
    if not ok:
        raise BackendUnavailableError(f'cannot build TensorRT engines here: {why}. '
                                      f'{INSTALL_HINT}')
    options = replace(options, extra=dict(options.extra, check_engine=check,
                                          guard_threshold_px=threshold_px))
    backend = TensorRTBackend(path, options, rebuild=force, progress=progress)
    try:
        cache_path = backend.engine_path
        sidecar = read_sidecar(cache_path) or {}
        target = cache_path
        if out is not None:
            target = Path(out)
            write_atomic(target, cache_path.read_bytes())
            if sidecar_path(cache_path).is_file():
                shutil.copyfile(sidecar_path(cache_path), sidecar_path(target))
        return EngineBuildResult(target, cache_path, backend.built, sidecar, backend.guard)
    finally:
        backend.close()


def _create(model_path: Path, options: BackendOptions) -> TensorRTBackend:
    return TensorRTBackend(model_path, options)


register_backend('tensorrt', _create, probe, INSTALL_HINT)
