"""The accuracy guard: a fresh TensorRT engine against ONNX Runtime FP32, in keypoint pixels.

Every generation's build path ends here: the engine and ONNX Runtime (CPU, FP32, the
original ONNX) run the same sample crops (drawn people), both outputs are decoded by argmax
and the keypoint distances reported per body part (:class:`GuardReport`).
"""

from __future__ import annotations

from dataclasses import dataclass
import logging
from typing import Any, Mapping, Optional, Sequence

import numpy as np
from numpy.typing import NDArray

from humanpose.errors import HumanPoseError

LOG = logging.getLogger(__name__)

#: Largest keypoint distance (input pixels) a build may show before the guard warns.
DEFAULT_THRESHOLD_PX = 1.0


def guard_sample_batch(input_shape: Sequence[int], batch: int, mean: Sequence[float],
                       std: Sequence[float], rgb: bool = True, seed: int = 0
                       ) -> NDArray[np.float32]:
    """Return ``batch`` normalised crops with one drawn person each, like top-down crops.

    People come from :mod:`humanpose.testing.scene` (skeleton drawings with hands and face),
    centred and scaled as a detector box padded by 1.25 would put them, with a little
    rotation and stretch. Inputs that are not 3-channel images get seeded noise.

    :param input_shape: (C, H, W) of the network input.
    :return: (batch, C, H, W) float32.
    """
    channels, height, width = (int(d) for d in input_shape)
    rng = np.random.default_rng(seed)
    if channels != 3:
        return rng.standard_normal((batch, channels, height, width)).astype(np.float32)
    from humanpose.testing.scene import PersonSpec, person_template, render_scene

    template = person_template()
    low, high = template.min(axis=0), template.max(axis=0)
    out = np.empty((batch, 3, height, width), np.float32)
    for i in range(batch):
        aspect = float(rng.uniform(0.9, 1.1))
        scale = min(height / (1.25 * (high[1] - low[1])),
                    width / (1.25 * (high[0] - low[0]) * aspect))
        centre = ((width - 1) / 2 - scale * aspect * (low[0] + high[0]) / 2
                  + rng.uniform(-2, 2),
                  (height - 1) / 2 - scale * (low[1] + high[1]) / 2 + rng.uniform(-2, 2))
        person = PersonSpec((float(centre[0]), float(centre[1])), float(scale),
                            angle_deg=float(rng.uniform(-8, 8)), aspect=aspect)
        image = render_scene(width, height, [person], seed=seed + i).image  # BGR
        pixels = image[..., ::-1] if rgb else image
        norm = (pixels.astype(np.float32) - np.asarray(mean, np.float32)) / np.asarray(
            std, np.float32)
        out[i] = norm.transpose(2, 0, 1)
    return out


def decode_argmax_keypoints(outputs: Mapping[str, NDArray[Any]], input_size: tuple[int, int]
                            ) -> Optional[tuple[NDArray[np.float32], NDArray[np.float32]]]:
    """Decode keypoints by argmax, in input pixels (SimCC or heatmap heads).

    Uses :mod:`humanpose.decode` (argmax, no DARK). SimCC: keypoint = argmax / split ratio,
    split ratio = output length / input side (per axis); score = min of the x and y maxima.
    Heatmap (``heatmaps`` N x K x h x w): argmax cell scaled by input / heatmap size.

    :param input_size: (width, height) of the network input.
    :return: (keypoints (N, K, 2) float32 input pixels, raw scores (N, K) float32), or None
        for outputs this does not know.
    """
    from humanpose.decode import decode_heatmap, decode_simcc

    width, height = input_size
    if 'simcc_x' in outputs and 'simcc_y' in outputs:
        simcc_x = np.asarray(outputs['simcc_x'], np.float32)
        simcc_y = np.asarray(outputs['simcc_y'], np.float32)
        split_x, split_y = simcc_x.shape[-1] / width, simcc_y.shape[-1] / height
        keypoints, scores, _ = decode_simcc(simcc_x, simcc_y, split_x)
        keypoints[..., 1] *= np.float32(split_x / split_y)  # y bins per pixel may differ
        return keypoints, scores
    maps = outputs.get('heatmaps')
    if maps is not None and np.ndim(maps) == 4:
        keypoints, scores, _ = decode_heatmap(np.asarray(maps, np.float32), input_size,
                                              dark=False)
        return keypoints, scores
    return None


@dataclass(frozen=True)
class GuardReport:
    """How far an engine's decoded keypoints are from ONNX Runtime's on a sample batch.

    :param max_px: largest keypoint distance, input pixels (over keypoints the reference
        scores at least ``min_score``).
    :param mean_px: mean keypoint distance, input pixels.
    :param worst_part: skeleton part of the worst keypoint (``left_hand`` ...).
    :param worst_keypoint: name of the worst keypoint.
    :param per_part_max_px: part -> largest distance.
    :param output_max_abs: output name -> largest absolute difference of the raw outputs.
    :param compared: keypoints compared (of batch x K).
    """

    batch: int
    max_px: float
    mean_px: float
    worst_part: str
    worst_keypoint: str
    per_part_max_px: Mapping[str, float]
    output_max_abs: Mapping[str, float]
    compared: int
    threshold_px: float

    @property
    def passed(self) -> bool:
        """The largest difference is within the threshold."""
        return self.max_px <= self.threshold_px

    def summary(self) -> str:
        """One line for logs and the CLI."""
        return (f'keypoints vs ONNX Runtime on {self.batch} sample crops: max '
                f'{self.max_px:.2f} px, mean {self.mean_px:.3f} px (worst: {self.worst_part}, '
                f'{self.worst_keypoint}); threshold {self.threshold_px:g} px')

    def to_json(self) -> dict[str, Any]:
        """Return JSON-ready data (stored in the engine's sidecar)."""
        return {'batch': self.batch, 'max_px': self.max_px, 'mean_px': self.mean_px,
                'worst_part': self.worst_part, 'worst_keypoint': self.worst_keypoint,
                'per_part_max_px': dict(self.per_part_max_px),
                'output_max_abs': dict(self.output_max_abs), 'compared': self.compared,
                'threshold_px': self.threshold_px, 'passed': self.passed}


def _parts_of(num_keypoints: int) -> tuple[list[str], NDArray[np.int64], tuple[str, ...]]:
    from humanpose.skeletons import skeleton_for_num_keypoints

    try:
        skeleton = skeleton_for_num_keypoints(num_keypoints)
    except HumanPoseError:
        return (['all'], np.zeros(num_keypoints, np.int64),
                tuple(f'keypoint {i}' for i in range(num_keypoints)))
    return list(skeleton.parts), skeleton.part_of_keypoint(), skeleton.keypoint_names


def compare_pose_outputs(reference: Mapping[str, NDArray[Any]],
                         candidate: Mapping[str, NDArray[Any]], input_size: tuple[int, int],
                         threshold_px: float = 1.0, min_score: float = 0.1
                         ) -> Optional[GuardReport]:
    """Compare decoded keypoints of two runs of the same batch.

    :param reference: outputs of ONNX Runtime.
    :param candidate: outputs of the TensorRT engine.
    :param input_size: (width, height) of the network input.
    :param min_score: keypoints the reference scores lower are not compared (invisible).
    :return: the report, or None when the outputs are not a known pose head.
    """
    output_max_abs = {
        name: float(np.max(np.abs(np.asarray(candidate[name], np.float64)
                                  - np.asarray(value, np.float64)), initial=0.0))
        for name, value in reference.items() if name in candidate}
    ref = decode_argmax_keypoints(reference, input_size)
    cand = decode_argmax_keypoints(candidate, input_size)
    if ref is None or cand is None:
        return None
    distance = np.linalg.norm(cand[0] - ref[0], axis=-1)  # (N, K) input pixels
    visible = ref[1] >= min_score
    if not visible.any():
        visible = np.ones_like(visible)
    part_names, part_index, keypoint_names = _parts_of(distance.shape[1])
    masked = np.where(visible, distance, -1.0)
    worst = np.unravel_index(int(masked.argmax()), masked.shape)
    per_part = {name: float(np.max(masked[:, part_index == i], initial=0.0))
                for i, name in enumerate(part_names) if np.any(part_index == i)}
    return GuardReport(batch=int(distance.shape[0]), max_px=float(masked.max()),
                       mean_px=float(distance[visible].mean()),
                       worst_part=part_names[int(part_index[worst[1]])],
                       worst_keypoint=keypoint_names[int(worst[1])], per_part_max_px=per_part,
                       output_max_abs=output_max_abs, compared=int(visible.sum()),
                       threshold_px=float(threshold_px))


#: (precision, keep_fp32) -> what to try when the guard fails.
GUARD_ADVICE: dict[tuple[str, bool], str] = {
    ('fp16', False): 'FP16 everywhere is known to cost hand/finger accuracy on these networks: '
                     'rebuild keeping normalisation and the SimCC head in FP32 (drop '
                     '--fp16-everywhere / keep_fp32=True), or build FP32 (omit --fp16)',
    ('fp16', True): 'rebuild in FP32 (omit --fp16) if hands or face matter',
    ('fp32', False): 'an FP32 engine should match ONNX Runtime; please report this with the '
                     'TensorRT version and GPU',
}


def warn_if_off(report: GuardReport, model_name: str, precision: str, keep_fp32: bool) -> None:
    """Log the report; a ``logging.warning`` naming the worst part above the threshold."""
    if report.passed:
        LOG.info('TensorRT %s engine of %s: %s', precision, model_name, report.summary())
        return
    advice = GUARD_ADVICE.get((precision, keep_fp32 and precision == 'fp16'),
                              GUARD_ADVICE[('fp32', False)])
    LOG.warning('TensorRT %s engine of %s differs from ONNX Runtime: %s. Worst part: %s. %s.',
                precision, model_name, report.summary(), report.worst_part, advice)
