"""Person detection: RTMDet / YOLOX ONNX models, letterbox preprocessing, NMS.

Two output formats are understood (the card's ``head.type``):

* ``dets`` — exported with NMS inside (MMDeploy): ``dets`` (N, D, 5) = x_min, y_min,
  x_max, y_max, score in network-input pixels, ``labels`` (N, D);
* ``yolox`` — raw YOLOX grids (N, A, 5 + C): per anchor point (dx, dy, log w, log h,
  objectness, class scores) on strides 8/16/32; decoded here, then NMS.

Only the person class is kept; boxes are mapped back to the image and clipped.
"""

from __future__ import annotations

from pathlib import Path
import threading
import time
from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np
from numpy.typing import NDArray

from humanpose.backends.base import BackendOptions, InferenceBackend, create_backend
from humanpose.errors import ClosedError, ModelLoadError
from humanpose.models.card import ModelCard, resolve_card
from humanpose.preprocess import check_color, check_image, letterbox, normalise
from humanpose.types import Detections

F32 = NDArray[np.float32]


def nms(boxes: F32, scores: F32, iou_threshold: float) -> NDArray[np.intp]:
    """Greedy non-maximum suppression.

    :param boxes: (N, 4) xyxy.
    :param scores: (N,).
    :param iou_threshold: a box is dropped when its IoU with a kept, higher-scoring box
        exceeds this.
    :return: indices of the kept boxes, highest score first.
    """
    order = np.argsort(-scores, kind='stable')
    boxes = boxes.astype(np.float64)
    areas = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1],
                                                                  0, None)
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        x0 = np.maximum(boxes[i, 0], boxes[rest, 0])
        y0 = np.maximum(boxes[i, 1], boxes[rest, 1])
        x1 = np.minimum(boxes[i, 2], boxes[rest, 2])
        y1 = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
        union = areas[i] + areas[rest] - inter
        iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        order = rest[iou <= iou_threshold]
    return np.asarray(keep, dtype=np.intp)


def parse_dets(dets: F32, labels: NDArray[np.generic], person_label: int = 0
               ) -> tuple[F32, F32]:
    """Return person boxes (M, 4) and scores (M,) of one image from exported-NMS outputs.

    :param dets: (D, 5) x_min, y_min, x_max, y_max, score.
    :param labels: (D,) class ids.
    """
    dets = np.asarray(dets, np.float32).reshape(-1, 5)
    labels = np.asarray(labels).reshape(-1)
    keep = labels.astype(np.int64) == person_label
    return dets[keep, :4], dets[keep, 4]


def decode_yolox(raw: F32, input_size: tuple[int, int], strides: Sequence[int] = (8, 16, 32),
                 person_label: int = 0) -> tuple[F32, F32]:
    """Decode raw YOLOX grids of one image into boxes and person scores.

    :param raw: (A, 5 + C), A = sum over strides of (H / s) * (W / s), rows in stride
        order, row-major within a stride.
    :param input_size: network input (width, height).
    :return: boxes (A, 4) xyxy network pixels, scores (A,) = objectness * person score.
    :raises ModelLoadError: A does not match the strides and input size.
    """
    width, height = input_size
    grids, steps = [], []
    for s in strides:
        ys, xs = np.mgrid[0:height // s, 0:width // s]
        grids.append(np.stack([xs.ravel(), ys.ravel()], axis=1))
        steps.append(np.full(xs.size, s))
    grid = np.concatenate(grids).astype(np.float32)
    step = np.concatenate(steps).astype(np.float32)[:, None]
    if raw.shape[0] != len(grid):
        raise ModelLoadError(f'YOLOX output has {raw.shape[0]} anchor points, but an input of '
                             f'{width}x{height} with strides {tuple(strides)} gives {len(grid)};'
                             ' check the model card (input_size, strides)')
    centre = (raw[:, :2] + grid) * step
    size = np.exp(np.clip(raw[:, 2:4], -10, 10)) * step
    boxes = np.concatenate([centre - size / 2, centre + size / 2], axis=1)
    scores = raw[:, 4] * raw[:, 5 + person_label]
    return boxes.astype(np.float32), scores.astype(np.float32)


class PersonDetector:
    """A person detector network.

    :param model: ONNX (or engine) path.
    :param card: model card (object, dict, YAML path, built-in name); None = embedded
        metadata, sidecar YAML, or inferred from the outputs.
    :param backend: backend name (``auto``, ``onnxruntime-cpu``, ``tensorrt`` ...).
    :param options: backend options.
    :param score_threshold: minimum person score.
    :param iou_threshold: NMS IoU threshold (raw-grid models; exported-NMS models are
        suppressed again with it, which is harmless).
    :param max_people: keep at most this many, highest scores first.
    """

    def __init__(self, model: Union[str, Path], card: Any = None, backend: str = 'auto',
                 options: Optional[BackendOptions] = None, score_threshold: float = 0.5,
                 iou_threshold: float = 0.65, max_people: int = 20,
                 backend_instance: Optional[InferenceBackend] = None) -> None:
        from humanpose.pipeline import model_path
        self.model_path = model_path(model, 'the detector model')
        self._lock = threading.Lock()
        self._closed = False
        if backend_instance is None and not self.model_path.is_file():
            raise ModelLoadError(f'detector model not found: {self.model_path}')
        self.backend = backend_instance or create_backend(self.model_path, backend, options)
        outputs = {o.name: o.shape for o in self.backend.outputs}
        self.card: ModelCard = resolve_card(self.model_path, card, self.backend.inputs[0].shape,
                                            outputs, 'detection')
        self.input_name = self.backend.inputs[0].name
        self.score_threshold = score_threshold
        self.iou_threshold = iou_threshold
        self.max_people = max_people
        w, h = self.card.input_size
        self._canvas = np.empty((h, w, 3), np.uint8)
        self._batch = np.empty((1, 3, h, w), np.float32)
        self._mean = np.asarray(self.card.mean, np.float32)
        self._inv_std = (1.0 / np.asarray(self.card.std, np.float32)).astype(np.float32)
        #: Seconds the network itself took in the last :meth:`detect` (the rest is
        #: letterbox, normalisation and NMS).
        self.last_network_s = 0.0

    def detect(self, image: NDArray[np.uint8], color: str = 'bgr') -> Detections:
        """Find people in one image.

        :param image: (H, W, 3) uint8.
        :param color: ``bgr`` or ``rgb`` (order of ``image``).
        :return: person boxes in image pixels, clipped, highest score first.
        :raises ClosedError: the detector was closed.
        """
        image = check_image(image)
        color = check_color(color)
        with self._lock:
            if self._closed:
                raise ClosedError(f'this PersonDetector ({self.model_path.name}) was closed; '
                                  'create a new one')
            return self._detect_locked(image, color)

    def _detect_locked(self, image: NDArray[np.uint8], color: str) -> Detections:
        from humanpose.pipeline import run_model

        head = self.card.head
        canvas, ratio = letterbox(image, self.card.input_size, int(head.get('pad_value', 114)),
                                  out=self._canvas)
        swap = (color.lower() == 'bgr') != (self.card.color == 'bgr')
        normalise(canvas[None], self._mean, self._inv_std, swap, self._batch)
        start = time.perf_counter()
        outputs = run_model(self.backend, lambda: self.backend.run({self.input_name: self._batch}),
                            self.model_path, 1)
        self.last_network_s = time.perf_counter() - start
        boxes, scores = self._parse(outputs)
        keep = scores >= self.score_threshold
        boxes, scores = boxes[keep] / np.float32(ratio), scores[keep]
        h, w = image.shape[:2]
        # MMDetection's convention: detector boxes are clipped to [0, W] x [0, H].
        boxes = np.clip(boxes, 0, [w, h, w, h]).astype(np.float32)
        valid = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        boxes, scores = boxes[valid], scores[valid]
        order = nms(boxes, scores, self.iou_threshold)[:self.max_people]
        return Detections(boxes[order], np.clip(scores[order], 0.0, 1.0))

    def _parse(self, outputs: Mapping[str, NDArray[np.generic]]) -> tuple[F32, F32]:
        head = self.card.head
        person = int(head.get('person_label', 0))
        if head['type'] == 'dets':
            dets = outputs.get('dets')
            labels = outputs.get('labels')
            if dets is None or labels is None:
                raise ModelLoadError(f'{self.model_path.name}: expected outputs dets and '
                                     f'labels, got {", ".join(outputs)}')
            return parse_dets(dets[0], labels[0], person)
        (raw,) = outputs.values()
        return decode_yolox(np.asarray(raw[0], np.float32), self.card.input_size,
                            tuple(head.get('strides', (8, 16, 32))), person)

    def close(self) -> None:
        """Release the backend; later calls raise ClosedError (closing twice is fine)."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self.backend.close()
