"""``humanpose run --cues``: cues.json and /humans/cues next to the poses."""

from __future__ import annotations

import json
from pathlib import Path

from rosbags.rosbag2 import Reader

from humanpose.cli import main
from humanpose.io.bags import write_image_bag
from humanpose.io.sources import SourceFrame
from humanpose.ros.messages import build_typestore, stamp_to_ns
from humanpose.testing.scene import random_people, render_scene

W, H = 320, 240
T0 = 1_700_000_000_000_000_000
PERIOD_NS = 33_333_333


def _frames(count: int) -> list[SourceFrame]:
    people = random_people(2, W, H, seed=3)
    scene = render_scene(W, H, people, seed=3)
    return [SourceFrame(index=i, stamp_ns=T0 + i * PERIOD_NS, name=str(i), image=scene.image,
                        frame_id='camera_color_optical_frame', log_time_ns=T0 + i * PERIOD_NS,
                        depth=scene.depth_mm(), camera=scene.camera) for i in range(count)]


def test_cues_in_json_and_bag(tmp_path: Path, pose_model: Path, detector_model: Path,
                              capsys) -> None:
    frames = _frames(4)
    write_image_bag(tmp_path / 'in', frames, depth_topic='/camera/depth/image_rect_raw',
                    camera_info_topic='/camera/color/camera_info')
    out = tmp_path / 'out'
    assert main(['run', str(tmp_path / 'in'), '--out', str(out), '--cues', '--track',
                 '--depth-topic', '/camera/depth/image_rect_raw', '--pose-model',
                 str(pose_model), '--det-model', str(detector_model), '--backend',
                 'onnxruntime-cpu']) == 0
    assert 'cues.json' in capsys.readouterr().out
    entries = json.loads((out / 'cues.json').read_text())
    assert [e['image_id'] for e in entries] == [0, 0, 1, 1, 2, 2, 3, 3]
    assert [e['stamp_ns'] for e in entries[::2]] == [f.stamp_ns for f in frames]
    assert {e['id'] for e in entries} == {'1', '2'}
    assert not any(e['intrinsics_assumed'] for e in entries)  # camera_info of the bag
    assert all(1.0 < e['distance_m'] < 4.0 for e in entries)
    store = build_typestore()
    with Reader(out / 'poses') as reader:
        conns = [c for c in reader.connections if c.topic == '/humans/cues']
        cues = [store.deserialize_cdr(raw, c.msgtype)
                for c, _, raw in reader.messages(connections=conns)]
        poses = [store.deserialize_cdr(raw, c.msgtype) for c, _, raw in reader.messages(
            connections=[c for c in reader.connections if c.topic == '/humans/pose'])]
        markers = [store.deserialize_cdr(raw, c.msgtype) for c, _, raw in reader.messages(
            connections=[c for c in reader.connections if c.topic == '/humans/markers'])]
    assert conns[0].msgtype == 'pose_bringup/msg/HumanCuesArray'
    assert [stamp_to_ns(m.header.stamp) for m in cues] == [f.stamp_ns for f in frames]
    for c, p in zip(cues, poses):
        assert [h.id for h in c.humans] == [h.id for h in p.humans]
        assert c.header.frame_id == 'camera_color_optical_frame'
    # As the node publishes them: one array per image, the skeletons and the head
    # directions of both people together, after the DELETEALL that replaces the last image's.
    assert [stamp_to_ns(m.markers[0].header.stamp) for m in markers] == [
        f.stamp_ns for f in frames]
    for array in markers:
        namespaces = {m.ns for m in array.markers}
        assert array.markers[0].action == 3
        assert {'person/1', 'person/2', 'cues/1', 'cues/2'} <= namespaces, namespaces


def test_without_cues_nothing_extra(tmp_path: Path, pose_model: Path) -> None:
    write_image_bag(tmp_path / 'in', _frames(1))
    out = tmp_path / 'out'
    assert main(['run', str(tmp_path / 'in'), '--out', str(out), '--pose-model',
                 str(pose_model), '--backend', 'onnxruntime-cpu']) == 0
    assert not (out / 'cues.json').exists()
    with Reader(out / 'poses') as reader:
        assert '/humans/cues' not in {c.topic for c in reader.connections}
