"""TensorRT backend: selection and errors, the data path on fakes, a real engine round trip."""

import gc
import json
import logging
import shutil
import weakref

import numpy as np
import pytest

from humanpose.backends import BackendOptions, create_backend, resolve_backend, run_batched
from humanpose.backends.onnxruntime import OnnxRuntimeBackend
from humanpose.backends.tensorrt import INSTALL_HINT, TensorRTBackend, build_engine, \
    engine_source, probe
from humanpose.backends.trt_guard import decode_argmax_keypoints, guard_sample_batch
from humanpose.errors import BackendUnavailableError, InvalidInputError, ModelLoadError
from humanpose.testing.models import compute_pose_model
from trt_fakes import NULLPTR, FakeCudart, FakeTensorRT, install_fakes

MEAN, STD = (123.675, 116.28, 103.53), (58.395, 57.12, 57.375)


@pytest.fixture
def no_tensorrt(monkeypatch):
    monkeypatch.setitem(__import__('sys').modules, 'tensorrt', None)


@pytest.fixture
def fake_gpu(monkeypatch):
    trt, cudart = FakeTensorRT(), FakeCudart()
    install_fakes(monkeypatch, trt, cudart)
    return trt, cudart


def _options(tmp_path, **changes):
    fields = dict(max_batch=4, opt_batch=2, cache_dir=tmp_path / 'engines')
    fields.update(changes)
    return BackendOptions(**fields)


def _reference(model, batch):
    sample = guard_sample_batch((3, 256, 192), batch, MEAN, STD, seed=batch)
    ort = OnnxRuntimeBackend(model, BackendOptions(), 'cpu')
    return sample, ort.run({'input': sample})


# --------------------------------------------------------------------------- selection, errors

def test_module_imports_and_registers_without_tensorrt(no_tensorrt):
    from humanpose.backends import backend_names
    assert 'tensorrt' in backend_names()
    ok, why = probe(BackendOptions())
    assert not ok and 'tensorrt' in why


def test_auto_falls_back_to_onnxruntime_and_says_why(no_tensorrt):
    name, reason = resolve_backend('auto', BackendOptions())
    assert name == 'onnxruntime-cpu'
    assert 'tensorrt unavailable' in reason


@pytest.mark.parametrize('requested', ['tensorrt', 'trt'])
def test_asking_for_tensorrt_where_it_is_missing_is_an_error_with_the_install_hint(
        no_tensorrt, pose_model, requested):
    with pytest.raises(BackendUnavailableError) as err:
        create_backend(pose_model, requested)
    message = str(err.value)
    assert 'pip install tensorrt' in message and 'python3-libnvinfer' in message
    assert '\n' not in message


def test_no_cuda_device_makes_the_probe_say_so(monkeypatch):
    install_fakes(monkeypatch, FakeTensorRT(), FakeCudart(devices=0))
    ok, why = probe(BackendOptions())
    assert not ok and 'no CUDA device' in why and 'cudaErrorNoDevice' in why
    name, reason = resolve_backend('auto', BackendOptions())
    assert name == 'onnxruntime-cpu' and 'no CUDA device' in reason


def test_missing_cuda_python_makes_the_probe_say_so(monkeypatch):
    install_fakes(monkeypatch, FakeTensorRT())
    for module in ('cuda', 'cuda.bindings', 'cuda.bindings.runtime', 'cuda.cudart'):
        monkeypatch.setitem(__import__('sys').modules, module, None)
    ok, why = probe(BackendOptions())
    assert not ok and 'cuda-python' in why


def test_device_out_of_range_is_named(fake_gpu):
    ok, why = probe(BackendOptions(device_id=3))
    assert not ok and 'CUDA device 3 asked for, 1 present' in why


def test_auto_picks_tensorrt_where_it_runs(fake_gpu):
    name, reason = resolve_backend('auto', BackendOptions())
    assert name == 'tensorrt' and 'TensorRT 10.3.0 on Orin (compute capability 8.7)' in reason


@pytest.mark.parametrize('suffix, kind', [('.onnx', 'onnx'), ('.engine', 'engine'),
                                          ('.plan', 'engine'), ('.trt', 'engine')])
def test_engine_path_resolution(tmp_path, suffix, kind):
    path = tmp_path / f'model{suffix}'
    path.write_bytes(b'x')
    assert engine_source(path) == kind


def test_unknown_or_missing_model_files_are_refused(tmp_path):
    (tmp_path / 'model.pt').write_bytes(b'x')
    with pytest.raises(ModelLoadError, match='.onnx model'):
        engine_source(tmp_path / 'model.pt')
    with pytest.raises(ModelLoadError, match='not found'):
        engine_source(tmp_path / 'absent.onnx')


# --------------------------------------------------------------------------- data path (fakes)

def test_onnx_model_is_built_cached_and_runs_batches_like_onnxruntime(fake_gpu, pose_model,
                                                                      tmp_path):
    trt, cudart = fake_gpu
    backend = create_backend(pose_model, 'tensorrt', _options(tmp_path))
    assert backend.built and backend.max_batch == 4 and len(trt._fake.builds) == 1
    assert backend.engine_path.parent == tmp_path / 'engines'
    assert backend.engine_path.with_suffix('.json').is_file()
    assert [s.shape for s in backend.inputs] == [(None, 3, 256, 192)]
    assert [(s.name, s.shape) for s in backend.outputs] == [('simcc_x', (None, 133, 384)),
                                                            ('simcc_y', (None, 133, 512))]
    assert backend.guard is not None and backend.guard.passed  # fresh build was checked
    for batch in range(1, 5):
        sample, expected = _reference(pose_model, batch)
        got = backend.run({'input': sample})
        for name in expected:
            np.testing.assert_array_equal(got[name], expected[name])
    allocated = len(cudart._device_memory)
    backend.run({'input': _reference(pose_model, 3)[0]})
    assert len(cudart._device_memory) == allocated == 3  # buffers made once, reused
    backend.close()
    backend.close()
    assert not cudart._device_memory and not cudart._pinned_memory and not cudart._streams

    again = TensorRTBackend(pose_model, _options(tmp_path))
    assert not again.built and len(trt._fake.builds) == 1 and again.guard is None
    again.close()


def test_run_checks_inputs_and_batch_range(fake_gpu, pose_model, tmp_path):
    backend = TensorRTBackend(pose_model, _options(tmp_path, extra={'check_engine': False}))
    sample = guard_sample_batch((3, 256, 192), 5, MEAN, STD)
    with pytest.raises(InvalidInputError, match='outside this engine'):
        backend.run({'input': sample})
    with pytest.raises(InvalidInputError, match=r'\(N, 3, 256, 192\)'):
        backend.run({'input': sample[:, :, :128]})
    with pytest.raises(InvalidInputError, match='unknown inputs'):
        backend.run({'image': sample})
    empty = backend.run({'input': sample[:0]})
    assert empty['simcc_x'].shape == (0, 133, 384)
    chunked = run_batched(backend, 'input', sample)  # 5 people, max batch 4: two calls
    assert chunked['simcc_y'].shape == (5, 133, 512)
    backend.close()


def test_stale_cached_engine_is_rebuilt_once(fake_gpu, pose_model, tmp_path, caplog):
    trt, _ = fake_gpu
    TensorRTBackend(pose_model, _options(tmp_path)).close()
    (engine,) = (tmp_path / 'engines').glob('*.engine')
    engine.write_bytes(b'garbage from another machine')
    with caplog.at_level(logging.WARNING):
        backend = TensorRTBackend(pose_model, _options(tmp_path))
    assert backend.built and len(trt._fake.builds) == 2
    assert 'stale or foreign' in caplog.text and 'magic tag' in caplog.text
    backend.close()


def test_engine_that_never_loads_fails_loudly(monkeypatch, pose_model, tmp_path):
    trt = FakeTensorRT(reject_engines=True)
    install_fakes(monkeypatch, trt, FakeCudart())
    with pytest.raises(ModelLoadError, match='cannot be loaded either'):
        TensorRTBackend(pose_model, _options(tmp_path))
    assert len(trt._fake.builds) == 1


def test_engine_file_is_loaded_directly_with_a_warning(fake_gpu, pose_model, tmp_path, caplog):
    first = TensorRTBackend(pose_model, _options(tmp_path))
    direct = tmp_path / 'pose.engine'
    shutil.copyfile(first.engine_path, direct)
    first.close()
    with caplog.at_level(logging.WARNING):
        backend = create_backend(direct, 'tensorrt', _options(tmp_path))
    assert 'cannot be checked against an ONNX' in caplog.text
    sample, expected = _reference(pose_model, 2)
    np.testing.assert_array_equal(backend.run({'input': sample})['simcc_x'],
                                  expected['simcc_x'])
    backend.close()
    direct.write_bytes(b'not an engine')
    with pytest.raises(ModelLoadError, match='humanpose build-engine'):
        TensorRTBackend(direct, _options(tmp_path))


def test_fp16_everywhere_engine_trips_the_accuracy_guard(fake_gpu, pose_model, tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        backend = TensorRTBackend(pose_model, _options(tmp_path, precision='fp16',
                                                       keep_fp32=False))
    report = backend.guard
    assert report is not None and not report.passed and report.max_px == pytest.approx(3.0)
    assert report.worst_part in ('left_hand', 'right_hand')
    assert report.per_part_max_px['body'] == 0.0
    assert 'hand' in caplog.text and 'FP32' in caplog.text
    sidecar = backend.engine_path.with_suffix('.json').read_text()
    assert '"passed": false' in sidecar
    backend.close()


def test_fp16_with_fp32_head_passes_the_guard(fake_gpu, pose_model, tmp_path):
    trt, _ = fake_gpu
    backend = TensorRTBackend(pose_model, _options(tmp_path, precision='fp16'))
    assert backend.guard.passed and trt._fake.builds[0]['pinned']
    assert '.fp16-mixed.' in backend.engine_path.name
    backend.close()


def test_build_engine_api_copies_reuses_and_forces(fake_gpu, pose_model, tmp_path):
    trt, _ = fake_gpu
    out = tmp_path / 'out' / 'pose.engine'
    lines = []
    first = build_engine(pose_model, _options(tmp_path), out=out, progress=lines.append)
    assert first.built and out.is_file() and out.with_suffix('.json').is_file()
    assert first.engine_path == out and first.cache_path.parent == tmp_path / 'engines'
    assert first.guard.passed and any('building TensorRT engine' in line for line in lines)
    assert not build_engine(pose_model, _options(tmp_path)).built
    assert build_engine(pose_model, _options(tmp_path), force=True).built
    assert len(trt._fake.builds) == 2


def test_build_engine_without_tensorrt_raises_the_hint(no_tensorrt, pose_model):
    with pytest.raises(BackendUnavailableError, match='python3-libnvinfer'):
        build_engine(pose_model)


def test_build_engine_refuses_engines(fake_gpu, tmp_path):
    engine = tmp_path / 'a.engine'
    engine.write_bytes(b'x')
    with pytest.raises(ModelLoadError, match='takes an ONNX model'):
        build_engine(engine)


def test_install_hint_covers_x86_and_jetson_per_cuda_major():
    assert 'pip install tensorrt-cu13 "cuda-python>=13,<14"' in INSTALL_HINT
    assert 'pip install tensorrt-cu12 "cuda-python>=12.6,<13"' in INSTALL_HINT
    assert 'python3-libnvinfer' in INSTALL_HINT and 'JetPack 6' in INSTALL_HINT


# --------------------------------------------------------------------------- generations, failures

@pytest.mark.parametrize('version, path', [('8.6.1', 'explicit-batch-weak'), ('10.3.0', 'weak'),
                                           ('10.13.3', 'strongly-typed'),
                                           ('11.4.0', 'strongly-typed')])
def test_fp16_engine_on_every_generation_is_built_keyed_and_guarded(monkeypatch, pose_model,
                                                                    tmp_path, version, path):
    if path == 'strongly-typed':
        pytest.importorskip('onnxconverter_common', reason='onnxconverter-common is not '
                            'installed (pip install onnxconverter-common)')
    trt, cudart = FakeTensorRT(version), FakeCudart()
    install_fakes(monkeypatch, trt, cudart)
    name, reason = resolve_backend('auto', _options(tmp_path, precision='fp16'))
    assert name == 'tensorrt' and f'{path} build path' in reason
    backend = create_backend(pose_model, 'auto', _options(tmp_path, precision='fp16'))
    assert backend.built and backend.guard is not None and backend.guard.passed
    sidecar = json.loads(backend.engine_path.with_suffix('.json').read_text())
    assert sidecar['key']['build_path'] == path and sidecar['build_path'] == path
    assert sidecar['guard']['passed'] and sidecar['fp32_layers']
    sample, expected = _reference(pose_model, 3)
    got = backend.run({'input': sample})
    assert got['simcc_x'].dtype == np.float32
    if path != 'strongly-typed':  # FP32 pins on an FP32 fake: bit-identical
        np.testing.assert_array_equal(got['simcc_x'], expected['simcc_x'])
    backend.close()


def test_tensorrt_11_fp16_engine_runs_the_fp16_onnx_for_real(monkeypatch, pose_model, tmp_path,
                                                             fp16_converter):
    install_fakes(monkeypatch, FakeTensorRT('11.4.0'), FakeCudart())
    backend = TensorRTBackend(pose_model, _options(tmp_path, precision='fp16'))
    sample, expected = _reference(pose_model, 4)
    got = backend.run({'input': sample})
    assert not np.array_equal(got['simcc_x'], expected['simcc_x'])  # really FP16 inside
    ref, _ = decode_argmax_keypoints(expected, (192, 256))
    out, _ = decode_argmax_keypoints(got, (192, 256))
    assert np.abs(out - ref).max() <= 1.0
    backend.close()


def test_auto_skips_tensorrt_11_fp16_without_the_converter_and_says_why(monkeypatch, pose_model,
                                                                        tmp_path, caplog):
    install_fakes(monkeypatch, FakeTensorRT('11.4.0'), FakeCudart())
    monkeypatch.setitem(__import__('sys').modules, 'onnxconverter_common', None)
    with caplog.at_level(logging.INFO, logger='humanpose.backends.base'):
        backend = create_backend(pose_model, 'auto', _options(tmp_path, precision='fp16'))
    assert backend.name == 'onnxruntime-cpu'
    lines = [r.getMessage() for r in caplog.records if r.name == 'humanpose.backends.base']
    assert len(lines) == 1 and 'cannot build fp16' in lines[0]
    assert 'onnxconverter-common' in lines[0]
    with pytest.raises(BackendUnavailableError, match='onnxconverter-common'):
        create_backend(pose_model, 'tensorrt', _options(tmp_path, precision='fp16'))


def test_tensorrt_that_cannot_start_cuda_falls_back_in_one_line(monkeypatch, pose_model,
                                                                tmp_path, caplog):
    install_fakes(monkeypatch, FakeTensorRT('10.3.0', cuda_starts=False), FakeCudart())
    with caplog.at_level(logging.INFO, logger='humanpose.backends.base'):
        backend = create_backend(pose_model, 'auto', _options(tmp_path))
    assert backend.name == 'onnxruntime-cpu'
    (line,) = [r.getMessage() for r in caplog.records if r.name == 'humanpose.backends.base']
    assert NULLPTR in line and 'could not start CUDA' in line
    with pytest.raises(BackendUnavailableError, match='could not start CUDA'):
        TensorRTBackend(pose_model, _options(tmp_path))


def test_a_cuda_failure_while_loading_falls_back_with_one_warning(monkeypatch, pose_model,
                                                                  tmp_path, caplog):
    install_fakes(monkeypatch, FakeTensorRT(), FakeCudart(fail_malloc=True))
    with caplog.at_level(logging.INFO, logger='humanpose.backends.base'):
        backend = create_backend(pose_model, 'auto', _options(tmp_path))
    assert backend.name == 'onnxruntime-cpu'
    records = [r for r in caplog.records if r.name == 'humanpose.backends.base']
    assert len(records) == 1 and records[0].levelno == logging.WARNING
    assert 'tensorrt failed to start' in records[0].getMessage()
    assert 'cudaErrorMemoryAllocation' in records[0].getMessage()


def test_cuda_python_newer_than_the_driver_is_named_with_the_pin(monkeypatch):
    install_fakes(monkeypatch, FakeTensorRT(),
                  FakeCudart(error_on_count='cudaErrorInsufficientDriver'))
    ok, why = probe(BackendOptions())
    assert not ok and 'cudaErrorInsufficientDriver' in why and 'cuda-python>=12.6,<13' in why


def test_bf16_engine_output_is_a_clear_error(fake_gpu, pose_model, tmp_path):
    trt, _ = fake_gpu
    trt._fake.io_dtypes = {'simcc_x': 'BF16'}
    with pytest.raises(ModelLoadError, match=r"'simcc_x' is BF16 \(bfloat16\)"):
        TensorRTBackend(pose_model, _options(tmp_path))


def test_close_frees_engine_context_and_buffers(fake_gpu, pose_model, tmp_path):
    trt, cudart = fake_gpu
    backend = TensorRTBackend(pose_model, _options(tmp_path, extra={'check_engine': False}))
    engine = trt._fake.engines[-1]
    context = weakref.ref(backend._context)
    assert engine() is not None
    backend.close()
    gc.collect()
    assert engine() is None and context() is None
    assert not cudart._device_memory and not cudart._pinned_memory and not cudart._streams


def test_copies_are_asynchronous_until_the_stream_is_synchronised(fake_gpu, pose_model, tmp_path):
    trt, cudart = fake_gpu
    backend = TensorRTBackend(pose_model, _options(tmp_path, extra={'check_engine': False}))
    before = len(trt._fake.executions)
    sync = cudart.cudaStreamSynchronize
    cudart.cudaStreamSynchronize = lambda stream: (cudart.cudaError_t.cudaSuccess,)
    sample, expected = _reference(pose_model, 2)
    stale = backend.run({'input': sample})  # nothing ran: the queue was never drained
    assert len(trt._fake.executions) == before
    assert not np.array_equal(stale['simcc_x'], expected['simcc_x'])
    cudart.cudaStreamSynchronize = sync
    np.testing.assert_array_equal(backend.run({'input': sample})['simcc_x'], expected['simcc_x'])
    backend.close()


# --------------------------------------------------------------------------- real TensorRT

def _real_tensorrt():
    pytest.importorskip('tensorrt', reason='TensorRT is not installed here (pip install '
                                           'tensorrt, or JetPack python3-libnvinfer)')
    ok, why = probe(BackendOptions())
    if not ok:
        pytest.skip(f'TensorRT cannot run here: {why}')


@pytest.mark.gpu
@pytest.mark.parametrize('precision', ['fp32', 'fp16'])
@pytest.mark.parametrize('model_kind', ['analytic', 'compute'])
def test_real_engine_round_trip_matches_onnxruntime(precision, model_kind, pose_model, tmp_path):
    _real_tensorrt()
    model = pose_model if model_kind == 'analytic' else compute_pose_model(
        stage_blocks=(1, 1, 1, 1))
    backend = TensorRTBackend(model, _options(tmp_path, precision=precision))
    try:
        assert backend.built and backend.max_batch == 4
        for batch in range(1, 5):
            sample, expected = _reference(model, batch)
            got = backend.run({'input': sample})
            for name, want in expected.items():
                assert got[name].shape == want.shape
                scale = float(np.abs(want).max()) or 1.0
                tolerance = 1e-3 if precision == 'fp32' else 5e-2
                np.testing.assert_allclose(got[name], want, rtol=tolerance,
                                           atol=tolerance * scale)
            if model_kind == 'analytic' or precision == 'fp32':
                ref, _ = decode_argmax_keypoints(expected, (192, 256))
                out, _ = decode_argmax_keypoints(got, (192, 256))
                assert np.abs(out - ref).max() <= 0.5, f'batch {batch}'
    finally:
        backend.close()


@pytest.mark.parametrize('names', [None, ('output', '1554', '1556')])
def test_rtmw3d_engine_gives_all_three_outputs_by_name(fake_gpu, tmp_path, names,
                                                       humanpose_home):
    # RTMW3D: simcc_x, simcc_y and simcc_z come back under the engine's tensor names, in
    # the network's order (published exports name them generically), and decode to the
    # same 3D as ONNX Runtime's.
    from humanpose import PoseEstimator
    from humanpose.testing.models import analytic_pose_model
    from humanpose.testing.scene import default_camera, person_at, render_scene
    model = analytic_pose_model((288, 384), head='simcc3d', output_names=names)
    backend = create_backend(model, 'tensorrt', _options(tmp_path))
    expected_names = list(names or ('simcc_x', 'simcc_y', 'simcc_z'))
    assert [(s.name, s.shape) for s in backend.outputs] == [
        (expected_names[0], (None, 133, 576)), (expected_names[1], (None, 133, 768)),
        (expected_names[2], (None, 133, 576))]
    camera = default_camera(1280, 720)
    scene = render_scene(1280, 720, [person_at(camera, (x, 0.0, 3.0)) for x in (-1, 1)],
                         camera=camera)
    card = 'rtmw3d-l-384x288' if names else None
    on_trt = PoseEstimator(model, card=card, backend_instance=backend)
    on_ort = PoseEstimator(model, card=card, backend='onnxruntime-cpu')
    got = on_trt.estimate(scene.image, scene.boxes)
    want = on_ort.estimate(scene.image, scene.boxes)
    np.testing.assert_array_equal(got.relative_depth, want.relative_depth)
    np.testing.assert_array_equal(got.keypoints, want.keypoints)
    assert np.isfinite(got.relative_depth).all() and got.relative_depth_confidence.max() > 0.5
    on_trt.close()
