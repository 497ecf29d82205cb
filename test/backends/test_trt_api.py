"""The tensorrt module per generation: features, build path, dtypes, start-up failures."""

import logging

import numpy as np
import pytest

from humanpose.backends.trt_api import (make_logger, numpy_dtype, parse_version, start_tensorrt,
                                        trt_features)
from humanpose.backends.trt_build import precision_problem, select_build_path
from humanpose.errors import BackendUnavailableError, ModelLoadError
from trt_fakes import NULLPTR, FakeTensorRT


def test_version_parsing():
    assert parse_version('10.3.0.30') == (10, 3, 0, 30)
    assert parse_version('8.6.2.post1') == (8, 6, 2)


@pytest.mark.parametrize('version, monitor, explicit, fp16, layer_precision, strong, path', [
    ('8.6.1', False, True, True, True, False, 'explicit-batch-weak'),
    ('10.3.0', True, False, True, True, True, 'weak'),
    ('10.13.3', True, False, True, True, True, 'strongly-typed'),
    ('11.4.0', True, False, False, False, True, 'strongly-typed')])
def test_each_generation_gets_its_features_and_build_path(version, monitor, explicit, fp16,
                                                          layer_precision, strong, path):
    trt = FakeTensorRT(version)
    features = trt_features(trt)
    assert features.tensor_io
    assert (features.progress_monitor, features.explicit_batch_flag, features.fp16_flag,
            features.layer_precision, features.strongly_typed) == (
        monitor, explicit, fp16, layer_precision, strong)
    assert select_build_path(trt).name == path
    assert precision_problem(trt, 'fp32') == ''
    if path != 'strongly-typed':  # FP16 by builder flag needs nothing else
        assert precision_problem(trt, 'fp16') == ''


def test_fp16_on_a_strongly_typed_tensorrt_works_with_the_converter(fp16_converter):
    assert precision_problem(FakeTensorRT('11.4.0'), 'fp16') == ''


def test_fp16_on_a_strongly_typed_tensorrt_needs_the_converter(monkeypatch):
    monkeypatch.setitem(__import__('sys').modules, 'onnxconverter_common', None)
    assert 'pip install onnxconverter-common' in precision_problem(FakeTensorRT('11.4.0'), 'fp16')
    assert precision_problem(FakeTensorRT('11.4.0'), 'fp32') == ''
    assert precision_problem(FakeTensorRT('10.3.0'), 'fp16') == ''  # flags need no converter


@pytest.mark.parametrize('version', ['8.6.1', '10.3.0', '11.4.0'])
def test_numpy_dtypes_of_engine_tensors(version):
    trt = FakeTensorRT(version)
    assert numpy_dtype(trt, trt.DataType.FLOAT, 'x') == np.float32
    assert numpy_dtype(trt, trt.DataType.HALF, 'x') == np.float16
    with pytest.raises(ModelLoadError, match=r"'simcc_x' is FP8 \(8-bit float\).*FP32"):
        numpy_dtype(trt, trt.DataType.FP8, 'simcc_x')


@pytest.mark.parametrize('member', ['BF16', 'INT4'])
def test_types_numpy_lacks_are_a_clear_error_from_10_on(member):
    trt = FakeTensorRT('10.3.0')
    with pytest.raises(ModelLoadError, match=f"'input' is {member}"):
        numpy_dtype(trt, getattr(trt.DataType, member), 'input')


@pytest.mark.parametrize('factory', ['Builder', 'Runtime'])
def test_tensorrt_that_cannot_start_cuda_names_cause_and_fix(factory):
    trt = FakeTensorRT('11.4.0', cuda_starts=False)
    with pytest.raises(BackendUnavailableError) as err:
        start_tensorrt(trt, factory, make_logger(trt))
    message = str(err.value)
    assert NULLPTR in message and f'trt.{factory}()' in message
    assert '--gpus all' in message and 'tensorrt-cu12' in message and '\n' not in message
    assert isinstance(err.value.__cause__, TypeError)


def test_other_start_up_type_errors_are_not_blamed_on_cuda(monkeypatch):
    trt = FakeTensorRT('10.3.0')

    def refuses(logger):
        raise TypeError('__init__(): incompatible constructor arguments')

    monkeypatch.setattr(trt, 'Runtime', refuses)
    with pytest.raises(BackendUnavailableError, match='bindings do not match') as err:
        start_tensorrt(trt, 'Runtime', make_logger(trt))
    assert 'could not start CUDA' not in str(err.value)


def test_logger_keeps_errors_for_the_exception_and_logs_the_rest(caplog):
    trt = FakeTensorRT('10.3.0')
    logger = make_logger(trt)
    with caplog.at_level(logging.INFO, logger='humanpose.backends.tensorrt.trt'):
        logger.log(trt.ILogger.Severity.WARNING, 'INT64 weights cast down')
        logger.log(trt.ILogger.Severity.ERROR, 'out of memory')
    assert 'INT64 weights' in caplog.text and 'out of memory' not in caplog.text
    assert logger.take_errors() == 'out of memory' and logger.errors == []
