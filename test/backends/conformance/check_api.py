"""Check the backend's TensorRT / CUDA surface and the fakes against the real bindings.

Run by ``test_trt_conformance.py`` in a child process whose ``PYTHONPATH`` holds one real
``tensorrt_bindings`` wheel (8.6.1, 10.3.0 or 11.x) and one cuda-python (12.x or 13.x),
with the stub libraries of ``nvinfer_stub.c`` on ``LD_LIBRARY_PATH``. Reads a JSON request
on stdin, writes a JSON report on stdout; the test asserts on the report.

What it does: resolves every name the backend uses (with its parameter names where given)
on the real modules; walks every public member of the fakes of that generation and finds it
(same enum values, same parameter names) in the real module; and runs for real what needs no
GPU: logger and progress-monitor subclasses, ``Dims``, ``nptype`` of every ``DataType``,
``trt.Builder`` / ``trt.Runtime`` failing to start, ``cuda_device_count`` and the backend's
``probe`` on a machine without a driver.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import re
import sys
import types
from typing import Any


# --------------------------------------------------------------------------- signatures

def _split_params(text: str) -> list[str]:
    """Split a pybind11 parameter list at top-level commas."""
    parts, depth, current = [], 0, ''
    for char in text:
        if char in '([{':
            depth += 1
        elif char in ')]}':
            depth -= 1
        if char == ',' and depth == 0:
            parts.append(current)
            current = ''
        else:
            current += char
    if current.strip():
        parts.append(current)
    return parts


def real_overloads(obj: Any, name: str) -> list[list[str]]:
    """Return the parameter-name lists of a callable's overloads (``self`` dropped).

    pybind11 writes ``name(self: T, a: A, b: B = 0) -> R`` (one line per overload) into the
    docstring; Cython functions of cuda-python have real signatures.
    """
    try:
        params = list(inspect.signature(obj).parameters)
        if params and params != ['args', 'kwargs']:
            return [[p for p in params if p != 'self']]
    except (TypeError, ValueError):
        pass
    found = []
    for match in re.finditer(rf'(?:^|\n)\s*(?:\d+\. )?{re.escape(name)}\((.*)\)',
                             obj.__doc__ or ''):
        params = [p.split(':')[0].split('=')[0].strip() for p in _split_params(match.group(1))]
        found.append([p for p in params if p and p != 'self'])
    return found


def fake_params(function: Any) -> list[str]:
    """Return the parameter names of a fake's function (``self`` dropped)."""
    return [p for p in inspect.signature(function).parameters if p != 'self']


def params_match(wanted: list[str], overloads: list[list[str]]) -> bool:
    """``wanted`` is the leading parameters of one overload, the rest having defaults."""
    return any(params[:len(wanted)] == wanted for params in overloads)


# --------------------------------------------------------------------------- names used

def resolve(module: Any, dotted: str) -> tuple[bool, Any, Any]:
    """Return (found, object, owner) for ``A.B.C`` on ``module``."""
    owner, obj = None, module
    for part in dotted.split('.'):
        if not hasattr(obj, part):
            return False, None, owner
        owner, obj = obj, getattr(obj, part)
    return True, obj, owner


def check_used(module: Any, used: dict[str, Any], absent: list[str]) -> dict[str, list[str]]:
    """Check names the backend uses (``{dotted: params or None}``) and names that must be gone."""
    missing, signatures, present = [], [], []
    for dotted, params in used.items():
        found, obj, _ = resolve(module, dotted)
        if not found:
            missing.append(dotted)
            continue
        if params is not None:
            name = dotted.rsplit('.', 1)[-1]
            overloads = real_overloads(obj, name)
            if not params_match(list(params), overloads):
                signatures.append(f'{dotted}{tuple(params)} vs real {overloads}')
    for dotted in absent:
        if resolve(module, dotted)[0]:
            present.append(dotted)
    return {'missing': missing, 'signature_mismatch': signatures, 'unexpectedly_present': present}


# --------------------------------------------------------------------------- fakes

_CONSTRUCTORS = {'Builder', 'Runtime', 'OnnxParser', 'ILogger', 'IProgressMonitor'}


def _public(names: Any) -> list[str]:
    return sorted(n for n in names if not n.startswith('_'))


def _enum_members(value: Any) -> dict[str, Any] | None:
    if isinstance(value, types.SimpleNamespace):
        members = vars(value)
        if members and all(hasattr(v, 'value') and hasattr(v, 'name')
                           for v in members.values()):
            return members
    return None


def _check_enum(path: str, fake: dict[str, Any], real: Any, problems: list[str]) -> None:
    for member, value in fake.items():
        if not hasattr(real, member):
            problems.append(f'{path}.{member}: not in the real enum')
        elif int(getattr(real, member)) != int(value):
            problems.append(f'{path}.{member}: fake value {int(value)}, real '
                            f'{int(getattr(real, member))}')


def _check_class(path: str, fake_cls: type, real_cls: Any, problems: list[str]) -> None:
    inherited = set(dir(object))  # what a fake inherits from a builtin (IHostMemory: bytes)
    for base in fake_cls.__mro__:
        if base.__module__ == 'builtins':
            inherited |= set(dir(base))
    for name in _public(set(dir(fake_cls)) - inherited):
        attribute = inspect.getattr_static(fake_cls, name)
        if not hasattr(real_cls, name):
            problems.append(f'{path}.{name}: the real {path} has no such member')
            continue
        members = _enum_members(attribute)
        if members is not None:
            _check_enum(f'{path}.{name}', members, getattr(real_cls, name), problems)
        elif inspect.isfunction(attribute):
            overloads = real_overloads(getattr(real_cls, name), name)
            if not params_match(fake_params(attribute), overloads):
                problems.append(f'{path}.{name}{tuple(fake_params(attribute))}: real takes '
                                f'{overloads}')
    init = fake_cls.__dict__.get('__init__')
    if path in _CONSTRUCTORS and init is not None:
        overloads = real_overloads(real_cls.__init__, '__init__')
        if not params_match(fake_params(init), overloads):
            problems.append(f'{path}.__init__{tuple(fake_params(init))}: real takes {overloads}')
    for name in getattr(fake_cls, '_instance_api', ()):
        if not hasattr(real_cls, name):
            problems.append(f'{path}.{name}: the real {path} has no such attribute')


def check_fake(fake: types.ModuleType, real: Any) -> list[str]:
    """Every public member of ``fake`` must exist, alike, in ``real``."""
    problems: list[str] = []
    own = set(vars(fake)) | (set(vars(type(fake))) - set(vars(types.ModuleType)))
    for name in _public(own):
        value = getattr(fake, name)
        if not hasattr(real, name):
            problems.append(f'{name}: the real module has no such name')
            continue
        members = _enum_members(value)
        if members is not None:
            _check_enum(name, members, getattr(real, name), problems)
        elif isinstance(value, type):
            _check_class(name, value, getattr(real, name), problems)
        elif hasattr(value, 'value') and hasattr(value, 'name'):  # an alias: trt.float32
            if int(value) != int(getattr(real, name)):
                problems.append(f'{name}: fake value {int(value)}, real '
                                f'{int(getattr(real, name))}')
        elif callable(value):
            overloads = real_overloads(getattr(real, name), name)
            if not params_match(fake_params(value), overloads):
                problems.append(f'{name}{tuple(fake_params(value))}: real takes {overloads}')
    return problems


# --------------------------------------------------------------------------- runs for real

def run_tensorrt(trt: Any, fake: Any) -> dict[str, Any]:
    """Exercise the backend's TensorRT code on the real module (no libnvinfer behind it)."""
    from humanpose.backends.base import BackendOptions
    from humanpose.backends.tensorrt import probe
    from humanpose.backends.trt_api import make_logger, numpy_dtype, start_tensorrt, trt_features
    from humanpose.backends.trt_build import precision_problem, select_build_path
    from humanpose.backends.trt_progress import BuildProgress, make_progress_monitor
    from humanpose.errors import HumanPoseError

    report: dict[str, Any] = {}
    report['features'] = dataclasses.asdict(trt_features(trt))
    report['build_path'] = select_build_path(trt).name
    report['precision_problems'] = {p: precision_problem(trt, p) for p in ('fp32', 'fp16')}

    logger = make_logger(trt)
    logger.log(trt.ILogger.Severity.ERROR, 'conformance: an error')
    logger.log(trt.ILogger.Severity.WARNING, 'conformance: a warning')
    report['logger_errors'] = logger.take_errors()

    lines: list[str] = []
    progress = BuildProgress('model.onnx', lines.append, interval_s=3600)
    monitor = make_progress_monitor(trt, progress)
    if monitor is not None:
        report['monitor_is_real_subclass'] = isinstance(monitor, trt.IProgressMonitor)
        monitor.phase_start('Building engine', None, 3)
        report['monitor_step'] = monitor.step_complete('Building engine', 0)
        report['monitor_heartbeat'] = progress.heartbeat_line()
        monitor.phase_finish('Building engine')
    report['monitor_lines'] = lines

    report['dims'] = [int(d) for d in trt.Dims([1, -1, 3])]

    dtypes: dict[str, str] = {}
    agree: list[str] = []
    for name in sorted(n for n in dir(trt.DataType) if n.isupper()):
        member = getattr(trt.DataType, name)
        try:
            dtypes[name] = str(numpy_dtype(trt, member, 'tensor'))
        except HumanPoseError as err:
            dtypes[name] = f'error: {err}'
        try:
            real_type: Any = trt.nptype(member)
        except TypeError:
            real_type = TypeError
        fake_member = getattr(fake.DataType, name, None)
        if fake_member is not None:
            try:
                fake_type: Any = fake.nptype(fake_member)
            except TypeError:
                fake_type = TypeError
            if fake_type != real_type:
                agree.append(f'{name}: fake nptype {fake_type}, real {real_type}')
    report['numpy_dtypes'], report['nptype_disagreements'] = dtypes, agree

    starts: dict[str, str] = {}
    for factory in ('Builder', 'Runtime'):
        try:
            start_tensorrt(trt, factory, make_logger(trt))
            starts[factory] = 'started'
        except HumanPoseError as err:
            starts[factory] = f'{type(err).__name__}: {err}'
    report['starts'] = starts
    report['probe'] = list(probe(BackendOptions(precision='fp16')))
    return report


def run_cuda(cudart: Any) -> dict[str, Any]:
    """Exercise the backend's CUDA code on the real cuda-python (no driver here)."""
    from humanpose.backends.cuda import cuda_call, cuda_device_count, find_cudart, native_handle
    from humanpose.errors import HumanPoseError

    found, why = find_cudart()
    report: dict[str, Any] = {'found_module': getattr(found, '__name__', why)}
    report['device_count'] = list(cuda_device_count(cudart))
    report['native_handle'] = native_handle(cudart.cudaStream_t(1234))
    try:
        stream = cuda_call(cudart, cudart.cudaStreamCreate(), 'cudaStreamCreate')
        report['stream'] = type(stream).__name__
    except HumanPoseError as err:
        report['stream'] = f'{type(err).__name__}: {err}'
    report['device_prop_has_name'] = hasattr(cudart.cudaDeviceProp(), 'name')
    return report


def import_without_libraries(shim: str) -> dict[str, Any]:
    """Import ``tensorrt`` (a shim over the bindings, like the meta package) with no libnvinfer."""
    from humanpose.backends.trt_api import find_tensorrt

    sys.path.insert(0, shim)
    found, why = find_tensorrt()
    return {'found': found is not None, 'why': why}


def main() -> None:
    """Read the request, check, print the report."""
    request = json.load(sys.stdin)
    sys.path[:0] = request['sys_path']
    if request.get('import_only'):
        json.dump(import_without_libraries(request['import_only']), sys.stdout)
        return
    import trt_fakes

    report: dict[str, Any] = {}
    if request.get('tensorrt'):
        real = importlib.import_module('tensorrt_bindings')
        sys.modules['tensorrt'] = real
        fake = trt_fakes.FakeTensorRT(request['fake_version'])
        report['trt_version'] = real.__version__
        report['trt_used'] = check_used(real, request['trt_used'], request['trt_absent'])
        report['trt_fake'] = check_fake(fake, real)
        report['trt_run'] = run_tensorrt(real, fake)
    cudart = importlib.import_module('cuda.bindings.runtime')
    import cuda.bindings

    report['cuda_version'] = cuda.bindings.__version__
    report['cuda_used'] = check_used(cudart, request['cuda_used'], [])
    report['cuda_fake'] = check_fake(trt_fakes.FakeCudart(), cudart)
    report['cuda_run'] = run_cuda(cudart)
    json.dump(report, sys.stdout)


if __name__ == '__main__':
    main()
