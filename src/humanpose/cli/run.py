"""``humanpose run``: whole-body poses of every frame of an image, folder, video, webcam or bag.

  humanpose run video.mp4 --pose-model rtmw-m.onnx --det-model rtmdet-m.onnx --out out
  humanpose run frames/ --pose-model rtmw-m-256x192 --boxes boxes.json
  humanpose run 0 --pose-model rtmw.onnx --det-model det.onnx --video --max-frames 300
  humanpose run recording/ --pose-model rtmw.onnx --det-model det.onnx --track
      --image-topic /camera/color/image_raw --depth-topic /camera/depth/image_rect_raw

SOURCE: an image file, a folder of images, a video file, a webcam index, or a rosbag2
directory / .mcap / .db3 file with an image topic (sensor_msgs/Image or CompressedImage).
Models: an ONNX file, or the name of a built-in card installed with
`humanpose models download NAME` (nothing is downloaded here).

Outputs in --out:
  poses.json   COCO keypoint results: one entry per person {image_id, category_id 1,
               keypoints [x, y, confidence] * K, score, bbox [x, y, w, h]}; image ids are
               frame indices, or file-name stems for image folders (numeric stems as
               integers).
  poses/       a rosbag2 in MCAP storage (poses/poses.mcap + metadata.yaml) with
               /humans/pose (pose_bringup/msg/HumanPoseArray) and /humans/markers
               (visualization_msgs/msg/MarkerArray), stamped like the source (bag stamps;
               frame index / fps for videos); for bag sources the input messages are
               copied too, so `ros2 bag play out/poses` replays on its own in RViz.
  poses.mp4    the annotated video (with --video).
  cues.json    with --cues: one entry per person and frame {image_id, stamp_ns,
               intrinsics_assumed, id, head_yaw_rad, ..., pointing_target} (the fields of
               pose_bringup/msg/HumanCues; hand states and sides as words, null = unknown);
               the bag then also has /humans/cues (HumanCuesArray) and cue markers.

3D (in the bag's HumanPoseArray and markers; --pose3d): with a 3D pose network (RTMW3D,
head type simcc3d) every frame gets monocular 3D, placed with the bag's camera_info
(--camera-info-topic) or else an assumed field of view (--hfov, flagged in the messages);
with a depth topic too, fused 3D. A 2D network gets 3D from a depth topic only.

Outputs are written under temporary names and renamed into place at the end, so an
earlier run's results are replaced only by a run that wrote at least one frame
(--overwrite replaces only files humanpose wrote). --on-error skip skips unreadable
images, video frames and bag messages (and frames the pipeline rejects), lists each on
stderr, and exits 3 when any was skipped.

--boxes BOXES.json replaces the detector: a mapping image id -> [[x0, y0, x1, y1(, score)],
...] or COCO detections [{"image_id", "bbox": [x, y, w, h], "score"}] (see
humanpose.io.coco). Frames without an entry have no people.
"""

from __future__ import annotations

import argparse
import logging
import math
from pathlib import Path
import sys
from typing import Any, Callable, NamedTuple, Optional

from humanpose.errors import HumanPoseError, InvalidInputError, ModelLoadError
from humanpose.io.outputs import (OutputSpec, StagedOutputs, is_bag_dir, is_plain_file,
                                  is_results_json)
from humanpose.io.sources import SourceFrame
from humanpose.types import Poses

_log = logging.getLogger(__name__)

#: Output names inside --out.
JSON_NAME = 'poses.json'
BAG_NAME = 'poses'
VIDEO_NAME = 'poses.mp4'
CUES_NAME = 'cues.json'
#: The outputs of a run and how an earlier run's copy of each is recognised.
OUTPUT_SPECS = (OutputSpec(JSON_NAME, is_results_json, 'COCO results file'),
                OutputSpec(BAG_NAME, is_bag_dir, 'rosbag2 directory', directory=True),
                OutputSpec(VIDEO_NAME, is_plain_file, 'video file'),
                OutputSpec(CUES_NAME, is_results_json, 'cues file'))
#: Exit code of a run that finished but skipped bad inputs (--on-error skip).
EXIT_SKIPPED = 3


class OptionRule(NamedTuple):
    """A numeric option's valid range: ``low`` <= value (<= ``high``), finite."""

    option: str
    low: float
    high: Optional[float]
    integer: bool


#: Numeric options of `humanpose run` and their ranges (None values are "not given").
OPTION_RULES = (
    OptionRule('every', 1, None, True),
    OptionRule('max_frames', 1, None, True),
    OptionRule('max_people', 1, 1000, True),
    OptionRule('score_threshold', 0.0, 1.0, False),
    OptionRule('fps', 1e-3, 1e4, False),
)


def check_options(args: argparse.Namespace) -> None:
    """Check the numeric options against :data:`OPTION_RULES`.

    :raises InvalidInputError: the first option out of range (NaN and inf included).
    """
    for rule in OPTION_RULES:
        value = getattr(args, rule.option, None)
        if value is None:
            continue
        ok = math.isfinite(value) and value >= rule.low and (
            rule.high is None or value <= rule.high)
        if not ok:
            name = '--' + rule.option.replace('_', '-')
            kind = 'an integer' if rule.integer else 'a number'
            bound = (f'>= {rule.low:g}' if rule.high is None
                     else f'in [{rule.low:g}, {rule.high:g}]')
            raise InvalidInputError(f'{name} must be {kind} {bound}, got {value}')


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        'run', help='estimate poses on images, videos, webcams or rosbag2 recordings',
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('source', metavar='SOURCE',
                        help='image, folder of images, video, webcam index, or rosbag2')
    parser.add_argument('--pose-model', required=True, metavar='M',
                        help='pose model: ONNX file or installed built-in card name')
    people = parser.add_mutually_exclusive_group()
    people.add_argument('--det-model', metavar='D',
                        help='person detector: ONNX file or installed built-in card name '
                             '(without it and without --boxes the whole image is one person)')
    people.add_argument('--boxes', type=Path, metavar='BOXES.json',
                        help='person boxes per image id instead of a detector')
    parser.add_argument('--pose-card', metavar='CARD',
                        help='card of the pose model (YAML file or built-in name)')
    parser.add_argument('--det-card', metavar='CARD', help='card of the detector')
    parser.add_argument('--out', type=Path, default=Path('out'), metavar='DIR',
                        help='output directory (default: out)')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace outputs of an earlier run in DIR (only files humanpose '
                             'wrote; replaced when this run has written a frame)')
    parser.add_argument('--on-error', choices=('stop', 'skip'), default='stop',
                        help='stop (default): a bad input ends the run (exit 2); skip: skip '
                             'unreadable images, video frames, bag messages and rejected '
                             'frames, list them, go on (exit 3 if any was skipped)')
    parser.add_argument('--backend', default='auto',
                        help='auto, tensorrt, onnxruntime-cuda, onnxruntime-cpu')
    parser.add_argument('--every', type=int, default=1, metavar='N',
                        help='run the detector on one frame in N; in between, boxes come '
                             'from the previous poses (default 1)')
    parser.add_argument('--score-threshold', type=float, default=0.5,
                        help='minimum detector person score (default 0.5)')
    parser.add_argument('--max-people', type=int, default=20,
                        help='at most this many people per frame (default 20)')
    parser.add_argument('--track', action='store_true', help='give people track ids')
    parser.add_argument('--smooth', action='store_true',
                        help='One-Euro smoothing of keypoints (implies --track)')
    parser.add_argument('--cues', action='store_true',
                        help='also estimate HRI cues (head pose, attention, pointing, hands, '
                             'waving, engagement): cues.json and /humans/cues in the bag')
    parser.add_argument('--image-topic', help='bags: colour image topic (Image or '
                                              'CompressedImage; default: the only one)')
    parser.add_argument('--depth-topic', help='bags: aligned depth topic -> 3D keypoints')
    parser.add_argument('--camera-info-topic',
                        help='bags: CameraInfo of the colour camera (default with a depth '
                             'topic: camera_info next to the image topic)')
    parser.add_argument('--pose3d', default='auto',
                        choices=('auto', 'none', 'depth', 'monocular', 'fused'),
                        help='where 3D keypoints come from (default auto: fused with a 3D '
                             'network and depth, monocular with a 3D network alone, depth '
                             'with a 2D network and depth)')
    parser.add_argument('--hfov', type=float, default=None, metavar='DEG',
                        help='monocular 3D without camera_info: horizontal field of view to '
                             'assume (default 60; the messages say it was assumed)')
    parser.add_argument('--body-height', type=float, default=None, metavar='M',
                        help='monocular 3D: height of the reference adult whose torso size '
                             'places people in depth (default 1.70)')
    parser.add_argument('--no-copy', action='store_true',
                        help='bags: do not copy the input messages into poses/')
    parser.add_argument('--video', action='store_true', help='also write poses.mp4')
    parser.add_argument('--fps', type=float, default=None,
                        help='frame rate of image folders for stamps (default 30)')
    parser.add_argument('--frame-id', default='camera',
                        help='frame_id of the output messages for non-bag sources')
    parser.add_argument('--max-frames', type=int, default=None, metavar='N',
                        help='stop after N frames')
    parser.set_defaults(func=main)


def resolve_model(spec: str, task: str) -> tuple[Path, Any]:
    """Return (model file, card or None) for an ONNX path or an installed built-in card name.

    :raises ModelLoadError: neither a file nor a known card, a card of the other task, or
        a card whose model is not downloaded (the message says how to get it).
    """
    from humanpose.models.card import builtin_cards
    from humanpose.models.download import installed_model

    path = Path(spec).expanduser()
    if path.is_file():
        return path, None
    card = builtin_cards().get(spec)
    if card is None:
        raise ModelLoadError(
            f'{task} model not found: {spec}; give an ONNX file, or a built-in card name '
            '(`humanpose models list`) downloaded with `humanpose models download NAME`')
    if card.task != task:
        raise ModelLoadError(f'{spec} is a {card.task} model, but a {task} model is needed here')
    installed = installed_model(card)
    if installed is None:
        raise ModelLoadError(f'{spec} is not downloaded; run `humanpose models download {spec}` '
                             '(models are never downloaded implicitly)')
    return installed, card


def _frame_inputs(args: argparse.Namespace) -> Callable[[SourceFrame], dict[str, Any]]:
    """Return a function giving the pipeline's per-frame extras: stamp, depth, camera.

    Frames of a bag without depth or camera_info (yet) get no 3D, with one warning each.
    """
    lift = args.depth_topic is not None
    warned: set[str] = set()
    cues = bool(getattr(args, 'cues', False))

    def extras(frame: SourceFrame) -> dict[str, Any]:
        values: dict[str, Any] = {'stamp_ns': frame.stamp_ns}
        if cues and frame.camera is not None:
            values['camera'] = frame.camera   # the head poses' intrinsics
        if not lift:
            if frame.camera is not None:  # monocular 3D uses the intrinsics
                values['camera'] = frame.camera
            return values
        missing = ('depth' if frame.depth is None else
                   'camera_info' if frame.camera is None else '')
        if missing:
            if missing not in warned:
                warned.add(missing)
                _log.warning('frame %d has no %s; its poses have no 3D keypoints (more frames '
                             'like it are not reported)', frame.index, missing)
            return values
        values.update(depth=frame.depth, camera=frame.camera,
                      depth_encoding=frame.depth_encoding)
        return values

    return extras


class _Outputs:
    """The writers of one run; created after the source and models load, closed always.

    They write staged files (:class:`~humanpose.io.outputs.StagedOutputs`): committed into
    place by :meth:`finish` when at least one frame was written, else discarded.
    """

    def __init__(self) -> None:
        self.staged: Optional[StagedOutputs] = None
        self.coco: Any = None
        self.cues: Any = None
        self.bag: Any = None
        self.video: Any = None
        self.video_path: Optional[Path] = None
        self.video_fps = 30.0
        self.video_size: Optional[tuple[int, int]] = None

    def copy(self, connection: Any, log_time_ns: int, raw: bytes) -> None:
        """Forward an input bag message to the output bag (once it is open)."""
        if self.bag is not None:
            self.bag.copy(connection, log_time_ns, raw)

    def open(self, staged: StagedOutputs, skeleton: str, video: bool, fps: float,
             cues: bool = False) -> None:
        from humanpose.io.bags import PoseBagWriter
        from humanpose.io.coco import CocoResultsWriter

        self.staged = staged
        self.coco = CocoResultsWriter(staged.path(JSON_NAME))
        if cues:  # the same JSON-list streamer, one entry per person and frame
            self.cues = CocoResultsWriter(staged.path(CUES_NAME))
        self.bag = PoseBagWriter(staged.path(BAG_NAME), skeleton, cues=cues)
        self.video_path = staged.path(VIDEO_NAME) if video else None
        self.video_fps = fps

    def write(self, frame: SourceFrame, poses: Poses, image_id: Any, frame_id: str,
              cues: Any = None) -> None:
        from humanpose.io.coco import poses_to_coco

        self.coco.write(poses_to_coco(poses, image_id))
        self.bag.write_poses(poses, frame.stamp_ns, frame_id, frame.record_time_ns, cues)
        if self.cues is not None and cues is not None:
            self.cues.write([{'image_id': image_id, 'stamp_ns': frame.stamp_ns,
                              'intrinsics_assumed': cues.intrinsics_assumed, **cues.person(i)}
                             for i in range(len(cues))])
        if self.video_path is not None:
            self._write_video(frame, poses)

    def _write_video(self, frame: SourceFrame, poses: Poses) -> None:
        import cv2
        import numpy as np

        from humanpose.viz import draw_poses

        image = draw_poses(frame.image, poses)
        height, width = image.shape[:2]
        if self.video is None:
            self.video_size = (width, height)
            self.video = cv2.VideoWriter(str(self.video_path), cv2.VideoWriter.fourcc(*'mp4v'),
                                         self.video_fps, self.video_size)
            if not self.video.isOpened():
                self.video = None
                raise InvalidInputError(f'cannot write {self.video_path}: this OpenCV build has '
                                        'no MP4 encoder; leave out --video')
        if (width, height) != self.video_size:
            image = np.asarray(cv2.resize(image, self.video_size), np.uint8)
        self.video.write(image)

    def finish(self, keep: bool) -> list[Path]:
        """Close the writers, then commit the outputs (``keep``) or discard them.

        :return: the committed paths ([] when discarded).
        """
        try:
            self.close()
        except BaseException:
            if self.staged is not None:
                self.staged.discard()
            raise
        if self.staged is None:
            return []
        if not keep:
            self.staged.discard()
            return []
        return self.staged.commit()

    def close(self) -> None:
        """Close every writer that was opened, even if another one fails to close."""
        errors: list[BaseException] = []
        for name in ('coco', 'cues', 'bag', 'video'):
            writer = getattr(self, name)
            if writer is None:
                continue
            try:
                if name == 'video':
                    writer.release()
                else:
                    writer.close()
                setattr(self, name, None)
            except Exception as err:  # keep closing the others
                errors.append(err)
        if errors:
            raise errors[0]


def _estimate(pipe: Any, frame: SourceFrame, boxes: Any, image_id: Any,
              extras: dict[str, Any]) -> Poses:
    """Run the pipeline on a frame, with the external boxes of its image id if given."""
    if boxes is None:
        return pipe(frame.image, **extras)  # type: ignore[no-any-return]
    import numpy as np

    found = boxes.lookup(image_id, frame.name)
    if found is None:
        found = (np.zeros((0, 4), np.float32), np.zeros((0,), np.float32))
    box_array, scores = found
    return pipe(frame.image, boxes=box_array,  # type: ignore[no-any-return]
                box_scores=scores, **extras)


def _pose3d_options(args: argparse.Namespace) -> dict[str, Any]:
    """Return the Pipeline's 3D options of the command line."""
    options: dict[str, Any] = {'pose3d_source': args.pose3d}
    if args.hfov is not None:
        if not 1.0 <= args.hfov <= 179.0:
            raise InvalidInputError(f'--hfov must be in [1, 179] degrees, got {args.hfov}')
        options['assumed_hfov_deg'] = args.hfov
    if args.body_height is not None:
        if not 0.5 <= args.body_height <= 2.5:
            raise InvalidInputError(f'--body-height must be in [0.5, 2.5] m, got '
                                    f'{args.body_height}')
        options['body_height_m'] = args.body_height
    return options


def _describe_3d(pipe: Any, args: argparse.Namespace) -> str:
    """Say in words where this run's 3D comes from."""
    if args.pose3d == 'none':
        return 'off (--pose3d none)'
    if not pipe.pose.predicts_depth:
        return ('from the depth topic' if args.depth_topic else
                'none (2D pose network and no --depth-topic)')
    camera = ('camera_info' if args.camera_info_topic or args.depth_topic else
              f'no camera_info: an assumed {pipe.assumed_hfov_deg:g} degree field of view')
    mode = 'fused with depth' if args.depth_topic and args.pose3d != 'monocular' else 'monocular'
    return f'{mode} (3D pose network), intrinsics from {camera}'


def main(args: argparse.Namespace) -> int:
    from humanpose.cli.progress import Progress
    from humanpose.io.coco import image_id_for, load_boxes
    from humanpose.io.sources import open_source
    from humanpose.pipeline import Pipeline

    check_options(args)
    pose_path, pose_card = resolve_model(args.pose_model, 'pose')
    det_path, det_card = (resolve_model(args.det_model, 'detection') if args.det_model
                          else (None, None))
    boxes = load_boxes(args.boxes) if args.boxes is not None else None
    extras = _frame_inputs(args)
    # Keypoints of image_rect* topics are rectified pixels: 3D rays from P, not K + D.
    rectified = 'rect' in str(args.image_topic or '').rsplit('/', 1)[-1]
    skipped: list[str] = []

    def skip(what: str, err: Exception) -> None:
        skipped.append(what)
        print(f'humanpose run: skipped {what}: {" ".join(str(err).split())}', file=sys.stderr)

    outputs = _Outputs()
    # Source, models and outputs are checked before the first frame; earlier outputs are
    # replaced only at the end, by a run that wrote at least one frame.
    source = open_source(args.source, fps=args.fps, image_topic=args.image_topic,
                         depth_topic=args.depth_topic, camera_info_topic=args.camera_info_topic,
                         on_message=None if args.no_copy else outputs.copy,
                         on_bad=skip if args.on_error == 'skip' else None)
    pipe: Any = None
    bar: Optional[Progress] = None
    frames = people = 0
    seen_ids: set[str] = set()
    written: list[Path] = []
    try:
        print(f'source: {source.description}')
        pipe = Pipeline(pose_path, det_path, pose_card=args.pose_card or pose_card,
                        detector_card=args.det_card or det_card, backend=args.backend,
                        detect_every=args.every, score_threshold=args.score_threshold,
                        max_people=args.max_people, tracking=args.track or args.smooth,
                        smoothing=args.smooth, rectified=rectified, cues=args.cues,
                        **_pose3d_options(args))
        detector = pipe.detector.card.name if pipe.detector else (
            'boxes from ' + str(args.boxes) if boxes else 'none (whole image = one person)')
        print(f'pose model: {pipe.pose.card.name} on {pipe.pose.backend_name}; '
              f'detector: {detector}')
        print(f'3D: {_describe_3d(pipe, args)}')
        staged = StagedOutputs(args.out, OUTPUT_SPECS, args.overwrite)
        outputs.open(staged, pipe.skeleton, args.video, source.fps or 30.0, args.cues)
        total = source.length
        if args.max_frames is not None:
            total = min(total, args.max_frames) if total else args.max_frames
        bar = Progress('frames', total)
        for frame in source:
            image_id = (frame.image_id if frame.image_id is not None
                        else image_id_for(source.kind, frame.index, frame.name))
            seen_ids.update((str(image_id), frame.name))
            try:
                poses = _estimate(pipe, frame, boxes, image_id, extras(frame))
            except HumanPoseError as err:
                if args.on_error != 'skip':
                    raise
                skip(f'frame {frame.name}', err)
                bar.update()
                continue
            outputs.write(frame, poses, image_id, frame.frame_id or args.frame_id,
                          pipe.last_cues)
            frames += 1
            people += len(poses)
            bar.update()
            if args.max_frames is not None and frames >= args.max_frames:
                break
    finally:
        if bar is not None:
            bar.close(f'frames: {frames} ({people} people)')
        try:
            written = outputs.finish(keep=frames > 0)
        finally:
            source.close()
            if pipe is not None:
                pipe.close()
        if written:
            print(f'wrote {", ".join(map(str, written))} ({frames} frames)', file=sys.stdout)
    if boxes is not None:
        unused = sorted(set(boxes.boxes) - seen_ids)
        if unused:
            print(f'note: {len(unused)} image id(s) of {args.boxes} matched no frame '
                  f'(e.g. {", ".join(unused[:5])})', file=sys.stderr)
    if frames == 0:
        kept = f'; earlier outputs in {args.out} are kept' if args.overwrite else ''
        raise InvalidInputError(f'no frame of {args.source} could be processed '
                                f'({len(skipped)} skipped); nothing was written{kept}')
    if skipped:
        print(f'humanpose run: {len(skipped)} bad input(s) skipped (listed above); results of '
              f'the other {frames} frame(s) are in {args.out}', file=sys.stderr)
        return EXIT_SKIPPED
    return 0
