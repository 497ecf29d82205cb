"""CI's own tools: the README's install blocks it runs and its judge of colcon's results."""

import importlib.util
from pathlib import Path
import re
import shlex

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / '.ci' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


readme_block = _load('readme_block')
check_ros_results = _load('check_ros_results')


@pytest.mark.parametrize('name', ['ros-pip-humble', 'ros-pip-jazzy'])
def test_readme_pip_blocks_keep_the_distributions_numpy(name):
    text = readme_block.block((ROOT / 'README.md').read_text(encoding='utf-8'), name)
    commands = [line for line in text.replace('\\\n', ' ').splitlines()
                if line.strip() and not line.lstrip().startswith('#')]
    assert commands[0].startswith('NUMPY_PIN="numpy==$(python3 -c')
    installs = [shlex.split(c) for c in commands if ' pip install ' in c]
    assert len(installs) == 2
    for words in installs:
        # Every pip line pins NumPy, so pip can never upgrade the distribution's.
        assert words[:4] == ['python3', '-m', 'pip', 'install'] and '$NUMPY_PIN' in words
        assert '--user' in words
        assert ('--break-system-packages' in words) == (name == 'ros-pip-jazzy')
    packages = {re.split('[<>=!]', w)[0] for words in installs for w in words[4:]
                if not w.startswith(('-', '$'))}
    assert packages == {'onnxruntime', 'onnx', 'rosbags', 'pycocotools', 'onnxconverter-common'}


def test_readme_block_errors():
    with pytest.raises(ValueError, match='no <!-- ci:nope -->'):
        readme_block.block('text\n', 'nope')
    assert readme_block.block('<!-- ci:a -->\n\n```bash\nx\ny\n```\n', 'a') == 'x\ny\n'


def _results(tmp_path, cases, launch=True):
    body = ''.join(f'<testcase classname="pose_bringup.test.{cls}" name="{name}">{inner}'
                   '</testcase>' for cls, name, inner in cases)
    (tmp_path / 'humanpose_tests.xunit.xml').write_text(f'<testsuite>{body}</testsuite>')
    if launch:
        (tmp_path / 'test_test_launch_pose.py.xunit.xml').write_text(
            '<testsuite><testcase classname="pose_bringup.TestPosesArrive" name="t"/>'
            '</testsuite>')
    return check_ros_results.main(['check', str(tmp_path)])


NODE = ('ros.test_node', 'test_poses', '')
LAUNCH_FILE = ('ros.test_launch_file', 'test_args', '')


def test_results_pass_with_only_tensorrt_skips(tmp_path, capsys):
    trt = ('backends.test_tensorrt', 'test_round_trip',
           '<skipped message="TensorRT is not installed here"/>')
    tier = ('backends.test_trt_conformance', 'test_names',
            '<skipped message="conformance tier runs in make test"/>')
    assert _results(tmp_path, [NODE, LAUNCH_FILE, trt, tier]) == 0
    assert '5 tests: 3 passed, 0 failures, 0 errors, 2 skipped (2 TensorRT/GPU' in (
        capsys.readouterr().out)


@pytest.mark.parametrize('case, problem', [
    (('test_evaluation', 'test_coco', '<skipped message="pycocotools is not installed"/>'),
     'skipped, but must run here: pose_bringup.test.test_evaluation::test_coco'),
    (('ros.test_node', 'test_gpu_backend', '<skipped message="no model"/>'),
     'skipped, but must run here: pose_bringup.test.ros.test_node::test_gpu_backend'),
    (('test_decode', 'test_x', '<failure message="assert 1 == 2"/>'),
     'failure: pose_bringup.test.test_decode::test_x'),
    (('test_decode', 'test_y', '<error message="fixture broke"/>'), 'error:'),
])
def test_results_fail_on_failures_and_other_skips(tmp_path, capsys, case, problem):
    assert _results(tmp_path, [NODE, LAUNCH_FILE, case]) == 1
    assert f'FAIL: {problem}' in capsys.readouterr().out


def test_results_fail_when_the_ros_tests_did_not_run(tmp_path, capsys):
    skipped_node = ('ros.test_node', 'test_poses',
                    '<skipped message="needs a sourced ROS 2 (rclpy)"/>')
    assert _results(tmp_path, [skipped_node, LAUNCH_FILE], launch=False) == 1
    out = capsys.readouterr().out
    assert 'the rclpy node tests did not run' in out
    assert 'the launch test (launch_testing) did not run' in out
    assert check_ros_results.main(['check', str(tmp_path / 'missing')]) == 1
