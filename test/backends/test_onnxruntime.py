import logging

import numpy as np
import pytest

from humanpose.backends import (BackendOptions, backend_names, create_backend, resolve_backend,
                                run_batched)
from humanpose.errors import BackendUnavailableError


def test_auto_picks_onnxruntime_cpu_here_and_says_why(pose_model, caplog):
    name, reason = resolve_backend('auto', BackendOptions())
    assert name in ('onnxruntime-cpu', 'onnxruntime-cuda', 'tensorrt')
    assert reason.startswith('auto:')
    with caplog.at_level(logging.INFO, logger='humanpose.backends.base'):
        backend = create_backend(pose_model, 'auto')
    assert any('inference backend' in r.message for r in caplog.records)
    assert backend.inputs[0].name == 'input'
    assert [o.name for o in backend.outputs] == ['simcc_x', 'simcc_y']


def test_unknown_and_unavailable_backends():
    with pytest.raises(BackendUnavailableError, match='choose one of'):
        resolve_backend('openvino', BackendOptions())
    assert 'onnxruntime-cpu' in backend_names()


def test_cuda_provider_requested_where_missing():
    import onnxruntime
    if 'CUDAExecutionProvider' in onnxruntime.get_available_providers():
        pytest.skip('this onnxruntime has CUDA; the error path cannot be shown here')
    with pytest.raises(BackendUnavailableError, match='onnxruntime-gpu'):
        resolve_backend('onnxruntime-cuda', BackendOptions())


def test_threads_and_batched_run(pose_model):
    backend = create_backend(pose_model, 'onnxruntime-cpu', BackendOptions(threads=1))
    batch = np.zeros((5, 3, 256, 192), np.float32)
    out = run_batched(backend, 'input', batch)
    assert out['simcc_x'].shape == (5, 133, 384)
    empty = run_batched(backend, 'input', batch[:0])
    assert empty['simcc_y'].shape == (0, 133, 512)


@pytest.mark.parametrize('spin, expected', [(False, '0'), (True, '1')])
def test_idle_threads_sleep_unless_spinning_is_asked_for(pose_model, spin, expected):
    backend = create_backend(pose_model, 'onnxruntime-cpu', BackendOptions(spin_wait=spin))
    options = backend._session.get_session_options()
    assert options.get_session_config_entry('session.intra_op.allow_spinning') == expected


class _OrtWithCudaListed:
    """The real onnxruntime, except that it claims a CUDA provider (like onnxruntime-gpu
    whose CUDA libraries do not load: listed as available, dropped from the session)."""

    def __init__(self):
        import onnxruntime
        self._ort = onnxruntime

    def __getattr__(self, name):
        return getattr(self._ort, name)

    def get_available_providers(self):
        return ['CUDAExecutionProvider', 'CPUExecutionProvider']


@pytest.mark.filterwarnings('ignore:Specified provider')
def test_cuda_session_that_landed_on_the_cpu_is_not_reported_as_cuda(monkeypatch, pose_model,
                                                                     caplog):
    from humanpose.backends import onnxruntime as backend_module

    monkeypatch.setattr(backend_module, '_import_ort', _OrtWithCudaListed)
    monkeypatch.setitem(__import__('sys').modules, 'tensorrt', None)
    monkeypatch.setattr(backend_module, 'installed_ort_distributions', lambda: ['onnxruntime-gpu'])
    with pytest.raises(BackendUnavailableError, match='only CPUExecutionProvider') as err:
        create_backend(pose_model, 'onnxruntime-cuda')
    assert 'onnxruntime-gpu[cuda,cudnn]' in str(err.value)
    caplog.clear()  # the explicit request above logged its own line
    with caplog.at_level(logging.INFO, logger='humanpose.backends.base'):
        backend = create_backend(pose_model, 'auto')
    assert backend.name == 'onnxruntime-cpu'
    (record,) = [r for r in caplog.records if r.name == 'humanpose.backends.base']
    assert 'onnxruntime-cuda failed to start' in record.getMessage()
    assert 'tensorrt unavailable' in record.getMessage()


def test_both_onnxruntime_wheels_installed_is_named(monkeypatch):
    from humanpose.backends import onnxruntime as backend_module

    monkeypatch.setattr(backend_module, '_import_ort', _OrtWithCudaListed)
    monkeypatch.setattr(backend_module, 'installed_ort_distributions',
                        lambda: ['onnxruntime', 'onnxruntime-gpu'])
    with pytest.raises(BackendUnavailableError, match='both installed') as err:
        resolve_backend('onnxruntime-cuda', BackendOptions())
    assert 'pip uninstall onnxruntime onnxruntime-gpu' in str(err.value)
