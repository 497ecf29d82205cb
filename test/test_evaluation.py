import contextlib
import copy
import io
import json
import math

import numpy as np
import pytest

from humanpose.errors import EvaluationError, HumanPoseError
from humanpose.evaluation import (evaluate, format_table, load_ground_truth, load_results,
                                  METRIC_NAMES, object_keypoint_similarity, PART_FIELDS)
from humanpose.skeletons import get_skeleton
from humanpose.testing.scene import PersonSpec, random_people

WB = get_skeleton('coco_wholebody')
COCO = get_skeleton('coco')
NOSE_SIGMA = COCO.oks_sigmas[0]


# ----------------------------------------------------------------------------- builders


def annotation(image_id, keypoints, area, bbox, iscrowd=0, ann_id=None, split=True):
    """A COCO(-WholeBody) annotation from (K, 3) keypoints (x, y, v)."""
    kp = np.asarray(keypoints, dtype=float)
    ann = {'id': ann_id, 'image_id': image_id, 'category_id': 1, 'area': float(area),
           'bbox': [float(v) for v in bbox], 'iscrowd': iscrowd,
           'num_keypoints': int((kp[:17, 2] > 0).sum())}
    if len(kp) == WB.num_keypoints and split:
        for part, field in PART_FIELDS.items():
            ann[field] = kp[WB.part_slice(part)].ravel().tolist()
    else:
        ann['keypoints'] = kp.ravel().tolist()
    return ann


def dataset(annotations, image_ids):
    for i, ann in enumerate(annotations):
        if ann['id'] is None:
            ann['id'] = i + 1
    return {'images': [{'id': i, 'width': 640, 'height': 480} for i in image_ids],
            'annotations': annotations, 'categories': [{'id': 1, 'name': 'person'}]}


def coco_file(wholebody):
    """The plain COCO annotation file of a COCO-WholeBody one (body keypoints only)."""
    out = copy.deepcopy(wholebody)
    for ann in out['annotations']:
        for part, field in PART_FIELDS.items():
            if part != 'body':
                del ann[field]
    return out


def result(image_id, xy, score, keypoint_scores=1.0):
    xy = np.asarray(xy, dtype=float)
    scores = np.broadcast_to(np.asarray(keypoint_scores, dtype=float), (len(xy),))
    return {'image_id': image_id, 'category_id': 1, 'score': float(score),
            'keypoints': np.concatenate([xy, scores[:, None]], axis=1).ravel().tolist()}


def one_keypoint_person(image_id=1, at=(100.0, 100.0), area=10000.0):
    """A COCO person whose only labelled keypoint is the nose at ``at``."""
    kp = np.zeros((17, 3))
    kp[0] = (at[0], at[1], 2)
    return annotation(image_id, kp, area, (at[0] - 50, at[1] - 20, 100, 100))


def nose_prediction(image_id, at, oks, score, area=10000.0):
    """A prediction whose OKS with :func:`one_keypoint_person` is ``oks`` (nose moved in x)."""
    # OKS = exp(-d^2 / (2 * area * (2 sigma)^2)) for the single labelled keypoint
    d = math.sqrt(-math.log(oks) * 2 * area * (2 * NOSE_SIGMA) ** 2)
    xy = np.tile(np.asarray(at, dtype=float), (17, 1))
    xy[0, 0] += d
    return result(image_id, xy, score)


def wholebody_person(spec, image_id, missing=()):
    """Annotation of a drawn template person (all keypoints visible except ``missing`` parts)."""
    xy = spec.keypoints()
    v = np.full(WB.num_keypoints, 2.0)
    for part in missing:
        v[WB.part_slice(part)] = 0
    kp = np.concatenate([np.where(v[:, None] > 0, xy, 0), v[:, None]], axis=1)
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    w, h = hi - lo
    return annotation(image_id, kp, 0.6 * w * h, (lo[0], lo[1], w, h))


# ----------------------------------------------------------------------------- OKS


def test_oks_equals_the_formula_computed_by_hand():
    sigmas = np.array([0.1, 0.05, 0.2])
    area = 400.0
    gt = np.array([[[10.0, 20.0, 2], [30.0, 40.0, 1], [0.0, 0.0, 0]]])     # third unlabelled
    pred = np.array([[[13.0, 24.0], [30.0, 38.0], [500.0, 500.0]]])
    # e_k = d_k^2 / (2 * area * (2 sigma_k)^2); OKS = mean over labelled of exp(-e_k)
    e0 = 25.0 / (2 * 400.0 * 0.2 ** 2)          # d^2 = 3^2 + 4^2
    e1 = 4.0 / (2 * 400.0 * 0.1 ** 2)
    expected = (math.exp(-e0) + math.exp(-e1)) / 2
    got = object_keypoint_similarity(pred, gt, np.array([area]), np.array([[0, 0, 40, 40]]),
                                     sigmas)
    assert got.shape == (1, 1)
    assert got[0, 0] == pytest.approx(expected, rel=1e-12)


def test_oks_of_a_person_without_labels_is_the_distance_to_the_tripled_box():
    sigmas = np.array([0.1, 0.1])
    gt = np.zeros((1, 2, 3))                                   # nothing labelled
    bbox = np.array([[100.0, 100.0, 50.0, 20.0]])              # grown box: x 50..200, y 80..140
    inside = np.array([[[60.0, 85.0], [190.0, 135.0]]])
    outside = np.array([[[40.0, 85.0], [190.0, 146.0]]])       # 10 px left, 6 px below
    oks = object_keypoint_similarity(np.concatenate([inside, outside]), gt, np.array([900.0]),
                                     bbox, sigmas)
    var = 2 * 900.0 * 0.2 ** 2
    assert oks[0, 0] == pytest.approx(1.0)
    assert oks[1, 0] == pytest.approx((math.exp(-100 / var) + math.exp(-36 / var)) / 2)


# ----------------------------------------------------------------------------- textbook cases


def test_perfect_predictions_score_one_for_every_part():
    people = random_people(6, 1280, 720, seed=3, min_height_frac=0.1, max_height_frac=0.9)
    anns, preds = [], []
    for i, spec in enumerate(people):
        image_id = i % 3
        anns.append(wholebody_person(spec, image_id))
        preds.append(result(image_id, spec.keypoints(), score=0.5 + 0.05 * i))
    areas = [a['area'] for a in anns]
    assert min(areas) < 96 ** 2 < max(areas)          # both area ranges are exercised
    metrics = evaluate(dataset(anns, [0, 1, 2]), preds)
    assert list(metrics) == ['body', 'foot', 'face', 'left_hand', 'right_hand', 'wholebody']
    for part, values in metrics.items():
        assert values == pytest.approx(dict.fromkeys(METRIC_NAMES, 1.0)), part


def test_a_false_positive_ranked_above_a_true_positive():
    # One person; prediction A (score 0.9) has OKS 0.62, prediction B (score 0.8) OKS 0.91.
    # OKS thresholds 0.50, 0.55, 0.60: A is a true positive, B a duplicate -> AP 1.
    # 0.65 ... 0.90 (6 thresholds): A is a false positive ranked first, B a true positive:
    #   precision [0, 1/2] -> monotonic [1/2, 1/2] at recall [0, 1] -> AP 1/2.
    # 0.95: no match -> AP 0.  Mean: (3 * 1 + 6 * 0.5 + 0) / 10 = 0.6.
    gt = dataset([one_keypoint_person()], [1])
    preds = [nose_prediction(1, (100, 100), 0.62, 0.9), nose_prediction(1, (100, 100), 0.91, 0.8)]
    m = evaluate(gt, preds)['body']
    assert m['AP'] == pytest.approx(0.6, abs=1e-12)
    assert m['AP50'] == pytest.approx(1.0)
    assert m['AP75'] == pytest.approx(0.5)
    # recall 1 at nine thresholds, 0 at 0.95
    assert m['AR'] == pytest.approx(0.9)
    assert (m['AR50'], m['AR75']) == (1.0, 1.0)
    # No medium person -> -1. The person is large (area 10000 > 96^2); A's keypoint box has
    # area 0, so where A is unmatched (0.65 ... 0.90) it is outside the large range and
    # ignored, not a false positive: APl = (3 * 1 + 6 * 1 + 0) / 10.
    assert m['APm'] == -1 and m['ARm'] == -1
    assert m['APl'] == pytest.approx(0.9) and m['ARl'] == pytest.approx(0.9)


def test_precision_recall_curve_of_three_people_and_a_false_positive():
    # Ranked predictions: hit, miss, hit, hit on three people.
    # recall    1/3, 1/3, 2/3, 1     precision 1, 1/2, 2/3, 3/4 -> monotonic 1, 3/4, 3/4, 3/4
    # 101 recall points: 0.00..0.33 (34 points) read 1, 0.34..1.00 (67 points) read 3/4.
    expected = (34 * 1.0 + 67 * 0.75) / 101
    places = [(100, 100), (300, 100), (500, 100)]
    gt = dataset([one_keypoint_person(1, p) for p in places], [1])
    perfect = [result(1, np.tile(p, (17, 1)), s) for p, s in zip(places, (0.9, 0.7, 0.6))]
    far_away = result(1, np.full((17, 2), 400.0), 0.8)
    m = evaluate(gt, perfect + [far_away])['body']
    assert m['AP'] == pytest.approx(expected, abs=1e-12)
    assert m['AP50'] == m['AP75'] == m['AP']
    assert m['AR'] == 1.0


def test_crowd_regions_absorb_several_predictions():
    person = one_keypoint_person(1, (100, 100))
    crowd_box = (300.0, 50.0, 200.0, 150.0)
    crowd = annotation(1, np.zeros((17, 3)), 20000, crowd_box, iscrowd=1)
    in_crowd = [result(1, np.tile((380.0, 120.0), (17, 1)), s) for s in (0.9, 0.8)]
    hit = result(1, np.tile((100.0, 100.0), (17, 1)), 0.5)
    # Both predictions inside the crowd are ignored; the person is found: AP 1.
    m = evaluate(dataset([person, crowd], [1]), in_crowd + [hit])['body']
    assert m['AP'] == pytest.approx(1.0)
    # An (ignored) person without labelled keypoints absorbs only one prediction: the second
    # one is a false positive ranked above the hit -> precision 1/2 at every recall.
    unlabelled = dict(crowd, iscrowd=0)
    m = evaluate(dataset([person, unlabelled], [1]), in_crowd + [hit])['body']
    assert m['AP'] == pytest.approx(0.5)


def test_at_most_20_predictions_per_image_count():
    gt = dataset([one_keypoint_person(1, (100, 100))], [1])
    misses = [result(1, np.full((17, 2), 400.0), 0.9) for _ in range(20)]
    hit = result(1, np.tile((100.0, 100.0), (17, 1)), 0.1)
    assert evaluate(gt, misses + [hit])['body']['AR'] == 0.0
    assert evaluate(gt, misses[:19] + [hit])['body']['AR'] == 1.0


def test_unscored_predictions_count_for_coco_but_not_for_wholebody():
    spec = PersonSpec(centre_px=(200.0, 300.0), height_px=400.0)
    anns = [wholebody_person(spec, 1)]
    unscored = result(1, spec.keypoints() + 2000, 0.9, keypoint_scores=0.0)
    preds = [result(1, spec.keypoints(), 0.5), unscored]
    # COCO (pycocotools): a false positive ranked first -> precision 1/2 at every recall
    assert evaluate(coco_file(dataset(anns, [1])), preds)['body']['AP'] == pytest.approx(0.5)
    # COCO-WholeBody (xtcocotools): left out
    assert evaluate(dataset(anns, [1]), preds)['body']['AP'] == pytest.approx(1.0)


# ----------------------------------------------------------------------------- parts


def _two_people_one_without_left_hand():
    a = PersonSpec(centre_px=(200.0, 300.0), height_px=400.0)
    b = PersonSpec(centre_px=(600.0, 300.0), height_px=400.0)
    anns = [wholebody_person(a, 7), wholebody_person(b, 7, missing=('left_hand',))]
    return a, b, anns


def test_a_part_ignores_people_without_that_part():
    a, b, anns = _two_people_one_without_left_hand()
    rng = np.random.default_rng(0)
    b_pred = b.keypoints().copy()
    hand = WB.part_slice('left_hand')
    box = np.array(anns[1]['bbox'])
    # B's left hand is unlabelled: guesses inside B's box match B, who is ignored
    b_pred[hand] = box[:2] + rng.uniform(0, 1, (21, 2)) * box[2:]
    preds = [result(7, a.keypoints(), 0.9), result(7, b_pred, 0.8)]
    m = evaluate(dataset(anns, [7]), preds)
    assert m['left_hand']['AP'] == pytest.approx(1.0) and m['left_hand']['AR'] == 1.0
    assert m['body']['AP'] == pytest.approx(1.0) and m['right_hand']['AR'] == 1.0
    # a prediction whose left-hand scores are all 0 does not take part in the hand evaluation
    scores = np.ones(WB.num_keypoints)
    scores[hand] = 0.0
    b_far = b.keypoints().copy()
    b_far[hand] = 5000.0
    preds = [result(7, a.keypoints(), 0.9), result(7, b_far, 0.95, scores)]
    assert evaluate(dataset(anns, [7]), preds)['left_hand']['AP'] == pytest.approx(1.0)
    # with positive scores the far-away hand is a false positive ranked first
    preds[1] = result(7, b_far, 0.95)
    assert evaluate(dataset(anns, [7]), preds)['left_hand']['AP'] == pytest.approx(0.5)


def test_hand_oks_uses_the_whole_persons_area():
    a, _, anns = _two_people_one_without_left_hand()
    anns = anns[:1]
    hand = WB.part_slice('left_hand')
    pred = a.keypoints().copy()
    pred[hand, 0] += 6.0                                     # every left-hand keypoint 6 px off
    sigmas = WB.oks_sigmas[hand]
    area = anns[0]['area']
    oks = np.mean(np.exp(-36.0 / (2 * area * (2 * sigmas) ** 2)))       # 0.815
    hand_xy = a.keypoints()[hand]
    hand_area = np.prod(hand_xy.max(axis=0) - hand_xy.min(axis=0))
    oks_with_hand_area = np.mean(np.exp(-36.0 / (2 * hand_area * (2 * sigmas) ** 2)))
    thresholds = np.linspace(0.5, 0.95, 10)
    expected = np.mean(thresholds <= oks)            # one person, one prediction
    assert expected == pytest.approx(0.7)            # OKS 0.815 meets 0.50 ... 0.80
    assert expected != np.mean(thresholds <= oks_with_hand_area)
    m = evaluate(dataset(anns, [7]), [result(7, pred, 0.9)], parts=['left_hand', 'body'])
    assert list(m) == ['left_hand', 'body']
    assert m['left_hand']['AP'] == pytest.approx(expected)
    assert m['body']['AP'] == pytest.approx(1.0)


# ----------------------------------------------------------------------------- formats


def test_string_image_ids_split_results_and_wholebody_results_for_coco():
    people = random_people(4, 1280, 720, seed=1)
    anns = [wholebody_person(spec, f'frame_{i % 2}') for i, spec in enumerate(people)]
    rng = np.random.default_rng(1)
    preds = [result(f'frame_{i % 2}', spec.keypoints() + rng.normal(0, 2, (133, 2)), 0.5 + i / 10)
             for i, spec in enumerate(people)]
    gt = dataset(anns, ['frame_0', 'frame_1'])
    flat = evaluate(gt, preds)
    split = []
    for p in preds:
        kp = np.asarray(p['keypoints']).reshape(-1, 3)
        s = dict(p, **{f: kp[WB.part_slice(part)].ravel().tolist()
                       for part, f in PART_FIELDS.items()})
        split.append(s)
    assert evaluate(gt, split) == flat
    assert 0 < flat['wholebody']['AP'] < 1
    # COCO body file + 133-keypoint predictions: the first 17 are the body
    coco = evaluate(coco_file(gt), preds)
    assert list(coco) == ['body'] and coco['body'] == flat['body']
    assert load_ground_truth(coco_file(gt)).skeleton == 'coco'


def test_format_table_has_a_row_per_part_and_dashes_for_undefined():
    table = format_table({'body': dict.fromkeys(METRIC_NAMES, 0.5) | {'APm': -1.0}})
    header, row = table.splitlines()
    assert header.split() == ['part', *METRIC_NAMES]
    assert row.split() == ['body', '0.500', '0.500', '0.500', '-'] + ['0.500'] * 6


# ----------------------------------------------------------------------------- errors


def test_corrupt_json_names_the_file(tmp_path):
    bad = tmp_path / 'poses.json'
    bad.write_text('[{"image_id": 1, "keypoints": [1, 2')
    gt = dataset([one_keypoint_person()], [1])
    with pytest.raises(EvaluationError, match='poses.json: the results file is not valid JSON'):
        evaluate(gt, bad)
    with pytest.raises(EvaluationError, match='no such annotation file'):
        load_ground_truth(tmp_path / 'missing.json')
    assert issubclass(EvaluationError, HumanPoseError)


def test_results_for_unknown_images_are_an_error():
    gt = dataset([one_keypoint_person(1)], [1, 2])
    with pytest.raises(EvaluationError, match='image_id 3; known image_ids: 1, 2'):
        evaluate(gt, [nose_prediction(3, (100, 100), 0.9, 0.9)])
    with pytest.raises(EvaluationError, match="'1' is a str but the ids there are ints"):
        evaluate(gt, [nose_prediction('1', (100, 100), 0.9, 0.9)])


@pytest.mark.parametrize('change, message', [
    (lambda r: r.pop('score'), "results\\[0\\] has no 'score'"),
    (lambda r: r.update(keypoints=r['keypoints'][:-3]), 'has 48 numbers, expected 51'),
    (lambda r: r.update(keypoints=[float('nan')] * 51), 'NaN'),
    (lambda r: r.update(category_id=2), 'category_id 2; known category_ids: 1. Write the'),
])
def test_malformed_results_are_explained(change, message):
    gt = dataset([one_keypoint_person(1)], [1])
    pred = nose_prediction(1, (100, 100), 0.9, 0.9)
    change(pred)
    with pytest.raises(EvaluationError, match=message):
        evaluate(gt, [pred])


def test_plain_coco_annotations_evaluated_as_wholebody_get_a_hint():
    gt = dataset([one_keypoint_person(1)], [1])
    with pytest.raises(EvaluationError, match='plain COCO file: evaluate with skeleton coco'):
        load_ground_truth(gt, 'coco_wholebody')
    del gt['annotations'][0]['area']
    with pytest.raises(EvaluationError, match="annotations\\[0\\] has no 'area'"):
        load_ground_truth(gt)


# ----------------------------------------------------------------------------- pycocotools


def random_case(seed, num_keypoints, with_bbox):
    """Random images with people of all sizes, crowds, unlabelled people, noisy predictions."""
    rng = np.random.default_rng(seed)
    image_ids = [int(i) for i in rng.choice(10 ** 6, 12, replace=False)]
    anns, preds = [], []
    for n, image_id in enumerate(image_ids):
        for _ in range(int(rng.integers(0, 6))):
            height = float(np.exp(rng.uniform(np.log(20), np.log(600))))
            spec = PersonSpec(centre_px=tuple(rng.uniform(0, 640, 2)), height_px=height,
                              angle_deg=float(rng.uniform(-40, 40)),
                              aspect=float(rng.uniform(0.7, 1.3)))
            xy = spec.keypoints()[:num_keypoints]
            v = rng.choice([0.0, 1.0, 2.0], num_keypoints, p=[0.2, 0.2, 0.6])
            if num_keypoints == WB.num_keypoints:
                for part in ('foot', 'face', 'left_hand', 'right_hand'):
                    if rng.uniform() < 0.3:
                        v[WB.part_slice(part)] = 0
            crowd = rng.uniform() < 0.1
            if crowd or rng.uniform() < 0.1:
                v[:] = 0
            lo, hi = xy.min(axis=0), xy.max(axis=0)
            kp = np.concatenate([np.where(v[:, None] > 0, xy, 0), v[:, None]], axis=1)
            anns.append(annotation(image_id, kp, (hi - lo).prod() * rng.uniform(0.3, 0.8),
                                   (lo[0], lo[1], *(hi - lo)), iscrowd=int(crowd)))
            if num_keypoints == COCO.num_keypoints and rng.uniform() < 0.05:
                anns[-1]['num_keypoints'] = 0           # pycocotools then ignores the person
            for _ in range(int(rng.integers(0, 4))):
                noise = rng.normal(0, np.exp(rng.uniform(-3, 1.5)) * height / 100, xy.shape)
                scores = rng.uniform(0.05, 1.0, num_keypoints)
                if num_keypoints == WB.num_keypoints and rng.uniform() < 0.2:
                    scores[WB.part_slice('left_hand')] = 0      # not found: dropped for hands
                elif rng.uniform() < 0.1:
                    scores[:] = 0                               # kept by pycocotools
                # scores rounded to 0.1: ties are broken as COCOeval breaks them
                preds.append(result(image_id, xy + noise, round(rng.uniform(), 1), scores))
        for _ in range(int(rng.integers(0, 3)) + (22 if n == 3 else 0)):   # > 20 in one image
            preds.append(result(image_id, rng.uniform(0, 640, (num_keypoints, 2)),
                                round(rng.uniform(), 2), rng.uniform(0.05, 1, num_keypoints)))
    if with_bbox:
        for p in preds:
            xy = np.asarray(p['keypoints']).reshape(-1, 3)[:, :2]
            p['bbox'] = [*xy.min(axis=0), *(0.9 * (xy.max(axis=0) - xy.min(axis=0)))]
    return dataset(anns, image_ids), preds


def pycocotools_stats(gt, preds, sigmas):
    pytest.importorskip('pycocotools', reason='pycocotools (the reference COCOeval) is not '
                                              'installed; pip install pycocotools')
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = copy.deepcopy(gt)
        coco.createIndex()
        coco_eval = COCOeval(coco, coco.loadRes(copy.deepcopy(preds)), 'keypoints')
        coco_eval.params.kpt_oks_sigmas = np.asarray(sigmas)
        coco_eval.evaluate()
        coco_eval.accumulate()
        coco_eval.summarize()
    return dict(zip(METRIC_NAMES, coco_eval.stats))


@pytest.mark.parametrize('seed', [0, 1, 2, 3])
@pytest.mark.parametrize('with_bbox', [False, True])
def test_coco_numbers_equal_pycocotools(seed, with_bbox):
    gt, preds = random_case(seed, COCO.num_keypoints, with_bbox)
    ours = evaluate(json.loads(json.dumps(gt)), preds, 'coco')['body']
    reference = pycocotools_stats(gt, preds, COCO.oks_sigmas)
    assert 0.05 < ours['AP'] < 0.95 and ours['APm'] > -1 and ours['APl'] > -1
    for metric in METRIC_NAMES:
        assert ours[metric] == pytest.approx(reference[metric], abs=1e-9), metric


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_wholebody_parts_equal_pycocotools_on_each_part(seed):
    # The COCO-WholeBody protocol is COCOeval run on each part's keypoints with that part's
    # sigmas, the whole person's area, and the predictions' area from their body keypoints;
    # predictions without a positive score in the part are left out.
    gt, preds = random_case(seed, WB.num_keypoints, with_bbox=False)
    ours = evaluate(gt, preds)
    body = WB.part_slice('body')
    for part in ours:
        span = slice(0, WB.num_keypoints) if part == 'wholebody' else WB.part_slice(part)
        part_gt = copy.deepcopy(gt)
        for ann in part_gt['annotations']:
            kp = np.concatenate([ann.pop(f) for f in PART_FIELDS.values()]).reshape(-1, 3)[span]
            ann['keypoints'] = kp.ravel().tolist()
            ann['num_keypoints'] = int((kp[:, 2] > 0).sum())
        part_preds = []
        for p in preds:
            kp = np.asarray(p['keypoints']).reshape(-1, 3)
            if (kp[span, 2] > 0).any():
                lo, hi = kp[body, :2].min(axis=0), kp[body, :2].max(axis=0)
                part_preds.append(dict(p, keypoints=kp[span].ravel().tolist(),
                                       bbox=[*lo, *(hi - lo)]))
        reference = pycocotools_stats(part_gt, part_preds, WB.oks_sigmas[span])
        assert 0.02 < ours[part]['AP'] < 0.98
        for metric in METRIC_NAMES:
            assert ours[part][metric] == pytest.approx(reference[metric], abs=1e-9), (part,
                                                                                      metric)


def test_loaded_inputs_can_be_reused():
    gt, preds = random_case(5, COCO.num_keypoints, with_bbox=False)
    loaded_gt = load_ground_truth(gt)
    loaded = load_results(preds, 'coco')
    assert loaded.keypoints.shape == (len(preds), 17, 3)
    assert evaluate(loaded_gt, loaded) == evaluate(gt, preds)
    with pytest.raises(EvaluationError, match='load both with the same skeleton'):
        evaluate(loaded_gt, loaded, skeleton='coco_wholebody')
