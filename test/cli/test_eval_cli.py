import json

import numpy as np
import pytest

from humanpose.cli import main
from humanpose.evaluation import METRIC_NAMES, PART_FIELDS
from humanpose.skeletons import get_skeleton
from humanpose.testing.scene import random_people

WB = get_skeleton('coco_wholebody')


@pytest.fixture
def files(tmp_path):
    """A COCO-WholeBody annotation file and predictions: perfect on image 1, noisy on 2."""
    people = random_people(4, 1280, 720, seed=2)
    rng = np.random.default_rng(2)
    anns, preds = [], []
    for i, spec in enumerate(people):
        image_id = 1 + i % 2
        xy = spec.keypoints()
        lo, hi = xy.min(axis=0), xy.max(axis=0)
        kp = np.concatenate([xy, np.full((133, 1), 2.0)], axis=1)
        ann = {'id': i + 1, 'image_id': image_id, 'category_id': 1, 'iscrowd': 0,
               'area': float(np.prod(hi - lo) * 0.6), 'bbox': [*lo, *(hi - lo)],
               'num_keypoints': 17}
        for part, field in PART_FIELDS.items():
            ann[field] = kp[WB.part_slice(part)].ravel().tolist()
        anns.append(ann)
        guess = xy + (rng.normal(0, 4, xy.shape) if image_id == 2 else 0)
        preds.append({'image_id': image_id, 'category_id': 1, 'score': 0.9 - 0.1 * i,
                      'keypoints': np.concatenate([guess, np.ones((133, 1))], 1).ravel().tolist()})
    gt = {'images': [{'id': 1}, {'id': 2}], 'annotations': anns,
          'categories': [{'id': 1, 'name': 'person'}]}
    gt_path, res_path = tmp_path / 'gt.json', tmp_path / 'poses.json'
    gt_path.write_text(json.dumps(gt))
    res_path.write_text(json.dumps(preds))
    return gt_path, res_path, preds


def test_eval_prints_a_table_of_parts_and_metrics(files, capsys):
    gt, results, _ = files
    assert main(['eval', '--gt', str(gt), '--results', str(results)]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith('part'))
    assert lines[header].split() == ['part', *METRIC_NAMES]
    rows = {line.split()[0]: line.split()[1:] for line in lines[header + 1:]}
    assert list(rows) == ['body', 'foot', 'face', 'left_hand', 'right_hand', 'wholebody']
    assert all(0.0 < float(v) <= 1.0 for v in rows['body'][:3])


def test_eval_json_output_parses(files, tmp_path, capsys):
    gt, results, _ = files
    out = tmp_path / 'metrics.json'
    assert main(['eval', '--gt', str(gt), '--results', str(results), '--json', str(out)]) == 0
    report = json.loads(out.read_text())
    assert report['skeleton'] == 'coco_wholebody'
    assert set(report['metrics']) == {'body', 'foot', 'face', 'left_hand', 'right_hand',
                                      'wholebody'}
    assert 'AP50' in capsys.readouterr().out                 # the table is printed as well
    assert main(['eval', '--gt', str(gt), '--results', str(results), '--json', '-']) == 0
    stdout = json.loads(capsys.readouterr().out)             # only JSON on stdout
    assert stdout['metrics'] == report['metrics']
    assert set(stdout['metrics']['body']) == set(METRIC_NAMES)


def test_eval_as_coco_keeps_only_the_body(files, capsys):
    gt, results, _ = files
    assert main(['eval', '--gt', str(gt), '--results', str(results), '--skeleton', 'coco',
                 '--json', '-']) == 0
    assert list(json.loads(capsys.readouterr().out)['metrics']) == ['body']


def test_corrupt_json_is_one_line_exit_2(files, capsys):
    gt, results, _ = files
    results.write_text(results.read_text()[:-100])
    assert main(['eval', '--gt', str(gt), '--results', str(results)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith('humanpose eval: error: ') and 'not valid JSON' in err
    assert str(results) in err


def test_unknown_image_ids_are_one_line_exit_2(files, capsys):
    gt, results, preds = files
    preds[0]['image_id'] = 99
    results.write_text(json.dumps(preds))
    assert main(['eval', '--gt', str(gt), '--results', str(results)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and 'image_id 99' in err
