"""Fixtures of the backend tests."""

import pytest


@pytest.fixture
def fp16_converter():
    """Skip, saying why, where onnxconverter-common (FP16 ONNX for strongly typed builds) is
    missing: `make test` installs it with the test extras; a ROS underlay may not have it."""
    return pytest.importorskip(
        'onnxconverter_common', reason='onnxconverter-common is not installed (pip install '
        'onnxconverter-common; `make test` installs it): FP16 ONNX models cannot be made here')
