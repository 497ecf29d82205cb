"""Direct CDR encoding of ``pose_bringup/msg/HumanCuesArray`` (what the node publishes).

:func:`humanpose.ros.cue_messages.cues_to_msg` builds one message object per person and
one per Point/Vector3 (about 50 microseconds per person), which rclpy or rosbags then
serialise again. :func:`encode_cues_array` writes the same bytes straight from the arrays
(equal byte for byte to rosbags' ``serialize_cdr`` of ``cues_to_msg``, tested), in the
way of :func:`humanpose.ros.cdr.encode_pose_array`.

Layout: after a person's ``id`` string every field of ``HumanCues`` is of fixed size, but
where the string ends (its offset modulo 8) moves the padding in front of the float32 and
float64 fields. So there is one :class:`struct.Struct` per phase of that offset, made from
the field table below with the CDR alignment rules; each person is then one ``pack`` of
values taken out of the arrays once per image. Every person ends after a float64 Point,
8-aligned, so the next ``id`` needs no padding.
"""

from __future__ import annotations

import struct
from functools import lru_cache
from operator import itemgetter
from typing import Any, Callable

import numpy as np
from numpy.typing import NDArray

from humanpose.cues.types import Cues
from humanpose.ros.cdr import CdrWriter

#: Values of one field for all N people, from the cues.
_Source = Callable[[Cues], NDArray[Any]]

#: ``HumanCues`` after ``id``, in message order: (field, struct codes, values (N, len(codes))
#: of the cues). Codes: ``?`` bool, ``B`` uint8, ``f`` float32, ``d`` float64 (Point,
#: Vector3), ``I`` the bits of a float32 array element (as rosbags writes a numpy
#: float32[2]: as they are, NaN payloads included).
_CUE_FIELDS: tuple[tuple[str, str, _Source], ...] = (
    ('has_head_pose', '?', lambda c: c.has_head_pose),
    ('head_{yaw,pitch,roll}_rad', 'fff', lambda c: c.head_ypr_rad),
    ('head_direction', 'ddd', lambda c: c.head_direction),
    ('head_position', 'ddd', lambda c: c.head_position_m),
    ('attention_angle_rad', 'f', lambda c: c.attention_angle_rad),
    ('looking_at_camera', '?', lambda c: c.looking_at_camera),
    ('looking_duration_s', 'f', lambda c: c.looking_duration_s),
    ('engaged', '?', lambda c: c.engaged),
    ('distance_m', 'f', lambda c: c.distance_m),
    ('{left,right}_hand_raised', '??', lambda c: c.hand_raised),
    ('{left,right}_hand_state', 'BB', lambda c: c.hand_state),
    ('waving', '?', lambda c: c.waving),
    ('waving_hand', 'B', lambda c: c.waving_hand),
    ('waving_frequency_hz', 'f', lambda c: c.waving_frequency_hz),
    ('pointing', '?', lambda c: c.pointing),
    ('pointing_hand', 'B', lambda c: c.pointing_hand),
    ('pointing_confidence', 'f', lambda c: c.pointing_confidence),
    ('pointing_origin_px', 'II', lambda c: _float32_bits(c.pointing_origin_px)),
    ('pointing_direction_px', 'II', lambda c: _float32_bits(c.pointing_direction_px)),
    ('pointing_origin', 'ddd', lambda c: c.pointing_origin_m),
    ('pointing_direction', 'ddd', lambda c: c.pointing_direction),
    ('pointing_target_valid', '?', lambda c: _target_valid(c.pointing_target_m)),
    ('pointing_target', 'ddd', lambda c: c.pointing_target_m),
)

_SIZES = {'?': 1, 'B': 1, 'I': 4, 'f': 4, 'd': 8}
_INTEGER_CODES = frozenset('?BI')


def _float32_bits(values: NDArray[Any]) -> NDArray[np.uint32]:
    """Return the bits of float32 ``values`` as uint32 (same shape)."""
    return np.ascontiguousarray(values, '<f4').view('<u4')


def _target_valid(target_m: NDArray[Any]) -> NDArray[np.bool_]:
    """Return (N,) whether each (N, 3) pointing target is finite, as ``cues_to_msg`` says."""
    return np.asarray(np.isfinite(target_m).all(axis=1), bool)


@lru_cache(maxsize=8)
def _person_struct(phase: int) -> struct.Struct:
    """Return the Struct of one person's fields after an ``id`` that ends at ``phase`` mod 8.

    Each value is aligned to its size, counted from the phase (CDR); the padding becomes
    ``x`` pad bytes. The person ends 8-aligned (the last field is a Point).
    """
    offset, fmt = phase, ['<']
    for _, codes, _ in _CUE_FIELDS:
        for code in codes:
            size = _SIZES[code]
            fmt.append('x' * (-offset % size) + code)
            offset += -offset % size + size
    return struct.Struct(''.join(fmt))


@lru_cache(maxsize=1)
def _tables() -> tuple[tuple[_Source, ...], tuple[_Source, ...],
                       Callable[[list[Any]], tuple[Any, ...]]]:
    """Return the sources of the integer and of the float fields, and how to interleave them.

    :return: the integer fields' sources, the float fields' sources (each in message
        order), and a getter that turns one person's integer values followed by its float
        values into the values of :func:`_person_struct`, in message order.
    """
    integers: list[_Source] = []
    floats: list[_Source] = []
    int_at: list[int] = []
    float_at: list[int] = []
    for _, codes, source in _CUE_FIELDS:
        integer = codes[0] in _INTEGER_CODES
        (integers if integer else floats).append(source)
        positions = int_at if integer else float_at
        start = len(int_at) + len(float_at)
        positions += range(start, start + len(codes))
    # Value j of the person (message order) is item order[j] of integers + floats.
    order = [0] * (len(int_at) + len(float_at))
    for item, position in enumerate(int_at + float_at):
        order[position] = item
    return tuple(integers), tuple(floats), itemgetter(*order)


def encode_cues_array(cues: Cues, stamp_sec: int, stamp_nanosec: int, frame_id: str) -> bytes:
    """Return the CDR bytes of the HumanCuesArray that :func:`cues_to_msg` would build.

    :param cues: cues of one image's people (ids empty when ``cues.ids`` is empty).
    :param stamp_sec: header stamp seconds (int32).
    :param stamp_nanosec: header stamp nanoseconds (uint32).
    :param frame_id: header frame id.
    :return: little-endian CDR with its encapsulation header, as published.
    """
    w = CdrWriter()
    w.stamp(stamp_sec, stamp_nanosec)
    w.string(frame_id)
    w.raw(b'\x01' if cues.intrinsics_assumed else b'\x00')
    n = len(cues)
    w.u32(n)
    if n == 0:
        return w.bytes()
    integers, floats, in_message_order = _tables()
    # One table per kind for the image (uint32: bools, uint8 and float32 bits; float32
    # values, which tolist widens to Python floats as float() does), one list per person.
    int_rows = np.concatenate([source(cues).reshape(n, -1) for source in integers],
                              axis=1).tolist()
    float_rows = np.concatenate([source(cues).reshape(n, -1) for source in floats],
                                axis=1).tolist()
    ids = cues.ids if cues.ids else ('',) * n
    structs = [_person_struct(phase) for phase in range(8)]
    chunks, offset = w.chunks, w.offset
    for i in range(n):
        text = ids[i].encode('utf-8') + b'\x00'
        pad = -offset % 4
        if pad:  # only the first person can start unaligned
            chunks.append(b'\x00' * pad)
            offset += pad
        chunks.append(len(text).to_bytes(4, 'little'))
        chunks.append(text)
        offset += 4 + len(text)
        person = structs[offset % 8]
        chunks.append(person.pack(*in_message_order(int_rows[i] + float_rows[i])))
        offset += person.size
    return b''.join(chunks)
