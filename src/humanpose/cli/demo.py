"""``humanpose demo``: the pose pipeline on a generated scene (what `make demo` runs).

Generates a scene of people with known keypoints, the analytic pose model and the
analytic detector (CPU, ONNX Runtime by default), runs the pipeline, writes the annotated
image (and a short video with ``--frames``) under ``--out``, and prints the people found,
the keypoint error against the drawn truth per body part, and per-stage timings.
"""

from __future__ import annotations

import argparse
from pathlib import Path
import time
from typing import Any

import numpy as np


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        'demo', help='run the pipeline on a generated scene and report its accuracy',
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--out', type=Path, default=Path('out'), help='output directory')
    parser.add_argument('--people', type=int, default=4, help='people in the scene')
    parser.add_argument('--size', default='1280x720', help='image size WxH')
    parser.add_argument('--frames', type=int, default=1,
                        help='frames to run (>1 also writes demo.mp4 of a moving scene)')
    parser.add_argument('--backend', default='onnxruntime-cpu',
                        help='inference backend (auto, onnxruntime-cpu, tensorrt, ...)')
    parser.add_argument('--seed', type=int, default=0, help='scene seed')
    parser.set_defaults(func=main)


def _match(truth: np.ndarray, found: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pair drawn and found people by mean keypoint distance (Hungarian)."""
    from scipy.optimize import linear_sum_assignment
    if not len(truth) or not len(found):
        return np.zeros(0, int), np.zeros(0, int)
    cost = np.linalg.norm(truth[:, None] - found[None], axis=-1).mean(axis=-1)
    rows, cols = linear_sum_assignment(cost)
    return np.asarray(rows), np.asarray(cols)


def main(args: argparse.Namespace) -> int:
    import cv2

    from humanpose.errors import InvalidInputError
    from humanpose.pipeline import Pipeline
    from humanpose.skeletons import get_skeleton
    from humanpose.testing.models import analytic_detector_model, analytic_pose_model
    from humanpose.testing.scene import PersonSpec, random_people, render_scene
    from humanpose.viz import draw_poses

    try:
        width, height = (int(v) for v in args.size.lower().split('x'))
    except ValueError:
        raise InvalidInputError(f'--size must look like 1280x720, got {args.size!r}') from None
    print('generating models (cached after the first run) ...', flush=True)
    pipe = Pipeline(analytic_pose_model(), analytic_detector_model(), backend=args.backend)
    print(f'pose model: {pipe.pose.card.name} on {pipe.pose.backend_name}; '
          f'detector: {pipe.detector.card.name if pipe.detector else "none"}')
    if args.people < 0 or args.frames < 1 or width < 1 or height < 1:
        raise InvalidInputError('--people must be >= 0, --frames >= 1 and --size positive; got '
                                f'{args.people}, {args.frames}, {args.size}')
    if args.out.exists() and not args.out.is_dir():
        raise InvalidInputError(f'--out {args.out} is a file, not a directory; choose a '
                                'directory (it is created if missing)')
    people = random_people(args.people, width, height, seed=args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    writer = None
    if args.frames > 1:
        writer = cv2.VideoWriter(str(args.out / 'demo.mp4'), cv2.VideoWriter.fourcc(*'mp4v'),
                                 15.0, (width, height))
    errors: list[np.ndarray] = []
    stage_totals: dict[str, list[float]] = {}
    found_counts: list[int] = []
    for frame in range(args.frames):
        # People sway gently from frame to frame.
        moved = [PersonSpec((p.centre_px[0] + 6 * np.sin(frame / 5 + i), p.centre_px[1]),
                            p.height_px, p.angle_deg + 3 * np.sin(frame / 7 + i), p.aspect,
                            p.depth_m) for i, p in enumerate(people)]
        scene = render_scene(width, height, moved, seed=args.seed)
        start = time.perf_counter()
        poses = pipe(scene.image)
        total = time.perf_counter() - start
        for stage, seconds in pipe.timings.items():
            stage_totals.setdefault(stage, []).append(seconds)
        stage_totals.setdefault('total', []).append(total)
        found_counts.append(len(poses))
        rows, cols = _match(scene.keypoints, poses.keypoints)
        for r, c in zip(rows, cols):
            err = np.linalg.norm(poses.keypoints[c] - scene.keypoints[r], axis=-1)
            errors.append(np.where(scene.inside[r], err, np.nan))
        annotated = draw_poses(scene.image, poses)
        if frame == 0 and not cv2.imwrite(str(args.out / 'demo.png'), annotated):
            raise InvalidInputError(f'cannot write {args.out / "demo.png"} (OpenCV could not '
                                    'save it); check that --out is writable and has space')
        if writer is not None:
            writer.write(annotated)
    if writer is not None:
        writer.release()
    skeleton = get_skeleton(pipe.skeleton)
    err = np.array(errors).reshape(-1, skeleton.num_keypoints)
    print(f'people drawn: {len(people)}; found: {min(found_counts)}..{max(found_counts)} '
          f'per frame over {args.frames} frame(s)')
    print('keypoint error against the drawn truth (pixels, keypoints inside the image):')
    print(f'  {"part":<11} {"mean":>6} {"p95":>6} {"max":>6}')
    for part, (a, b) in list(skeleton.parts.items()) + [('all', (0, skeleton.num_keypoints))]:
        values = err[:, a:b][np.isfinite(err[:, a:b])]
        if values.size:
            print(f'  {part:<11} {values.mean():6.2f} {np.percentile(values, 95):6.2f} '
                  f'{values.max():6.2f}')
    print('timings per frame (median, ms):')
    for stage, values in stage_totals.items():
        print(f'  {stage:<8} {np.median(values) * 1e3:8.2f}')
    print(f'wrote {args.out / "demo.png"}' + (f' and {args.out / "demo.mp4"}' if writer else ''))
    return 0
