"""The direct CDR encoder gives exactly rosbags' bytes for the same message."""

import numpy as np
import pytest

from humanpose.ros.cdr import encode_pose_array
from humanpose.ros.messages import (build_typestore, make_header, poses_to_msg,
                                    rosbags_namespace)
from humanpose.types import Poses

TYPE = 'pose_bringup/msg/HumanPoseArray'


def _poses(n, k, with_3d, ids, seed=0):
    rng = np.random.default_rng(seed)
    kp3 = c3 = None
    if with_3d:
        kp3 = rng.uniform(-2, 4, (n, k, 3)).astype(np.float32)
        kp3[:, ::5] = np.nan
        c3 = rng.uniform(0, 1, (n, k)).astype(np.float32)
    return Poses(rng.uniform(0, 640, (n, k, 2)).astype(np.float32),
                 rng.uniform(-0.2, 1.2, (n, k)).astype(np.float32),
                 rng.uniform(0, 2, (n, k)).astype(np.float32),
                 rng.uniform(0, 640, (n, 4)).astype(np.float32),
                 rng.uniform(0, 1, n).astype(np.float32),
                 'coco_wholebody' if k == 133 else 'coco',
                 ids=tuple(ids[:n]) if ids else (), keypoints_3d=kp3, confidence_3d=c3)


@pytest.mark.parametrize('n, k, with_3d, ids, frame_id', [
    (0, 133, False, (), 'cam'),
    (1, 133, True, ('7',), 'camera_color_optical_frame'),
    (3, 133, True, ('1', '22', '333'), 'c'),
    (5, 17, False, ('a', 'bb', 'ccc', 'dddd', ''), 'odd_len'),
    (2, 17, True, (), ''),
])
@pytest.mark.parametrize('distro', ['humble', 'jazzy'])
@pytest.mark.parametrize('sources', [False, True])
def test_bytes_equal_rosbags_serialisation(n, k, with_3d, ids, frame_id, distro, sources):
    store = build_typestore(distro)
    ns = rosbags_namespace(store)
    poses = _poses(n, k, with_3d, ids)
    if sources:  # 3D from a 3D network: source and residual per person, assumed intrinsics
        from dataclasses import replace
        poses = replace(poses, source_3d=(np.arange(n) % 4).astype(np.uint8),
                        residual_3d=np.where(np.arange(n) % 2, np.nan,
                                             0.01 * np.arange(n)).astype(np.float32),
                        intrinsics_assumed=n % 2 == 0)
    stamp_ns = 1_700_000_123_456_789_012
    msg = poses_to_msg(poses, ns, make_header(ns, stamp_ns, frame_id))
    expected = store.serialize_cdr(msg, TYPE)
    sec, nanosec = divmod(stamp_ns, 1_000_000_000)
    got = encode_pose_array(poses, sec, nanosec, frame_id)
    assert got == bytes(expected)
    back = store.deserialize_cdr(got, TYPE)
    assert len(back.humans) == n and back.header.frame_id == frame_id
