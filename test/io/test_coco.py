"""COCO results (poses.json) and the --boxes file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from humanpose.errors import EvaluationError, InvalidInputError
from humanpose.io.coco import (CocoResultsWriter, image_id_for, load_boxes, person_scores,
                               poses_to_coco, read_results)
from humanpose.types import Poses


def _poses() -> Poses:
    k = 17
    keypoints = np.stack([np.stack([np.arange(k) + 10.0, np.arange(k) + 20.0], 1),
                          np.stack([np.arange(k) + 100.0, np.arange(k) + 200.0], 1)])
    confidence = np.full((2, k), 0.1, np.float32)
    confidence[0, :10] = 0.9
    confidence[0, 10:12] = 0.3
    return Poses(keypoints=keypoints.astype(np.float32), confidence=confidence,
                 scores=confidence * 3, boxes=np.array([[5, 6, 55, 86], [90, 190, 140, 260]],
                                                       np.float32),
                 box_scores=np.array([0.8, 0.6], np.float32), skeleton='coco')


def test_one_entry_per_person_in_coco_results_layout() -> None:
    entries = poses_to_coco(_poses(), image_id=7)
    assert len(entries) == 2
    first = entries[0]
    assert set(first) == {'image_id', 'category_id', 'keypoints', 'score', 'bbox'}
    assert first['image_id'] == 7 and first['category_id'] == 1
    assert len(first['keypoints']) == 17 * 3
    assert first['keypoints'][:6] == [10.0, 20.0, 0.9, 11.0, 21.0, 0.9]
    assert first['bbox'] == [5.0, 6.0, 50.0, 80.0]  # x, y, w, h
    # bbox_keypoint rescoring: box score x mean of the keypoints above 0.2.
    assert first['score'] == pytest.approx(0.8 * (10 * 0.9 + 2 * 0.3) / 12, abs=1e-4)
    # Nobody above 0.2: score 0 (ranked last by COCOeval).
    assert entries[1]['score'] == 0.0
    json.dumps(entries)  # plain Python types only


def test_person_scores_are_vectorised_over_people() -> None:
    np.testing.assert_allclose(person_scores(_poses()), [0.8 * 0.8, 0.0], atol=1e-6)


def test_no_people_give_no_entries() -> None:
    assert poses_to_coco(Poses.empty('coco', 17), image_id=0) == []


@pytest.mark.parametrize(('kind', 'index', 'name', 'expected'), [
    ('video', 4, '4', 4), ('bag', 2, '2', 2), ('webcam', 9, '9', 9),
    ('folder', 0, '000000397133', 397133), ('folder', 1, 'street_01', 'street_01'),
    ('image', 0, 'people', 'people'),
])
def test_image_ids_are_indices_or_file_stems(kind: str, index: int, name: str,
                                             expected: object) -> None:
    assert image_id_for(kind, index, name) == expected


def test_streamed_results_are_valid_json_after_close(tmp_path: Path) -> None:
    path = tmp_path / 'poses.json'
    with CocoResultsWriter(path) as writer:
        writer.write(poses_to_coco(_poses(), 0))
        writer.write([])
        writer.write(poses_to_coco(_poses(), 1))
    data = read_results(path)
    assert [e['image_id'] for e in data] == [0, 0, 1, 1]


def test_an_interrupted_writer_closed_in_finally_keeps_a_valid_file(tmp_path: Path) -> None:
    path = tmp_path / 'poses.json'
    writer = CocoResultsWriter(path)
    with pytest.raises(KeyboardInterrupt):
        try:
            writer.write(poses_to_coco(_poses(), 0))
            raise KeyboardInterrupt
        finally:
            writer.close()
    writer.close()  # twice is fine
    assert len(json.loads(path.read_text())) == 2


def test_empty_results_file_is_an_empty_list(tmp_path: Path) -> None:
    path = tmp_path / 'poses.json'
    CocoResultsWriter(path).close()
    assert json.loads(path.read_text()) == []


def test_corrupt_results_are_named_with_the_place(tmp_path: Path) -> None:
    path = tmp_path / 'r.json'
    path.write_text('[{"image_id": 1,')
    with pytest.raises(EvaluationError, match='not valid JSON .line 1'):
        read_results(path)
    path.write_text('[{"image_id": 1, "category_id": 1, "keypoints": [1, 2], "score": 1, '
                    '"bbox": [0, 0, 1, 1]}]')
    with pytest.raises(EvaluationError, match='entry 0: keypoints'):
        read_results(path)


def test_boxes_mapping_with_and_without_scores(tmp_path: Path) -> None:
    path = tmp_path / 'boxes.json'
    path.write_text(json.dumps({'0': [[10, 20, 110, 220], [5, 5, 50, 60, 0.4]], 'img_b': []}))
    table = load_boxes(path)
    boxes, scores = table.lookup(0, '0')
    np.testing.assert_array_equal(boxes, [[10, 20, 110, 220], [5, 5, 50, 60]])
    np.testing.assert_allclose(scores, [1.0, 0.4])
    boxes, scores = table.lookup('img_b', 'img_b')
    assert boxes.shape == (0, 4) and scores.shape == (0,)
    assert table.lookup(1, '1') is None


def test_boxes_as_coco_detections_are_converted_from_xywh(tmp_path: Path) -> None:
    path = tmp_path / 'dets.json'
    path.write_text(json.dumps([
        {'image_id': 397133, 'bbox': [10, 20, 100, 200], 'score': 0.9, 'category_id': 1},
        {'image_id': 397133, 'bbox': [0, 0, 5, 5], 'score': 0.9, 'category_id': 3},
        {'image_id': 397133, 'bbox': [1, 2, 3, 4]},
    ]))
    table = load_boxes(path)
    # Found by the image id of 000000397133.jpg.
    boxes, scores = table.lookup(397133, '000000397133')
    np.testing.assert_array_equal(boxes, [[10, 20, 110, 220], [1, 2, 4, 6]])
    np.testing.assert_allclose(scores, [0.9, 1.0])


def test_boxes_from_a_coco_annotation_file(tmp_path: Path) -> None:
    path = tmp_path / 'person_keypoints_val.json'
    path.write_text(json.dumps({'images': [], 'annotations': [
        {'image_id': 5, 'bbox': [1, 1, 10, 10], 'category_id': 1}]}))
    boxes, _ = load_boxes(path).lookup(5, '000005')
    np.testing.assert_array_equal(boxes, [[1, 1, 11, 11]])


def test_frames_are_found_by_name_when_keys_are_stems(tmp_path: Path) -> None:
    path = tmp_path / 'boxes.json'
    path.write_text(json.dumps({'000123': [[0, 0, 9, 9]]}))
    assert load_boxes(path).lookup(123, '000123') is not None


@pytest.mark.parametrize(('content', 'message'), [
    ('{"0": [[0, 0, 10', 'not valid JSON'),
    ('{"0": [[10, 0, 5, 5]]}', 'image 0, box 0: box .* has no area'),
    ('{"0": [[0, 0, 5]]}', r'expected \[x_min, y_min, x_max, y_max\(, score\)\]'),
    ('{"0": {"x": 1}}', 'expected a list of boxes'),
    ('[{"bbox": [0, 0, 1, 1]}]', 'entry 0: expected'),
    ('[{"image_id": 1, "bbox": [0, 0, "a", 1]}]', 'must be numbers'),
    ('3', 'must hold a mapping'),
])
def test_bad_boxes_files_raise_one_clear_error(tmp_path: Path, content: str,
                                               message: str) -> None:
    path = tmp_path / 'boxes.json'
    path.write_text(content)
    with pytest.raises(InvalidInputError, match=message):
        load_boxes(path)


def test_missing_boxes_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match='cannot read boxes file'):
        load_boxes(tmp_path / 'none.json')
