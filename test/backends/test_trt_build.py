"""Engine builds on every TensorRT generation's path (fakes with each generation's API)."""

import json

import onnx
import pytest

from humanpose.backends.trt_api import make_logger
from humanpose.backends.trt_build import build_serialized_engine, read_onnx_info
from humanpose.backends.trt_cache import compute_profiles
from humanpose.backends.trt_precision import onnx_layer_infos, select_fp32_layers
from humanpose.backends.trt_progress import BuildProgress
from humanpose.errors import BackendUnavailableError, ModelLoadError
from humanpose.testing.models import compute_pose_model
from trt_fakes import ENGINE_MAGIC, NULLPTR, FakeTensorRT, install_fakes


def _meta(data):
    return json.loads(data[len(ENGINE_MAGIC):].partition(b'\n')[0])


def _build(monkeypatch, tmp_path, model, version='10.3.0', precision='fp16', keep=True,
           lines=None, **fake):
    trt = FakeTensorRT(version, **fake)
    install_fakes(monkeypatch, trt)
    info = read_onnx_info(model)
    report = (lines if lines is not None else []).append
    built = build_serialized_engine(
        trt, make_logger(trt), model, compute_profiles(info.inputs, 16, 4), precision, keep, 512,
        tmp_path / 'timing.cache', BuildProgress(model.name, report, 3600))
    return trt, built


@pytest.fixture
def small_model(humanpose_home):
    return compute_pose_model(stage_blocks=(1, 1, 1, 1))


def test_fp16_build_sets_flags_pins_head_profile_and_saves_timing_cache(monkeypatch, tmp_path,
                                                                        small_model):
    lines = []
    trt, built = _build(monkeypatch, tmp_path, small_model, lines=lines)
    meta = _meta(built.data)
    assert built.build_path == 'weak'
    assert {'FP16', 'PREFER_PRECISION_CONSTRAINTS'} <= set(meta['flags'])
    assert 'TF32' not in meta['flags']  # pinned layers are real FP32
    head = select_fp32_layers(onnx_layer_infos(onnx.load(str(small_model))),
                              ['simcc_x', 'simcc_y'])
    assert len(meta['pinned']) == len(head) > 0 and set(meta['pinned']) == set(built.fp32_layers)
    assert meta['profiles'] == {'input': [[1, 3, 256, 192], [4, 3, 256, 192],
                                          [16, 3, 256, 192]]}
    assert trt._fake.configs[0]._pools == {'WORKSPACE': 512 << 20}
    assert trt._fake.networks[0]._flags == 0  # TensorRT 10: no EXPLICIT_BATCH
    assert (tmp_path / 'timing.cache').read_bytes().startswith(b'fake-timing-cache:')
    assert any(line.endswith(': Building engine (2 steps)') for line in lines)


def test_fp32_build_clears_tf32_and_pins_nothing(monkeypatch, tmp_path, small_model):
    _, built = _build(monkeypatch, tmp_path, small_model, precision='fp32')
    meta = _meta(built.data)
    assert not meta['fp16_flag'] and not meta['tf32'] and meta['pinned'] == []


def test_fp16_everywhere_pins_nothing(monkeypatch, tmp_path, small_model):
    _, built = _build(monkeypatch, tmp_path, small_model, keep=False)
    assert _meta(built.data)['pinned'] == [] and not built.fp32_layers


def test_tensorrt_8_builds_explicit_batch_networks_without_a_progress_monitor(
        monkeypatch, tmp_path, small_model):
    trt, built = _build(monkeypatch, tmp_path, small_model, version='8.6.1')
    assert built.build_path == 'explicit-batch-weak' and _meta(built.data)['pinned']
    explicit = int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    assert trt._fake.networks[0]._flags == 1 << explicit
    assert trt._fake.configs[0]._monitor is None


@pytest.mark.parametrize('version', ['10.13.3', '11.4.0'])
@pytest.mark.parametrize('keep', [True, False])
def test_strongly_typed_fp16_builds_from_an_fp16_onnx(monkeypatch, tmp_path, small_model,
                                                      version, keep, fp16_converter):
    trt, built = _build(monkeypatch, tmp_path, small_model, version=version, keep=keep)
    meta = _meta(built.data)
    assert built.build_path == 'strongly-typed' and meta['strongly_typed']
    assert not {'FP16', 'PREFER_PRECISION_CONSTRAINTS'} & set(meta['flags'])
    assert meta['pinned'] == []  # no per-layer precision on strongly typed networks
    strongly = int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    assert trt._fake.networks[0]._flags == 1 << strongly
    graph = onnx.load_from_string(built.data.partition(b'\n')[2].partition(b'\n')[2]).graph
    assert any(t.data_type == onnx.TensorProto.FLOAT16 for t in graph.initializer)
    assert bool(built.fp32_layers) == keep  # the head/normalisation kept in the ONNX
    assert not list(tmp_path.glob('*.onnx'))  # the FP16 ONNX was scratch


def test_strongly_typed_fp32_build_uses_the_onnx_as_it_is(monkeypatch, tmp_path, small_model):
    _, built = _build(monkeypatch, tmp_path, small_model, version='11.4.0', precision='fp32')
    graph = onnx.load_from_string(built.data.partition(b'\n')[2].partition(b'\n')[2]).graph
    assert not any(t.data_type == onnx.TensorProto.FLOAT16 for t in graph.initializer)
    assert not _meta(built.data)['tf32']


def test_strongly_typed_fp16_without_the_converter_says_what_to_install(monkeypatch, tmp_path,
                                                                        small_model):
    monkeypatch.setitem(__import__('sys').modules, 'onnxconverter_common', None)
    with pytest.raises(BackendUnavailableError, match='pip install onnxconverter-common'):
        _build(monkeypatch, tmp_path, small_model, version='11.4.0')


def test_builder_that_cannot_start_cuda_is_backend_unavailable(monkeypatch, tmp_path,
                                                               small_model):
    with pytest.raises(BackendUnavailableError, match='could not start CUDA') as err:
        _build(monkeypatch, tmp_path, small_model, cuda_starts=False)
    assert NULLPTR in str(err.value)


def test_failed_build_reports_tensorrt_errors(monkeypatch, tmp_path, small_model):
    with pytest.raises(ModelLoadError, match='out of workspace'):
        _build(monkeypatch, tmp_path, small_model, precision='fp32', fail_builds=True)


def test_fake_objects_carry_no_public_state_the_conformance_check_cannot_see(
        monkeypatch, tmp_path, small_model):
    """Instance attributes are invisible to the class-level check against the real bindings,
    so every public one must be declared in ``_instance_api`` (which that check covers)."""
    trt, _ = _build(monkeypatch, tmp_path, small_model)
    network = trt._fake.networks[0]
    objects = [network, *network._layers, *network._inputs, *network._outputs,
               trt._fake.configs[0], trt._fake.configs[0]._profiles[0]]
    for obj in objects:
        public = {name for name in vars(obj) if not name.startswith('_')}
        assert public <= set(getattr(type(obj), '_instance_api', ())), type(obj).__name__
