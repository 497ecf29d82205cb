"""ONNX Runtime backend: CPU by default, CUDA when asked for and available."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from numpy.typing import NDArray

from humanpose.backends.base import BackendOptions, TensorSpec, register_backend
from humanpose.errors import BackendUnavailableError, ModelLoadError

LOG = logging.getLogger(__name__)

INSTALL_HINT = ('Install ONNX Runtime: pip install onnxruntime (CPU) or, instead of it, '
                'pip install onnxruntime-gpu (CUDA); never both (pip uninstall onnxruntime '
                'onnxruntime-gpu, then install one).')

#: The wheels that all install the ``onnxruntime`` module; two of them overwrite each other.
ORT_DISTRIBUTIONS: tuple[str, ...] = ('onnxruntime', 'onnxruntime-gpu')

CUDA_PROVIDER_HINT = (
    'onnxruntime-gpu needs the CUDA and cuDNN libraries of its build on the library path '
    '(x86-64: pip install "onnxruntime-gpu[cuda,cudnn]", or the CUDA toolkit and cuDNN of the '
    'README table; Jetson: the onnxruntime-gpu wheel built for your JetPack), and an NVIDIA '
    'driver that sees a GPU (nvidia-smi)')

_ONNX_DTYPES = {'tensor(float)': np.float32, 'tensor(float16)': np.float16,
                'tensor(int64)': np.int64, 'tensor(int32)': np.int32,
                'tensor(uint8)': np.uint8, 'tensor(bool)': np.bool_,
                'tensor(double)': np.float64}


def _import_ort() -> Any:
    try:
        import onnxruntime
    except ImportError as err:
        raise BackendUnavailableError(f'onnxruntime is not installed. {INSTALL_HINT}') from err
    return onnxruntime


def _probe_cpu(options: BackendOptions) -> tuple[bool, str]:
    try:
        ort = _import_ort()
    except BackendUnavailableError as err:
        return False, str(err)
    return True, f'onnxruntime {ort.__version__} on the CPU'


def installed_ort_distributions() -> list[str]:
    """Return which of :data:`ORT_DISTRIBUTIONS` pip has installed here."""
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in ORT_DISTRIBUTIONS:
        try:
            version(name)
        except PackageNotFoundError:
            continue
        found.append(name)
    return found


def _probe_cuda(options: BackendOptions) -> tuple[bool, str]:
    try:
        ort = _import_ort()
    except BackendUnavailableError as err:
        return False, str(err)
    both = installed_ort_distributions()
    if len(both) > 1:
        return False, (f'{" and ".join(both)} are both installed and overwrite each other\'s '
                       'files: pip uninstall onnxruntime onnxruntime-gpu, then pip install '
                       'onnxruntime-gpu')
    if 'CUDAExecutionProvider' not in ort.get_available_providers():
        return False, ('this onnxruntime build has no CUDAExecutionProvider '
                       '(pip install onnxruntime-gpu)')
    return True, f'onnxruntime {ort.__version__} with CUDAExecutionProvider'


def _specs(args: Any) -> tuple[TensorSpec, ...]:
    return tuple(TensorSpec(a.name, tuple(d if isinstance(d, int) else (d or None)
                                          for d in a.shape),
                            np.dtype(_ONNX_DTYPES.get(a.type, np.float32))) for a in args)


class OnnxRuntimeBackend:
    """A network in an ``onnxruntime.InferenceSession``.

    A model exported with a static batch of 1 still takes any batch: it is run one item at
    a time (with a one-time warning), so callers need not care.
    """

    def __init__(self, model_path: Path, options: BackendOptions, device: str) -> None:
        ort = _import_ort()
        self.model_path = Path(model_path)
        if not self.model_path.is_file():
            raise ModelLoadError(f'model file not found: {self.model_path}; check the path, '
                                 'or fetch released models with `humanpose models download`')
        session_options = ort.SessionOptions()
        if options.threads > 0:
            session_options.intra_op_num_threads = options.threads
        session_options.log_severity_level = 3
        # Idle intra-op threads sleep instead of spinning: spinning threads take the cores
        # the rest of the frame (crops, decode, the ROS executor) runs on.
        session_options.add_session_config_entry('session.intra_op.allow_spinning',
                                                 '1' if options.spin_wait else '0')
        providers: list[Any] = ['CPUExecutionProvider']
        if device == 'cuda':
            providers.insert(0, ('CUDAExecutionProvider', {'device_id': options.device_id}))
        try:
            self._session = ort.InferenceSession(str(self.model_path), session_options,
                                                 providers=providers)
        except Exception as err:  # onnxruntime raises its own exception family
            raise ModelLoadError(
                f'onnxruntime cannot load {self.model_path}: {err}. The file is not a valid '
                'ONNX model (truncated download? re-download it, or re-export it).') from err
        if device == 'cuda':
            self._require_cuda_provider()
        self.name = f'onnxruntime-{device}'
        self.inputs = _specs(self._session.get_inputs())
        self.outputs = _specs(self._session.get_outputs())
        self._output_names = [o.name for o in self.outputs]
        static = self.inputs[0].static_batch if self.inputs else None
        # A static batch of 1 is looped over inside run(); other static sizes are hard limits.
        self.max_batch = static if static not in (None, 1) else max(1, options.max_batch) * 64
        self._static_batch = static
        self._warned = False

    def _require_cuda_provider(self) -> None:
        """Refuse a CUDA session that ONNX Runtime quietly put on the CPU.

        :raises BackendUnavailableError: the session has no ``CUDAExecutionProvider``.
        """
        providers = list(self._session.get_providers())
        if 'CUDAExecutionProvider' not in providers:
            self._session = None
            raise BackendUnavailableError(
                f'onnxruntime-gpu could not start its CUDA provider for {self.model_path.name} '
                f'(the session has only {", ".join(providers) or "no providers"}): '
                f'{CUDA_PROVIDER_HINT}. Use backend onnxruntime-cpu meanwhile.')

    def run(self, feeds: Mapping[str, NDArray[np.float32]]) -> dict[str, NDArray[np.generic]]:
        n = len(next(iter(feeds.values())))
        if self._static_batch is not None and n != self._static_batch:
            if self._static_batch != 1:
                raise ModelLoadError(
                    f'{self.model_path.name} has a static batch of {self._static_batch}; '
                    f'cannot run {n}. Export it with a dynamic batch axis.')
            if not self._warned:
                LOG.warning('%s has a static batch of 1: running people one at a time (slower);'
                            ' export the model with a dynamic batch axis for one call per frame',
                            self.model_path.name)
                self._warned = True
            parts = [self._run_once({k: v[i:i + 1] for k, v in feeds.items()}) for i in range(n)]
            return {k: np.concatenate([p[k] for p in parts]) for k in self._output_names}
        return self._run_once(feeds)

    def _run_once(self, feeds: Mapping[str, NDArray[np.float32]]
                  ) -> dict[str, NDArray[np.generic]]:
        results = self._session.run(self._output_names, dict(feeds))
        return dict(zip(self._output_names, results))

    def close(self) -> None:
        self._session = None


def _cpu(model_path: Path, options: BackendOptions) -> OnnxRuntimeBackend:
    return OnnxRuntimeBackend(model_path, options, 'cpu')


def _cuda(model_path: Path, options: BackendOptions) -> OnnxRuntimeBackend:
    return OnnxRuntimeBackend(model_path, options, 'cuda')


register_backend('onnxruntime-cpu', _cpu, _probe_cpu, INSTALL_HINT)
register_backend('onnxruntime-cuda', _cuda, _probe_cuda, INSTALL_HINT)


def model_metadata(model_path: Path) -> dict[str, str]:
    """Return the ``metadata_props`` of an ONNX file, read by ONNX Runtime.

    For installs without the ``onnx`` package (the ROS node needs only ONNX Runtime). Loads
    the model into a CPU session without graph optimisation, then drops it.

    :raises BackendUnavailableError: ONNX Runtime is not installed.
    :raises ModelLoadError: the file is not a model ONNX Runtime can read.
    """
    ort = _import_ort()
    session_options = ort.SessionOptions()
    session_options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session_options.log_severity_level = 3
    try:
        session = ort.InferenceSession(str(model_path), session_options,
                                       providers=['CPUExecutionProvider'])
    except Exception as err:  # ORT raises its own Fail / InvalidProtobuf / RuntimeError
        raise ModelLoadError(f'{model_path} is not a readable ONNX file ({err}); re-download '
                             'or re-export it') from err
    return dict(session.get_modelmeta().custom_metadata_map)
