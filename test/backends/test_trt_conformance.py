"""Conformance tier: the backend and its fakes against the real TensorRT / cuda-python bindings.

For each TensorRT generation our users run (8.6.1 = JetPack 6.0, 10.3.0 = JetPack 6.1/6.2,
the newest 11.x from pip) the real Python bindings wheel is installed into a throwaway
environment (a ``pip install --target`` folder; cached under
``~/.cache/humanpose/trt-conformance/``, rebuilt after a week to pick up new releases), with
cuda-python as this package pins it for CUDA 12 and CUDA 13. Stub ``libnvinfer.so.N`` ...
built from ``conformance/nvinfer_stub.c`` let the bindings import without TensorRT or a GPU.
A child process (``conformance/check_api.py``) then checks every TensorRT and CUDA name, enum
member and call signature in :data:`TRT_USED` / :data:`CUDA_USED`, that the fakes of that
generation (``trt_fakes.py``) have nothing the real module lacks, and runs for real what needs
no GPU. Together with the fake-driven tests, which run every build/run path of the backend
against each generation's fake, this proves the backend uses only API the real bindings have.

The tables are kept in step with the source by
:func:`test_tables_cover_every_name_the_source_uses`. Skips, with the reason, only where the
wheels cannot be fetched (offline) or no C compiler is there; under ``colcon test`` it skips
because ``make test`` (CI) already runs it.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
from pathlib import Path
import re
import shutil
import subprocess
import sys
import time

import pytest

HERE = Path(__file__).resolve().parent
SRC = HERE.parents[1] / 'src'
BACKENDS = SRC / 'humanpose' / 'backends'
CONFORMANCE = HERE / 'conformance'
STUB_SOURCE = CONFORMANCE / 'nvinfer_stub.c'
CACHE = Path(os.environ.get('HUMANPOSE_CONFORMANCE_CACHE',
                            Path.home() / '.cache' / 'humanpose' / 'trt-conformance'))
MAX_AGE_S = 7 * 24 * 3600
GENERATIONS = ('8', '10', '11')
ALL = GENERATIONS
WEAK = ('8', '10')  # generations whose build path uses builder precision flags / layer pins

#: Generation -> (pip requirement of the bindings wheel, sonames major, fake version, CUDA).
TRT_WHEELS = {
    '8': ('tensorrt-bindings==8.6.1', '8', '8.6.1', '12'),
    '10': ('tensorrt-cu12-bindings==10.3.0', '10', '10.3.0', '12'),
    '11': ('tensorrt-cu12-bindings>=11,<12', '11', '11.4.0', '13'),
}
#: CUDA major -> cuda-python as the package pins it (cuda.CUDA_PYTHON_PINS), installed
#: without dependencies (cuda-core would bring numpy) next to its bindings and pathfinder.
CUDA_WHEELS = {
    '12': ('cuda-python>=12.6,<13', 'cuda-bindings>=12.6,<13', 'cuda-pathfinder'),
    '13': ('cuda-python>=13,<14', 'cuda-bindings>=13,<14', 'cuda-pathfinder'),
}

#: TensorRT names the backend uses: dotted name -> (generations, parameter names or None).
TRT_USED: dict[str, tuple[tuple[str, ...], tuple[str, ...] | None]] = {
    'ILogger': (ALL, None), 'ILogger.log': (ALL, ('severity', 'msg')),
    'ILogger.Severity.ERROR': (ALL, None), 'ILogger.Severity.WARNING': (ALL, None),
    'IProgressMonitor': (('10', '11'), None),
    'IProgressMonitor.phase_start': (('10', '11'), ('phase_name', 'parent_phase', 'num_steps')),
    'IProgressMonitor.step_complete': (('10', '11'), ('phase_name', 'step')),
    'IProgressMonitor.phase_finish': (('10', '11'), ('phase_name',)),
    'Builder': (ALL, None), 'Builder.create_network': (ALL, ('flags',)),
    'Builder.create_builder_config': (ALL, ()),
    'Builder.create_optimization_profile': (ALL, ()),
    'Builder.build_serialized_network': (ALL, ('network', 'config')),
    'Runtime': (ALL, None), 'Runtime.deserialize_cuda_engine': (ALL, ('serialized_engine',)),
    'OnnxParser': (ALL, None), 'OnnxParser.parse_from_file': (ALL, ('model',)),
    'OnnxParser.num_errors': (ALL, None), 'OnnxParser.get_error': (ALL, ('index',)),
    'NetworkDefinitionCreationFlag.EXPLICIT_BATCH': (('8',), None),
    'NetworkDefinitionCreationFlag.STRONGLY_TYPED': (('10', '11'), None),
    'BuilderFlag.FP16': (WEAK, None), 'BuilderFlag.PREFER_PRECISION_CONSTRAINTS': (WEAK, None),
    'BuilderFlag.TF32': (ALL, None), 'MemoryPoolType.WORKSPACE': (ALL, None),
    'IBuilderConfig.set_memory_pool_limit': (ALL, ('pool', 'pool_size')),
    'IBuilderConfig.set_flag': (ALL, ('flag',)), 'IBuilderConfig.clear_flag': (ALL, ('flag',)),
    'IBuilderConfig.add_optimization_profile': (ALL, ('profile',)),
    'IBuilderConfig.create_timing_cache': (ALL, ('serialized_timing_cache',)),
    'IBuilderConfig.set_timing_cache': (ALL, ('cache', 'ignore_mismatch')),
    'IBuilderConfig.get_timing_cache': (ALL, ()),
    'IBuilderConfig.progress_monitor': (('10', '11'), None),
    'ITimingCache.serialize': (ALL, ()), 'IHostMemory.nbytes': (ALL, None),
    'IOptimizationProfile.set_shape': (ALL, ('input', 'min', 'opt', 'max')),
    'INetworkDefinition.num_layers': (ALL, None), 'INetworkDefinition.num_inputs': (ALL, None),
    'INetworkDefinition.num_outputs': (ALL, None),
    'INetworkDefinition.get_layer': (ALL, ('index',)),
    'INetworkDefinition.get_input': (ALL, ('index',)),
    'INetworkDefinition.get_output': (ALL, ('index',)),
    'ILayer.name': (ALL, None), 'ILayer.type': (ALL, None), 'ILayer.num_inputs': (ALL, None),
    'ILayer.num_outputs': (ALL, None), 'ILayer.get_input': (ALL, ('index',)),
    'ILayer.get_output': (ALL, ('index',)), 'ILayer.precision': (WEAK, None),
    'ILayer.set_output_type': (WEAK, ('index', 'dtype')),
    'IElementWiseLayer.op': (ALL, None), 'IUnaryLayer.op': (ALL, None),
    'ITensor.name': (ALL, None), 'ITensor.dtype': (ALL, None), 'ITensor.shape': (ALL, None),
    'LayerType.ELEMENTWISE': (ALL, None), 'LayerType.UNARY': (ALL, None),
    'float32': (ALL, None), 'float16': (ALL, None), 'bfloat16': (('10', '11'), None),
    'DataType': (ALL, None), 'nptype': (ALL, None), 'Dims': (ALL, None),
    'ICudaEngine.num_io_tensors': (ALL, None),
    'ICudaEngine.get_tensor_name': (ALL, ('index',)),
    'ICudaEngine.get_tensor_mode': (ALL, ('name',)),
    'ICudaEngine.get_tensor_shape': (ALL, ('name',)),
    'ICudaEngine.get_tensor_dtype': (ALL, ('name',)),
    'ICudaEngine.get_tensor_profile_shape': (ALL, ('name', 'profile_index')),
    'ICudaEngine.create_execution_context': (ALL, ()),
    'TensorIOMode.INPUT': (ALL, None),
    'IExecutionContext.set_input_shape': (ALL, ('name', 'shape')),
    'IExecutionContext.get_tensor_shape': (ALL, ('name',)),
    'IExecutionContext.set_tensor_address': (ALL, ('name', 'memory')),
    'IExecutionContext.execute_async_v3': (ALL, ('stream_handle',)),
}
#: What must be gone in a generation (the feature probes and build paths rely on it).
TRT_ABSENT: dict[str, tuple[str, ...]] = {
    '8': ('IProgressMonitor', 'NetworkDefinitionCreationFlag.STRONGLY_TYPED'),
    '10': (),
    '11': ('BuilderFlag.FP16', 'BuilderFlag.BF16', 'BuilderFlag.INT8',
           'BuilderFlag.PREFER_PRECISION_CONSTRAINTS', 'BuilderFlag.OBEY_PRECISION_CONSTRAINTS',
           'ILayer.precision', 'ILayer.set_output_type',
           'NetworkDefinitionCreationFlag.EXPLICIT_BATCH'),
}
#: cuda-python runtime names the backend uses: name -> parameter names or None.
CUDA_USED: dict[str, tuple[str, ...] | None] = {
    'cudaGetDeviceCount': (), 'cudaGetErrorName': ('error',), 'cudaSetDevice': ('device',),
    'cudaGetDeviceProperties': ('device',), 'cudaDeviceGetAttribute': ('attr', 'device'),
    'cudaMalloc': ('size',), 'cudaMallocHost': ('size',), 'cudaFree': ('devPtr',),
    'cudaFreeHost': ('ptr',), 'cudaStreamCreate': (), 'cudaStreamDestroy': ('stream',),
    'cudaMemcpyAsync': ('dst', 'src', 'count', 'kind', 'stream'),
    'cudaStreamSynchronize': ('stream',), 'cudaError_t.cudaSuccess': None,
    'cudaMemcpyKind.cudaMemcpyHostToDevice': None, 'cudaMemcpyKind.cudaMemcpyDeviceToHost': None,
    'cudaDeviceAttr.cudaDevAttrComputeCapabilityMajor': None,
    'cudaDeviceAttr.cudaDevAttrComputeCapabilityMinor': None, 'cudaStream_t': None,
    'cudaDeviceProp': None,
}
#: Libraries the bindings link against, per sonames major.
STUB_LIBRARIES = {'8': ('nvinfer', 'nvonnxparser', 'nvinfer_plugin', 'nvparsers'),
                  '10': ('nvinfer', 'nvonnxparser', 'nvinfer_plugin'),
                  '11': ('nvinfer', 'nvonnxparser', 'nvinfer_plugin')}


# --------------------------------------------------------------------------- sync with source

def _names_on(module_var: str, tree: ast.AST) -> set[str]:
    """Dotted attribute chains rooted at the variable ``module_var`` (``trt.X.Y``)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            chain, inner = [node.attr], node.value
            while isinstance(inner, ast.Attribute):
                chain.append(inner.attr)
                inner = inner.value
            if isinstance(inner, ast.Name) and inner.id == module_var:
                found.add('.'.join(reversed(chain)))
    return found


def test_tables_cover_every_name_the_source_uses():
    from humanpose.backends.trt_build import BUILD_PATHS
    from humanpose.backends.trt_precision import PRECISION_PLANS, TRT_OP_CLASSES

    trt_names, cuda_names = set(), set()
    for path in BACKENDS.glob('*.py'):
        tree = ast.parse(path.read_text())
        trt_names |= _names_on('trt', tree)
        cuda_names |= _names_on('cudart', tree)
    # Names reached through getattr() on tables: builder flags, network flags, layer classes.
    trt_names |= {f'BuilderFlag.{f}' for plan in PRECISION_PLANS.values()
                  for f in plan.flags_on + plan.flags_off}
    trt_names |= {f'NetworkDefinitionCreationFlag.{f}' for p in BUILD_PATHS
                  for f in p.network_flags}
    trt_names |= set(TRT_OP_CLASSES.values())
    trt_names -= {'__version__'}
    trt_covered = {name for used in TRT_USED for name in _prefixes(used)}
    cuda_covered = {name for used in CUDA_USED for name in _prefixes(used)}
    assert sorted(trt_names - trt_covered) == []
    assert sorted(cuda_names - cuda_covered) == []
    assert 'trt.nptype' not in trt_names  # dtypes go through trt_api.numpy_dtype only


def _prefixes(dotted: str) -> list[str]:
    parts = dotted.split('.')
    return ['.'.join(parts[:i]) for i in range(1, len(parts) + 1)]


# --------------------------------------------------------------------------- environments

def _skip_reason_under_colcon() -> str:
    import humanpose

    if os.environ.get('AMENT_PREFIX_PATH') and SRC not in Path(humanpose.__file__).parents:
        return ('conformance tier runs in `make test` (CI); not repeated under colcon test, '
                'where humanpose comes from the install space')
    return ''


def _pip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-m', 'pip', '--disable-pip-version-check', *args],
                          capture_output=True, text=True, timeout=300)


def _fresh(folder: Path) -> bool:
    stamp = folder / '.complete'
    return stamp.is_file() and time.time() - stamp.stat().st_mtime < MAX_AGE_S


def _install(name: str, requirements: tuple[str, ...]) -> Path:
    """Install ``requirements`` (no dependencies) into a cached folder; skip when offline."""
    tag = f'py{sys.version_info[0]}{sys.version_info[1]}'
    digest = hashlib.sha256('\n'.join(requirements).encode()).hexdigest()[:12]
    folder = CACHE / tag / f'{name}-{digest}'
    if _fresh(folder):
        return folder
    partial = folder.with_name(folder.name + '.partial')
    shutil.rmtree(partial, ignore_errors=True)
    result = _pip('install', '--quiet', '--no-deps', '--no-compile', '--target', str(partial),
                  *requirements)
    if result.returncode != 0:
        if folder.is_dir() and (folder / '.complete').is_file():
            return folder  # stale but usable: better than nothing while offline
        tail = ' '.join((result.stderr or result.stdout).split())[-300:]
        pytest.skip(f'cannot fetch {" ".join(requirements)} for Python {tag} (offline?): {tail}')
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)
    (folder / '.complete').write_text('\n'.join(requirements) + '\n')
    return folder


def _stubs(major: str) -> Path:
    """Build the stub TensorRT libraries of one sonames major from ``nvinfer_stub.c``."""
    compiler = shutil.which(os.environ.get('CC', 'cc')) or shutil.which('gcc')
    source = STUB_SOURCE.read_bytes()
    folder = CACHE / 'stubs' / f'{major}-{hashlib.sha256(source).hexdigest()[:12]}'
    if (folder / '.complete').is_file():
        return folder
    if compiler is None:
        pytest.skip('no C compiler (cc) to build the stub libnvinfer: apt install gcc')
    folder.mkdir(parents=True, exist_ok=True)
    for library in STUB_LIBRARIES[major]:
        soname = f'lib{library}.so.{major}'
        subprocess.run([compiler, '-shared', '-fPIC', '-O0', f'-Wl,-soname,{soname}', '-o',
                        str(folder / soname), str(STUB_SOURCE)], check=True, timeout=120)
    (folder / '.complete').write_text('built\n')
    return folder


@pytest.fixture(scope='module')
def environments():
    reason = _skip_reason_under_colcon()
    if reason:
        pytest.skip(reason)
    return {}


def _check(environments, generation: str | None, cuda_major: str) -> dict:
    key = (generation, cuda_major)
    if key in environments:
        return environments[key]
    paths = [str(_install(f'cuda{cuda_major}', CUDA_WHEELS[cuda_major]))]
    env = dict(os.environ)
    request = {'sys_path': [str(HERE), str(SRC)],
               'cuda_used': {k: list(v) if v is not None else None
                             for k, v in CUDA_USED.items()}}
    if generation is not None:
        wheel, major, fake_version, _ = TRT_WHEELS[generation]
        paths.insert(0, str(_install(f'trt{generation}', (wheel,))))
        env['LD_LIBRARY_PATH'] = os.pathsep.join(
            [str(_stubs(major))] + [p for p in [env.get('LD_LIBRARY_PATH')] if p])
        request.update(
            tensorrt=True, fake_version=fake_version,
            trt_used={k: list(params) if params is not None else None
                      for k, (gens, params) in TRT_USED.items() if generation in gens},
            trt_absent=list(TRT_ABSENT[generation]))
    env['PYTHONPATH'] = os.pathsep.join(paths + [str(SRC)])
    result = subprocess.run([sys.executable, str(CONFORMANCE / 'check_api.py')],
                            input=json.dumps(request), capture_output=True, text=True,
                            env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    environments[key] = json.loads(result.stdout)
    return environments[key]


# --------------------------------------------------------------------------- TensorRT

@pytest.mark.parametrize('generation', GENERATIONS)
def test_every_tensorrt_name_the_backend_uses_exists_with_its_signature(environments,
                                                                        generation):
    report = _check(environments, generation, TRT_WHEELS[generation][3])
    assert report['trt_version'].split('.')[0] == generation
    assert report['trt_used'] == {'missing': [], 'signature_mismatch': [],
                                  'unexpectedly_present': []}


@pytest.mark.parametrize('generation', GENERATIONS)
def test_fakes_offer_exactly_the_real_surface(environments, generation):
    report = _check(environments, generation, TRT_WHEELS[generation][3])
    assert report['trt_fake'] == []
    assert report['trt_run']['nptype_disagreements'] == []


@pytest.mark.parametrize('generation, path, monitor', [
    ('8', 'explicit-batch-weak', False), ('10', 'weak', True), ('11', 'strongly-typed', True)])
def test_real_module_gets_its_build_path_and_subclassing_works(environments, generation, path,
                                                               monitor):
    run = _check(environments, generation, TRT_WHEELS[generation][3])['trt_run']
    assert run['build_path'] == path and run['features']['progress_monitor'] == monitor
    assert run['precision_problems'] == {'fp32': '', 'fp16': ''}
    assert run['logger_errors'] == 'conformance: an error'
    assert run['dims'] == [1, -1, 3]
    if monitor:
        assert run['monitor_is_real_subclass'] and run['monitor_step'] is True
        assert run['monitor_heartbeat'].endswith('(Building engine: 1/3)')
        assert run['monitor_lines'] == ['building model.onnx: Building engine (3 steps)']


@pytest.mark.parametrize('generation', GENERATIONS)
def test_numpy_types_of_every_data_type(environments, generation):
    dtypes = _check(environments, generation, TRT_WHEELS[generation][3])['trt_run'][
        'numpy_dtypes']
    assert dtypes['FLOAT'] == 'float32' and dtypes['HALF'] == 'float16'
    assert dtypes['INT32'] == 'int32' and dtypes['BOOL'] == 'bool'
    unsupported = {name for name, text in dtypes.items() if text.startswith('error')}
    expected = {'8': {'FP8'}, '10': {'FP8', 'BF16', 'INT4'},
                '11': {'FP8', 'BF16', 'INT4', 'FP4', 'E8M0'}}[generation]
    assert unsupported == expected
    assert all('cannot be fed or read from numpy' in dtypes[name] for name in unsupported)


@pytest.mark.parametrize('generation', GENERATIONS)
def test_tensorrt_without_cuda_is_backend_unavailable_with_cause_and_fix(environments,
                                                                         generation):
    run = _check(environments, generation, TRT_WHEELS[generation][3])['trt_run']
    for factory in ('Builder', 'Runtime'):
        message = run['starts'][factory]
        assert message.startswith('BackendUnavailableError: ')
        assert 'factory function returned nullptr' in message and 'could not start CUDA' in message
    ok, why = run['probe']  # no driver: CUDA says so; a driver: the stub TensorRT cannot start
    assert not ok and re.search(r'no CUDA device \(.*cudaError\w+|could not start CUDA', why), why


def test_bindings_without_the_libraries_say_what_to_install(environments, tmp_path):
    wheel = TRT_WHEELS['10'][0]
    shim = tmp_path / 'shim'
    shim.mkdir()
    (shim / 'tensorrt.py').write_text('from tensorrt_bindings import *  # noqa\n')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(_install('trt10', (wheel,))),
                                                       str(SRC)]))
    env.pop('LD_LIBRARY_PATH', None)
    request = {'sys_path': [str(HERE), str(SRC)], 'import_only': str(shim)}
    result = subprocess.run([sys.executable, str(CONFORMANCE / 'check_api.py')],
                            input=json.dumps(request), capture_output=True, text=True,
                            env=env, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    if report['found']:
        pytest.skip('TensorRT 10 libraries are installed on this machine; the message for '
                    'missing ones cannot be shown')
    assert 'libnvinfer.so.10' in report['why'] and 'pip install tensorrt-cu12' in report['why']


# --------------------------------------------------------------------------- cuda-python

@pytest.mark.parametrize('cuda_major', sorted(CUDA_WHEELS))
def test_every_cuda_name_exists_and_the_fake_runtime_matches(environments, cuda_major):
    report = _check(environments, None, cuda_major)
    assert report['cuda_version'].split('.')[0] == cuda_major
    assert report['cuda_used'] == {'missing': [], 'signature_mismatch': [],
                                   'unexpectedly_present': []}
    assert report['cuda_fake'] == []
    run = report['cuda_run']
    assert run['found_module'] == 'cuda.bindings.runtime'
    assert run['native_handle'] == 1234 and run['device_prop_has_name']
    count, why = run['device_count']
    if count == 0:  # no driver here: the error is named with what to do
        assert 'cudaError' in why and ('cuda-python' in why or 'GPU' in why or 'driver' in why)
        assert run['stream'].startswith('BackendUnavailableError: CUDA call cudaStreamCreate')
    else:
        assert run['stream'] == 'cudaStream_t'
