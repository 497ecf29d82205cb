"""The engine cache: keys, batch profiles, file names, sidecars and the stale-engine policy.

Engines are not portable across GPUs or TensorRT versions, so they are built from the ONNX
on the machine that runs them and cached under a key (:class:`EngineKey`) of everything
that changes the engine: ONNX sha256, TensorRT version, the build path of that generation
(weak typing with builder flags, or strong typing from an FP16 ONNX), GPU name and compute
capability, precision and batch profile. All of it is plain Python that runs without
TensorRT.
"""

from __future__ import annotations

from dataclasses import dataclass
import hashlib
import json
import logging
import os
from pathlib import Path
import tempfile
import time
from typing import Any, Callable, Mapping, Optional, Sequence

from humanpose.backends.base import TensorSpec
from humanpose.backends.cuda import GpuInfo, slugify
from humanpose.errors import InvalidInputError, ModelLoadError
from humanpose.paths import engines_dir

LOG = logging.getLogger(__name__)

#: Bump when the build recipe changes in a way that changes engines (pins, flags).
#: 2: the build path (per TensorRT generation) joined the key.
KEY_SCHEMA = 2
PRECISIONS: tuple[str, ...] = ('fp32', 'fp16')
ENGINE_SUFFIX = '.engine'
SIDECAR_SUFFIX = '.json'


def check_precision(precision: str) -> str:
    """Return ``precision`` if known.

    :raises InvalidInputError: not ``fp32`` or ``fp16``.
    """
    if precision not in PRECISIONS:
        raise InvalidInputError(f'precision must be one of {", ".join(PRECISIONS)}, '
                                f'got {precision!r}')
    return precision


def sha256_file(path: Path, chunk_bytes: int = 1 << 20) -> str:
    """Return the hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, 'rb') as stream:
        for chunk in iter(lambda: stream.read(chunk_bytes), b''):
            digest.update(chunk)
    return digest.hexdigest()


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
    build_path: str = ''
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
                'keep_fp32': self.keep_fp32, 'build_path': self.build_path,
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
                   bool(data['keep_fp32']), profiles, str(data.get('build_path', '')),
                   int(data['schema']))

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
                    keep_fp32: bool, profiles: Sequence[InputProfile], build_path: str = ''
                    ) -> EngineKey:
    """Return the key; ``keep_fp32`` only counts for FP16 (FP32 engines are all FP32).

    :param build_path: name of the TensorRT generation's build path
        (:data:`humanpose.backends.trt_build.BUILD_PATHS`).
    """
    check_precision(precision)
    return EngineKey(onnx_sha256, str(trt_version), gpu.name, gpu.cc_text, precision,
                     bool(keep_fp32) and precision == 'fp16', tuple(profiles), str(build_path))


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
