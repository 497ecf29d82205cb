"""rosbag2 reading (sqlite3 and MCAP; Image, CompressedImage, depth, camera_info) and writing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rosbags.rosbag2 import Reader, StoragePlugin, Writer

from humanpose.errors import BagError, UnsupportedEncodingError
from humanpose.io.bags import (BagSource, PoseBagWriter, read_pose_bag, write_image_bag)
from humanpose.io.sources import SourceFrame, open_source
from humanpose.ros.messages import build_typestore, make_header, rosbags_namespace
from humanpose.testing.scene import default_camera
from humanpose.types import Poses

STORAGES = ('sqlite3', 'mcap')
T0 = 1_700_000_000_000_000_000


def _frames(count: int, with_depth: bool = False) -> list[SourceFrame]:
    camera = default_camera(64, 48)
    rng = np.random.default_rng(0)
    return [SourceFrame(
        index=i, stamp_ns=T0 + i * 50_000_000, name=str(i),
        image=rng.integers(0, 255, (48, 64, 3), dtype=np.uint8),
        frame_id='camera_color_optical_frame', log_time_ns=T0 + i * 50_000_000 + 7_000_000,
        depth=np.full((48, 64), 1000 + i, np.uint16) if with_depth else None,
        camera=camera if with_depth else None) for i in range(count)]


def _poses(n: int) -> Poses:
    rng = np.random.default_rng(n)
    kp = rng.uniform(0, 60, (n, 17, 2)).astype(np.float32)
    conf = rng.uniform(0, 1, (n, 17)).astype(np.float32)
    return Poses(keypoints=kp, confidence=conf, scores=conf, boxes=np.tile(
        np.array([[1, 2, 30, 40]], np.float32), (n, 1)), box_scores=np.full(n, 0.9, np.float32),
        skeleton='coco')


@pytest.mark.parametrize('storage', STORAGES)
def test_image_bag_frames_keep_pixels_stamps_and_frame(tmp_path: Path, storage: str) -> None:
    frames = _frames(4)
    write_image_bag(tmp_path / 'in', frames, storage=storage)
    with open_source(str(tmp_path / 'in')) as source:
        assert source.kind == 'bag' and source.length == 4
        assert source.image_topic == '/camera/color/image_raw'  # the only one: chosen
        got = list(source)
    assert [f.stamp_ns for f in got] == [f.stamp_ns for f in frames]
    assert [f.log_time_ns for f in got] == [f.log_time_ns for f in frames]
    assert {f.frame_id for f in got} == {'camera_color_optical_frame'}
    for mine, theirs in zip(got, frames):
        np.testing.assert_array_equal(mine.image, theirs.image)  # bgr8 raw: exact


@pytest.mark.parametrize('encoding', ['rgb8', 'mono8'])
def test_other_encodings_come_back_as_bgr(tmp_path: Path, encoding: str) -> None:
    frames = _frames(1)
    write_image_bag(tmp_path / 'in', frames, encoding=encoding)
    (frame,) = list(open_source(str(tmp_path / 'in')))
    if encoding == 'rgb8':
        np.testing.assert_array_equal(frame.image, frames[0].image)
    else:
        assert frame.image.shape == (48, 64, 3)
        assert (frame.image[..., 0] == frame.image[..., 2]).all()


def test_single_mcap_file_is_a_source(tmp_path: Path) -> None:
    write_image_bag(tmp_path / 'in', _frames(2), storage='mcap')
    assert len(list(open_source(str(tmp_path / 'in' / 'in.mcap')))) == 2


def test_compressed_images_are_decoded(tmp_path: Path) -> None:
    frames = [SourceFrame(0, T0, '0', np.full((48, 64, 3), (30, 120, 220), np.uint8))]
    write_image_bag(tmp_path / 'in', frames, compressed=True,
                    image_topic='/camera/color/image_raw/compressed')
    (frame,) = list(open_source(str(tmp_path / 'in')))
    assert np.abs(frame.image.astype(int) - [30, 120, 220]).max() <= 3  # JPEG


@pytest.mark.parametrize('storage', STORAGES)
def test_depth_and_camera_info_are_paired_by_stamp(tmp_path: Path, storage: str) -> None:
    frames = _frames(3, with_depth=True)
    write_image_bag(tmp_path / 'in', frames, storage=storage,
                    depth_topic='/camera/aligned_depth_to_color/image_raw',
                    camera_info_topic='/camera/color/camera_info')
    source = open_source(str(tmp_path / 'in'),
                         depth_topic='/camera/aligned_depth_to_color/image_raw')
    # camera_info found next to the image topic without being named.
    assert source.camera_info_topic == '/camera/color/camera_info'
    got = list(source)
    assert [int(f.depth[0, 0]) for f in got] == [1000, 1001, 1002]
    assert {f.depth_encoding for f in got} == {'16UC1'}
    np.testing.assert_allclose(got[0].camera.k, frames[0].camera.k)
    assert got[0].camera.width == 64


def test_a_bag_without_the_topic_lists_its_image_topics(tmp_path: Path) -> None:
    write_image_bag(tmp_path / 'in', _frames(1), image_topic='/cam/left/image_raw')
    with pytest.raises(BagError, match=r'has no topic /camera/image_raw; its image topics: '
                                       r'/cam/left/image_raw \(Image\)'):
        open_source(str(tmp_path / 'in'), image_topic='/camera/image_raw')


def test_a_bag_with_two_image_topics_needs_a_choice(tmp_path: Path) -> None:
    store = build_typestore()
    ns = rosbags_namespace(store)
    with Writer(tmp_path / 'in', version=8) as writer:
        for topic in ('/a/image', '/b/image'):
            conn = writer.add_connection(topic, 'sensor_msgs/msg/Image', typestore=store)
            msg = ns.new('Image', header=make_header(ns, T0, 'c'), height=1, width=1,
                         encoding='mono8', step=1, data=np.zeros(1, np.uint8))
            writer.write(conn, T0, bytes(store.serialize_cdr(msg, 'sensor_msgs/msg/Image')))
    with pytest.raises(BagError, match='2 image topics .*choose one with --image-topic'):
        open_source(str(tmp_path / 'in'))


def test_depth_topic_of_the_wrong_type_is_refused(tmp_path: Path) -> None:
    write_image_bag(tmp_path / 'in', _frames(1), camera_info_topic='/camera/color/camera_info')
    with pytest.raises(BagError, match='depth topic /camera/color/camera_info .* has type '
                                       'sensor_msgs/msg/CameraInfo'):
        open_source(str(tmp_path / 'in'), depth_topic='/camera/color/camera_info')


def test_unknown_encoding_names_the_encoding_and_the_message(tmp_path: Path) -> None:
    store = build_typestore()
    ns = rosbags_namespace(store)
    with Writer(tmp_path / 'in', version=8) as writer:
        conn = writer.add_connection('/cam', 'sensor_msgs/msg/Image', typestore=store)
        msg = ns.new('Image', header=make_header(ns, T0, 'c'), height=2, width=2,
                     encoding='bayer_rggb8', step=2, data=np.zeros(4, np.uint8))
        writer.write(conn, T0, bytes(store.serialize_cdr(msg, 'sensor_msgs/msg/Image')))
    with pytest.raises(UnsupportedEncodingError, match="/cam message 0 .*'bayer_rggb8'"):
        list(open_source(str(tmp_path / 'in')))


def test_unreadable_bag_is_a_bag_error(tmp_path: Path) -> None:
    (tmp_path / 'x.mcap').write_bytes(b'not an mcap file at all')
    with pytest.raises(BagError, match='cannot read rosbag2'):
        BagSource(tmp_path / 'x.mcap')


@pytest.mark.parametrize('storage', STORAGES)
def test_pose_bag_round_trip_with_definitions_and_copies(tmp_path: Path, storage: str) -> None:
    frames = _frames(3)
    write_image_bag(tmp_path / 'in', frames, storage=storage)
    with PoseBagWriter(tmp_path / 'poses', 'coco') as bag:
        source = BagSource(tmp_path / 'in', on_message=bag.copy)
        for frame in source:
            bag.write_poses(_poses(frame.index), frame.stamp_ns, frame.frame_id,
                            frame.record_time_ns)
        source.close()
    assert bag.file == tmp_path / 'poses' / 'poses.mcap' and bag.file.is_file()
    messages = read_pose_bag(tmp_path / 'poses')
    assert [t for t, _ in messages] == [f.log_time_ns for f in frames]
    assert [len(m.humans) for _, m in messages] == [0, 1, 2]
    assert [m.header.stamp.sec * 10**9 + m.header.stamp.nanosec for _, m in messages] == [
        f.stamp_ns for f in frames]
    np.testing.assert_allclose([k.x for k in messages[2][1].humans[1].keypoints],
                               _poses(2).keypoints[1, :, 0])
    with Reader(tmp_path / 'poses') as reader:
        by_topic = {c.topic: c for c in reader.connections}
        assert set(by_topic) == {'/humans/pose', '/humans/markers', '/camera/color/image_raw'}
        # Definitions are stored, so ros2 bag play / Foxglove can decode without our package.
        assert 'Keypoint2D' in by_topic['/humans/pose'].msgdef.data
        # No 3D: the first frame's DELETEALL (clears RViz), then nothing to replace.
        assert by_topic['/humans/markers'].msgcount == 1
        with Reader(tmp_path / 'in') as original:
            raw_in = [raw for _, _, raw in original.messages()]
            digest_in = original.connections[0].digest
        raw_out = [raw for _, _, raw in reader.messages(
            connections=[by_topic['/camera/color/image_raw']])]
        assert raw_out == raw_in  # copied byte for byte
        assert by_topic['/camera/color/image_raw'].digest == digest_in


def test_recorded_markers_live_as_long_as_the_recorded_frame_period(tmp_path: Path) -> None:
    """Played back at its rate, a 4 Hz recording's markers must not blink (issue 18)."""
    rng = np.random.default_rng(4)
    period_ns = 250_000_000
    with PoseBagWriter(tmp_path / 'poses', 'coco') as bag:
        for i in range(6):
            poses = _poses(2)
            kp3 = np.concatenate([rng.uniform(-1, 1, (2, 17, 2)), np.full((2, 17, 1), 2.0)], -1)
            poses = poses.with_3d(kp3.astype(np.float32), np.ones((2, 17), np.float32))
            bag.write_poses(poses, T0 + i * period_ns, 'camera_color_optical_frame')
    store = build_typestore()
    with Reader(tmp_path / 'poses') as reader:
        (markers,) = [c for c in reader.connections if c.topic == '/humans/markers']
        arrays = [store.deserialize_cdr(raw, markers.msgtype)
                  for _, _, raw in reader.messages(connections=[markers])]
    lifetimes = [a.markers[1].lifetime.sec + a.markers[1].lifetime.nanosec / 1e9
                 for a in arrays]
    assert lifetimes[0] == pytest.approx(3.0)             # period unknown: 1 s assumed
    assert lifetimes[1:] == pytest.approx([0.75] * 5)     # 3 x 0.25 s > the 0.25 s gap
    assert all(a.markers[0].action == 3 for a in arrays)  # each frame replaces the last


def test_cues_need_a_writer_made_for_them(tmp_path: Path) -> None:
    from humanpose.cues import CueEstimator

    cues = CueEstimator(skeleton='coco')(_poses(2), 0, image_size=(64, 48))
    with PoseBagWriter(tmp_path / 'poses', 'coco') as bag:
        with pytest.raises(BagError, match='cues=True'):
            bag.write_poses(_poses(2), 0, 'cam', cues=cues)
    assert bag.counts == {}  # refused before anything was written


def test_pose_bag_writer_refuses_an_existing_directory(tmp_path: Path) -> None:
    (tmp_path / 'poses').mkdir()
    with pytest.raises(BagError, match='exists already'):
        PoseBagWriter(tmp_path / 'poses', 'coco')


def test_pose_bag_writer_skips_input_topics_it_writes_itself(tmp_path: Path) -> None:
    with PoseBagWriter(tmp_path / 'first', 'coco') as bag:
        bag.write_poses(_poses(1), T0, 'cam')
    with PoseBagWriter(tmp_path / 'second', 'coco') as bag, Reader(tmp_path / 'first') as src:
        for conn, t, raw in src.messages():
            bag.copy(conn, t, raw)
    assert bag.counts == {}
    with Reader(tmp_path / 'second') as reader:
        assert sorted(c.topic for c in reader.connections) == ['/humans/markers',
                                                               '/humans/pose']


def test_pose_bag_is_readable_by_plain_rosbags_in_a_fresh_typestore(tmp_path: Path) -> None:
    """A consumer without humanpose registers the types from the bag's own definitions."""
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    with PoseBagWriter(tmp_path / 'poses', 'coco') as bag:
        bag.write_poses(_poses(2), T0, 'cam')
    store = get_typestore(Stores.EMPTY)
    with Reader(tmp_path / 'poses') as reader:
        conn = next(c for c in reader.connections if c.topic == '/humans/pose')
        store.register(get_types_from_msg(conn.msgdef.data, conn.msgtype))
        (_, _, raw), = list(reader.messages(connections=[conn]))
    msg = store.deserialize_cdr(raw, conn.msgtype)
    assert len(msg.humans) == 2 and len(msg.humans[0].keypoints) == 17


def test_sqlite3_storage_can_be_written_too(tmp_path: Path) -> None:
    with PoseBagWriter(tmp_path / 'poses', 'coco', storage='sqlite3') as bag:
        bag.write_poses(_poses(1), T0, 'cam')
    assert (tmp_path / 'poses' / 'poses.db3').is_file()
    assert len(read_pose_bag(tmp_path / 'poses')) == 1
    assert StoragePlugin.SQLITE3.name == 'SQLITE3'
