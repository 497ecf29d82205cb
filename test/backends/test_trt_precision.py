"""FP32 layers of FP16 engines: the selection rules, per-layer pins, and the FP16 ONNX."""

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
import onnxruntime as ort
import pytest

from humanpose.backends.trt_guard import compare_pose_outputs, guard_sample_batch
from humanpose.backends.trt_precision import fp16_onnx_model, onnx_layer_infos, select_fp32_layers
from humanpose.errors import BackendUnavailableError
from humanpose.testing.models import compute_pose_model

MEAN, STD = (123.675, 116.28, 103.53), (58.395, 57.12, 57.375)
FLOAT, FLOAT16 = TensorProto.FLOAT, TensorProto.FLOAT16


def _rtmcc_like_head():
    """Conv feature -> LayerNorm written out (ReduceMean/Pow/Sqrt/Div) -> MatMul heads."""
    rng = np.random.default_rng(0)

    def init(name, shape):
        return numpy_helper.from_array(rng.normal(size=shape).astype(np.float32), name)

    nodes = [
        helper.make_node('Conv', ['input', 'w_conv'], ['feat'], name='backbone_conv',
                         kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node('Relu', ['feat'], ['feat_relu'], name='backbone_relu'),
        helper.make_node('Reshape', ['feat_relu', 'flat_shape'], ['tokens'], name='flatten'),
        helper.make_node('ReduceMean', ['tokens'], ['mean'], name='ln_mean', axes=[-1]),
        helper.make_node('Sub', ['tokens', 'mean'], ['centred'], name='ln_sub'),
        helper.make_node('Pow', ['centred', 'two'], ['sq'], name='ln_pow'),
        helper.make_node('ReduceMean', ['sq'], ['var'], name='ln_var', axes=[-1]),
        helper.make_node('Add', ['var', 'eps'], ['var_eps'], name='ln_add_eps'),
        helper.make_node('Sqrt', ['var_eps'], ['std'], name='ln_sqrt'),
        helper.make_node('Div', ['centred', 'std'], ['normed'], name='ln_div'),
        helper.make_node('Mul', ['normed', 'gamma'], ['scaled'], name='ln_gamma'),
        helper.make_node('MatMul', ['scaled', 'w_hidden'], ['hidden'], name='gau_linear'),
        helper.make_node('Relu', ['hidden'], ['hidden_relu'], name='gau_act'),
        helper.make_node('MatMul', ['hidden_relu', 'w_x'], ['x_raw'], name='cls_x'),
        helper.make_node('Add', ['x_raw', 'b_x'], ['simcc_x'], name='cls_x_bias'),
        helper.make_node('MatMul', ['hidden_relu', 'w_y'], ['simcc_y'], name='cls_y'),
    ]
    inits = [init('w_conv', (4, 3, 3, 3)), init('w_hidden', (64, 32)), init('w_x', (32, 16)),
             init('b_x', (16,)), init('w_y', (32, 16)), init('gamma', (64,)),
             numpy_helper.from_array(np.array([0, 4, 64], np.int64), 'flat_shape'),
             numpy_helper.from_array(np.array(2.0, np.float32), 'two'),
             numpy_helper.from_array(np.array(1e-5, np.float32), 'eps')]
    graph = helper.make_graph(
        nodes, 'rtmcc_like', [helper.make_tensor_value_info('input', TensorProto.FLOAT,
                                                            ['batch', 3, 8, 8])],
        [helper.make_tensor_value_info('simcc_x', TensorProto.FLOAT, ['batch', 4, 16]),
         helper.make_tensor_value_info('simcc_y', TensorProto.FLOAT, ['batch', 4, 16])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13)])


def test_normalisation_and_simcc_head_are_kept_in_fp32_backbone_is_not():
    layers = onnx_layer_infos(_rtmcc_like_head())
    picked = {layers[i].name for i in select_fp32_layers(layers, ['simcc_x', 'simcc_y'])}
    assert {'ln_mean', 'ln_pow', 'ln_var', 'ln_sqrt', 'ln_div', 'ln_sub',
            'ln_add_eps'} <= picked
    assert {'cls_x', 'cls_x_bias', 'cls_y'} <= picked
    assert not picked & {'backbone_conv', 'backbone_relu', 'gau_linear', 'gau_act', 'flatten'}
    assert 'ln_gamma' not in picked  # after the division: normal arithmetic again


def test_compute_model_pins_its_two_output_heads_and_nothing_before(humanpose_home):
    model = onnx.load(str(compute_pose_model(stage_blocks=(1, 1, 1, 1))))
    layers = onnx_layer_infos(model)
    picked = select_fp32_layers(layers, ['simcc_x', 'simcc_y'])
    matmuls = [layer for layer in layers if layer.kind == 'matmul']
    # The two output projections are pinned; the shared hidden layer stays FP16.
    assert [m.index in picked for m in matmuls] == [False, True, True]
    # Everything from each projection to its output (softmax, reductions, the SimCC
    # shaping) is pinned; no convolution of the backbone is.
    first_head = matmuls[1].index
    assert all(layer.index in picked for layer in layers if layer.index >= first_head)
    assert not any(layer.index in picked for layer in layers if layer.index < first_head)


def test_non_float_layers_are_never_pinned(pose_model):
    layers = onnx_layer_infos(onnx.load(str(pose_model)))
    picked = select_fp32_layers(layers, ['simcc_x', 'simcc_y'])
    assert picked and all(layers[i].float_outputs for i in picked)
    assert any(not layer.float_outputs for layer in layers)  # ArgMax, Less, And ...


# --------------------------------------------------------------------------- FP16 ONNX

def _run(model, sample):
    session = ort.InferenceSession(model.SerializeToString() if hasattr(model, 'SerializeToString')
                                   else str(model), providers=['CPUExecutionProvider'])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, {'input': sample})))


def _output_types(model):
    return {o.name: o.type.tensor_type.elem_type for o in model.graph.output}


@pytest.mark.parametrize('kind', ['analytic', 'compute'])
def test_fp16_onnx_runs_and_keeps_keypoints_within_the_guard(kind, pose_model, humanpose_home,
                                                             fp16_converter):
    path = pose_model if kind == 'analytic' else compute_pose_model(stage_blocks=(1, 1, 1, 1))
    original = onnx.load(str(path))
    before = original.SerializeToString()
    converted, kept = fp16_onnx_model(original, True, ['simcc_x', 'simcc_y'])
    assert original.SerializeToString() == before  # the input model is not touched
    assert _output_types(converted) == {'simcc_x': FLOAT, 'simcc_y': FLOAT}
    assert converted.graph.input[0].type.tensor_type.elem_type == FLOAT
    weights = [t for t in converted.graph.initializer if t.data_type in (FLOAT, FLOAT16)]
    assert sum(t.data_type == FLOAT16 for t in weights) > len(weights) // 2  # mostly FP16
    assert kept and set(kept) <= {node.name for node in converted.graph.node}
    sample = guard_sample_batch((3, 256, 192), 4, MEAN, STD)
    reference, candidate = _run(path, sample), _run(converted, sample)
    report = compare_pose_outputs(reference, candidate, (192, 256))
    if kind == 'analytic':  # drawn keypoints, sharp SimCC peaks: the guard itself passes
        assert report.passed, report.summary()
    else:  # random weights, flat SimCC vectors: argmax ties move, the values do not
        for name, want in reference.items():
            scale = float(np.abs(want).max())
            np.testing.assert_allclose(candidate[name], want, atol=5e-2 * scale)
        assert report.mean_px < 0.1, report.summary()


def test_fp16_onnx_keeps_the_simcc_head_in_fp32(humanpose_home, fp16_converter):
    model = onnx.load(str(compute_pose_model(stage_blocks=(1, 1, 1, 1))))
    converted, kept = fp16_onnx_model(model, True, ['simcc_x', 'simcc_y'])
    infos = onnx_layer_infos(model)
    head = {infos[i].name for i in select_fp32_layers(infos, ['simcc_x', 'simcc_y'])}
    assert set(kept) == head
    by_name = {node.name: node for node in converted.graph.node}
    weights = {t.name: t.data_type for t in converted.graph.initializer}
    matmuls = [info.name for info in infos if info.kind == 'matmul']
    head_weights = [by_name[name].input[1] for name in matmuls if name in head]
    body_weights = [by_name[name].input[1] for name in matmuls if name not in head]
    assert head_weights and all(weights.get(w, FLOAT) == FLOAT for w in head_weights)
    assert all(weights.get(w) == FLOAT16 for w in body_weights if w in weights)


def test_fp16_everywhere_onnx_still_has_fp32_io(humanpose_home, fp16_converter):
    model = onnx.load(str(compute_pose_model(stage_blocks=(1, 1, 1, 1))))
    converted, kept = fp16_onnx_model(model, False, ['simcc_x', 'simcc_y'])
    assert kept == {} and _output_types(converted) == {'simcc_x': FLOAT, 'simcc_y': FLOAT}
    sample = guard_sample_batch((3, 256, 192), 2, MEAN, STD)
    assert _run(converted, sample)['simcc_x'].dtype == np.float32


def test_missing_converter_is_named_with_the_install_line(monkeypatch, pose_model):
    monkeypatch.setitem(__import__('sys').modules, 'onnxconverter_common', None)
    with pytest.raises(BackendUnavailableError, match='pip install onnxconverter-common'):
        fp16_onnx_model(onnx.load(str(pose_model)), True, ['simcc_x'])
