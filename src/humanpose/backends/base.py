"""The inference backend protocol and the registry of backends by name.

A backend runs one network: ``run({'input': batch}) -> {'simcc_x': ..., ...}``. Backends
register themselves with :func:`register_backend`; ``auto`` picks the best one available
(TensorRT > ONNX Runtime CUDA > ONNX Runtime CPU) and says why. Only modules in this
package import onnxruntime / tensorrt / CUDA bindings, and only when a backend is made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import import_module
import logging
from pathlib import Path
from typing import Callable, Mapping, Optional, Protocol, Sequence, Union

import numpy as np
from numpy.typing import NDArray

from humanpose.errors import BackendUnavailableError

LOG = logging.getLogger(__name__)

Shape = tuple[Union[int, str, None], ...]

#: Order in which ``auto`` tries backends.
AUTO_ORDER: tuple[str, ...] = ('tensorrt', 'onnxruntime-cuda', 'onnxruntime-cpu')


@dataclass(frozen=True)
class TensorSpec:
    """Name, shape (str or None for dynamic axes) and dtype of one network input/output."""

    name: str
    shape: Shape
    dtype: np.dtype

    @property
    def static_batch(self) -> Optional[int]:
        """The fixed batch size, or None where the batch axis is dynamic."""
        first = self.shape[0] if self.shape else None
        return first if isinstance(first, int) and first > 0 else None


@dataclass(frozen=True)
class BackendOptions:
    """How to run a network; each backend uses the fields that apply to it.

    :param device_id: CUDA device index.
    :param threads: CPU intra-op threads (0 = the runtime's default).
    :param precision: ``fp32`` or ``fp16`` (TensorRT builds).
    :param max_batch: largest batch one call should take (TensorRT profile max).
    :param opt_batch: batch size the TensorRT profile is tuned for.
    :param workspace_mb: TensorRT builder workspace limit.
    :param cache_dir: engine cache directory (None = ``humanpose.paths.engines_dir()``).
    :param keep_fp32: keep normalisation layers and the output head in FP32 in FP16 builds.
    :param spin_wait: let ONNX Runtime's idle CPU threads spin (a little lower latency on
        cores nothing else uses; off, they leave the cores to the rest of the pipeline).
    """

    device_id: int = 0
    threads: int = 0
    precision: str = 'fp32'
    max_batch: int = 16
    opt_batch: int = 4
    workspace_mb: int = 1024
    cache_dir: Optional[Path] = None
    keep_fp32: bool = True
    spin_wait: bool = False
    extra: Mapping[str, object] = field(default_factory=dict)


class InferenceBackend(Protocol):
    """One loaded network, used from one thread.

    ``max_batch`` is the largest batch a single ``run`` accepts; callers chunk above it.
    Models with a static batch of 1 report max_batch 1.
    """

    name: str
    model_path: Path
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    max_batch: int

    def run(self, feeds: Mapping[str, NDArray[np.float32]]) -> dict[str, NDArray[np.generic]]:
        """Run the network on ``feeds`` (input name -> array) and return outputs by name."""
        ...

    def close(self) -> None:
        """Release the runtime's resources."""
        ...


BackendFactory = Callable[[Path, BackendOptions], InferenceBackend]
#: Returns (available, reason) without loading a model.
BackendProbe = Callable[[BackendOptions], tuple[bool, str]]


@dataclass(frozen=True)
class BackendEntry:
    name: str
    factory: BackendFactory
    probe: BackendProbe
    install_hint: str


_REGISTRY: dict[str, BackendEntry] = {}
_ALIASES: dict[str, str] = {'onnxruntime': 'onnxruntime-cpu', 'ort': 'onnxruntime-cpu',
                            'trt': 'tensorrt'}


def register_backend(name: str, factory: BackendFactory, probe: BackendProbe,
                     install_hint: str) -> None:
    """Make backend ``name`` available to :func:`create_backend`."""
    _REGISTRY[name] = BackendEntry(name, factory, probe, install_hint)


def _load_builtin_backends() -> None:
    # Importing the modules registers them; they import their runtimes lazily.
    from humanpose.backends import onnxruntime as _ort  # noqa: F401
    try:
        import_module('humanpose.backends.tensorrt')
    except ImportError:  # module not shipped in this build
        pass


def backend_names() -> tuple[str, ...]:
    """Return the registered backend names (plus ``auto``)."""
    _load_builtin_backends()
    return ('auto',) + tuple(_REGISTRY)


def resolve_backend(name: str, options: BackendOptions) -> tuple[str, str]:
    """Turn a requested backend name into a concrete registered one.

    :return: (backend name, reason it was chosen).
    :raises BackendUnavailableError: unknown name, or a named backend that cannot run here
        (the message carries the install hint).
    """
    _load_builtin_backends()
    name = _ALIASES.get(name, name)
    if name == 'auto':
        reasons: list[str] = []
        for candidate in AUTO_ORDER:
            entry = _REGISTRY.get(candidate)
            if entry is None:
                continue
            ok, why = entry.probe(options)
            if ok:
                skipped = f' ({"; ".join(reasons)})' if reasons else ''
                return candidate, f'auto: {candidate}: {why}{skipped}'
            reasons.append(f'{candidate} unavailable: {why}')
        raise BackendUnavailableError('no inference backend can run here: ' + '; '.join(reasons))
    entry = _REGISTRY.get(name)
    if entry is None:
        raise BackendUnavailableError(
            f'unknown backend {name!r}; choose one of: {", ".join(backend_names())}')
    ok, why = entry.probe(options)
    if not ok:
        raise BackendUnavailableError(f'backend {name!r} is not available: {why}. '
                                      f'{entry.install_hint}')
    return name, f'{name}: requested; {why}'


def create_backend(model_path: Union[str, Path], backend: str = 'auto',
                   options: Optional[BackendOptions] = None) -> InferenceBackend:
    """Load ``model_path`` on the requested backend (``auto`` picks and logs the choice).

    With ``auto``, a backend that passed its probe but cannot start (TensorRT cannot create
    its runtime, ONNX Runtime's CUDA provider does not load, ...) is skipped for the next
    one in :data:`AUTO_ORDER`; the one log line then says which was used and why the others
    were not.

    :raises BackendUnavailableError: the backend cannot run here.
    :raises ModelLoadError: the model file is missing or cannot be loaded.
    """
    options = options or BackendOptions()
    if _ALIASES.get(backend, backend) != 'auto':
        name, reason = resolve_backend(backend, options)
        LOG.info('inference backend for %s: %s', Path(model_path).name, reason)
        return _REGISTRY[name].factory(Path(model_path), options)
    _load_builtin_backends()
    skipped: list[str] = []
    started_and_failed = False
    for candidate in AUTO_ORDER:
        entry = _REGISTRY.get(candidate)
        if entry is None:
            continue
        ok, why = entry.probe(options)
        if not ok:
            skipped.append(f'{candidate} unavailable: {why}')
            continue
        try:
            made = entry.factory(Path(model_path), options)
        except BackendUnavailableError as err:
            skipped.append(f'{candidate} failed to start: {err}')
            started_and_failed = True
            continue
        reason = f'auto: {candidate}: {why}' + (f' ({"; ".join(skipped)})' if skipped else '')
        # One line either way; a warning when a backend that should have run did not.
        LOG.log(logging.WARNING if started_and_failed else logging.INFO,
                'inference backend for %s: %s', Path(model_path).name, reason)
        return made
    raise BackendUnavailableError('no inference backend can run here: ' + '; '.join(skipped))


def run_batched(backend: InferenceBackend, input_name: str, batch: NDArray[np.float32]
                ) -> dict[str, NDArray[np.generic]]:
    """Run ``batch`` in as few calls as ``backend.max_batch`` allows; concatenate outputs.

    An empty batch returns empty outputs without calling the backend.
    """
    n = len(batch)
    if n <= backend.max_batch and n > 0:
        return backend.run({input_name: batch})
    if n == 0:
        return {o.name: np.zeros((0,) + tuple(d if isinstance(d, int) else 0
                                              for d in o.shape[1:]), o.dtype)
                for o in backend.outputs}
    parts: list[dict[str, NDArray[np.generic]]] = [
        backend.run({input_name: batch[i:i + backend.max_batch]})
        for i in range(0, n, backend.max_batch)]
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


def output_dims(specs: Sequence[TensorSpec]) -> dict[str, Shape]:
    """Return output name -> shape, for decoders that pick by name and shape."""
    return {s.name: s.shape for s in specs}
