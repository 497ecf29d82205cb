"""Building TensorRT engines: one build path per TensorRT generation.

The path is chosen from what the installed module has (:func:`select_build_path` over
:data:`BUILD_PATHS`, fed by :func:`humanpose.backends.trt_api.trt_features`):

- ``explicit-batch-weak`` (8.x): explicit-batch network, FP16 by ``BuilderFlag.FP16`` with
  the sensitive layers pinned to FP32 and ``PREFER_PRECISION_CONSTRAINTS``;
- ``weak`` (10.0-10.11): the same without ``EXPLICIT_BATCH`` (implicit in 10);
- ``strongly-typed`` (10.12+, 11.x): a ``STRONGLY_TYPED`` network built as the ONNX says;
  FP16 from an FP16 ONNX (:func:`humanpose.backends.trt_precision.fp16_onnx_model`).

Every path ends with the same accuracy guard (:mod:`humanpose.backends.trt_guard`), and
the path's name is part of the engine cache key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import json
import logging
from pathlib import Path
import tempfile
from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np

from humanpose.backends.base import TensorSpec
from humanpose.backends.trt_api import TrtFeatures, start_tensorrt, trt_features
from humanpose.backends.trt_cache import InputProfile, check_precision, write_atomic
from humanpose.backends.trt_precision import (PRECISION_PLANS, fp16_converter_missing,
                                              fp16_onnx_model, network_layer_infos,
                                              pin_layers_fp32, select_fp32_layers)
from humanpose.backends.trt_progress import BuildProgress, make_progress_monitor
from humanpose.errors import BackendUnavailableError, ModelLoadError

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildPath:
    """How one TensorRT generation builds engines.

    :param name: stable name, part of the engine cache key.
    :param typing: ``weak`` (builder precision flags, per-layer pins) or ``strong``.
    :param network_flags: ``NetworkDefinitionCreationFlag`` members for ``create_network``.
    :param applies: whether the installed TensorRT takes this path.
    """

    name: str
    typing: str
    network_flags: tuple[str, ...]
    summary: str
    applies: Callable[[TrtFeatures], bool] = field(compare=False)


#: First path that applies wins.
BUILD_PATHS: tuple[BuildPath, ...] = (
    BuildPath('explicit-batch-weak', 'weak', ('EXPLICIT_BATCH',),
              'TensorRT 8.x: explicit-batch network, FP16 by builder flag with FP32 pins',
              lambda f: f.explicit_batch_flag and f.fp16_flag and f.layer_precision),
    BuildPath('weak', 'weak', (),
              'TensorRT 10.0-10.11: FP16 by builder flag with FP32 pins',
              lambda f: (not f.explicit_batch_flag and f.fp16_flag and f.layer_precision
                         and f.precision_constraints and not f.layer_precision_deprecated)),
    BuildPath('strongly-typed', 'strong', ('STRONGLY_TYPED',),
              'TensorRT 10.12+ / 11.x: strongly typed network, FP16 from an FP16 ONNX',
              lambda f: f.strongly_typed),
)


def select_build_path(trt: Any) -> BuildPath:
    """Return the build path of the installed TensorRT.

    :raises BackendUnavailableError: none applies (a TensorRT older than 8.6).
    """
    features = trt_features(trt)
    for path in BUILD_PATHS:
        if path.applies(features):
            return path
    raise BackendUnavailableError(
        f'TensorRT {getattr(trt, "__version__", "?")} has neither builder precision flags nor '
        'strongly typed networks as this package uses them; install TensorRT 8.6 or newer.')


def precision_problem(trt: Any, precision: str) -> str:
    """Say why ``precision`` cannot be built by the installed TensorRT ('' when it can)."""
    try:
        path = select_build_path(trt)
    except BackendUnavailableError as err:
        return str(err)
    if check_precision(precision) == 'fp16' and path.typing == 'strong':
        return fp16_converter_missing()
    return ''


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


# --------------------------------------------------------------------------- the build

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
    :param build_path: name of the generation's build path that made it.
    """

    data: bytes
    fp32_layers: Mapping[str, str]
    build_s: float
    build_path: str = ''


def _network_flags(trt: Any, path: BuildPath) -> int:
    flags = 0
    for name in path.network_flags:
        flags |= 1 << int(getattr(trt.NetworkDefinitionCreationFlag, name))
    return flags


def _parse(trt: Any, logger: Any, parser: Any, onnx_path: Path, label: str) -> None:
    if not parser.parse_from_file(str(onnx_path)):
        errors = '; '.join(str(parser.get_error(i)) for i in range(min(parser.num_errors, 3)))
        raise ModelLoadError(f'TensorRT {trt.__version__} cannot parse {label}: '
                             f'{errors or logger.take_errors()}. Check the opset/operators, or '
                             'use backend onnxruntime.')


def build_serialized_engine(trt: Any, logger: Any, onnx_path: Path,
                            profiles: Sequence[InputProfile], precision: str, keep_fp32: bool,
                            workspace_mb: int, timing_cache: Optional[Path],
                            progress: BuildProgress) -> BuiltEngine:
    """Parse ``onnx_path`` and build a serialised engine (on the current CUDA device).

    Takes the build path of the installed TensorRT (:func:`select_build_path`).

    :raises BackendUnavailableError: TensorRT cannot start, or the precision cannot be built
        by this TensorRT (the message says why and what to do).
    :raises ModelLoadError: the ONNX does not parse or the build fails.
    """
    features = trt_features(trt)
    path = select_build_path(trt)
    plan = PRECISION_PLANS[(path.typing, check_precision(precision), bool(keep_fp32))]
    problem = precision_problem(trt, precision)
    if problem:
        raise BackendUnavailableError(f'TensorRT {trt.__version__} cannot build {precision} '
                                      f'here: {problem}')
    pinned: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix='humanpose-fp16-') as scratch:
        source = Path(onnx_path)
        if plan.fp16_onnx:
            import onnx

            model, pinned = fp16_onnx_model(onnx.load(str(onnx_path)), keep_fp32,
                                            [o.name for o in read_onnx_info(onnx_path).outputs])
            source = Path(scratch) / f'{Path(onnx_path).stem}.fp16.onnx'
            onnx.save(model, str(source))
            LOG.info('FP16 ONNX for the strongly typed build of %s: %d nodes kept in FP32 '
                     '(normalisation, softmax, output head)', Path(onnx_path).name, len(pinned))
        builder = start_tensorrt(trt, 'Builder', logger)
        network = builder.create_network(_network_flags(trt, path))
        parser = trt.OnnxParser(network, logger)
        _parse(trt, logger, parser, source, Path(onnx_path).name)
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_mb) << 20)
    for name in plan.flags_on:
        config.set_flag(getattr(trt.BuilderFlag, name))
    for name in plan.flags_off:
        if hasattr(trt.BuilderFlag, name):
            config.clear_flag(getattr(trt.BuilderFlag, name))

    if plan.pin_fp32:
        infos = network_layer_infos(trt, network)
        heads = [network.get_output(i).name for i in range(network.num_outputs)]
        picks = select_fp32_layers(infos, heads)
        pin_layers_fp32(trt, network, picks)
        pinned = {infos[i].name: why for i, why in sorted(picks.items())}
        LOG.info('FP16 build of %s keeps %d of %d layers in FP32 (normalisation, softmax, '
                 'output head)', Path(onnx_path).name, len(picks), len(infos))

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
    monitor = make_progress_monitor(trt, progress) if features.progress_monitor else None
    if monitor is not None:
        config.progress_monitor = monitor
    with progress:
        serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise ModelLoadError(f'TensorRT {trt.__version__} could not build an engine from '
                             f'{Path(onnx_path).name}: {logger.take_errors()}. A larger '
                             '--workspace, or fp32, may help.')
    if cache is not None and timing_cache is not None:
        try:
            write_atomic(timing_cache, bytes(memoryview(config.get_timing_cache().serialize())))
        except OSError as err:
            LOG.warning('cannot save the TensorRT timing cache %s: %s', timing_cache, err)
    return BuiltEngine(bytes(memoryview(serialized)), pinned, progress.elapsed_s(), path.name)
