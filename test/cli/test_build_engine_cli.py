"""``humanpose build-engine``: options, output, the one-line error where TensorRT is missing."""

import argparse
import sys

import pytest

from humanpose.backends.tensorrt import EngineBuildResult
from humanpose.backends.trt_guard import GuardReport
from humanpose.cli import build_parser, main
from humanpose.cli import build_engine as command


@pytest.fixture
def no_tensorrt(monkeypatch):
    monkeypatch.setitem(sys.modules, 'tensorrt', None)


def test_without_tensorrt_it_fails_with_the_install_hint_on_one_line(no_tensorrt, pose_model,
                                                                     capsys):
    assert main(['build-engine', str(pose_model), '--fp16']) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1
    assert err.startswith('humanpose build-engine: error: cannot build TensorRT engines here')
    assert 'pip install tensorrt' in err and 'python3-libnvinfer' in err


def test_missing_model_is_named(tmp_path, capsys):
    assert main(['build-engine', str(tmp_path / 'absent.onnx')]) == 2
    assert 'model file not found' in capsys.readouterr().err


def test_options_follow_the_flags(tmp_path):
    args = build_parser().parse_args([
        'build-engine', 'm.onnx', '--fp16', '--no-keep-fp32', '--max-batch', '8', '--opt-batch',
        '16', '--workspace', '2048', '--cache-dir', str(tmp_path), '--device', '1'])
    options = command.options_from_args(args)
    assert (options.precision, options.keep_fp32, options.max_batch, options.opt_batch,
            options.workspace_mb, options.cache_dir, options.device_id) == (
        'fp16', False, 8, 8, 2048, tmp_path, 1)
    defaults = command.options_from_args(build_parser().parse_args(['build-engine', 'm.onnx']))
    assert (defaults.precision, defaults.keep_fp32, defaults.max_batch, defaults.opt_batch) == (
        'fp32', True, 16, 4)


def test_max_batch_must_be_positive(capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(['build-engine', 'm.onnx', '--max-batch', '0'])
    assert exit_info.value.code == 2 and 'at least 1' in capsys.readouterr().err


def test_success_prints_engine_key_and_check(monkeypatch, tmp_path, capsys):
    calls = {}
    guard = GuardReport(batch=4, max_px=0.5, mean_px=0.01, worst_part='right_hand',
                        worst_keypoint='right_hand_root', per_part_max_px={}, output_max_abs={},
                        compared=532, threshold_px=1.0)
    sidecar = {'key': {'trt_version': '10.3.0', 'gpu_name': 'Orin', 'compute_capability': '8.7',
                       'precision': 'fp16', 'keep_fp32': True,
                       'profiles': [{'name': 'input', 'min': [1, 3, 256, 192],
                                     'opt': [4, 3, 256, 192], 'max': [16, 3, 256, 192]}]}}

    def fake_build(model, options, **kwargs):
        calls.update(model=model, options=options, **kwargs)
        kwargs['progress']('building TensorRT engine for m.onnx: 10 s elapsed')
        return EngineBuildResult(tmp_path / 'out.engine', tmp_path / 'cache.engine', True,
                                 sidecar, guard)

    monkeypatch.setattr('humanpose.backends.tensorrt.build_engine', fake_build)
    assert main(['build-engine', 'm.onnx', '--fp16', '--out', str(tmp_path / 'out.engine'),
                 '--force', '--threshold-px', '0.75']) == 0
    out, err = capsys.readouterr()
    assert calls['force'] and calls['check'] and calls['threshold_px'] == 0.75
    assert calls['out'] == tmp_path / 'out.engine' and calls['options'].precision == 'fp16'
    assert 'elapsed' in err
    assert f'engine: {tmp_path / "out.engine"}' in out and 'cached: ' in out
    assert 'built: TensorRT 10.3.0, Orin (sm 8.7), fp16, FP32 normalisation and head, ' \
           'batch 1..16 (opt 4)' in out
    assert 'max 0.50 px' in out and 'worst right_hand (ok 1 px)' in out


def test_the_command_is_registered():
    sub = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    assert 'build-engine' in sub[0].choices
