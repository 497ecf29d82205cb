"""COCO keypoint results (``poses.json``) and external person boxes (``--boxes``).

Results follow the COCO results format that ``pycocotools``' ``COCO.loadRes`` and
``COCOeval(..., 'keypoints')`` read: a JSON list with one entry per person::

    {"image_id": 0, "category_id": 1,
     "keypoints": [x0, y0, c0, x1, y1, c1, ...],   # K keypoints, pixels, confidence [0, 1]
     "score": 0.93,                                # person score
     "bbox": [x, y, w, h]}                         # the person box, pixels

The person score is MMPose's "bbox_keypoint" rescoring (what its COCO metric ranks by):
the box score times the mean confidence of the keypoints above 0.2 (0 when none is).

Image ids: the frame index for videos, webcams and bags; the file-name stem for image
files, as an integer when the stem is all digits (``000000397133.jpg`` -> 397133, the
COCO convention), else the stem string.

Person boxes (``humanpose run --boxes BOXES.json``), either

* a mapping image id -> boxes ``[x_min, y_min, x_max, y_max]`` or
  ``[x_min, y_min, x_max, y_max, score]`` in pixels::

      {"0": [[10, 20, 110, 320, 0.9]], "1": []}

* or COCO-style detections: a list ``[{"image_id", "bbox": [x, y, w, h], "score",
  "category_id"}]`` (entries whose category_id is not 1 are ignored; score defaults
  to 1), or a COCO annotation file (its ``annotations`` list, e.g. ground-truth boxes).

Keys match the image id or the frame name (so ``"000123"`` and ``123`` both find image
``000123.png``). A frame without an entry has no people.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple, Optional, TextIO, Type, Union

import numpy as np
from numpy.typing import NDArray

from humanpose.errors import EvaluationError, InvalidInputError
from humanpose.types import Poses

ImageId = Union[int, str]
F32 = NDArray[np.float32]

#: Keypoints above this confidence count in the person score (MMPose's default).
KEYPOINT_SCORE_THRESHOLD = 0.2
#: Sources whose image ids are file-name stems.
STEM_ID_KINDS = frozenset({'image', 'folder'})
PERSON_CATEGORY = 1


def image_id_for(kind: str, index: int, name: str) -> ImageId:
    """Return the COCO image id of a frame.

    :param kind: the source kind (``folder``, ``image``, ``video``, ``webcam``, ``bag``).
    :param index: the frame index.
    :param name: the frame name (the file-name stem for image files).
    """
    if kind in STEM_ID_KINDS:
        return int(name) if name.isdigit() else name
    return index


def person_scores(poses: Poses, threshold: float = KEYPOINT_SCORE_THRESHOLD) -> F32:
    """Return MMPose's bbox_keypoint person scores: box score x mean confident keypoint.

    :param poses: results of one image.
    :param threshold: keypoints whose confidence exceeds this count.
    :return: (N,) float32 in [0, 1].
    """
    confidence = np.clip(poses.confidence, 0.0, 1.0)
    valid = confidence > threshold
    counts = valid.sum(axis=1)
    mean = np.where(valid, confidence, 0.0).sum(axis=1) / np.maximum(counts, 1)
    scores: F32 = (np.clip(poses.box_scores, 0.0, 1.0) * mean).astype(np.float32)
    return scores


def poses_to_coco(poses: Poses, image_id: ImageId, decimals: int = 2) -> list[dict[str, Any]]:
    """Return the COCO result entries of one image's poses (one per person).

    :param poses: results of the image.
    :param image_id: the image's id (see :func:`image_id_for`).
    :param decimals: decimals kept of pixel coordinates (confidences keep 4).
    """
    if not len(poses):
        return []
    xy = np.round(poses.keypoints.astype(np.float64), decimals)
    conf = np.round(np.clip(poses.confidence, 0.0, 1.0).astype(np.float64), 4)
    keypoints = np.concatenate([xy, conf[..., None]], axis=-1).reshape(len(poses), -1)
    boxes = poses.boxes.astype(np.float64)
    xywh = np.round(np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1),
                    decimals)
    scores = np.round(person_scores(poses).astype(np.float64), 4)
    return [{'image_id': image_id, 'category_id': PERSON_CATEGORY, 'keypoints': kp,
             'score': score, 'bbox': box}
            for kp, score, box in zip(keypoints.tolist(), scores.tolist(), xywh.tolist())]


class CocoResultsWriter:
    """Stream COCO result entries into a JSON list; the file is valid JSON once closed.

    Entries are written as they come, so an interrupted run keeps every finished frame
    (close the writer in ``finally``).

    :param path: the JSON file to create (overwritten).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.count = 0
        self._file: Optional[TextIO] = self.path.open('w', encoding='utf-8')
        self._file.write('[')

    def write(self, entries: list[dict[str, Any]]) -> None:
        """Append entries (e.g. :func:`poses_to_coco` of one frame)."""
        assert self._file is not None, 'writer is closed'
        for entry in entries:
            self._file.write(('\n' if self.count == 0 else ',\n') + json.dumps(entry))
            self.count += 1

    def close(self) -> None:
        """Finish the JSON list and close the file; safe to call twice."""
        if self._file is not None:
            self._file.write('\n]\n' if self.count else ']\n')
            self._file.close()
            self._file = None

    def __enter__(self) -> CocoResultsWriter:
        return self

    def __exit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        self.close()


def _read_json(path: Path, what: str, error: Type[Exception]) -> Any:
    try:
        text = Path(path).read_bytes().decode('utf-8')
    except OSError as err:
        raise error(f'cannot read {what} {path}: {err.strerror or err}') from err
    except UnicodeDecodeError as err:
        raise error(f'{what} {path} is not UTF-8 text (byte {err.start}); save it as UTF-8 '
                    'JSON') from err
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise error(f'{what} {path} is not valid JSON (line {err.lineno}, column '
                    f'{err.colno}: {err.msg})') from err


def read_results(path: Path) -> list[dict[str, Any]]:
    """Read and check a COCO keypoint results file.

    :return: the entries, unchanged.
    :raises EvaluationError: unreadable JSON, not a list, or an entry without the COCO
        result fields (the message names the entry).
    """
    data = _read_json(path, 'results file', EvaluationError)
    if not isinstance(data, list):
        raise EvaluationError(f'results file {path} must hold a JSON list of results, got '
                              f'{type(data).__name__}')
    for i, entry in enumerate(data):
        problem = _result_problem(entry)
        if problem:
            raise EvaluationError(f'results file {path}, entry {i}: {problem}')
    return data


def _result_problem(entry: Any) -> str:
    if not isinstance(entry, dict):
        return f'expected an object, got {type(entry).__name__}'
    missing = [k for k in ('image_id', 'category_id', 'keypoints', 'score', 'bbox')
               if k not in entry]
    if missing:
        return f'missing {", ".join(missing)}'
    keypoints = entry['keypoints']
    if not isinstance(keypoints, list) or not keypoints or len(keypoints) % 3:
        return 'keypoints must be a list of [x, y, confidence] triples'
    if not isinstance(entry['bbox'], list) or len(entry['bbox']) != 4:
        return 'bbox must be [x, y, w, h]'
    return ''


class BoxesTable(NamedTuple):
    """External person boxes by image id (see the module docstring for the file format).

    :param boxes: key (image id as a string) -> (N, 4) float32 xyxy pixels.
    :param scores: key -> (N,) float32 person scores.
    """

    boxes: dict[str, F32]
    scores: dict[str, F32]

    def lookup(self, image_id: ImageId, name: str) -> Optional[tuple[F32, F32]]:
        """Return (boxes, scores) of a frame by image id or name, or None if absent."""
        for key in (str(image_id), name):
            if key in self.boxes:
                return self.boxes[key], self.scores[key]
        return None


def _box_row(values: Any, where: str, xywh: bool) -> list[float]:
    if not isinstance(values, (list, tuple)) or len(values) not in ((4,) if xywh else (4, 5)):
        expected = '[x, y, w, h]' if xywh else '[x_min, y_min, x_max, y_max(, score)]'
        raise InvalidInputError(f'{where}: expected {expected}, got {values!r}')
    try:
        row = [float(v) for v in values]
    except (TypeError, ValueError):
        raise InvalidInputError(f'{where}: box values must be numbers, got {values!r}') from None
    if not all(math.isfinite(v) for v in row):
        raise InvalidInputError(f'{where}: box values must be finite, got {values!r}')
    if xywh:
        row = [row[0], row[1], row[0] + row[2], row[1] + row[3]]
    if row[2] <= row[0] or row[3] <= row[1]:
        raise InvalidInputError(f'{where}: box {values!r} has no area (x_max must exceed '
                                'x_min and y_max y_min)')
    return row


def load_boxes(path: Path) -> BoxesTable:
    """Read a ``--boxes`` file (mapping or COCO-style detections; module docstring).

    :raises InvalidInputError: unreadable or invalid JSON, or a malformed box (the
        message names the image id or entry).
    """
    data = _read_json(path, 'boxes file', InvalidInputError)
    rows: dict[str, list[list[float]]] = {}
    if isinstance(data, dict) and isinstance(data.get('annotations'), list):
        data = data['annotations']
    if isinstance(data, dict):
        for key, boxes in data.items():
            if not isinstance(boxes, list):
                raise InvalidInputError(f'boxes file {path}, image {key}: expected a list of '
                                        f'boxes, got {type(boxes).__name__}')
            rows[str(key)] = [
                _box_row(b, f'boxes file {path}, image {key}, box {i}', xywh=False) + (
                    [1.0] if len(b) == 4 else [])
                for i, b in enumerate(boxes)]
    elif isinstance(data, list):
        for i, entry in enumerate(data):
            where = f'boxes file {path}, entry {i}'
            if not isinstance(entry, dict) or 'image_id' not in entry or 'bbox' not in entry:
                raise InvalidInputError(f'{where}: expected {{"image_id", "bbox": [x, y, w, h], '
                                        f'"score"}}, got {entry!r:.80}')
            if entry.get('category_id', PERSON_CATEGORY) != PERSON_CATEGORY:
                continue
            score = entry.get('score', 1.0)
            if not isinstance(score, (int, float)) or not math.isfinite(score):
                raise InvalidInputError(f'{where}: score must be a number, got {score!r}')
            row = _box_row(entry['bbox'], where, xywh=True)
            rows.setdefault(str(entry['image_id']), []).append(row + [float(score)])
    else:
        raise InvalidInputError(
            f'boxes file {path} must hold a mapping image id -> boxes or a list of COCO '
            f'detections, got {type(data).__name__}')
    table = {k: np.asarray(v, np.float32).reshape(-1, 5) for k, v in rows.items()}
    return BoxesTable(boxes={k: np.ascontiguousarray(v[:, :4]) for k, v in table.items()},
                      scores={k: np.ascontiguousarray(v[:, 4]) for k, v in table.items()})
