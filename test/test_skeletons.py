import json
from pathlib import Path

import numpy as np
import pytest

from humanpose.errors import HumanPoseError
from humanpose.skeletons import get_skeleton, skeleton_for_num_keypoints, skeleton_names

REFERENCE = Path(__file__).resolve().parents[2] / 'shared' / 'reference' / 'skeletons.json'


def test_known_layouts():
    assert set(skeleton_names()) == {'coco_wholebody', 'coco'}
    wb = get_skeleton('coco_wholebody')
    assert wb.num_keypoints == 133
    assert wb.parts == {'body': (0, 17), 'foot': (17, 23), 'face': (23, 91),
                        'left_hand': (91, 112), 'right_hand': (112, 133)}
    assert wb.part_slice('left_hand') == slice(91, 112)
    assert wb.keypoint_names[wb.index('right_wrist')] == 'right_wrist'
    coco = get_skeleton('coco')
    assert coco.num_keypoints == 17 and coco.parts == {'body': (0, 17)}
    # The body of the wholebody layout is COCO.
    assert wb.keypoint_names[:17] == coco.keypoint_names
    np.testing.assert_allclose(wb.oks_sigmas[:17], coco.oks_sigmas)


@pytest.mark.parametrize('name', ['coco_wholebody', 'coco'])
def test_tables_are_consistent(name):
    sk = get_skeleton(name)
    k = sk.num_keypoints
    assert sk.links.min() >= 0 and sk.links.max() < k
    assert len(sk.link_colors) == len(sk.links)
    assert sk.keypoint_colors.shape == (k, 3)
    # Flipping twice is the identity, and left/right names swap.
    np.testing.assert_array_equal(sk.flip_index[sk.flip_index], np.arange(k))
    for i, j in enumerate(sk.flip_index):
        a, b = sk.keypoint_names[i], sk.keypoint_names[j]
        assert a.replace('left', 'X').replace('right', 'left').replace('X', 'right') == b or \
            a.startswith('face') or a == b
    assert (sk.oks_sigmas > 0).all()
    parts = sorted(sk.parts.values())
    assert parts[0][0] == 0 and parts[-1][1] == k
    assert all(a[1] == b[0] for a, b in zip(parts, parts[1:]))
    assert not sk.links.flags.writeable


@pytest.mark.skipif(not REFERENCE.is_file(), reason='shared/reference not beside the checkout')
def test_packaged_facts_equal_the_reference():
    packaged = Path(__file__).resolve().parents[1] / 'src/humanpose/data/skeletons.json'
    assert json.loads(packaged.read_text()) == json.loads(REFERENCE.read_text())


def test_lookup_errors_name_the_choices():
    with pytest.raises(HumanPoseError, match='coco_wholebody'):
        get_skeleton('openpose')
    assert skeleton_for_num_keypoints(133).name == 'coco_wholebody'
    assert skeleton_for_num_keypoints(17).name == 'coco'
    with pytest.raises(HumanPoseError, match='card'):
        skeleton_for_num_keypoints(25)
