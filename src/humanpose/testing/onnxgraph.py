"""A tiny helper to write ONNX graphs by hand with the ``onnx`` package."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from numpy.typing import NDArray
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17


class GraphBuilder:
    """Accumulates nodes and constants; ``op`` returns the output name of the new node."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._count = 0

    def _fresh(self, hint: str) -> str:
        self._count += 1
        return f'{hint}_{self._count}'

    def const(self, value: NDArray[Any] | float | int | Sequence[Any], hint: str = 'c',
              dtype: Any = np.float32) -> str:
        """Add a constant tensor and return its name."""
        name = self._fresh(hint)
        self.initializers.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def op(self, op_type: str, *inputs: str, name: str | None = None, **attrs: Any) -> str:
        """Add one single-output node; return its output name (``name`` if given)."""
        out = name if name is not None else self._fresh(op_type.lower())
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], **attrs))
        return out

    def op_multi(self, op_type: str, *inputs: str, outputs: int, **attrs: Any) -> list[str]:
        """Add one node with ``outputs`` outputs; return their names."""
        out = [self._fresh(op_type.lower()) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op_type, list(inputs), out, **attrs))
        return out

    def model(self, inputs: list[onnx.ValueInfoProto], outputs: list[onnx.ValueInfoProto],
              metadata: dict[str, str] | None = None) -> onnx.ModelProto:
        """Return the checked model."""
        graph = helper.make_graph(self.nodes, self.name, inputs, outputs, self.initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', OPSET)],
                                  producer_name='humanpose.testing')
        model.ir_version = 8  # readable by onnxruntime >= 1.14 and TensorRT 8.6
        for key, value in (metadata or {}).items():
            entry = model.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.checker.check_model(model)
        return model


def tensor(name: str, shape: Sequence[int | str], elem: int = TensorProto.FLOAT
           ) -> onnx.ValueInfoProto:
    """Return a graph input/output description; strings in ``shape`` are dynamic axes."""
    return helper.make_tensor_value_info(name, elem, list(shape))
