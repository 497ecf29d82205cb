import json
import sys

import pytest

from humanpose.errors import ModelCardError, ModelLoadError
from humanpose.models.card import (builtin_cards, card_from_dict, get_card, infer_card,
                                   load_card, resolve_card)

EXPECTED = {'rtmw-m-256x192', 'rtmw-l-256x192', 'rtmw-l-384x288', 'rtmw-x-256x192',
            'rtmw-x-384x288', 'rtmpose-m-wholebody-256x192', 'rtmpose-l-wholebody-256x192',
            'dwpose-m-256x192', 'dwpose-l-384x288', 'rtmdet-nano-person', 'rtmdet-m-person',
            'yolox-tiny-humanart', 'yolox-m-humanart'}


def test_builtin_cards():
    cards = builtin_cards()
    assert EXPECTED <= set(cards)
    for card in cards.values():
        assert card.url is None or card.url.startswith('https://download.openmmlab.com/')
        if card.head_type == 'simcc3d':  # RTMW3D: MMPose's SimCC3DLabel codec
            assert card.input_size == (288, 384) and card.url is None
            assert card.head['sigma'] == (6.0, 6.93, 6.0) and card.head['depth_size'] == 288
            assert card.head['z_range_m'] == 2.1744869 and card.head['root'] == (11, 12)
        elif card.task == 'pose':
            assert card.skeleton == 'coco_wholebody' and card.head_type == 'simcc'
            assert card.head['split_ratio'] == 2.0 and card.color == 'rgb'
            assert card.head['sigma'] == ((4.9, 5.66) if card.input_size == (192, 256)
                                          else (6.93, 7.99))
        else:
            assert card.color == 'bgr' and card.head['pad_value'] == 114
    assert get_card('rtmw-x-384x288').input_size == (288, 384)
    assert get_card('rtmw-x-256x192').url is None  # no ONNX published
    with pytest.raises(ModelCardError, match='rtmw-m-256x192'):
        get_card('nope')


def test_infer_from_shapes():
    card = infer_card('m.onnx', ['n', 3, 256, 192],
                      {'simcc_x': ['n', 133, 384], 'simcc_y': ['n', 133, 512]})
    assert card.head['split_ratio'] == 2.0 and card.skeleton == 'coco_wholebody'
    assert card.mean == (123.675, 116.28, 103.53) and card.color == 'rgb'
    coco = infer_card('m.onnx', [1, 3, 384, 288],
                      {'a': [1, 17, 576], 'b': [1, 17, 768]})
    assert coco.skeleton == 'coco' and coco.head['sigma'] == (6.93, 7.99)
    heat = infer_card('h.onnx', [1, 3, 256, 192], {'heatmaps': [1, 133, 64, 48]})
    assert heat.head == {'type': 'heatmap', 'heatmap_size': (48, 64), 'blur_kernel': 11}
    det = infer_card('d.onnx', [1, 3, 640, 640], {'dets': [1, 100, 5], 'labels': [1, 100]})
    assert det.task == 'detection' and det.head_type == 'dets'
    yolox = infer_card('y.onnx', [1, 3, 416, 416], {'output': [1, 3549, 85]})
    assert yolox.head_type == 'yolox'
    with pytest.raises(ModelLoadError, match='match no known decoder'):
        infer_card('x.onnx', [1, 3, 256, 192], {'a': [1, 10]})
    with pytest.raises(ModelLoadError, match='fixed H and W'):
        infer_card('x.onnx', [1, 3, 'h', 'w'], {'a': [1, 10]})


def test_yaml_cards_and_validation(tmp_path):
    path = tmp_path / 'card.yaml'
    path.write_text('name: mine\ntask: pose\ninput_size: [192, 256]\ncolor: BGR\n'
                    'skeleton: coco\nhead: {type: simcc, split_ratio: 2.0}\n')
    card = load_card(path)
    assert card.color == 'bgr' and card.head['beta'] == 150.0
    with pytest.raises(ModelCardError, match='missing field'):
        card_from_dict({'name': 'x'})
    with pytest.raises(ModelCardError, match='head.type'):
        card_from_dict({'name': 'x', 'task': 'pose', 'input_size': [1, 2], 'head': 'magic'})
    with pytest.raises(ModelCardError, match='cannot read'):
        load_card(tmp_path / 'nope.yaml')


def test_resolution_order(pose_model, tmp_path):
    # Embedded metadata wins over inference.
    card = resolve_card(pose_model, None, ['batch', 3, 256, 192],
                        {'simcc_x': ['batch', 133, 384], 'simcc_y': ['batch', 133, 512]}, 'pose')
    assert card.name == 'analytic-pose-simcc-192x256'
    with pytest.raises(ModelCardError, match='detection model'):
        resolve_card(pose_model, 'rtmdet-m-person', [], {}, 'pose')


def test_three_simcc_outputs_infer_an_rtmw3d_card():
    card = infer_card('rtmw3d.onnx', [1, 3, 384, 288],
                      {'output': [1, 133, 576], '1554': [1, 133, 768], '1556': [1, 133, 576]})
    assert card.head_type == 'simcc3d' and card.head['depth_size'] == 288
    assert card.head['split_ratio'] == 2.0 and card.skeleton == 'coco_wholebody'
    assert card.head['sigma'] == (6.0, 6.93, 6.0) and card.head['z_range_m'] == 2.1744869


def test_simcc3d_card_needs_three_sigmas():
    with pytest.raises(ModelCardError, match='sigma'):
        card_from_dict({'name': 'x', 'task': 'pose', 'input_size': [288, 384],
                        'head': {'type': 'simcc3d', 'split_ratio': 2.0, 'sigma': [6, 6]}})


def test_sigma_may_be_one_number_for_both_axes_as_in_mmpose():
    card = card_from_dict({'name': 'x', 'task': 'pose', 'input_size': [192, 256],
                           'head': {'type': 'simcc', 'split_ratio': 2.0, 'sigma': 5}})
    assert card.head['sigma'] == (5.0, 5.0)


@pytest.mark.parametrize(('shapes', 'message'), [
    ((['n', 3, 256, 192], {'simcc_x': ['n', 133, 384], 'simcc_y': ['n', 133, 512]}), ''),
    ((['n', 3, 'h', 'w'], {'simcc_x': ['n', 133, 'x'], 'simcc_y': ['n', 133, 'y']}), ''),
    ((['n', 1, 256, 192], {'simcc_x': ['n', 133, 384], 'simcc_y': ['n', 133, 512]}),
     'the input has 1 channels'),
    ((['n', 3, 256, 192], {'simcc_x': ['n', 133, 384], 'simcc_y': ['n', 133, 256]}),
     'simcc_y has 256 bins, but input height 256 x split_ratio 2 needs 512'),
    ((['n', 3, 256, 192], {'heatmaps': ['n', 133, 64, 48]}), 'a simcc head needs 2 outputs'),
    ((['n', 3, 256, 192], {'a': ['n', 133, 384], 'b': ['n', 133, 512], 'c': ['n', 133, 576]}),
     'three SimCC outputs are a 3D (RTMW3D) model: give it a simcc3d card'),
])
def test_cards_are_checked_against_the_model_shapes(shapes, message):
    from humanpose.models.card import check_card_against_model
    card = get_card('rtmw-m-256x192')
    if not message:
        check_card_against_model(card, *shapes, 'm.onnx')
        return
    with pytest.raises(ModelCardError, match='m.onnx: model card .rtmw-m-256x192. does not fit'
                       ) as info:
        check_card_against_model(card, *shapes, 'm.onnx')
    assert message in str(info.value)


def test_detector_cards_are_checked_against_the_model_shapes():
    from humanpose.models.card import check_card_against_model
    yolox = card_from_dict({'name': 'y', 'task': 'detection', 'input_size': [416, 416],
                            'head': {'type': 'yolox'}})
    check_card_against_model(yolox, [1, 3, 416, 416], {'output': [1, 3549, 6]}, 'y.onnx')
    with pytest.raises(ModelCardError, match='3000 anchor points'):
        check_card_against_model(yolox, [1, 3, 416, 416], {'output': [1, 3000, 6]}, 'y.onnx')
    with pytest.raises(ModelCardError, match='needs outputs dets'):
        check_card_against_model(get_card('rtmdet-m-person'), [1, 3, 640, 640],
                                 {'output': [1, 100, 5]}, 'd.onnx')


def test_simcc3d_cards_are_checked_against_the_model_shapes():
    from humanpose.models.card import check_card_against_model
    card = get_card('rtmw3d-x-384x288')
    outputs = {'output': [1, 133, 576], '1554': [1, 133, 768], '1556': [1, 133, 576]}
    check_card_against_model(card, [1, 3, 384, 288], outputs, 'm.onnx')
    with pytest.raises(ModelCardError, match='1556 has 576 bins, but depth_size 384 x '
                                             'split_ratio 2 needs 768; fix `head.depth_size`'):
        check_card_against_model(card_from_dict({
            'name': 'c', 'task': 'pose', 'input_size': [288, 384], 'skeleton': 'coco_wholebody',
            'head': {'type': 'simcc3d', 'split_ratio': 2.0, 'depth_size': 384}}),
            [1, 3, 384, 288], outputs, 'm.onnx')


@pytest.mark.parametrize('with_onnx', [True, False], ids=['onnx', 'onnxruntime-only'])
def test_embedded_card_with_and_without_onnx(pose_model, tmp_path, monkeypatch, with_onnx):
    # The ROS install has ONNX Runtime but not the onnx package: the card must still be read.
    from humanpose.models.card import onnx_metadata, onnx_metadata_card
    if not with_onnx:
        monkeypatch.setitem(sys.modules, 'onnx', None)  # import onnx -> ImportError
    assert json.loads(onnx_metadata(pose_model)['humanpose_card'])['name'] == (
        'analytic-pose-simcc-192x256')
    assert onnx_metadata_card(pose_model).name == 'analytic-pose-simcc-192x256'
    broken = tmp_path / 'broken.onnx'
    broken.write_bytes(b'\x08\x07not a model')
    with pytest.raises(ModelLoadError, match='broken.onnx is not a readable ONNX file'):
        onnx_metadata_card(broken)
