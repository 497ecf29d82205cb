"""Engine cache keys, profiles, FP32 pins, stale-engine policy, builder and accuracy guard."""

import json
import logging
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
import onnxruntime as ort
import pytest

from humanpose.backends.base import TensorSpec
from humanpose.backends.trt_engine import (
    BuildProgress, EngineCache, EngineKey, GpuInfo, InputProfile, compare_pose_outputs,
    compute_profiles, decode_argmax_keypoints, guard_sample_batch, load_or_build,
    make_engine_key, make_logger, make_sidecar, onnx_layer_infos, parse_version,
    read_onnx_info, select_fp32_layers, sidecar_problem, trt_features, warn_if_off)
from humanpose.backends.trt_engine import build_serialized_engine
from humanpose.errors import BackendUnavailableError, InvalidInputError, ModelLoadError
from humanpose.testing.models import compute_pose_model
from trt_fakes import FakeTensorRT, install_fakes

ORIN = GpuInfo('Orin', (8, 7))
F32 = np.dtype(np.float32)


def _key(**changes):
    fields = dict(onnx_sha256='ab' * 32, trt_version='10.3.0', gpu=ORIN, precision='fp16',
                  keep_fp32=True,
                  profiles=compute_profiles([TensorSpec('input', ('batch', 3, 256, 192), F32)],
                                            16, 4))
    fields.update(changes)
    return make_engine_key(**fields)


# --------------------------------------------------------------------------- profiles

def test_dynamic_batch_profile_is_one_to_max_with_opt_in_between():
    spec = TensorSpec('input', ('batch', 3, 256, 192), F32)
    (profile,) = compute_profiles([spec], max_batch=16, opt_batch=4)
    assert profile.min_shape == (1, 3, 256, 192)
    assert profile.opt_shape == (4, 3, 256, 192)
    assert profile.max_shape == (16, 3, 256, 192)
    assert profile.describe() == 'input:1x3x256x192/4x3x256x192/16x3x256x192'


@pytest.mark.parametrize('opt, expected', [(0, 1), (4, 4), (40, 8)])
def test_opt_batch_is_clamped_into_the_profile(opt, expected):
    spec = TensorSpec('input', (None, 3, 256, 192), F32)
    assert compute_profiles([spec], 8, opt)[0].batch_range == (1, expected, 8)


def test_static_batch_model_gets_a_fixed_profile():
    (profile,) = compute_profiles([TensorSpec('input', (1, 3, 384, 288), F32)], 16, 4)
    assert profile.batch_range == (1, 1, 1) and profile.is_static


def test_dynamic_spatial_axes_are_refused_with_advice():
    with pytest.raises(ModelLoadError, match='fixed input size'):
        compute_profiles([TensorSpec('input', ('batch', 3, 'h', 'w'), F32)], 16, 4)


def test_max_batch_below_one_is_refused():
    with pytest.raises(InvalidInputError, match='max_batch'):
        compute_profiles([TensorSpec('input', ('batch', 3, 8, 8), F32)], 0, 1)


def test_profiles_come_from_the_onnx_inputs(pose_model):
    info = read_onnx_info(pose_model)
    assert [s.name for s in info.inputs] == ['input']
    assert [s.name for s in info.outputs] == ['simcc_x', 'simcc_y']
    assert compute_profiles(info.inputs, 16, 4)[0].max_shape == (16, 3, 256, 192)
    assert info.normalisation() == ((123.675, 116.28, 103.53), (58.395, 57.12, 57.375), True)


# --------------------------------------------------------------------------- keys

def test_key_digest_is_stable_and_round_trips_through_the_sidecar():
    key = _key()
    assert key.digest() == _key().digest() and len(key.digest()) == 64
    assert EngineKey.from_fields(json.loads(json.dumps(key.fields()))) == key


@pytest.mark.parametrize('change', [
    {'onnx_sha256': 'cd' * 32}, {'trt_version': '8.6.2'}, {'gpu': GpuInfo('Orin', (8, 6))},
    {'gpu': GpuInfo('NVIDIA GeForce RTX 4090', (8, 7))}, {'precision': 'fp32'},
    {'keep_fp32': False},
    {'profiles': compute_profiles([TensorSpec('input', ('b', 3, 256, 192), F32)], 8, 4)}])
def test_every_key_field_changes_the_digest(change):
    assert _key(**change).digest() != _key().digest()


def test_keep_fp32_does_not_split_fp32_engines():
    assert _key(precision='fp32', keep_fp32=True) == _key(precision='fp32', keep_fp32=False)


def test_unknown_precision_is_refused():
    with pytest.raises(InvalidInputError, match='fp32, fp16'):
        _key(precision='int8')


def test_engine_file_name_is_readable():
    name = _key().file_name('rtmw-dw-x-l_simcc-cocktail14_270e-256x192')
    assert name.startswith('rtmw-dw-x-l-simcc-cocktail14-270e-256x192.fp16-mixed.b1-4-16.')
    assert '.orin-sm87.trt10.3.0.' in name and name.endswith('.engine')
    assert _key().digest()[:16] in name
    assert GpuInfo('NVIDIA GeForce RTX 4090', (8, 9)).slug == 'geforce-rtx-4090-sm89'


def test_version_parsing():
    assert parse_version('10.3.0.30') == (10, 3, 0, 30)
    assert parse_version('8.6.2.post1') == (8, 6, 2)


@pytest.mark.parametrize('version, tensor_io, monitor, explicit, fp16', [
    ('8.4.3', False, False, True, True), ('8.6.2', True, False, True, True),
    ('10.3.0', True, True, False, True), ('11.1.0', True, True, False, False)])
def test_feature_table_follows_the_tensorrt_generation(version, tensor_io, monitor, explicit,
                                                       fp16):
    features = trt_features(FakeTensorRT(version))
    assert (features.tensor_io, features.progress_monitor, features.explicit_batch_flag,
            features.fp16_flag) == (tensor_io, monitor, explicit, fp16)


# --------------------------------------------------------------------------- FP32 pins

def _rtmcc_like_head():
    """Conv feature -> LayerNorm written out (ReduceMean/Pow/Sqrt/Div) -> MatMul heads."""
    rng = np.random.default_rng(0)

    def init(name, shape):
        return numpy_helper.from_array(rng.normal(size=shape).astype(np.float32), name)

    nodes = [
        helper.make_node('Conv', ['input', 'w_conv'], ['feat'], name='backbone_conv',
                         kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node('Relu', ['feat'], ['feat_relu'], name='backbone_relu'),
        helper.make_node('Reshape', ['feat_relu', 'flat_shape'], ['tokens'], name='flatten'),
        helper.make_node('ReduceMean', ['tokens'], ['mean'], name='ln_mean', axes=[-1]),
        helper.make_node('Sub', ['tokens', 'mean'], ['centred'], name='ln_sub'),
        helper.make_node('Pow', ['centred', 'two'], ['sq'], name='ln_pow'),
        helper.make_node('ReduceMean', ['sq'], ['var'], name='ln_var', axes=[-1]),
        helper.make_node('Add', ['var', 'eps'], ['var_eps'], name='ln_add_eps'),
        helper.make_node('Sqrt', ['var_eps'], ['std'], name='ln_sqrt'),
        helper.make_node('Div', ['centred', 'std'], ['normed'], name='ln_div'),
        helper.make_node('Mul', ['normed', 'gamma'], ['scaled'], name='ln_gamma'),
        helper.make_node('MatMul', ['scaled', 'w_hidden'], ['hidden'], name='gau_linear'),
        helper.make_node('Relu', ['hidden'], ['hidden_relu'], name='gau_act'),
        helper.make_node('MatMul', ['hidden_relu', 'w_x'], ['x_raw'], name='cls_x'),
        helper.make_node('Add', ['x_raw', 'b_x'], ['simcc_x'], name='cls_x_bias'),
        helper.make_node('MatMul', ['hidden_relu', 'w_y'], ['simcc_y'], name='cls_y'),
    ]
    inits = [init('w_conv', (4, 3, 3, 3)), init('w_hidden', (64, 32)), init('w_x', (32, 16)),
             init('b_x', (16,)), init('w_y', (32, 16)), init('gamma', (64,)),
             numpy_helper.from_array(np.array([0, 4, 64], np.int64), 'flat_shape'),
             numpy_helper.from_array(np.array(2.0, np.float32), 'two'),
             numpy_helper.from_array(np.array(1e-5, np.float32), 'eps')]
    graph = helper.make_graph(
        nodes, 'rtmcc_like', [helper.make_tensor_value_info('input', TensorProto.FLOAT,
                                                            ['batch', 3, 8, 8])],
        [helper.make_tensor_value_info('simcc_x', TensorProto.FLOAT, ['batch', 4, 16]),
         helper.make_tensor_value_info('simcc_y', TensorProto.FLOAT, ['batch', 4, 16])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13)])


def test_normalisation_and_simcc_head_are_kept_in_fp32_backbone_is_not():
    layers = onnx_layer_infos(_rtmcc_like_head())
    picked = {layers[i].name for i in select_fp32_layers(layers, ['simcc_x', 'simcc_y'])}
    assert {'ln_mean', 'ln_pow', 'ln_var', 'ln_sqrt', 'ln_div', 'ln_sub',
            'ln_add_eps'} <= picked
    assert {'cls_x', 'cls_x_bias', 'cls_y'} <= picked
    assert not picked & {'backbone_conv', 'backbone_relu', 'gau_linear', 'gau_act', 'flatten'}
    assert 'ln_gamma' not in picked  # after the division: normal arithmetic again


def test_compute_model_pins_its_two_output_heads_and_nothing_before(humanpose_home):
    model = onnx.load(str(compute_pose_model(stage_blocks=(1, 1, 1, 1))))
    layers = onnx_layer_infos(model)
    picked = select_fp32_layers(layers, ['simcc_x', 'simcc_y'])
    matmuls = [layer for layer in layers if layer.kind == 'matmul']
    # The two output projections are pinned; the shared hidden layer stays FP16.
    assert [m.index in picked for m in matmuls] == [False, True, True]
    # Everything from each projection to its output (softmax, reductions, the SimCC
    # shaping) is pinned; no convolution of the backbone is.
    first_head = matmuls[1].index
    assert all(layer.index in picked for layer in layers if layer.index >= first_head)
    assert not any(layer.index in picked for layer in layers if layer.index < first_head)


def test_non_float_layers_are_never_pinned(pose_model):
    layers = onnx_layer_infos(onnx.load(str(pose_model)))
    picked = select_fp32_layers(layers, ['simcc_x', 'simcc_y'])
    assert picked and all(layers[i].float_outputs for i in picked)
    assert any(not layer.float_outputs for layer in layers)  # ArgMax, Less, And ...


# --------------------------------------------------------------------------- cache policy

class _Builder:
    """Counts builds and loads; what load does is set per test."""

    def __init__(self, cache, key, loads_ok=True):
        self.cache, self.key, self.builds, self.loads = cache, key, 0, 0
        self.loads_ok = loads_ok

    def build(self, path):
        self.builds += 1
        self.cache.store(path, b'engine-%d' % self.builds, make_sidecar(self.key, Path('m.onnx')))

    def load(self, data):
        self.loads += 1
        ok = self.loads_ok(data) if callable(self.loads_ok) else self.loads_ok
        if not ok:
            raise ModelLoadError('magic tag does not match')
        return data


def test_first_use_builds_then_the_cache_is_reused(tmp_path):
    cache, key = EngineCache(tmp_path), _key()
    calls = _Builder(cache, key)
    first = load_or_build(key, cache, 'rtmw', calls.build, calls.load)
    second = load_or_build(key, cache, 'rtmw', calls.build, calls.load)
    assert first.built and not second.built and calls.builds == 1
    assert second.path == first.path and second.engine == b'engine-1'
    assert json.loads(first.path.with_suffix('.json').read_text())['key'] == key.fields()


def test_stale_engine_is_rebuilt_once_with_a_clear_log_line(tmp_path, caplog):
    cache, key = EngineCache(tmp_path), _key()
    calls = _Builder(cache, key, loads_ok=lambda data: data != b'engine-1')
    load_or_build(key, cache, 'rtmw', calls.build, lambda data: data)  # engine-1 in the cache
    with caplog.at_level(logging.WARNING):
        loaded = load_or_build(key, cache, 'rtmw', calls.build, calls.load)
    assert loaded.built and loaded.engine == b'engine-2' and calls.builds == 2
    assert 'stale or foreign' in caplog.text and 'cannot deserialise' in caplog.text


def test_engine_of_another_tensorrt_version_is_rebuilt_without_trying_it(tmp_path, caplog):
    cache, key = EngineCache(tmp_path), _key()
    calls = _Builder(cache, key)
    path = cache.path_for(key, 'rtmw')
    old = make_sidecar(_key(trt_version='8.6.2'), Path('m.onnx'))
    cache.store(path, b'old', old)
    with caplog.at_level(logging.WARNING):
        loaded = load_or_build(key, cache, 'rtmw', calls.build, calls.load)
    assert loaded.built and calls.loads == 1 and 'TensorRT 8.6.2' in caplog.text


def test_a_fresh_engine_that_cannot_load_fails_loudly_after_one_rebuild(tmp_path):
    cache, key = EngineCache(tmp_path), _key()
    calls = _Builder(cache, key, loads_ok=False)
    cache.store(cache.path_for(key, 'rtmw'), b'foreign', make_sidecar(key, Path('m.onnx')))
    with pytest.raises(ModelLoadError, match='cannot be loaded either'):
        load_or_build(key, cache, 'rtmw', calls.build, calls.load)
    assert calls.builds == 1


def test_force_rebuild(tmp_path):
    cache, key = EngineCache(tmp_path), _key()
    calls = _Builder(cache, key)
    load_or_build(key, cache, 'rtmw', calls.build, calls.load)
    assert load_or_build(key, cache, 'rtmw', calls.build, calls.load, rebuild=True).built
    assert calls.builds == 2 and len(list(tmp_path.glob('*.engine'))) == 1


@pytest.mark.parametrize('sidecar, reason', [
    (None, 'no readable sidecar'),
    ({'key': _key(trt_version='8.6.2').fields()}, 'TensorRT 8.6.2'),
    ({'key': _key(gpu=GpuInfo('NVIDIA A100', (8, 0))).fields()}, 'NVIDIA A100'),
    ({'key': _key().fields(), 'digest': 'x'}, 'key differs')])
def test_sidecar_problems_are_named(sidecar, reason):
    assert reason in sidecar_problem(sidecar, _key())
    assert sidecar_problem(make_sidecar(_key(), Path('m.onnx')), _key()) is None


# --------------------------------------------------------------------------- progress

class _Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_progress_reports_start_phases_heartbeat_and_end():
    lines, clock = [], _Clock()
    progress = BuildProgress('rtmw.onnx', lines.append, interval_s=3600, clock=clock)
    with progress:
        clock.now += 42
        progress.phase_started('Building engine', None, 3)
        progress.phase_started('Tactic selection', 'Building engine', 10)
        assert progress.step_completed('Building engine', 0)
        assert progress.heartbeat_line() == ('building TensorRT engine for rtmw.onnx: 42 s '
                                             'elapsed (Building engine: 1/3)')
        progress.phase_finished('Building engine')
        clock.now += 100
    assert lines[0].startswith('building TensorRT engine for rtmw.onnx (minutes on a Jetson')
    assert lines[1] == 'building rtmw.onnx: Building engine (3 steps)'
    assert lines[-1] == 'building TensorRT engine for rtmw.onnx: done after 142 s'
    assert len(lines) == 3  # nested phases are not reported
    progress.cancelled = True
    assert not progress.step_completed('Building engine', 1)


# --------------------------------------------------------------------------- builder (fakes)

def _build(monkeypatch, tmp_path, model, version='10.3.0', precision='fp16', keep=True,
           lines=None):
    trt = FakeTensorRT(version)
    install_fakes(monkeypatch, trt)
    info = read_onnx_info(model)
    report = (lines if lines is not None else []).append
    built = build_serialized_engine(
        trt, make_logger(trt), model, compute_profiles(info.inputs, 16, 4), precision, keep, 512,
        tmp_path / 'timing.cache', BuildProgress(model.name, report, 3600))
    return trt, built


def test_fp16_build_sets_flags_pins_head_profile_and_saves_timing_cache(monkeypatch, tmp_path,
                                                                        humanpose_home):
    model = compute_pose_model(stage_blocks=(1, 1, 1, 1))
    lines = []
    trt, built = _build(monkeypatch, tmp_path, model, lines=lines)
    meta = json.loads(built.data)
    assert {'FP16', 'PREFER_PRECISION_CONSTRAINTS'} <= set(meta['flags'])
    assert 'TF32' not in meta['flags']  # pinned layers are real FP32
    head = select_fp32_layers(onnx_layer_infos(onnx.load(str(model))), ['simcc_x', 'simcc_y'])
    assert len(meta['pinned']) == len(head) > 0 and set(meta['pinned']) == set(built.fp32_layers)
    assert meta['profiles'] == {'input': [[1, 3, 256, 192], [4, 3, 256, 192],
                                          [16, 3, 256, 192]]}
    assert trt.configs[0].pools == {'WORKSPACE': 512 << 20}
    assert trt.networks[0].flags == 0  # TensorRT 10: no EXPLICIT_BATCH
    assert (tmp_path / 'timing.cache').read_bytes().startswith(b'fake-timing-cache:')
    assert any(line.endswith(': Building engine (2 steps)') for line in lines)


def test_fp32_build_clears_tf32_and_pins_nothing(monkeypatch, tmp_path, humanpose_home):
    _, built = _build(monkeypatch, tmp_path, compute_pose_model(stage_blocks=(1, 1, 1, 1)),
                      precision='fp32')
    meta = json.loads(built.data)
    assert not meta['fp16'] and not meta['tf32'] and meta['pinned'] == []


def test_fp16_everywhere_pins_nothing(monkeypatch, tmp_path, humanpose_home):
    _, built = _build(monkeypatch, tmp_path, compute_pose_model(stage_blocks=(1, 1, 1, 1)),
                      keep=False)
    assert json.loads(built.data)['pinned'] == [] and not built.fp32_layers


def test_tensorrt_8_builds_explicit_batch_networks_without_a_progress_monitor(
        monkeypatch, tmp_path, humanpose_home):
    trt, _ = _build(monkeypatch, tmp_path, compute_pose_model(stage_blocks=(1, 1, 1, 1)),
                    version='8.6.2')
    assert trt.networks[0].flags == 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    assert trt.configs[0].progress_monitor is None


def test_tensorrt_11_refuses_fp16_builds_with_a_reason(monkeypatch, tmp_path, humanpose_home):
    with pytest.raises(BackendUnavailableError, match='strongly typed'):
        _build(monkeypatch, tmp_path, compute_pose_model(stage_blocks=(1, 1, 1, 1)),
               version='11.1.0')


def test_failed_build_reports_tensorrt_errors(monkeypatch, tmp_path, humanpose_home):
    trt = FakeTensorRT(fail_builds=True)
    install_fakes(monkeypatch, trt)
    model = compute_pose_model(stage_blocks=(1, 1, 1, 1))
    with pytest.raises(ModelLoadError, match='out of workspace'):
        build_serialized_engine(trt, make_logger(trt), model,
                                compute_profiles(read_onnx_info(model).inputs, 4, 2), 'fp32',
                                True, 64, None, BuildProgress('m', lambda line: None, 3600))


# --------------------------------------------------------------------------- accuracy guard

def _simcc(batch=2, k=133, w=192, h=256, seed=0):
    rng = np.random.default_rng(seed)
    kx = rng.integers(10, 2 * w - 10, (batch, k))
    ky = rng.integers(10, 2 * h - 10, (batch, k))
    sx = np.zeros((batch, k, 2 * w), np.float32)
    sy = np.zeros((batch, k, 2 * h), np.float32)
    n, j = np.meshgrid(np.arange(batch), np.arange(k), indexing='ij')
    sx[n, j, kx] = 1.0
    sy[n, j, ky] = 1.0
    return {'simcc_x': sx, 'simcc_y': sy}, kx / 2.0, ky / 2.0


def test_argmax_decode_is_in_input_pixels():
    outputs, kx, ky = _simcc()
    keypoints, scores = decode_argmax_keypoints(outputs, (192, 256))
    np.testing.assert_allclose(keypoints[..., 0], kx)
    np.testing.assert_allclose(keypoints[..., 1], ky)
    assert scores.min() == 1.0


def test_guard_names_the_hand_when_fingers_move(caplog):
    reference, _, _ = _simcc()
    candidate = {k: v.copy() for k, v in reference.items()}
    candidate['simcc_x'][1, 100] = np.roll(candidate['simcc_x'][1, 100], 6)  # 3 px, left hand
    report = compare_pose_outputs(reference, candidate, (192, 256), threshold_px=1.0)
    assert report.max_px == pytest.approx(3.0) and report.worst_part == 'left_hand'
    assert report.mean_px == pytest.approx(3.0 / 266)
    assert report.per_part_max_px['body'] == 0.0 and not report.passed
    with caplog.at_level(logging.WARNING):
        warn_if_off(report, 'rtmw.onnx', 'fp16', keep_fp32=False)
    assert 'left_hand' in caplog.text and 'keeping normalisation' in caplog.text


def test_guard_ignores_keypoints_the_reference_does_not_see():
    reference, _, _ = _simcc()
    candidate = {k: v.copy() for k, v in reference.items()}
    candidate['simcc_x'][0, 120] = np.roll(candidate['simcc_x'][0, 120], 40)
    reference['simcc_x'][0, 120] *= 0.01  # invisible in the reference
    reference['simcc_y'][0, 120] *= 0.01
    report = compare_pose_outputs(reference, candidate, (192, 256))
    assert report.passed and report.compared == 2 * 133 - 1


def test_guard_sample_shows_a_person_the_analytic_model_finds(pose_model):
    sample = guard_sample_batch((3, 256, 192), 3, (123.675, 116.28, 103.53),
                                (58.395, 57.12, 57.375))
    assert sample.shape == (3, 3, 256, 192) and sample.dtype == np.float32
    session = ort.InferenceSession(str(pose_model), providers=['CPUExecutionProvider'])
    simcc_x, simcc_y = session.run(None, {'input': sample})
    keypoints, scores = decode_argmax_keypoints({'simcc_x': simcc_x, 'simcc_y': simcc_y},
                                                (192, 256))
    assert scores.min() > 0.5  # every keypoint, hands and face included, is found
    assert keypoints[..., 1].min() > 0 and keypoints[..., 1].max() < 255


def test_unknown_heads_are_not_decoded():
    assert decode_argmax_keypoints({'logits': np.zeros((1, 10))}, (192, 256)) is None
    ref = {'logits': np.zeros((1, 10), np.float32)}
    assert compare_pose_outputs(ref, ref, (192, 256)) is None


def test_input_profile_description_uses_all_three_shapes():
    profile = InputProfile('x', (1, 2), (3, 2), (5, 2))
    assert profile.describe() == 'x:1x2/3x2/5x2' and profile.batch_range == (1, 3, 5)


def test_heatmap_heads_are_compared_too():
    maps = np.zeros((1, 17, 64, 48), np.float32)
    maps[0, :, 10, 20] = 1.0
    moved = maps.copy()
    moved[0, 9] = 0.0
    moved[0, 9, 10, 21] = 1.0  # one heatmap cell = 4 input pixels
    report = compare_pose_outputs({'heatmaps': maps}, {'heatmaps': moved}, (192, 256))
    assert report.max_px == pytest.approx(4.0) and report.worst_keypoint == 'left_wrist'
