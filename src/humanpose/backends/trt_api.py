"""The installed ``tensorrt`` module: import, what its generation offers, logger, start-up.

TensorRT's Python API differs between the generations our users run (8.6 on JetPack 6.0,
10.3 on JetPack 6.1/6.2, 10.x and 11.x from pip). What this package needs to know is probed
once from the module itself (:data:`FEATURE_PROBES`: ``hasattr`` checks, not version
strings alone) into :class:`TrtFeatures`; the build path per generation is chosen from them
in :mod:`humanpose.backends.trt_build`.

Facts checked against the real Python bindings wheels of 8.6.1, 10.3.0 and 11.4 by the
conformance tests (``test/backends/test_trt_conformance.py``): name-based I/O
(``num_io_tensors`` ... ``execute_async_v3``) exists in all three; ``IProgressMonitor`` from
9.1; ``EXPLICIT_BATCH`` is needed before 10 and gone in 11; 11 has no ``BuilderFlag.FP16``
/ ``BF16`` / ``INT8`` / precision constraints and no ``ILayer.precision`` /
``set_output_type`` (strongly typed networks only); ``trt.nptype`` raises ``TypeError`` for
BF16 / FP8 / INT4 / FP4 / E8M0; ``trt.Builder`` / ``trt.Runtime`` raise ``TypeError:
pybind11::init(): factory function returned nullptr`` when TensorRT cannot start CUDA.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
import logging
import re
from typing import Any, Callable, Optional

import numpy as np

from humanpose.backends.cuda import CUDA_PYTHON_PINS
from humanpose.errors import BackendUnavailableError, ModelLoadError

TRT_LOG = logging.getLogger('humanpose.backends.tensorrt.trt')

INSTALL_HINT = (
    "Install TensorRT and the CUDA Python bindings of your driver's CUDA major (nvidia-smi "
    'shows it): x86-64 with a CUDA 13 driver: pip install tensorrt-cu13 '
    f'"{CUDA_PYTHON_PINS[13]}"; with a CUDA 12 driver: pip install tensorrt-cu12 '
    f'"{CUDA_PYTHON_PINS[12]}"; Jetson: sudo apt install python3-libnvinfer (JetPack; in a '
    f'venv use --system-site-packages) and pip install "{CUDA_PYTHON_PINS[12]}" on JetPack 6 '
    f'("{CUDA_PYTHON_PINS[13]}" on JetPack 7).')


def find_tensorrt() -> tuple[Optional[Any], str]:
    """Import ``tensorrt`` if it is there.

    :return: (module or None, why not). Never raises.
    """
    try:
        return import_module('tensorrt'), ''
    except (ImportError, OSError) as err:  # OSError: the wheel is there, its libraries not
        text = str(err)
        if 'libnv' in text and ('cannot open shared object' in text or isinstance(err, OSError)):
            return None, (f'the tensorrt Python bindings are installed but not the TensorRT '
                          f'libraries they load ({text}): install both of one version '
                          '(pip install tensorrt-cu12 or tensorrt-cu13 brings both; on Jetson '
                          'the libraries come with JetPack: sudo apt install '
                          'python3-libnvinfer), or put their folder on LD_LIBRARY_PATH')
        return None, f'the tensorrt Python package cannot be imported ({text})'


def import_tensorrt() -> Any:
    """Return the ``tensorrt`` module.

    :raises BackendUnavailableError: not installed (the message carries the install hint).
    """
    trt, why = find_tensorrt()
    if trt is None:
        raise BackendUnavailableError(f'TensorRT is not available: {why}. {INSTALL_HINT}')
    return trt


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
    precision_constraints: bool
    layer_precision: bool
    layer_precision_deprecated: bool
    strongly_typed: bool


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
    # PREFER_PRECISION_CONSTRAINTS: 8.2 .. 10.x (gone in 11)
    'precision_constraints': lambda trt, v: hasattr(trt.BuilderFlag,
                                                    'PREFER_PRECISION_CONSTRAINTS'),
    # ILayer.precision / set_output_type: the FP32 pins of weakly typed builds (gone in 11)
    'layer_precision': lambda trt, v: hasattr(trt.ILayer, 'precision') and hasattr(
        trt.ILayer, 'set_output_type'),
    # ... deprecated from 10.12 with a DeprecationWarning per call: use strong typing there
    'layer_precision_deprecated': lambda trt, v: v >= (10, 12),
    # NetworkDefinitionCreationFlag.STRONGLY_TYPED: 9.1+ (the only kind of network in 11)
    'strongly_typed': lambda trt, v: hasattr(trt.NetworkDefinitionCreationFlag,
                                             'STRONGLY_TYPED'),
}


def trt_features(trt: Any) -> TrtFeatures:
    """Probe the installed TensorRT once for the API differences this package cares about."""
    version = parse_version(getattr(trt, '__version__', '0'))
    return TrtFeatures(version=version,
                       **{name: bool(test(trt, version)) for name, test in FEATURE_PROBES.items()})


def enum_name(value: Any) -> str:
    """Return the member name of a TensorRT (pybind11) enum value."""
    name = getattr(value, 'name', None)
    return str(name) if name else str(value).rsplit('.', 1)[-1]


#: TensorRT I/O data types numpy has no dtype for (``trt.nptype`` raises ``TypeError``).
NON_NUMPY_TYPES: dict[str, str] = {'BF16': 'bfloat16', 'FP8': '8-bit float',
                                   'INT4': '4-bit integer', 'FP4': '4-bit float',
                                   'E8M0': '8-bit exponent-only float'}


def numpy_dtype(trt: Any, dtype: Any, tensor_name: str) -> np.dtype:
    """Return the numpy dtype of an engine I/O tensor.

    :raises ModelLoadError: the tensor has a type numpy cannot hold (BF16, FP8, INT4 ...).
    """
    try:
        result: np.dtype = np.dtype(trt.nptype(dtype))
        return result
    except (TypeError, KeyError) as err:
        name = enum_name(dtype)
        what = NON_NUMPY_TYPES.get(name, 'a type numpy has no dtype for')
        raise ModelLoadError(
            f'engine tensor {tensor_name!r} is {name} ({what}), which cannot be fed or read '
            'from numpy. Build the engine here from the ONNX (its inputs and outputs stay FP32), '
            'or export the model with FP32/FP16 inputs and outputs.') from err


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


START_FAILURE_HINT = (
    'TensorRT could not start CUDA. Usual causes: no GPU visible to this process (in a '
    'container: --gpus all, or --runtime nvidia on Jetson; check nvidia-smi and '
    'CUDA_VISIBLE_DEVICES), an NVIDIA driver older than the CUDA this TensorRT was built for '
    '(tensorrt-cu13 / pip install tensorrt on a CUDA 12 driver: pip install tensorrt-cu12), '
    'or a libnvinfer of another version than the tensorrt Python bindings. Meanwhile backend '
    'onnxruntime-cpu runs without a GPU.')


def start_tensorrt(trt: Any, factory: str, logger: Any) -> Any:
    """Create ``trt.Builder(logger)`` or ``trt.Runtime(logger)``.

    :param factory: ``Builder`` or ``Runtime``.
    :raises BackendUnavailableError: TensorRT returned nullptr (``TypeError`` from pybind11)
        or raised; the message names the cause and the fix.
    """
    try:
        made = getattr(trt, factory)(logger)
    except (TypeError, RuntimeError) as err:
        errors = logger.take_errors() if hasattr(logger, 'take_errors') else ''
        # nullptr: libnvinfer's factory failed, which it does when it cannot start CUDA.
        hint = (START_FAILURE_HINT if 'nullptr' in str(err) or isinstance(err, RuntimeError)
                else f'the tensorrt Python bindings do not match this package. {INSTALL_HINT}')
        raise BackendUnavailableError(
            f'TensorRT {getattr(trt, "__version__", "?")}: trt.{factory}() failed ({err}; '
            f'{errors}). {hint}') from err
    if made is None:  # older bindings return None instead of raising
        raise BackendUnavailableError(f'TensorRT {getattr(trt, "__version__", "?")}: '
                                      f'trt.{factory}() returned None. {START_FAILURE_HINT}')
    return made


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
