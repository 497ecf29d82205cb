"""``humanpose bench``: per-stage latency and throughput of the whole frame path.

For each image size and people count it renders a scene (with aligned depth), wraps it in
a ``sensor_msgs/Image`` the way a camera driver would, and times every stage the node runs:

==========  ===============================================================
convert     Image message (bgr8, row padding) -> RGB array
detect      person detector (letterbox, network, NMS)
crop        boxes -> affine crops -> normalised (N, 3, H, W) batch
infer       ONE pose-network call for all people
decode      SimCC / heatmap decode + mapping back to image pixels
lift3d      depth -> 3D keypoints
track       tracking ids + One-Euro smoothing
message     HumanPoseArray CDR bytes (what the node publishes)
markers     MarkerArray build + CDR serialisation
cues        HRI cues of every person (head pose, pointing, hands, waving, ...)
cuemsg      HumanCuesArray message + cue markers CDR
==========  ===============================================================

Beside the stages (not part of the frame: the output is off by default), the ROS4HRI body
output (``hri: true``) is timed as the node computes it: ids, Skeleton2D, ROI, body TF
frames and all their CDR bytes (:func:`humanpose.ros.hri_messages.encode_hri_frame`), without
and with ``cropped`` images of every person; the rclpy publish calls are not included.

Median and p90 per stage over the measured frames (after warm-up), end-to-end frames per
second, and the share of the frame spent outside the two networks ("overhead": everything
but the pose network call and the detector's network call). In the same run,
pose inference of all people in one call is compared with one call per person.

3D from a 3D pose network (:func:`measure_pose3d`): on RTMW3D-shaped outputs (133
keypoints, 576 / 768 / 576 bins, Gaussian rows like a trained head's), what decoding the z
axis and placing the people costs on top of the 2D decode: monocular (placement by torso
size) and fused (with a depth image), per person.

The cost of the cues is also measured on posed 3D people who all wave and point
(:func:`measure_cues`): every person's waving fit runs on every frame, the worst case,
where the rendered scenes' hanging hands skip it; in the C kernel and in NumPy.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
import time
from typing import Any, Callable, Optional, Sequence

import numpy as np

from humanpose.backends.base import BackendOptions
from humanpose.decode import simcc_implementation

STAGES: tuple[str, ...] = ('convert', 'detect', 'crop', 'infer', 'decode', 'lift3d', 'track',
                           'message', 'markers', 'cues', 'cuemsg')


@dataclass(frozen=True)
class BenchConfig:
    """What to measure.

    :param people: people counts.
    :param sizes: image sizes (width, height).
    :param frames: measured frames per configuration.
    :param warmup: unmeasured frames first.
    :param backend: inference backend name.
    :param model: ``compute`` (random weights, about RTMW-m's FLOPs) or ``analytic``.
    :param input_size: pose network input (width, height).
    :param stage_blocks: conv blocks per stage of the compute model (smaller = faster).
    :param compare_batching: also time one pose call per person.
    :param threads: ONNX Runtime intra-op threads (0 = default).
    """

    people: tuple[int, ...] = (1, 2, 4, 8, 16)
    sizes: tuple[tuple[int, int], ...] = ((640, 480), (1280, 720), (1920, 1080))
    frames: int = 50
    warmup: int = 5
    backend: str = 'onnxruntime-cpu'
    model: str = 'compute'
    input_size: tuple[int, int] = (192, 256)
    stage_blocks: tuple[int, ...] = (6, 8, 12, 8)
    compare_batching: bool = True
    threads: int = 0


@dataclass
class CaseResult:
    """Numbers of one (size, people) case; times in milliseconds."""

    width: int
    height: int
    people: int
    people_found: int
    median_ms: dict[str, float] = field(default_factory=dict)
    p90_ms: dict[str, float] = field(default_factory=dict)
    frame_ms: float = 0.0
    fps: float = 0.0
    overhead: float = 0.0
    detector_network_ms: float = 0.0
    batched_ms: Optional[float] = None
    per_person_ms: Optional[float] = None
    #: Median ms of the optional outputs timed beside the stages (``hri``, ``hri_cropped``).
    extra_ms: dict[str, float] = field(default_factory=dict)

    @property
    def batching_speedup(self) -> Optional[float]:
        if self.batched_ms and self.per_person_ms:
            return self.per_person_ms / self.batched_ms
        return None


def _image_message(ns: Any, image_bgr: np.ndarray, stamp_ns: int, pad: int = 64) -> Any:
    """Return a bgr8 sensor_msgs/Image with ``pad`` bytes of row padding, like many drivers."""
    from humanpose.ros.messages import make_header
    h, w = image_bgr.shape[:2]
    step = w * 3 + pad
    rows = np.zeros((h, step), np.uint8)
    rows[:, :w * 3] = image_bgr.reshape(h, -1)
    return ns.new('Image', header=make_header(ns, stamp_ns, 'camera_color_optical_frame'),
                  height=h, width=w, encoding='bgr8', is_bigendian=0, step=step,
                  data=rows.reshape(-1))


class _Clock:
    def __init__(self) -> None:
        self.times: dict[str, list[float]] = {s: [] for s in STAGES}

    def run(self, stage: str, fn: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        out = fn()
        self.times[stage].append((time.perf_counter() - start) * 1e3)
        return out


def _models(config: BenchConfig) -> tuple[Path, Path]:
    from humanpose.testing.models import (analytic_detector_model, analytic_pose_model,
                                          compute_pose_model)
    pose = (compute_pose_model(config.input_size, stage_blocks=config.stage_blocks)
            if config.model == 'compute' else analytic_pose_model(config.input_size))
    return pose, analytic_detector_model()


def run_case(config: BenchConfig, size: tuple[int, int], people: int, pose: Any,
             detector: Any, progress: Optional[Callable[[str], None]] = None) -> CaseResult:
    """Measure one (size, people) case with already loaded networks."""
    from humanpose.backends.base import run_batched
    from humanpose.cues import CueEstimator
    from humanpose.decode import decode_pose_outputs
    from humanpose.filters import PoseSmoother
    from humanpose.hri import tracked_people
    from humanpose.ros.hri_messages import encode_hri_frame
    from humanpose.lift3d import lift_poses
    from humanpose.preprocess import crop_to_image
    from humanpose.ros.images import image_to_rgb
    from humanpose.ros.markers import MarkerBuilder
    from humanpose.ros.cdr import encode_marker_array, encode_pose_array
    from humanpose.ros.cue_cdr import encode_cues_array
    from humanpose.ros.cue_markers import cue_marker_specs
    from humanpose.ros.messages import build_typestore, rosbags_namespace
    from humanpose.testing.scene import random_people, render_scene
    from humanpose.track import Tracker
    from humanpose.types import Poses

    width, height = size
    store = build_typestore()
    ns = rosbags_namespace(store)
    specs = random_people(people, width, height, seed=people)
    scene = render_scene(width, height, specs, seed=people)
    tracker, smoother = Tracker(), PoseSmoother()
    markers = MarkerBuilder(pose.skeleton.name)
    cue_estimator = CueEstimator(pose.skeleton.name)
    clock = _Clock()
    detector_net_ms: list[float] = []
    extra: dict[str, list[float]] = {'hri': [], 'hri_cropped': []}
    found = 0
    total = config.warmup + config.frames
    for frame in range(total):
        if frame == config.warmup:
            clock = _Clock()
        stamp_ns = 1_000_000_000 + frame * 33_333_333
        msg = _image_message(ns, scene.image, stamp_ns)
        rgb = clock.run('convert', lambda: image_to_rgb(msg))
        dets = clock.run('detect', lambda: detector.detect(rgb, color='rgb'))
        if frame >= config.warmup:
            detector_net_ms.append(detector.last_network_s * 1e3)
        batch, centers, scales = clock.run(
            'crop', lambda: pose._batcher(rgb, dets.boxes, 'rgb'))
        outputs = clock.run('infer', lambda: run_batched(pose.backend, pose.input_name, batch))

        def decode() -> Poses:
            kp, raw, conf = decode_pose_outputs(
                {k: np.asarray(v, np.float32) for k, v in outputs.items()}, pose.card.head,
                pose.card.input_size)
            kp = crop_to_image(kp, centers, scales, pose.card.input_size)
            return Poses(kp, conf, raw, dets.boxes, dets.scores, pose.skeleton.name)
        poses = clock.run('decode', decode)
        poses = clock.run('lift3d', lambda: lift_poses(poses, scene.depth_m, scene.camera))

        def track() -> Poses:
            tracked = tracker.update(poses, stamp_ns)
            smoother.forget(tracker.lost_this_frame)
            return smoother.update(tracked, stamp_ns)
        poses = clock.run('track', track)
        clock.run('message', lambda: encode_pose_array(
            poses, msg.header.stamp.sec, msg.header.stamp.nanosec, msg.header.frame_id))
        clock.run('markers', lambda: markers.encode(
            poses, msg.header.stamp.sec, msg.header.stamp.nanosec, msg.header.frame_id))
        for name, crop in (('hri', None), ('hri_cropped', rgb)):
            start = time.perf_counter()
            tracked, ids = tracked_people(poses)
            encode_hri_frame(tracked, ids, (msg.header.stamp.sec, msg.header.stamp.nanosec),
                             msg.header.frame_id, (width, height), crop)
            if frame >= config.warmup:
                extra[name].append((time.perf_counter() - start) * 1e3)
        cues = clock.run('cues', lambda: cue_estimator(poses, stamp_ns, camera=scene.camera))

        def cue_messages() -> None:
            encode_cues_array(cues, msg.header.stamp.sec, msg.header.stamp.nanosec,
                              msg.header.frame_id)
            encode_marker_array(cue_marker_specs(cues), msg.header.stamp.sec,
                                msg.header.stamp.nanosec, msg.header.frame_id)
        clock.run('cuemsg', cue_messages)
        found = len(poses)
        if progress is not None:
            progress(f'{width}x{height} {people} people: frame {frame + 1}/{total}')
    result = CaseResult(width, height, people, found)
    per_frame = np.sum([clock.times[s] for s in STAGES], axis=0)
    for stage in STAGES:
        values = np.asarray(clock.times[stage])
        result.median_ms[stage] = float(np.median(values))
        result.p90_ms[stage] = float(np.percentile(values, 90))
    result.frame_ms = float(np.median(per_frame))
    result.fps = 1000.0 / result.frame_ms if result.frame_ms else 0.0
    networks = np.asarray(clock.times['infer']) + np.asarray(detector_net_ms)
    result.overhead = float(np.median((per_frame - networks) / per_frame))
    result.detector_network_ms = float(np.median(detector_net_ms))
    result.extra_ms = {name: float(np.median(values)) for name, values in extra.items()}
    if config.compare_batching and people > 1:
        result.batched_ms, result.per_person_ms = _compare_batching(pose, batch, config.frames)
    return result


def _compare_batching(pose: Any, batch: np.ndarray, frames: int) -> tuple[float, float]:
    """Median ms of one call for the whole batch vs one call per person."""
    from humanpose.backends.base import run_batched
    batch = batch.copy()
    reps = max(3, min(frames, 10))
    together, alone = [], []
    for _ in range(reps):
        start = time.perf_counter()
        run_batched(pose.backend, pose.input_name, batch)
        together.append(time.perf_counter() - start)
        start = time.perf_counter()
        for i in range(len(batch)):
            pose.backend.run({pose.input_name: batch[i:i + 1]})
        alone.append(time.perf_counter() - start)
    return float(np.median(together) * 1e3), float(np.median(alone) * 1e3)


def run_bench(config: BenchConfig, progress: Optional[Callable[[str], None]] = None
              ) -> list[CaseResult]:
    """Measure every (size, people) case of ``config``."""
    from humanpose.detect import PersonDetector
    from humanpose.pipeline import PoseEstimator

    pose_path, detector_path = _models(config)
    options = BackendOptions(threads=config.threads, max_batch=max(config.people))
    pose = PoseEstimator(pose_path, backend=config.backend, options=options)
    detector = PersonDetector(detector_path, backend=config.backend, options=options,
                              max_people=max(config.people))
    results = []
    for size in config.sizes:
        for people in config.people:
            results.append(run_case(config, size, people, pose, detector, progress))
    return results


def format_table(results: Sequence[CaseResult]) -> str:
    """Return the results as a text table (median ms per stage, fps, overhead)."""
    head = f'{"size":>10} {"ppl":>3} ' + ' '.join(f'{s:>8}' for s in STAGES)
    head += f' {"frame":>8} {"fps":>6} {"ovh%":>5} {"batch x":>7}'
    lines = ['median ms per stage (p90 in the JSON)', head]
    for r in results:
        row = f'{r.width:>5}x{r.height:<4} {r.people:>3} '
        row += ' '.join(f'{r.median_ms[s]:8.2f}' for s in STAGES)
        speed = f'{r.batching_speedup:7.2f}' if r.batching_speedup else f'{"-":>7}'
        row += f' {r.frame_ms:8.1f} {r.fps:6.2f} {100 * r.overhead:5.1f} {speed}'
        lines.append(row)
    crop_ms, decode_ms, cues_ms = _per_person(results)
    lines.append(f'per person: crop {crop_ms:.3f} ms, decode {decode_ms:.3f} ms, cues '
                 f'{cues_ms:.3f} ms (largest case; SimCC decoder: {simcc_implementation()})')
    big = max(results, key=lambda r: (r.people, r.width))
    if big.extra_ms:
        lines.append(f'ROS4HRI output (hri: true), {big.width}x{big.height} with '
                     f'{big.people_found} people: {big.extra_ms["hri"]:.2f} ms per frame '
                     f'(Skeleton2D, ROI, TF frames and their CDR bytes; publish calls not '
                     f'included), {big.extra_ms["hri_cropped"]:.2f} ms with cropped images')
    return '\n'.join(lines)


def _per_person(results: Sequence[CaseResult]) -> tuple[float, float, float]:
    big = max(results, key=lambda r: (r.people, r.width))
    n = max(big.people_found, 1)
    return big.median_ms['crop'] / n, big.median_ms['decode'] / n, big.median_ms['cues'] / n


@dataclass(frozen=True)
class CueCost:
    """What the cues cost per image with ``people`` people; times in milliseconds.

    :param implementation: ``C kernel`` or ``NumPy`` (:mod:`humanpose.cues.kernel`).
    :param frame_ms: median wall-clock time of one image's cues.
    :param frame_cpu_ms: median CPU time of the calling thread (robust to other processes).
    """

    people: int
    implementation: str
    frame_ms: float
    frame_cpu_ms: float

    @property
    def per_person_ms(self) -> float:
        return self.frame_ms / self.people

    @property
    def per_person_cpu_ms(self) -> float:
        return self.frame_cpu_ms / self.people


def _cue_frames(people: int, count: int, fps: float) -> list[tuple[Any, int]]:
    """Return ``count`` images of posed 3D people who all wave and point, with stamps."""
    from humanpose.testing.people3d import (Person3D, observe, pointing_arm, pose_person,
                                            waving_arm)
    from humanpose.testing.scene import default_camera

    camera = default_camera(1280, 720)
    rng = np.random.default_rng(0)
    ids = tuple(str(i) for i in range(people))
    xs = np.linspace(-1.5, 1.5, people)
    frames = []
    for k in range(count):
        t = k / fps
        kp = []
        for i, x in enumerate(xs):
            person = Person3D((float(x), 0.3, 2.5 + 0.3 * (i % 3)))
            kp.append(pose_person(person, arms={
                'right': waving_arm(person, 'right', 0.4 * np.sin(2 * np.pi * 2.0 * t)),
                'left': pointing_arm(person, 'left', (float(x) + 1.0, 1.2, 1.5))},
                hands={'left': 'pointing'}))
        frames.append((observe(np.stack(kp), camera, rng, ids=ids), int(t * 1e9)))
    return frames


def measure_cues(people: Sequence[int] = (1, 2, 4, 8, 16), frames: int = 90,
                 warmup: int = 45, fps: float = 30.0) -> list[CueCost]:
    """Time the cues of posed 3D people who all wave and point, in every implementation.

    The worst case: everyone has 2D and 3D keypoints, a head pose, a pointing arm with a
    pointing finger and a waving hand, so every waving fit runs on every image (hanging
    hands would skip it). The same images go through the C kernel (when built) and NumPy.

    :param people: people counts (tracked, ids '0', '1', ...).
    :param frames: measured images per count.
    :param warmup: images first, so that every track has a full waving window.
    :param fps: frame rate of the image stamps.
    """
    from humanpose.cues import CueEstimator, kernel
    from humanpose.testing.scene import default_camera

    camera = default_camera(1280, 720)
    built = kernel.KERNEL
    implementations = ([built] if built is not None else []) + [None]
    results = []
    for n in people:
        images = _cue_frames(n, warmup + frames, fps)
        for implementation in implementations:
            kernel.KERNEL = implementation
            try:
                estimator = CueEstimator('coco_wholebody')
                wall, cpu = [], []
                for k, (poses, stamp_ns) in enumerate(images):
                    start, start_cpu = time.perf_counter(), time.thread_time()
                    estimator(poses, stamp_ns, camera=camera)
                    if k >= warmup:
                        cpu.append(time.thread_time() - start_cpu)
                        wall.append(time.perf_counter() - start)
                results.append(CueCost(n, kernel.implementation(), float(np.median(wall)) * 1e3,
                                       float(np.median(cpu)) * 1e3))
            finally:
                kernel.KERNEL = built
    return results


def format_cues(results: Sequence[CueCost]) -> str:
    """Return the cue timings as a text table."""
    lines = ['HRI cues, everyone waving and pointing (2D + 3D): median ms per image and per '
             'person (wall clock; CPU time of the thread)',
             f'{"ppl":>3} {"implementation":<14} {"image":>8} {"/person":>8} {"cpu":>8} '
             f'{"cpu/p":>8}']
    for r in results:
        lines.append(f'{r.people:>3} {r.implementation:<14} {r.frame_ms:8.3f} '
                     f'{r.per_person_ms:8.3f} {r.frame_cpu_ms:8.3f} {r.per_person_cpu_ms:8.3f}')
    return '\n'.join(lines)


def to_json(config: BenchConfig, results: Sequence[CaseResult]) -> dict[str, Any]:
    """Return config and results as JSON-ready data."""
    return {'config': asdict(config), 'simcc_decoder': simcc_implementation(),
            'results': [{**asdict(r), 'batching_speedup': r.batching_speedup} for r in results]}


def write_plot(results: Sequence[CaseResult], path: Path) -> None:
    """Write a PNG of stacked stage bars (median ms) per people count, one panel per size."""
    import cv2

    colours = [(76, 114, 176), (221, 132, 82), (85, 168, 104), (196, 78, 82), (129, 114, 179),
               (147, 120, 96), (218, 139, 195), (140, 140, 140), (204, 185, 116),
               (100, 181, 205), (60, 60, 60)]
    sizes = sorted({(r.width, r.height) for r in results})
    panel_w, panel_h, margin = 420, 360, 50
    canvas = np.full((panel_h + 2 * margin, len(sizes) * panel_w + margin, 3), 255, np.uint8)
    for p, size in enumerate(sizes):
        rows = [r for r in results if (r.width, r.height) == size]
        top = max(r.frame_ms for r in rows) or 1.0
        x0 = margin + p * panel_w
        cv2.putText(canvas, f'{size[0]}x{size[1]}  (max {top:.0f} ms)', (x0, 30),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
        bar = (panel_w - 40) // max(len(rows), 1)
        for i, r in enumerate(rows):
            y = margin + panel_h
            for s, colour in zip(STAGES, colours):
                height = int(round(r.median_ms[s] / top * panel_h))
                cv2.rectangle(canvas, (x0 + i * bar, y - height), (x0 + (i + 1) * bar - 6, y),
                              colour[::-1], -1)
                y -= height
            cv2.putText(canvas, str(r.people), (x0 + i * bar + 4, margin + panel_h + 18),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    for i, (s, colour) in enumerate(zip(STAGES, colours)):
        cv2.rectangle(canvas, (margin + i * 80, canvas.shape[0] - 22),
                      (margin + i * 80 + 12, canvas.shape[0] - 10), colour[::-1], -1)
        cv2.putText(canvas, s, (margin + i * 80 + 16, canvas.shape[0] - 11),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), canvas)


@dataclass
class Pose3DResult:
    """Milliseconds (median) for N people of RTMW3D-shaped outputs."""

    people: int
    decode_2d_ms: float
    decode_3d_ms: float
    monocular_ms: float
    fused_ms: float

    @property
    def extra_per_person_ms(self) -> float:
        """Monocular 3D on top of the 2D decode: z decode + placement, per person."""
        return (self.decode_3d_ms + self.monocular_ms - self.decode_2d_ms) / self.people

    @property
    def fused_extra_per_person_ms(self) -> float:
        """Fused 3D on top of the 2D decode, per person."""
        return (self.decode_3d_ms + self.fused_ms - self.decode_2d_ms) / self.people


def _rtmw3d_outputs(rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    """Gaussian SimCC rows of the codec's sigmas (6, 6.93, 6 bins) plus a little noise."""
    out = []
    for bins, sigma in ((576, 6.0), (768, 6.93), (576, 6.0)):
        centre = rng.uniform(0.3 * bins, 0.7 * bins, (n, 133, 1))
        rows = np.exp(-0.5 * ((np.arange(bins) - centre) / sigma) ** 2)
        out.append((rows + rng.normal(0, 0.01, rows.shape)).astype(np.float32))
    return tuple(out)


def measure_pose3d(people: Sequence[int] = (1, 2, 4, 8, 16), frames: int = 50,
                   size: tuple[int, int] = (1280, 720)) -> list[Pose3DResult]:
    """Time the 3D stages of a 3D pose network per people count (see the module docstring)."""
    from humanpose.decode import decode_simcc, decode_simcc3d
    from humanpose.pose3d import fuse_with_depth, place_monocular
    from humanpose.testing.scene import default_camera

    camera = default_camera(*size)
    depth = np.full(size[::-1], 3.0, np.float32)
    rng = np.random.default_rng(0)
    results = []
    for n in people:
        sx, sy, sz = _rtmw3d_outputs(rng, n)
        times: dict[str, list[float]] = {'2d': [], '3d': [], 'mono': [], 'fused': []}
        for _ in range(frames):
            start = time.perf_counter()
            decode_simcc(sx, sy, 2.0, (6.0, 6.93))
            times['2d'].append(time.perf_counter() - start)
            start = time.perf_counter()
            decoded = decode_simcc3d(sx, sy, sz, 2.0)
            times['3d'].append(time.perf_counter() - start)
            assert decoded.relative_depth is not None
            assert decoded.relative_depth_confidence is not None
            # Keypoints spread over the image as people would be.
            keypoints = decoded.keypoints * np.float32(size[1] / 384.0)
            start = time.perf_counter()
            place_monocular(keypoints, decoded.confidence, decoded.relative_depth,
                            decoded.relative_depth_confidence, camera)
            times['mono'].append(time.perf_counter() - start)
            start = time.perf_counter()
            fuse_with_depth(keypoints, decoded.confidence, decoded.relative_depth,
                            decoded.relative_depth_confidence, depth, camera)
            times['fused'].append(time.perf_counter() - start)
        ms = {k: float(np.median(v) * 1e3) for k, v in times.items()}
        results.append(Pose3DResult(n, ms['2d'], ms['3d'], ms['mono'], ms['fused']))
    return results


def format_pose3d(results: Sequence[Pose3DResult]) -> str:
    """Return the 3D timings as a text table."""
    lines = ['3D pose network (RTMW3D outputs): median ms, and on top of the 2D decode per '
             'person',
             f'{"ppl":>3} {"2D dec":>8} {"3D dec":>8} {"mono":>8} {"fused":>8} '
             f'{"+mono/p":>8} {"+fused/p":>8}']
    for r in results:
        lines.append(f'{r.people:>3} {r.decode_2d_ms:8.3f} {r.decode_3d_ms:8.3f} '
                     f'{r.monocular_ms:8.3f} {r.fused_ms:8.3f} {r.extra_per_person_ms:8.3f} '
                     f'{r.fused_extra_per_person_ms:8.3f}')
    return '\n'.join(lines)
