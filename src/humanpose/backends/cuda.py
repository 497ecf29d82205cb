"""CUDA through cuda-python: importing the runtime bindings, calls, errors and GPU facts.

Only this module and the TensorRT backend touch cuda-python. Every call goes through
:func:`cuda_call`, which unpacks cuda-python's ``(err, *values)`` tuples and turns a failure
into an error that names the CUDA error and, where known, what to do about it
(:data:`CUDA_ERROR_HINTS`). cuda-python is pinned to the driver's CUDA major: a CUDA 12
driver (JetPack 6) with cuda-python 13 answers every call with
``cudaErrorInsufficientDriver``.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
import re
from typing import Any, Optional
import warnings

from humanpose.errors import BackendUnavailableError, HumanPoseError

#: How to install cuda-python for each CUDA major (the driver's, see ``nvidia-smi``).
CUDA_PYTHON_PINS: dict[int, str] = {12: 'cuda-python>=12.6,<13', 13: 'cuda-python>=13,<14'}

CUDA_INSTALL_HINT = (
    "Install the CUDA Python bindings for your driver's CUDA major: pip install "
    f'"{CUDA_PYTHON_PINS[12]}" (CUDA 12 drivers, JetPack 6) or pip install '
    f'"{CUDA_PYTHON_PINS[13]}" (CUDA 13 drivers, JetPack 7).')

# cuda-python moved the runtime bindings to cuda.bindings.runtime in 12.6.1; the old
# ``cuda.cudart`` module warns from 12.9 and is gone in 13.0.
_CUDART_MODULES: tuple[str, ...] = ('cuda.bindings.runtime', 'cuda.cudart')

#: CUDA error name -> what it usually means here and the fix.
CUDA_ERROR_HINTS: dict[str, str] = {
    'cudaErrorInsufficientDriver': (
        'the NVIDIA driver is older than the CUDA runtime of the installed cuda-python (or no '
        "driver is loaded): match cuda-python to the driver's CUDA major (nvidia-smi shows "
        f'it), e.g. pip install "{CUDA_PYTHON_PINS[12]}" on a CUDA 12 driver / JetPack 6'),
    'cudaErrorNoDevice': (
        'no GPU is visible to this process: check nvidia-smi and CUDA_VISIBLE_DEVICES; in a '
        'container start it with --gpus all (Docker) or --runtime nvidia (Jetson)'),
    'cudaErrorInvalidDevice': 'the device index is out of range: check --device / device_id',
    'cudaErrorMemoryAllocation': 'the GPU is out of memory: lower max_batch or free the GPU',
    'cudaErrorStubLibrary': (
        'only the CUDA stub library was found, not the driver: install the NVIDIA driver '
        '(or run with the container runtime that mounts it)'),
    'cudaErrorCallRequiresNewerDriver': (
        'the driver is too old for this cuda-python: update the driver or install the '
        f'cuda-python of its CUDA major ("{CUDA_PYTHON_PINS[12]}" for CUDA 12)'),
}


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
        raise BackendUnavailableError(f'{why}. {CUDA_INSTALL_HINT}')
    return cudart


def native_handle(obj: Any) -> int:
    """Return the address a cuda-python object (a ``cudaStream_t``) wraps, as an int.

    TensorRT takes streams as plain ints. ``int(obj)`` is deprecated from cuda-bindings
    12.9.1 in favour of ``cuda.bindings.utils.get_cuda_native_handle``; older versions only
    have ``int``.
    """
    try:
        from cuda.bindings.utils import get_cuda_native_handle
    except ImportError:
        return int(obj)
    try:
        return int(get_cuda_native_handle(obj))
    except TypeError:  # a plain int, or a type the helper does not know
        return int(obj)


def cuda_error_name(cudart: Any, err: Any) -> str:
    """Return the name of a ``cudaError_t`` (``cudaErrorNoDevice``), best effort."""
    try:
        name = cudart.cudaGetErrorName(err)[1]
    except Exception:  # noqa: BLE001 - best effort for a message
        return str(getattr(err, 'name', err))
    return name.decode() if isinstance(name, bytes) else str(name)


def describe_cuda_error(cudart: Any, err: Any) -> str:
    """Return ``name`` or ``name (what it means and the fix)`` for a ``cudaError_t``."""
    name = cuda_error_name(cudart, err)
    hint = CUDA_ERROR_HINTS.get(name)
    return f'{name} ({hint})' if hint else name


def cuda_call(cudart: Any, result: Any, what: str,
              error: type[HumanPoseError] = BackendUnavailableError) -> Any:
    """Unpack a cuda-python result tuple ``(err, *values)``.

    :return: None, the single value, or a tuple of values.
    :raises HumanPoseError: ``error`` when ``err`` is not ``cudaSuccess``.
    """
    status, values = result[0], tuple(result[1:])
    if status != cudart.cudaError_t.cudaSuccess:
        raise error(f'CUDA call {what} failed: {describe_cuda_error(cudart, status)}')
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
        return 0, f'cudaGetDeviceCount: {describe_cuda_error(cudart, result[0])}'
    return int(result[1]), ''


def slugify(text: str) -> str:
    """Lower-case ``text`` with runs of anything but letters and digits turned into ``-``."""
    return re.sub(r'[^a-z0-9]+', '-', text.lower()).strip('-')


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
