"""Engine cache: keys (with the build path), batch profiles, file names, stale-engine policy."""

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from humanpose.backends.base import TensorSpec
from humanpose.backends.cuda import GpuInfo
from humanpose.backends.trt_build import read_onnx_info
from humanpose.backends.trt_cache import (EngineCache, EngineKey, InputProfile, compute_profiles,
                                          load_or_build, make_engine_key, make_sidecar,
                                          sidecar_problem)
from humanpose.errors import InvalidInputError, ModelLoadError

ORIN = GpuInfo('Orin', (8, 7))
F32 = np.dtype(np.float32)


def _key(**changes):
    fields = dict(onnx_sha256='ab' * 32, trt_version='10.3.0', gpu=ORIN, precision='fp16',
                  keep_fp32=True,
                  profiles=compute_profiles([TensorSpec('input', ('batch', 3, 256, 192), F32)],
                                            16, 4), build_path='weak')
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
    {'build_path': 'strongly-typed'},
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
    ({'key': _key().fields(), 'digest': 'x'}, 'key differs'),
    ({'key': _key(build_path='strongly-typed').fields()}, 'key differs')])
def test_sidecar_problems_are_named(sidecar, reason):
    assert reason in sidecar_problem(sidecar, _key())
    assert sidecar_problem(make_sidecar(_key(), Path('m.onnx')), _key()) is None


def test_input_profile_description_uses_all_three_shapes():
    profile = InputProfile('x', (1, 2), (3, 2), (5, 2))
    assert profile.describe() == 'x:1x2/3x2/5x2' and profile.batch_range == (1, 3, 5)
