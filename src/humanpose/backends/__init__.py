"""Inference backends by name: onnxruntime-cpu, onnxruntime-cuda, tensorrt, and auto."""

from humanpose.backends.base import (AUTO_ORDER, BackendOptions, InferenceBackend, TensorSpec,
                                     backend_names, create_backend, register_backend,
                                     resolve_backend, run_batched)

__all__ = ['AUTO_ORDER', 'BackendOptions', 'InferenceBackend', 'TensorSpec', 'backend_names',
           'create_backend', 'register_backend', 'resolve_backend', 'run_batched']
