"""COCO keypoint evaluation (OKS AP / AR) for COCO and COCO-WholeBody, in numpy.

The numbers follow the established protocol exactly: pycocotools ``COCOeval`` with
``iouType='keypoints'`` for COCO, and for COCO-WholeBody the practice of its authors'
``xtcocotools`` (as MMPose's ``CocoWholeBodyMetric`` runs it, ``use_area=True``): every part
(body, foot, face, left hand, right hand) is evaluated on its own with that part's OKS sigmas,
and ``wholebody`` over all 133 keypoints. For every part:

- OKS between a prediction and a person is
  ``mean over labelled keypoints of exp(-d^2 / ((2 sigma)^2 * (area + eps) * 2))`` with
  ``area`` the person's annotated segment area (the whole person's, also for hands and face);
  for a person without labelled keypoints of the part, ``d`` is the distance to the person's
  box grown to three times its width and height (centred on it).
- A person is ignored (neither found nor missed) when it is a crowd region or has no labelled
  keypoint of the part (COCO: when its ``num_keypoints`` is 0). Predictions matched to an
  ignored person are ignored; crowd regions can absorb several predictions. With
  COCO-WholeBody, a prediction without any keypoint score above 0 in the part is left out of
  that part (xtcocotools); COCO keeps it (pycocotools).
- Per image, at most 20 predictions (highest scores first) are matched greedily at each OKS
  threshold 0.50:0.05:0.95 to the best still-free person, regular persons before ignored ones.
- Precision is made monotonic and read at 101 recall points; AP is its mean, AR the mean of
  the final recall, over thresholds (and categories); APm / APl and ARm / ARl count only
  persons of area in [32^2, 96^2] / [96^2, 1e10] (unmatched predictions outside the range are
  ignored). A metric with nothing to average is -1.

A prediction's area (used only for that last rule) is the area of its ``bbox`` when the
result has one, else of the box around its body keypoints, as ``COCO.loadRes`` makes it.

::

    >>> from humanpose.evaluation import evaluate, format_table
    >>> metrics = evaluate('person_keypoints_val2017.json', 'poses.json')  # doctest: +SKIP
    >>> print(format_table(metrics))  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
import json
import logging
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np
from numpy.typing import NDArray

from humanpose.errors import EvaluationError, HumanPoseError
from humanpose.skeletons import get_skeleton, Skeleton, skeleton_names

logger = logging.getLogger(__name__)

F64 = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
#: An image or category id as it appears in the JSON files.
Id = Union[int, str]
#: A JSON file (path) or its already parsed content.
GroundTruthSource = Union[str, Path, Mapping[str, Any]]
ResultsSource = Union[str, Path, Sequence[Mapping[str, Any]]]

#: Metrics in the order pycocotools' ``summarize`` prints them for keypoints.
METRIC_NAMES: tuple[str, ...] = (
    'AP', 'AP50', 'AP75', 'APm', 'APl', 'AR', 'AR50', 'AR75', 'ARm', 'ARl')
#: OKS thresholds 0.50:0.05:0.95, made the way COCOeval makes them.
OKS_THRESHOLDS: F64 = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1)
#: Recall points at which precision is read.
RECALL_POINTS: F64 = np.linspace(0.0, 1.0, int(np.round(1.0 / 0.01)) + 1)
#: Person area ranges, square pixels, [low, high] inclusive.
AREA_RANGES: dict[str, tuple[float, float]] = {
    'all': (0.0, 1e5 ** 2),
    'medium': (32.0 ** 2, 96.0 ** 2),
    'large': (96.0 ** 2, 1e5 ** 2),
}
#: Predictions per image that are evaluated (highest scores first).
MAX_DETECTIONS = 20
#: Name of the part that spans all keypoints of a layout with several parts.
WHOLEBODY = 'wholebody'
#: Field of a COCO / COCO-WholeBody annotation that holds each part's keypoints.
PART_FIELDS: dict[str, str] = {
    'body': 'keypoints',
    'foot': 'foot_kpts',
    'face': 'face_kpts',
    'left_hand': 'lefthand_kpts',
    'right_hand': 'righthand_kpts',
}
#: Metric -> (precision or recall, OKS threshold or None for all, area range).
_SUMMARY: dict[str, tuple[str, Optional[float], str]] = {
    'AP': ('precision', None, 'all'),
    'AP50': ('precision', 0.5, 'all'),
    'AP75': ('precision', 0.75, 'all'),
    'APm': ('precision', None, 'medium'),
    'APl': ('precision', None, 'large'),
    'AR': ('recall', None, 'all'),
    'AR50': ('recall', 0.5, 'all'),
    'AR75': ('recall', 0.75, 'all'),
    'ARm': ('recall', None, 'medium'),
    'ARl': ('recall', None, 'large'),
}
#: The part whose keypoint box gives a prediction's area when it has no ``bbox``.
_AREA_PART = 'body'
#: COCOeval's guard against division by zero.
_EPS = float(np.spacing(1))
OKS_THRESHOLDS.setflags(write=False)
RECALL_POINTS.setflags(write=False)


@dataclass(frozen=True)
class _Protocol:
    """Where a layout's reference toolkit differs from the other one.

    :param drop_unscored: predictions without a keypoint score above 0 in the part are left
        out (xtcocotools); pycocotools keeps them.
    :param ignore_by_num_keypoints: a person is ignored when its ``num_keypoints`` is 0
        (pycocotools); else when it has no labelled keypoint in the part (xtcocotools).
    """

    drop_unscored: bool
    ignore_by_num_keypoints: bool


#: The reference of each layout: COCO's own cocoapi (pycocotools) for coco, COCO-WholeBody's
#: xtcocotools (as MMPose runs it) for coco_wholebody. They agree unless a prediction has no
#: positive keypoint score or an annotation's num_keypoints disagrees with its labels.
_PROTOCOLS: dict[str, _Protocol] = {
    'coco': _Protocol(drop_unscored=False, ignore_by_num_keypoints=True),
    'coco_wholebody': _Protocol(drop_unscored=True, ignore_by_num_keypoints=False),
}


@dataclass(frozen=True, eq=False)
class GroundTruth:
    """Person annotations of a COCO or COCO-WholeBody keypoint file.

    :param skeleton: keypoint layout name (``coco_wholebody`` or ``coco``).
    :param source: file name (or ``<dict>``) for messages.
    :param image_ids: sorted image ids of the file's ``images``.
    :param category_ids: sorted category ids.
    :param image_index: (G,) int64, index into ``image_ids`` of each annotation.
    :param category_index: (G,) int64, index into ``category_ids`` of each annotation.
    :param keypoints: (G, K, 3) float64: x, y in pixels and the visibility flag v
        (0 = not labelled, 1 = labelled but hidden, 2 = visible), skeleton order.
    :param area: (G,) float64, square pixels: the person's segment area.
    :param bbox: (G, 4) float64, pixels: x, y, width, height.
    :param iscrowd: (G,) bool, crowd regions.
    :param num_keypoints: (G,) int64, the annotations' ``num_keypoints`` (-1 where absent).
    """

    skeleton: str
    source: str
    image_ids: tuple[Id, ...]
    category_ids: tuple[Id, ...]
    image_index: NDArray[np.int64]
    category_index: NDArray[np.int64]
    keypoints: F64
    area: F64
    bbox: F64
    iscrowd: BoolArray
    num_keypoints: NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class Results:
    """Predicted people in the COCO results format.

    :param skeleton: keypoint layout name.
    :param source: file name (or ``<list>``) for messages.
    :param image_ids: (D,) the image id of each prediction, as written.
    :param category_ids: (D,) the category id of each prediction, as written.
    :param keypoints: (D, K, 3) float64: x, y in pixels and the keypoint score.
    :param scores: (D,) float64, person scores (the ranking key).
    :param area: (D,) float64, square pixels: ``bbox`` area, else the body keypoints' box area.
    """

    skeleton: str
    source: str
    image_ids: tuple[Id, ...]
    category_ids: tuple[Id, ...]
    keypoints: F64
    scores: F64
    area: F64


def default_parts(skeleton: Skeleton) -> tuple[str, ...]:
    """Return the parts evaluated for ``skeleton``: its parts, then ``wholebody`` if several."""
    parts = tuple(skeleton.parts)
    return parts + (WHOLEBODY,) if len(parts) > 1 else parts


def object_keypoint_similarity(predicted: F64, ground_truth: F64, area: F64, bbox: F64,
                               sigmas: F64) -> F64:
    """Return the OKS of every prediction with every annotated person, as COCOeval does.

    Persons without labelled keypoints are compared with their box grown by its size on each
    side: a predicted keypoint inside it counts as distance 0, one outside by its distance
    to it, and all keypoints count.

    :param predicted: (D, K, 2) float64, pixels.
    :param ground_truth: (G, K, 3) float64: x, y in pixels, visibility flag (> 0 = labelled).
    :param area: (G,) float64, square pixels: the persons' areas.
    :param bbox: (G, 4) float64, pixels: x, y, width, height of the persons.
    :param sigmas: (K,) float64, per-keypoint OKS sigmas.
    :return: (D, G) float64 in [0, 1].
    """
    variances = (np.asarray(sigmas, dtype=np.float64) * 2) ** 2
    labelled = ground_truth[..., 2] > 0                                  # (G, K)
    has_labels = (labelled.sum(axis=1) > 0)[None, :, None]               # (1, G, 1)
    px = predicted[:, None, :, 0]                                        # (D, 1, K)
    py = predicted[:, None, :, 1]
    x0, y0 = bbox[:, 0] - bbox[:, 2], bbox[:, 1] - bbox[:, 3]
    x1, y1 = bbox[:, 0] + bbox[:, 2] * 2, bbox[:, 1] + bbox[:, 3] * 2
    box_dx = (np.maximum(0.0, x0[None, :, None] - px)
              + np.maximum(0.0, px - x1[None, :, None]))
    box_dy = (np.maximum(0.0, y0[None, :, None] - py)
              + np.maximum(0.0, py - y1[None, :, None]))
    dx = np.where(has_labels, px - ground_truth[None, :, :, 0], box_dx)  # (D, G, K)
    dy = np.where(has_labels, py - ground_truth[None, :, :, 1], box_dy)
    e = (dx ** 2 + dy ** 2) / variances / (area[None, :, None] + _EPS) / 2
    counted = labelled | ~has_labels[0]                                  # (G, K)
    total = np.where(counted[None], np.exp(-e), 0.0).sum(axis=-1)
    oks: F64 = total / counted.sum(axis=1)[None, :]
    return oks


def load_ground_truth(source: GroundTruthSource, skeleton: Optional[str] = None) -> GroundTruth:
    """Read a COCO or COCO-WholeBody keypoint annotation file.

    :param source: path of the JSON file, or its parsed content.
    :param skeleton: ``coco_wholebody`` (reads ``keypoints``, ``foot_kpts``, ``face_kpts``,
        ``lefthand_kpts``, ``righthand_kpts``) or ``coco`` (reads ``keypoints`` and uses
        ``num_keypoints`` as pycocotools does); None: the former when the annotations have
        ``foot_kpts``, else the latter.
    :return: the annotations as arrays.
    :raises EvaluationError: unreadable file, missing fields, wrong keypoint counts.
    """
    data, name = _read_json(source, 'annotation file')
    if not isinstance(data, Mapping) or not isinstance(data.get('annotations'), list):
        raise EvaluationError(
            f'{name}: expected a COCO annotation file (an object with "images", "annotations" '
            f'and "categories"), got {_kind(data)}; pass the annotations as the ground truth '
            '(--gt) and the predictions as the results (--results).')
    annotations: list[Any] = data['annotations']
    for i, ann in enumerate(annotations):
        if not isinstance(ann, Mapping):
            raise EvaluationError(f'{name}: annotations[{i}] is {_kind(ann)}, not an object.')
    if skeleton is None:
        skeleton = ('coco_wholebody' if any('foot_kpts' in ann for ann in annotations)
                    else 'coco')
    layout = _skeleton(skeleton)

    images = data.get('images')
    if isinstance(images, list):
        image_ids = _ids([img.get('id') if isinstance(img, Mapping) else None for img in images],
                         name, 'images[].id')
    else:
        image_ids = _ids([ann.get('image_id') for ann in annotations], name,
                         'annotations[].image_id')
    categories = data.get('categories')
    if isinstance(categories, list) and categories:
        category_ids = _ids([c.get('id') if isinstance(c, Mapping) else None
                             for c in categories], name, 'categories[].id')
    else:
        category_ids = _ids([ann.get('category_id') for ann in annotations], name,
                            'annotations[].category_id')

    fields = [(PART_FIELDS[part], end - start) for part, (start, end) in layout.parts.items()]
    keypoints = _keypoint_rows(annotations, fields, layout, name, 'annotations')
    for field in ('image_id', 'category_id', 'area', 'bbox'):
        _require(annotations, field, name, 'annotations',
                 'COCO keypoint annotations carry image_id, category_id, area and bbox')
    area = _numbers([ann['area'] for ann in annotations], name, 'annotations[].area', (-1,))
    bbox = _numbers([ann['bbox'] for ann in annotations], name, 'annotations[].bbox', (-1, 4))
    iscrowd = _numbers([ann.get('iscrowd', 0) for ann in annotations], name,
                       'annotations[].iscrowd', (-1,)) != 0
    num_keypoints = _numbers([ann.get('num_keypoints', -1) for ann in annotations], name,
                             'annotations[].num_keypoints', (-1,)).astype(np.int64)
    image_index = _index([ann['image_id'] for ann in annotations], image_ids, name,
                         'annotations', 'image_id', 'the file\'s "images"',
                         'List every annotated image in "images".')
    category_index = _index([ann['category_id'] for ann in annotations], category_ids, name,
                            'annotations', 'category_id', 'the file\'s "categories"',
                            'List every category in "categories".')
    logger.info('%s: %d annotations on %d images, skeleton %s', name, len(annotations),
                len(image_ids), layout.name)
    return GroundTruth(
        skeleton=layout.name, source=name, image_ids=image_ids, category_ids=category_ids,
        image_index=image_index, category_index=category_index,
        keypoints=keypoints.reshape(len(annotations), layout.num_keypoints, 3),
        area=area, bbox=bbox, iscrowd=iscrowd, num_keypoints=num_keypoints)


def load_results(source: ResultsSource, skeleton: str = 'coco_wholebody') -> Results:
    """Read predictions in the COCO results format.

    Each entry is ``{"image_id", "category_id", "keypoints": [x, y, score] * K, "score"}``
    with an optional ``"bbox": [x, y, w, h]``. K is the skeleton's keypoint count (133 in
    wholebody order body, foot, face, left hand, right hand; 17 for coco). Also accepted:
    wholebody results split into ``keypoints`` (body) plus ``foot_kpts``, ``face_kpts``,
    ``lefthand_kpts``, ``righthand_kpts`` (MMPose's layout), and coco_wholebody results when
    evaluating ``coco`` (the first 17 keypoints are the COCO body).

    :param source: path of the JSON file, or its parsed content.
    :param skeleton: keypoint layout name.
    :return: the predictions as arrays.
    :raises EvaluationError: unreadable file, missing fields, wrong keypoint counts.
    """
    data, name = _read_json(source, 'results file')
    if isinstance(data, Mapping) and 'annotations' in data:
        raise EvaluationError(
            f'{name}: this looks like an annotation file, expected a results file (a list of '
            '{"image_id", "category_id", "keypoints", "score"}); check the order of --gt and '
            '--results.')
    if not isinstance(data, list):
        raise EvaluationError(
            f'{name}: expected a COCO results file (a JSON list of {{"image_id", '
            f'"category_id", "keypoints", "score"}}), got {_kind(data)}.')
    for i, entry in enumerate(data):
        if not isinstance(entry, Mapping):
            raise EvaluationError(f'{name}: results[{i}] is {_kind(entry)}, not an object.')
    layout = _skeleton(skeleton)
    for field in ('image_id', 'category_id', 'keypoints', 'score'):
        _require(data, field, name, 'results',
                 'each result needs image_id, category_id (1 for person), keypoints and score')
    _ids([entry['image_id'] for entry in data], name, 'results[].image_id')
    _ids([entry['category_id'] for entry in data], name, 'results[].category_id')
    keypoints = _result_keypoints(data, layout, name)
    scores = _numbers([entry['score'] for entry in data], name, 'results[].score', (-1,))
    body = keypoints[:, layout.part_slice(_AREA_PART)]
    if len(data):
        extent = body[..., :2].max(axis=1) - body[..., :2].min(axis=1)
        area = extent[:, 0] * extent[:, 1]
    else:
        area = np.zeros(0)
    for i, entry in enumerate(data):
        box = entry.get('bbox')
        if box is None or (isinstance(box, list) and len(box) == 0):
            continue
        wh = _numbers([box], name, f'results[{i}].bbox', (1, 4))[0, 2:]
        area[i] = wh[0] * wh[1]
    logger.info('%s: %d predictions, skeleton %s', name, len(data), layout.name)
    return Results(
        skeleton=layout.name, source=name,
        image_ids=tuple(entry['image_id'] for entry in data),
        category_ids=tuple(entry['category_id'] for entry in data),
        keypoints=keypoints, scores=scores, area=area)


def evaluate(ground_truth: Union[GroundTruth, GroundTruthSource],
             results: Union[Results, ResultsSource],
             skeleton: Optional[str] = None,
             parts: Optional[Sequence[str]] = None) -> dict[str, dict[str, float]]:
    """Compute COCO keypoint AP / AR of ``results`` against ``ground_truth``, per part.

    :param ground_truth: loaded annotations, or what :func:`load_ground_truth` reads.
    :param results: loaded predictions, or what :func:`load_results` reads.
    :param skeleton: keypoint layout; None: the ground truth's (or inferred from its file).
    :param parts: parts to evaluate (e.g. ``body``, ``left_hand``, ``wholebody``); None: all
        parts of the layout plus ``wholebody`` when it has several.
    :return: part -> metric (:data:`METRIC_NAMES`) -> value in [0, 1], or -1 where there is
        nothing to average (e.g. no person in that area range).
    :raises EvaluationError: unreadable inputs, different layouts, results for images or
        categories the ground truth does not have, unknown part names.
    """
    gt = (ground_truth if isinstance(ground_truth, GroundTruth)
          else load_ground_truth(ground_truth, skeleton))
    layout = _skeleton(skeleton or gt.skeleton)
    if gt.skeleton != layout.name:
        raise EvaluationError(
            f'{gt.source}: the ground truth was read as {gt.skeleton}, but evaluation as '
            f'{layout.name} was asked; load both with the same skeleton.')
    res = results if isinstance(results, Results) else load_results(results, layout.name)
    if res.skeleton != layout.name:
        raise EvaluationError(
            f'{res.source}: the results were read as {res.skeleton}, the ground truth as '
            f'{layout.name}; load both with the same skeleton.')
    wanted = tuple(parts) if parts is not None else default_parts(layout)
    known = default_parts(layout)
    unknown = [p for p in wanted if p not in known]
    if unknown:
        raise EvaluationError(
            f'unknown part(s) {", ".join(unknown)} for skeleton {layout.name}; '
            f'known: {", ".join(known)}.')

    dt_image = _index(list(res.image_ids), gt.image_ids, res.source, 'results', 'image_id',
                      f'the ground truth ({gt.source})',
                      'Evaluate against the annotation file the predictions were made for.')
    dt_category = _index(list(res.category_ids), gt.category_ids, res.source, 'results',
                         'category_id', f'the ground truth ({gt.source})',
                         'Write the category ids of the ground truth (COCO person: 1).')
    groups = _group(gt, dt_image, dt_category)
    metrics: dict[str, dict[str, float]] = {}
    for part in wanted:
        span = slice(0, layout.num_keypoints) if part == WHOLEBODY else layout.part_slice(part)
        precision, recall = _evaluate_part(gt, res, groups, span, layout.oks_sigmas[span])
        metrics[part] = _summarize(precision, recall)
        logger.info('%s: AP %.3f AR %.3f', part, metrics[part]['AP'], metrics[part]['AR'])
    return metrics


def format_table(metrics: Mapping[str, Mapping[str, float]]) -> str:
    """Return the metrics as a text table: one row per part, one column per metric.

    Values are shown with three decimals; ``-`` where a metric is -1 (nothing to average).
    """
    width = max([len('part')] + [len(part) for part in metrics])
    lines = [f'{"part":<{width}}' + ''.join(f'{m:>7}' for m in METRIC_NAMES)]
    for part, values in metrics.items():
        cells = [f'{values[m]:7.3f}' if values[m] > -1 else f'{"-":>7}' for m in METRIC_NAMES]
        lines.append(f'{part:<{width}}' + ''.join(cells))
    return '\n'.join(lines)


# ----------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class _Group:
    """Annotations and predictions of one image and category, in file order."""

    category: int
    gt: NDArray[np.int64]
    dt: NDArray[np.int64]


def _group(gt: GroundTruth, dt_image: NDArray[np.int64],
           dt_category: NDArray[np.int64]) -> list[_Group]:
    """Split annotations and predictions by (image, category), images in sorted-id order."""
    num_categories = len(gt.category_ids)
    gt_key = gt.image_index * num_categories + gt.category_index
    dt_key = dt_image * num_categories + dt_category
    keys = np.union1d(gt_key, dt_key)
    gt_order = np.argsort(gt_key, kind='stable')
    dt_order = np.argsort(dt_key, kind='stable')
    gt_split = np.split(gt_order, np.searchsorted(gt_key[gt_order], keys[1:]))
    dt_split = np.split(dt_order, np.searchsorted(dt_key[dt_order], keys[1:]))
    return [_Group(int(key % num_categories), g, d)
            for key, g, d in zip(keys, gt_split, dt_split)]


def _evaluate_part(gt: GroundTruth, res: Results, groups: list[_Group], span: slice,
                   sigmas: F64) -> tuple[F64, F64]:
    """Return precision (T, R, C, A) and recall (T, C, A) of one part, -1 where undefined."""
    num_t, num_r = len(OKS_THRESHOLDS), len(RECALL_POINTS)
    num_c, num_a = len(gt.category_ids), len(AREA_RANGES)
    ranges = np.array(list(AREA_RANGES.values()))                       # (A, 2)
    gt_kpts = gt.keypoints[:, span]
    num_labelled = (gt_kpts[..., 2] > 0).sum(axis=1)
    if _PROTOCOLS[gt.skeleton].ignore_by_num_keypoints:
        num_labelled = np.where(gt.num_keypoints >= 0, gt.num_keypoints, num_labelled)
    gt_ignore = gt.iscrowd | (num_labelled == 0)
    dt_kpts = res.keypoints[:, span]
    dt_kept = np.ones(len(dt_kpts), dtype=bool)
    if _PROTOCOLS[gt.skeleton].drop_unscored:
        dt_kept = (dt_kpts[..., 2] > 0).sum(axis=1) > 0
    # per (category, area range): per-image (scores, matched, ignored, gt ignored)
    images: list[list[list[tuple[F64, BoolArray, BoolArray, BoolArray]]]] = [
        [[] for _ in range(num_a)] for _ in range(num_c)]
    for group in groups:
        dts = group.dt[dt_kept[group.dt]]
        gts = group.gt
        if len(dts) == 0 and len(gts) == 0:
            continue
        dts = dts[np.argsort(-res.scores[dts], kind='mergesort')][:MAX_DETECTIONS]
        oks = object_keypoint_similarity(dt_kpts[dts, :, :2], gt_kpts[gts], gt.area[gts],
                                         gt.bbox[gts], sigmas)
        area = gt.area[gts]
        dt_area = res.area[dts]
        for a, (low, high) in enumerate(ranges):
            ignore = gt_ignore[gts] | (area < low) | (area > high)
            order = np.argsort(ignore, kind='mergesort')
            matched, dt_ignore = _match(oks[:, order], ignore[order], gt.iscrowd[gts][order])
            outside = (dt_area < low) | (dt_area > high)
            dt_ignore |= ~matched & outside[None, :]
            images[group.category][a].append((res.scores[dts], matched, dt_ignore, ignore))

    precision = -np.ones((num_t, num_r, num_c, num_a))
    recall = -np.ones((num_t, num_c, num_a))
    for c in range(num_c):
        for a in range(num_a):
            if images[c][a]:
                curve = _precision_recall(images[c][a])
                if curve is not None:
                    precision[:, :, c, a], recall[:, c, a] = curve
    return precision, recall


def _match(oks: F64, gt_ignore: BoolArray, crowd: BoolArray) -> tuple[BoolArray, BoolArray]:
    """Match predictions to persons greedily at every OKS threshold, as COCOeval does.

    Predictions come in score order. Each takes, among persons still free (crowd regions stay
    free) with OKS >= the threshold, the one of highest OKS (the last of equals) among the
    regular persons, or, if none, among the ignored ones.

    :param oks: (D, G) OKS, persons sorted regular first.
    :param gt_ignore: (G,) bool, ignored persons.
    :param crowd: (G,) bool, crowd regions.
    :return: (T, D) bool matched, (T, D) bool matched to an ignored person.
    """
    num_d, num_g = oks.shape
    thresholds = np.minimum(OKS_THRESHOLDS, 1 - 1e-10)
    matched = np.zeros((len(thresholds), num_d), dtype=bool)
    dt_ignore = np.zeros_like(matched)
    if num_d == 0 or num_g == 0:
        return matched, dt_ignore
    taken = np.zeros((len(thresholds), num_g), dtype=bool)
    rows = np.arange(len(thresholds))
    any_ignored = bool(gt_ignore.any())
    for d in range(num_d):
        values = oks[d]
        if values.max() < thresholds[0]:
            continue
        eligible = ~(taken & ~crowd) & (values[None, :] >= thresholds[:, None])   # (T, G)
        best = _last_best(eligible & ~gt_ignore, values)
        if any_ignored and (best < 0).any():
            best = np.where(best >= 0, best, _last_best(eligible & gt_ignore, values))
        hit = best >= 0
        matched[hit, d] = True
        dt_ignore[hit, d] = gt_ignore[best[hit]]
        taken[rows[hit], best[hit]] = True
    return matched, dt_ignore


def _last_best(mask: BoolArray, values: F64) -> NDArray[np.int64]:
    """Return (T,) the last index of the largest ``values`` where ``mask`` (T, G), or -1."""
    best = np.where(mask, values[None, :], -np.inf).max(axis=1)
    is_best = mask & (values[None, :] == best[:, None])
    last = mask.shape[1] - 1 - np.argmax(is_best[:, ::-1], axis=1)
    found: NDArray[np.int64] = np.where(is_best.any(axis=1), last, -1)
    return found


def _precision_recall(per_image: list[tuple[F64, BoolArray, BoolArray, BoolArray]]
                      ) -> Optional[tuple[F64, F64]]:
    """Return precision (T, R) at the recall points and final recall (T,), as accumulate."""
    scores = np.concatenate([item[0] for item in per_image])
    matched = np.concatenate([item[1] for item in per_image], axis=1)
    dt_ignore = np.concatenate([item[2] for item in per_image], axis=1)
    gt_ignore = np.concatenate([item[3] for item in per_image])
    num_gt = int(np.count_nonzero(~gt_ignore))
    if num_gt == 0:
        return None
    order = np.argsort(-scores, kind='mergesort')
    matched, dt_ignore = matched[:, order], dt_ignore[:, order]
    tp = np.cumsum(matched & ~dt_ignore, axis=1).astype(np.float64)
    fp = np.cumsum(~matched & ~dt_ignore, axis=1).astype(np.float64)
    num_t, num_d = tp.shape
    recall_at = tp / num_gt
    precision_at = tp / (fp + tp + _EPS)
    recall = recall_at[:, -1] if num_d else np.zeros(num_t)
    # the best precision at this recall or beyond
    precision_at = np.maximum.accumulate(precision_at[:, ::-1], axis=1)[:, ::-1]
    precision = np.zeros((num_t, len(RECALL_POINTS)))
    for t in range(num_t):
        at = np.searchsorted(recall_at[t], RECALL_POINTS, side='left')
        reached = at < num_d
        precision[t, reached] = precision_at[t, at[reached]]
    return precision, recall


def _summarize(precision: F64, recall: F64) -> dict[str, float]:
    """Average precision (T, R, C, A) / recall (T, C, A) into the ten COCO keypoint metrics."""
    areas = list(AREA_RANGES)
    out: dict[str, float] = {}
    for metric, (kind, threshold, area) in _SUMMARY.items():
        values = precision if kind == 'precision' else recall
        if threshold is not None:
            t = int(np.flatnonzero(np.isclose(OKS_THRESHOLDS, threshold))[0])
            values = values[t:t + 1]
        values = values[..., areas.index(area)]
        valid = values[values > -1]
        out[metric] = float(np.mean(valid)) if valid.size else -1.0
    return out


# ----------------------------------------------------------------------------- reading


def _read_json(source: Any, what: str) -> tuple[Any, str]:
    """Return the parsed JSON of ``source`` (a path, or already parsed data) and its name."""
    if not isinstance(source, (str, Path)):
        return source, f'<{type(source).__name__}>'
    path = Path(source)
    try:
        text = path.read_text(encoding='utf-8')
    except FileNotFoundError:
        raise EvaluationError(f'{path}: no such {what}; check the path.') from None
    except (OSError, UnicodeDecodeError) as err:
        raise EvaluationError(f'{path}: cannot read the {what} ({err}).') from err
    try:
        return json.loads(text), str(path)
    except json.JSONDecodeError as err:
        raise EvaluationError(
            f'{path}: the {what} is not valid JSON (line {err.lineno}, column {err.colno}: '
            f'{err.msg}); regenerate it or fix the file (truncated write?).') from err


def _kind(value: Any) -> str:
    """Describe a JSON value's type for messages."""
    names = {dict: 'an object', list: 'a list', str: 'a string', type(None): 'null'}
    return names.get(type(value), f'a {type(value).__name__}')


def _skeleton(name: str) -> Skeleton:
    try:
        layout = get_skeleton(name)
    except HumanPoseError as err:
        raise EvaluationError(str(err)) from None
    if name not in _PROTOCOLS or any(part not in PART_FIELDS for part in layout.parts):
        raise EvaluationError(
            f'skeleton {name!r} has no COCO evaluation protocol; evaluation supports '
            f'{", ".join(_PROTOCOLS)}.')
    return layout


def _ids(values: list[Any], name: str, where: str) -> tuple[Id, ...]:
    """Return the sorted distinct ids; all ints or all strings."""
    bad = [v for v in values if isinstance(v, bool) or not isinstance(v, (int, str))]
    if bad:
        raise EvaluationError(
            f'{name}: {where} must be integers or strings, found {bad[0]!r}; fix the file.')
    kinds = {type(v) for v in values}
    if len(kinds) > 1:
        raise EvaluationError(
            f'{name}: {where} mixes integers and strings; use one kind for all ids.')
    return tuple(sorted(set(values)))


def _index(values: list[Any], ids: tuple[Id, ...], name: str, what: str, field: str,
           where: str, fix: str) -> NDArray[np.int64]:
    """Return (N,) the index into ``ids`` of every value; error naming the unknown ones."""
    lookup = {v: i for i, v in enumerate(ids)}
    index = np.fromiter((lookup.get(v, -1) for v in values), dtype=np.int64, count=len(values))
    unknown = np.flatnonzero(index < 0)
    if len(unknown):
        first = values[int(unknown[0])]
        hint = ''
        as_text = {str(v) for v in ids}
        if str(first) in as_text:
            hint = (f' ({field} {first!r} is a {type(first).__name__} but the ids there are '
                    f'{type(ids[0]).__name__}s; write them the same way)')
        known = ', '.join(repr(v) for v in ids[:5]) + (', ...' if len(ids) > 5 else '')
        raise EvaluationError(
            f'{name}: {len(unknown)} of {len(values)} {what} name a {field} that is not in '
            f'{where}, e.g. {what}[{int(unknown[0])}] with {field} {first!r}{hint}; known '
            f'{field}s: {known or "none"}. {fix}')
    return index


def _require(items: list[Any], field: str, name: str, what: str, why: str) -> None:
    for i, item in enumerate(items):
        if field not in item:
            raise EvaluationError(f'{name}: {what}[{i}] has no {field!r}; {why}.')


def _numbers(rows: list[Any], name: str, where: str, shape: tuple[int, ...]) -> F64:
    """Return ``rows`` as a float64 array of ``shape``; error if not numbers of that shape."""
    try:
        array = np.asarray(rows, dtype=np.float64).reshape(shape)
    except (TypeError, ValueError) as err:
        raise EvaluationError(
            f'{name}: {where} must be numbers, {shape[-1] if len(shape) > 1 else 1} per '
            f'entry ({err}); fix the file.') from err
    if not np.isfinite(array).all():
        raise EvaluationError(
            f'{name}: {where} holds NaN or infinite values; write finite numbers (a keypoint '
            'that was not found: any finite x, y and score 0).')
    return array


def _keypoint_rows(items: list[Any], fields: list[tuple[str, int]], layout: Skeleton,
                   name: str, what: str) -> F64:
    """Return (N, K * 3) float64: the fields' keypoint triplets of every item, concatenated."""
    rows = []
    for i, item in enumerate(items):
        row: list[Any] = []
        for field, count in fields:
            values = item.get(field)
            if not isinstance(values, list):
                hint = ('; this looks like a plain COCO file: evaluate with skeleton coco'
                        if field != 'keypoints' and 'keypoints' in item else '')
                raise EvaluationError(
                    f'{name}: {what}[{i}] has no {field!r} list of {count} x 3 numbers, '
                    f'which skeleton {layout.name} needs{hint}.')
            if len(values) != count * 3:
                raise EvaluationError(
                    f'{name}: {what}[{i}].{field} has {len(values)} numbers, expected '
                    f'{count * 3} ({count} keypoints x (x, y, v)) for skeleton {layout.name}.')
            row.extend(values)
        rows.append(row)
    width = layout.num_keypoints * 3
    if not rows:
        return np.zeros((0, width))
    return _numbers(rows, name, f'{what}[] keypoints', (-1, width))


def _result_keypoints(results: list[Any], layout: Skeleton, name: str) -> F64:
    """Return (D, K, 3) float64 result keypoints in the layout's order (see load_results)."""
    num = layout.num_keypoints
    split_fields = [(PART_FIELDS[part], end - start)
                    for part, (start, end) in layout.parts.items()]
    # layouts whose leading keypoints are this one (coco_wholebody for coco)
    wider = {other.num_keypoints * 3: other for other in map(get_skeleton, skeleton_names())
             if other.num_keypoints > num and other.keypoint_names[:num] == layout.keypoint_names}
    rows = []
    for i, entry in enumerate(results):
        values = entry['keypoints']
        if not isinstance(values, list):
            raise EvaluationError(
                f'{name}: results[{i}].keypoints is {_kind(values)}, expected a list of '
                f'{num} x 3 numbers (x, y, score).')
        if len(values) == num * 3:
            rows.append(values)
        elif len(values) in wider:
            rows.append(values[:num * 3])
        elif len(split_fields) > 1 and all(field in entry for field, _ in split_fields[1:]):
            rows.append(_keypoint_rows([entry], split_fields, layout, name, 'results')[0])
        else:
            raise EvaluationError(
                f'{name}: results[{i}].keypoints has {len(values)} numbers, expected '
                f'{num * 3} ({num} keypoints x (x, y, score)) for skeleton {layout.name}; '
                'evaluate with the skeleton the predictions were made in.')
    if not rows:
        return np.zeros((0, num, 3))
    return _numbers(rows, name, 'results[].keypoints', (-1, num, 3))
