"""ONNX files that have a network's input/output contract and nothing else.

They load in ONNX Runtime and answer zeros of the right shapes: what download checks,
card-against-model checks and bad-input tests need, in a few hundred bytes.
"""

from __future__ import annotations


def simcc_contract_onnx(width: int = 192, height: int = 256, keypoints: int = 133,
                        split_ratio: float = 2.0) -> bytes:
    """Return an ONNX model with RTMW's I/O contract and zeros for outputs.

    ``input`` N x 3 x H x W -> ``simcc_x`` N x K x int(W * split_ratio), ``simcc_y``
    N x K x int(H * split_ratio).

    :param width: input width in pixels.
    :param height: input height in pixels.
    :param keypoints: K.
    :param split_ratio: SimCC bins per input pixel.
    :return: the serialised model.
    """
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    bins = {'simcc_x': int(width * split_ratio), 'simcc_y': int(height * split_ratio)}
    nodes = [helper.make_node('Shape', ['input'], ['full']),
             helper.make_node('Slice', ['full', 'zero', 'one'], ['batch'])]
    consts = [numpy_helper.from_array(np.array([0], np.int64), 'zero'),
              numpy_helper.from_array(np.array([1], np.int64), 'one')]
    outputs = []
    for name, count in bins.items():
        nodes += [helper.make_node('Concat', ['batch', f'{name}_tail'], [f'{name}_shape'],
                                   axis=0),
                  helper.make_node('ConstantOfShape', [f'{name}_shape'], [name])]
        consts.append(numpy_helper.from_array(np.array([keypoints, count], np.int64),
                                              f'{name}_tail'))
        outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT,
                                                     ['batch', keypoints, count]))
    graph = helper.make_graph(
        nodes, 'simcc_contract',
        [helper.make_tensor_value_info('input', TensorProto.FLOAT, ['batch', 3, height, width])],
        outputs, consts)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())
