"""``humanpose run`` end to end on generated videos, image folders and rosbag2 recordings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from rosbags.rosbag2 import Reader, Writer

from humanpose.cli import main
from humanpose.io.bags import write_image_bag
from humanpose.io.sources import SourceFrame
from humanpose.ros.messages import build_typestore, make_header, rosbags_namespace, stamp_to_ns
from humanpose.testing.scene import PersonSpec, SyntheticScene, random_people, render_scene

W, H = 320, 240
T0 = 1_700_000_000_000_000_000
PERIOD_NS = 33_333_333


def _scenes(count: int, seed: int = 3) -> list[SyntheticScene]:
    people = random_people(2, W, H, seed=seed)
    return [render_scene(W, H, [PersonSpec((p.centre_px[0] + 3 * i, p.centre_px[1]),
                                           p.height_px, p.angle_deg, p.aspect, p.depth_m)
                                for p in people], seed=seed) for i in range(count)]


def _frames(scenes: list[SyntheticScene]) -> list[SourceFrame]:
    return [SourceFrame(index=i, stamp_ns=T0 + i * PERIOD_NS, name=str(i), image=s.image,
                        frame_id='camera_color_optical_frame',
                        log_time_ns=T0 + i * PERIOD_NS + 4_000_000,
                        depth=s.depth_mm(), camera=s.camera) for i, s in enumerate(scenes)]


def _run(args: list[str], pose_model: Path, detector_model: Path | None = None) -> int:
    models = ['--pose-model', str(pose_model), '--backend', 'onnxruntime-cpu']
    if detector_model is not None:
        models += ['--det-model', str(detector_model)]
    return main(['run', *args, *models])


def _messages(bag: Path, topic: str) -> list[tuple[int, Any]]:
    store = build_typestore()
    with Reader(bag) as reader:
        connections = [c for c in reader.connections if c.topic == topic]
        return [(t, store.deserialize_cdr(raw, c.msgtype))
                for c, t, raw in reader.messages(connections=connections)]


def _keypoint_errors(results: list[dict[str, Any]], scenes: list[SyntheticScene]) -> np.ndarray:
    """Mean keypoint error of each drawn person against the nearest result of its frame."""
    errors = []
    for image_id, scene in enumerate(scenes):
        found = np.array([np.reshape(r['keypoints'], (-1, 3))[:, :2] for r in results
                          if r['image_id'] == image_id])
        for truth, inside in zip(scene.keypoints, scene.inside):
            dist = np.linalg.norm(found - truth, axis=-1)[:, inside].mean(axis=1)
            errors.append(dist.min())
    return np.array(errors)


@pytest.fixture(scope='module')
def video(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[SyntheticScene]]:
    scenes = _scenes(5)
    path = tmp_path_factory.mktemp('video') / 'walk.mp4'
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*'mp4v'), 10.0, (W, H))
    for scene in scenes:
        writer.write(scene.image)
    writer.release()
    return path, scenes


def test_video_gives_coco_json_and_a_pose_bag_stamped_by_frame_time(
        tmp_path: Path, video: tuple[Path, list[SyntheticScene]], pose_model: Path,
        detector_model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, scenes = video
    out = tmp_path / 'out'
    assert _run([str(path), '--out', str(out), '--video'], pose_model, detector_model) == 0
    assert 'video' in capsys.readouterr().out
    results = json.loads((out / 'poses.json').read_text())
    assert [r['image_id'] for r in results] == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert {r['category_id'] for r in results} == {1}
    assert {len(r['keypoints']) for r in results} == {133 * 3}
    assert np.all(_keypoint_errors(results, scenes) < 2.0)  # px, through an MP4 codec
    poses = _messages(out / 'poses', '/humans/pose')
    markers = _messages(out / 'poses', '/humans/markers')
    stamps = [i * 100_000_000 for i in range(5)]  # frame index / 10 fps
    assert [stamp_to_ns(m.header.stamp) for _, m in poses] == stamps
    assert [t for t, _ in poses] == stamps
    # Without depth there are no skeletons in space: markers only clear RViz, once.
    assert [(t, [m.action for m in msg.markers]) for t, msg in markers] == [(0, [3])]
    assert [len(m.humans) for _, m in poses] == [2] * 5
    assert {m.skeleton for _, m in poses} == {'coco_wholebody'}
    assert (out / 'poses' / 'poses.mcap').is_file()
    cap = cv2.VideoCapture(str(out / 'poses.mp4'))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 5
    cap.release()


@pytest.mark.parametrize('storage', ['sqlite3', 'mcap'])
def test_bag_outputs_match_the_input_counts_and_stamps_and_copy_it(
        tmp_path: Path, storage: str, pose_model: Path, detector_model: Path) -> None:
    scenes = _scenes(4)
    frames = _frames(scenes)
    write_image_bag(tmp_path / 'in', frames, storage=storage,
                    camera_info_topic='/camera/color/camera_info')
    out = tmp_path / 'out'
    assert _run([str(tmp_path / 'in'), '--out', str(out), '--image-topic',
                 '/camera/color/image_raw'], pose_model, detector_model) == 0
    poses = _messages(out / 'poses', '/humans/pose')
    assert len(poses) == len(frames)
    assert [stamp_to_ns(m.header.stamp) for _, m in poses] == [f.stamp_ns for f in frames]
    assert [t for t, _ in poses] == [f.log_time_ns for f in frames]  # bag receive times
    assert {m.header.frame_id for _, m in poses} == {'camera_color_optical_frame'}
    assert [len(m.humans) for _, m in poses] == [2] * 4
    results = json.loads((out / 'poses.json').read_text())
    assert np.all(_keypoint_errors(results, scenes) < 1.0)  # raw bgr8 images: no codec
    with Reader(tmp_path / 'in') as original, Reader(out / 'poses') as copy:
        counts_in = {c.topic: c.msgcount for c in original.connections}
        counts_out = {c.topic: c.msgcount for c in copy.connections}
        raw_in = [raw for _, _, raw in original.messages()]
        copied = [c for c in copy.connections if c.topic in counts_in]
        raw_out = [raw for _, _, raw in copy.messages(connections=copied)]
    assert counts_out == {**counts_in, '/humans/pose': 4, '/humans/markers': 1}
    assert sorted(raw_out) == sorted(raw_in)


def test_compressed_bag_and_no_copy(tmp_path: Path, pose_model: Path,
                                    detector_model: Path) -> None:
    write_image_bag(tmp_path / 'in', _frames(_scenes(2)), compressed=True,
                    image_topic='/camera/color/image_raw/compressed')
    out = tmp_path / 'out'
    assert _run([str(tmp_path / 'in'), '--out', str(out), '--no-copy'], pose_model,
                detector_model) == 0
    with Reader(out / 'poses') as reader:
        assert sorted(c.topic for c in reader.connections) == ['/humans/markers',
                                                               '/humans/pose']
    assert [len(m.humans) for _, m in _messages(out / 'poses', '/humans/pose')] == [2, 2]


def test_depth_bag_gives_3d_keypoints_markers_track_ids_and_smoothing(
        tmp_path: Path, pose_model: Path, detector_model: Path) -> None:
    pytest.importorskip('humanpose.lift3d', reason='3D lifting is not part of this build')
    pytest.importorskip('humanpose.track', reason='tracking is not part of this build')
    pytest.importorskip('humanpose.filters', reason='smoothing is not part of this build')
    scenes = _scenes(3)
    write_image_bag(tmp_path / 'in', _frames(scenes),
                    depth_topic='/camera/aligned_depth_to_color/image_raw',
                    camera_info_topic='/camera/color/camera_info')
    out = tmp_path / 'out'
    assert _run([str(tmp_path / 'in'), '--out', str(out), '--smooth', '--depth-topic',
                 '/camera/aligned_depth_to_color/image_raw'], pose_model, detector_model) == 0
    poses = _messages(out / 'poses', '/humans/pose')
    depth_of = {round(p.centre_px[0]): p.depth_m for p in scenes[0].people}
    for _, msg in poses:
        assert sorted(h.id for h in msg.humans) == ['1', '2']
        for human in msg.humans:
            assert len(human.keypoints_3d) == 133
            # Torso keypoints (shoulders, hips) lie on the person's plane.
            z = np.array([human.keypoints_3d[k].position.z for k in (5, 6, 11, 12)])
            x = np.mean([human.keypoints[k].x for k in (5, 6, 11, 12)])
            truth = min(depth_of.items(), key=lambda kv: abs(kv[0] - x))[1]
            assert np.allclose(z, truth, rtol=0.02)
    markers = _messages(out / 'poses', '/humans/markers')
    assert len(markers) == 3
    assert any(m.type == 7 for m in markers[0][1].markers)  # joints as a SPHERE_LIST


def test_image_folder_with_boxes_uses_stems_as_image_ids(
        tmp_path: Path, pose_model: Path) -> None:
    scenes = _scenes(2)
    folder = tmp_path / 'frames'
    folder.mkdir()
    for i, scene in enumerate(scenes):
        cv2.imwrite(str(folder / f'{i + 1:06d}.png'), scene.image)
    boxes = tmp_path / 'boxes.json'
    first = scenes[0].boxes[0]
    boxes.write_text(json.dumps({'1': [list(first) + [0.7]], '000002': [],
                                 '99': [[0, 0, 5, 5]]}))
    out = tmp_path / 'out'
    assert _run([str(folder), '--out', str(out), '--boxes', str(boxes)], pose_model) == 0
    results = json.loads((out / 'poses.json').read_text())
    assert [r['image_id'] for r in results] == [1]
    error = np.linalg.norm(np.reshape(results[0]['keypoints'], (-1, 3))[:, :2]
                           - scenes[0].keypoints[0], axis=-1)[scenes[0].inside[0]].mean()
    assert error < 1.0
    assert results[0]['bbox'][:2] == pytest.approx(list(first[:2]), abs=0.01)


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if 'error:' in line]
    assert len(lines) == 1 and 'Traceback' not in err, err
    return lines[0]


def test_bag_without_the_topic_lists_the_image_topics(
        tmp_path: Path, pose_model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_image_bag(tmp_path / 'in', _frames(_scenes(1)), image_topic='/cam/image_raw')
    assert _run([str(tmp_path / 'in'), '--out', str(tmp_path / 'out'), '--image-topic',
                 '/camera/color/image_raw'], pose_model) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert 'has no topic /camera/color/image_raw; its image topics: /cam/image_raw' in line


def test_unreadable_video_is_one_line_and_exit_2(
        tmp_path: Path, pose_model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / 'broken.mp4'
    path.write_bytes(b'\x00\x00\x00\x18ftypmp42' + b'\x00' * 500)
    assert _run([str(path), '--out', str(tmp_path / 'out')], pose_model) == 2
    assert 'broken.mp4' in _one_error_line(capsys.readouterr().err)


def test_unknown_encoding_mid_bag_keeps_the_frames_before_it(
        tmp_path: Path, pose_model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = build_typestore()
    ns = rosbags_namespace(store)
    scene = _scenes(1)[0]
    with Writer(tmp_path / 'in', version=8) as writer:
        conn = writer.add_connection('/cam/image', 'sensor_msgs/msg/Image', typestore=store)
        for i, encoding in enumerate(['bgr8', 'bgr8', '8UC3']):
            msg = ns.new('Image', header=make_header(ns, T0 + i, 'cam'), height=H, width=W,
                         encoding=encoding, step=W * 3, data=scene.image.reshape(-1))
            writer.write(conn, T0 + i, bytes(store.serialize_cdr(msg, 'sensor_msgs/msg/Image')))
    out = tmp_path / 'out'
    assert _run([str(tmp_path / 'in'), '--out', str(out)], pose_model) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert '/cam/image message 2' in line and "'8UC3' is not supported" in line
    # Partial outputs are complete files: valid JSON, a readable bag with 2 frames.
    assert {r['image_id'] for r in json.loads((out / 'poses.json').read_text())} == {0, 1}
    assert len(_messages(out / 'poses', '/humans/pose')) == 2


def test_ctrl_c_keeps_what_was_written(tmp_path: Path, video: tuple[Path, list[Any]],
                                       pose_model: Path, detector_model: Path,
                                       monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    from humanpose.pipeline import Pipeline

    real = Pipeline.__call__
    calls = []

    def interrupted(self: Pipeline, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Pipeline, '__call__', interrupted)
    out = tmp_path / 'out'
    assert _run([str(video[0]), '--out', str(out)], pose_model, detector_model) == 130
    assert 'interrupted' in capsys.readouterr().err
    assert {r['image_id'] for r in json.loads((out / 'poses.json').read_text())} == {0, 1}
    assert len(_messages(out / 'poses', '/humans/pose')) == 2


@pytest.mark.parametrize(('extra', 'message'), [
    (['--boxes', '{boxes}'], 'not valid JSON'),
    (['--depth-topic', '/depth'], '--depth-topic only apply to rosbag2'),
    (['--every', '0'], '--every must be an integer >= 1'),
])
def test_bad_options_and_files_are_one_line_errors(
        tmp_path: Path, video: tuple[Path, list[Any]], pose_model: Path, extra: list[str],
        message: str, capsys: pytest.CaptureFixture[str]) -> None:
    boxes = tmp_path / 'boxes.json'
    boxes.write_text('{"0": [[1, 2, ')
    extra = [e.format(boxes=boxes) for e in extra]
    assert _run([str(video[0]), '--out', str(tmp_path / 'out'), *extra], pose_model) == 2
    assert message in _one_error_line(capsys.readouterr().err)


def test_earlier_outputs_need_overwrite(tmp_path: Path, video: tuple[Path, list[Any]],
                                        pose_model: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / 'out'
    args = [str(video[0]), '--out', str(out), '--max-frames', '1']
    assert _run(args, pose_model) == 0
    assert _run(args, pose_model) == 2
    assert '--overwrite' in _one_error_line(capsys.readouterr().err)
    assert _run([*args, '--overwrite'], pose_model) == 0
    assert len(_messages(out / 'poses', '/humans/pose')) == 1
    # A run that fails on its input removes nothing, even with --overwrite.
    assert _run([str(tmp_path / 'missing.mp4'), '--out', str(out), '--overwrite'],
                pose_model) == 2
    assert len(_messages(out / 'poses', '/humans/pose')) == 1


def test_card_names_must_be_downloaded_first(tmp_path: Path, video: tuple[Path, list[Any]],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(['run', str(video[0]), '--pose-model', 'rtmw-m-256x192', '--out',
                 str(tmp_path / 'out')]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert 'humanpose models download rtmw-m-256x192' in line


def test_rtmw3d_gives_monocular_3d_from_camera_info_or_an_assumed_field_of_view(
        tmp_path: Path, pose3d_model: Path, pose_model: Path, detector_model: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    from humanpose.testing.scene import default_camera, person_at
    camera = default_camera(640, 480, hfov_deg=75.0)
    scenes = [render_scene(640, 480, [person_at(camera, (0.1 * i, 0.0, 2.5))], camera=camera)
              for i in range(2)]
    frames = [SourceFrame(index=i, stamp_ns=T0 + i * PERIOD_NS, name=str(i), image=s.image,
                          frame_id='cam', log_time_ns=T0 + i * PERIOD_NS, camera=s.camera)
              for i, s in enumerate(scenes)]
    write_image_bag(tmp_path / 'in', frames, camera_info_topic='/camera/color/camera_info')
    out = tmp_path / 'out'
    assert _run([str(tmp_path / 'in'), '--out', str(out), '--camera-info-topic',
                 '/camera/color/camera_info'], pose3d_model, detector_model) == 0
    assert '3D: monocular (3D pose network), intrinsics from camera_info' in \
        capsys.readouterr().out
    poses = _messages(out / 'poses', '/humans/pose')
    assert len(poses) == 2
    for (_, msg), scene in zip(poses, scenes):
        assert not msg.intrinsics_assumed and [h.source_3d for h in msg.humans] == [2]
        points = np.array([(k.position.x, k.position.y, k.position.z)
                           for k in msg.humans[0].keypoints_3d])
        assert points[[11, 12], 2].mean() == pytest.approx(2.5, rel=0.05)
        assert 0.0 <= msg.humans[0].residual_3d < 0.01
    # Without camera_info: the assumed field of view, and the messages say so.
    out2 = tmp_path / 'out2'
    assert _run([str(tmp_path / 'in'), '--out', str(out2), '--hfov', '75'], pose3d_model,
                detector_model) == 0
    assert 'assumed 75 degree field of view' in capsys.readouterr().out
    for _, msg in _messages(out2 / 'poses', '/humans/pose'):
        assert msg.intrinsics_assumed and msg.humans[0].source_3d == 2
        z = np.mean([msg.humans[0].keypoints_3d[k].position.z for k in (11, 12)])
        assert z == pytest.approx(2.5, rel=0.05)  # the guess was right here
    # --pose3d monocular with a 2D network: one line, exit code 2, nothing written.
    assert _run([str(tmp_path / 'in'), '--out', str(tmp_path / 'out3'), '--pose3d',
                 'monocular'], pose_model) == 2
    assert 'needs a 3D pose network' in _one_error_line(capsys.readouterr().err)
    assert not (tmp_path / 'out3').exists()
