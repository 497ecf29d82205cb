"""rosbag2 in and out with `rosbags` (no ROS needed): image frames from a bag, poses to a bag.

Reading (:class:`BagSource`): a rosbag2 directory, or a single ``.mcap`` / ``.db3``
storage file (rosbags >= 0.11), in sqlite3 or MCAP storage. The colour image topic may
carry ``sensor_msgs/msg/Image`` (encodings of :mod:`humanpose.ros.images`) or
``sensor_msgs/msg/CompressedImage`` (JPEG, PNG). An aligned depth topic
(``sensor_msgs/msg/Image``, 16UC1 / mono16 millimetres or 32FC1 metres) is paired with
each colour image by header stamp: the depth image with the nearest stamp, within
:data:`MAX_DEPTH_OFFSET_NS`, seen before the next few colour images. The colour camera's
``sensor_msgs/msg/CameraInfo`` (``--camera-info-topic``, or the ``camera_info`` sibling of
the image topic when a depth topic is given) becomes :attr:`SourceFrame.camera`.

Writing (:class:`PoseBagWriter`): a rosbag2 directory in MCAP storage holding
``/humans/pose`` (``pose_bringup/msg/HumanPoseArray``) and ``/humans/markers``
(``visualization_msgs/msg/MarkerArray``), serialised with the typestore of
:func:`humanpose.ros.messages.build_typestore`, so the message definitions are stored
in the bag (``ros2 bag play`` and Foxglove need them). Input messages can be copied in
with their original type, definition, hash and QoS, byte for byte. The metadata is
rosbag2 version 8: the newest layout that ROS 2 Humble's rosbag2 still parses (version 9
stores QoS profiles in a form Humble cannot read).
"""

from __future__ import annotations

from collections import deque
import logging
from pathlib import Path
from typing import Any, Callable, Deque, Iterable, Iterator, Literal, NamedTuple, Optional

import numpy as np
from numpy.typing import NDArray

from humanpose.errors import BagError, HumanPoseError, InvalidInputError
from humanpose.io.sources import SourceFrame, _SourceBase
from humanpose.types import CameraModel, Poses

_log = logging.getLogger(__name__)

IMAGE_TYPE = 'sensor_msgs/msg/Image'
COMPRESSED_TYPE = 'sensor_msgs/msg/CompressedImage'
CAMERA_INFO_TYPE = 'sensor_msgs/msg/CameraInfo'
#: Message types a colour image topic may have.
IMAGE_TYPES: frozenset[str] = frozenset({IMAGE_TYPE, COMPRESSED_TYPE})
POSE_TOPIC = '/humans/pose'
MARKER_TOPIC = '/humans/markers'
POSE_TYPE = 'pose_bringup/msg/HumanPoseArray'
MARKER_TYPE = 'visualization_msgs/msg/MarkerArray'
CUES_TOPIC = '/humans/cues'
CUES_TYPE = 'pose_bringup/msg/HumanCuesArray'
#: A depth image further than this from a colour image's stamp is not paired with it.
MAX_DEPTH_OFFSET_NS = 50_000_000
#: Colour images held back while waiting for their depth image.
_MAX_PENDING = 8
#: rosbag2 metadata version written (8: the newest that Humble reads).
BAG_VERSION: Literal[8] = 8


def output_qos() -> list[Any]:
    """Return the QoS offered for the written topics (the node's: reliable, volatile).

    Keep last 10, so ``ros2 bag play`` republishes them as the node publishes them.
    """
    from rosbags.interfaces import (Qos, QosDurability, QosHistory, QosLiveliness,
                                    QosReliability, QosTime)

    never = QosTime(0, 0)
    return [Qos(QosHistory.KEEP_LAST, 10, QosReliability.RELIABLE, QosDurability.VOLATILE,
                never, never, QosLiveliness.AUTOMATIC, never, False)]


def _open_reader(path: Path) -> Any:
    """Open a rosbag2 reader or raise :class:`BagError` with what to do."""
    from rosbags.rosbag2 import Reader

    try:
        reader = Reader(path)
        reader.open()
    except Exception as err:  # ReaderError, sqlite/mcap format errors, OSError
        hint = 'the bag is damaged or incomplete (re-record or re-copy it)'
        if path.is_file() and _rosbags_version() < (0, 11):
            hint = ('reading a single .mcap / .db3 file needs rosbags >= 0.11; pass the bag '
                    'directory that holds it and its metadata.yaml, or pip install -U rosbags')
        # One line: YAML and MCAP errors span several lines and can quote the whole file.
        detail = ' '.join(str(err).split())
        if len(detail) > 200:
            detail = detail[:200] + ' ...'
        raise BagError(f'cannot read rosbag2 {path}: {detail}; {hint}') from err
    return reader


def _rosbags_version() -> tuple[int, ...]:
    """Return the installed rosbags version as integers ((0,) if unknown)."""
    from importlib.metadata import PackageNotFoundError, version
    try:
        text = version('rosbags')
    except PackageNotFoundError:
        return (0,)
    parts = []
    for piece in text.split('.')[:3]:
        digits = ''.join(c for c in piece if c.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def _describe_topics(topics: dict[str, str], types: Iterable[str]) -> str:
    wanted = set(types)
    found = sorted(f'{t} ({m.rsplit("/", 1)[-1]})' for t, m in topics.items() if m in wanted)
    return ', '.join(found) if found else 'none'


class _Pending(NamedTuple):
    """A colour image message read from the bag, waiting for its depth image."""

    log_time_ns: int
    stamp_ns: int
    msg: Any
    msgtype: str


class _Depth(NamedTuple):
    stamp_ns: int
    array: NDArray[Any]
    encoding: str


class BagSource(_SourceBase):
    """The colour frames of a rosbag2 (with paired depth and camera model where asked).

    :param path: rosbag2 directory or storage file.
    :param image_topic: colour image topic; None = the bag's only image topic.
    :param depth_topic: aligned depth image topic, or None.
    :param camera_info_topic: CameraInfo of the colour camera; None = the ``camera_info``
        next to the image topic when a depth topic is given and the bag has it.
    :param on_message: called with (connection, bag time ns, raw CDR bytes) for every
        message read, in bag order, before frames are made of it.
    :param typestore: rosbags typestore to deserialise with (default Humble + ours).
    :param on_bad: called with (what, error) for a colour image message that cannot be
        read, which is then skipped (and not copied); None = the error ends the iteration.
    :raises BagError: unreadable bag, missing topic (the message lists the image topics
        the bag has), a topic of the wrong type, or an image topic without messages.
    """

    kind = 'bag'

    def __init__(self, path: Path, *, image_topic: Optional[str] = None,
                 depth_topic: Optional[str] = None, camera_info_topic: Optional[str] = None,
                 on_message: Optional[Callable[[Any, int, bytes], None]] = None,
                 typestore: Any = None, on_bad: Optional[Callable[[str, Exception], None]] = None
                 ) -> None:
        from humanpose.ros.messages import build_typestore

        self.path = Path(path)
        self.on_message = on_message
        self.on_bad = on_bad
        self._camera_warned = False
        self.store = typestore if typestore is not None else build_typestore()
        self._reader = _open_reader(self.path)
        try:
            self._choose_topics(image_topic, depth_topic, camera_info_topic)
        except BaseException:
            self._reader.close()
            raise
        self.length = sum(c.msgcount for c in self._reader.connections
                          if c.topic == self.image_topic) or None
        if self.length is None:
            counts = ', '.join(f'{c.topic} ({c.msgcount})' for c in self._reader.connections
                               if c.msgtype in IMAGE_TYPES)
            self._reader.close()
            raise BagError(f'{self.image_topic} in {self.path} has no messages; image topics '
                           f'and their message counts: {counts}. Choose another --image-topic')
        self.fps = None
        extras = ''.join(f', {what} {topic}' for what, topic in (
            ('depth', self.depth_topic), ('camera_info', self.camera_info_topic)) if topic)
        self.description = f'rosbag2 {self.path}: {self.image_topic}{extras}'
        self._closed = False

    @property
    def topics(self) -> dict[str, str]:
        """Topic -> message type of every connection in the bag."""
        return {c.topic: c.msgtype for c in self._reader.connections}

    def _choose_topics(self, image_topic: Optional[str], depth_topic: Optional[str],
                       camera_info_topic: Optional[str]) -> None:
        topics = self.topics
        image_list = _describe_topics(topics, IMAGE_TYPES)
        if image_topic is not None and image_topic == depth_topic:
            raise BagError(f'--depth-topic and --image-topic are both {image_topic}; the depth '
                           'topic is the aligned depth image, the image topic the colour one')
        if image_topic is None:
            # Depth images are Images too; they are never the colour topic.
            candidates = sorted(t for t, m in topics.items() if m in IMAGE_TYPES
                                and t != depth_topic and 'depth' not in t.lower())
            if not candidates and depth_topic is not None and depth_topic in topics and \
                    topics[depth_topic] in IMAGE_TYPES:
                raise BagError(
                    f'--depth-topic {depth_topic} is the only colour image candidate in '
                    f'{self.path} (image topics: {image_list}); give the colour topic with '
                    '--image-topic and the aligned depth topic with --depth-topic')
            if len(candidates) != 1:
                raise BagError(
                    f'{self.path} has {len(candidates)} image topics ({image_list}); choose '
                    'one with --image-topic')
            image_topic = candidates[0]
        self.image_topic = image_topic
        self._check_topic(image_topic, IMAGE_TYPES, 'image', image_list)
        self.depth_topic = depth_topic
        if depth_topic is not None:
            self._check_topic(depth_topic, {IMAGE_TYPE}, 'depth',
                              _describe_topics(topics, {IMAGE_TYPE}))
        if camera_info_topic is None and depth_topic is not None:
            sibling = image_topic.rsplit('/', 1)[0] + '/camera_info'
            if image_topic.endswith('/compressed'):
                sibling = image_topic.rsplit('/', 2)[0] + '/camera_info'
            if topics.get(sibling) == CAMERA_INFO_TYPE:
                camera_info_topic = sibling
                _log.info('using %s as the camera_info of %s', sibling, image_topic)
        self.camera_info_topic = camera_info_topic
        if camera_info_topic is not None:
            self._check_topic(camera_info_topic, {CAMERA_INFO_TYPE}, 'camera_info',
                              _describe_topics(topics, {CAMERA_INFO_TYPE}))

    def _check_topic(self, topic: str, types: Iterable[str], what: str, listing: str) -> None:
        msgtype = self.topics.get(topic)
        wanted = ' or '.join(sorted(types))
        if msgtype is None:
            raise BagError(f'{self.path} has no topic {topic}; its {what} topics: {listing}')
        if msgtype not in types:
            raise BagError(f'{what} topic {topic} in {self.path} has type {msgtype}, expected '
                           f'{wanted}; its {what} topics: {listing}')

    def _deserialize(self, raw: bytes, msgtype: str, topic: str) -> Any:
        try:
            return self.store.deserialize_cdr(raw, msgtype)
        except Exception as err:  # rosbags raises plain exceptions on bad CDR
            raise BagError(f'cannot deserialise a {msgtype} message on {topic} in '
                           f'{self.path}: {err}') from err

    def __iter__(self) -> Iterator[SourceFrame]:
        from humanpose.ros.images import depth_image_to_array
        from humanpose.ros.messages import stamp_to_ns

        wanted = {t for t in (self.image_topic, self.depth_topic, self.camera_info_topic) if t}
        pending: Deque[_Pending] = deque()
        depths: Deque[_Depth] = deque(maxlen=_MAX_PENDING * 2)
        camera: Optional[CameraModel] = None
        index = 0
        for connection, log_time, raw in self._messages():
            topic = connection.topic
            if topic not in wanted:
                if self.on_message is not None:
                    self.on_message(connection, int(log_time), raw)
                continue
            try:
                msg = self._deserialize(raw, connection.msgtype, topic)
            except BagError as err:
                if self.on_bad is None:
                    raise
                self.on_bad(f'a {topic} message at {int(log_time)} ns', err)
                continue
            # Copied only once it parsed: a corrupt message is not carried into the output.
            if self.on_message is not None:
                self.on_message(connection, int(log_time), raw)
            if topic == self.image_topic:
                stamp = stamp_to_ns(msg.header.stamp) or int(log_time)
                pending.append(_Pending(int(log_time), stamp, msg, connection.msgtype))
            elif topic == self.depth_topic:
                try:
                    array, encoding = depth_image_to_array(msg)
                except HumanPoseError as err:
                    raise type(err)(f'{topic} in {self.path}: {err}') from err
                stamp = stamp_to_ns(msg.header.stamp) or int(log_time)
                depths.append(_Depth(stamp, array, encoding))
            else:
                camera = self._camera(msg, camera)
            while pending and (len(pending) > _MAX_PENDING or self._ready(
                    pending[0], depths, camera)):
                frame = self._frame(index, pending.popleft(), depths, camera)
                if frame is not None:
                    yield frame
                index += 1
        while pending:
            frame = self._frame(index, pending.popleft(), depths, camera)
            if frame is not None:
                yield frame
            index += 1

    def _messages(self) -> Iterator[tuple[Any, int, bytes]]:
        """Yield the bag's messages; a storage error becomes one BagError line."""
        messages = iter(self._reader.messages())
        count = 0
        while True:
            try:
                item = next(messages)
            except StopIteration:
                return
            except Exception as err:  # mcap / sqlite errors of a damaged file
                detail = ' '.join(str(err).split())[:200]
                raise BagError(f'cannot read {self.path} after {count} messages: {detail}; the '
                               'bag is damaged or incomplete (re-record or re-copy it)') from err
            count += 1
            yield item

    def _ready(self, item: _Pending, depths: Deque[_Depth],
               camera: Optional[CameraModel]) -> bool:
        """Whether a colour image can go: its depth (if any) and a camera model were seen."""
        if self.camera_info_topic is not None and camera is None:
            return False  # monocular 3D needs the intrinsics too, not only depth
        if self.depth_topic is None:
            return True
        return bool(depths) and depths[-1].stamp_ns >= item.stamp_ns

    def _camera(self, msg: Any, previous: Optional[CameraModel]) -> Optional[CameraModel]:
        from humanpose.lift3d import camera_from_info
        try:
            return camera_from_info(msg)
        except InvalidInputError as err:
            if not self._camera_warned:  # once per bag, not once per message
                self._camera_warned = True
                _log.warning('%s: %s (more messages like it are not reported)',
                             self.camera_info_topic, err)
            return previous

    def _frame(self, index: int, item: _Pending, depths: Deque[_Depth],
               camera: Optional[CameraModel]) -> Optional[SourceFrame]:
        import cv2

        from humanpose.ros.images import compressed_to_rgb, image_to_rgb

        convert = image_to_rgb if item.msgtype == IMAGE_TYPE else compressed_to_rgb
        try:
            rgb = convert(item.msg)
        except HumanPoseError as err:
            located = type(err)(f'{self.image_topic} message {index} in {self.path}: {err}')
            if self.on_bad is None:
                raise located from err
            self.on_bad(f'{self.image_topic} message {index}', located)
            return None
        depth = None
        if depths:
            offsets = np.abs(np.array([d.stamp_ns for d in depths], np.int64) - item.stamp_ns)
            best = int(np.argmin(offsets))
            if offsets[best] <= MAX_DEPTH_OFFSET_NS:
                depth = depths[best]
        return SourceFrame(
            index=index, stamp_ns=item.stamp_ns, name=str(index),
            image=np.asarray(cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR),
                             np.uint8),
            frame_id=str(item.msg.header.frame_id), log_time_ns=item.log_time_ns,
            depth=None if depth is None else depth.array,
            depth_encoding=None if depth is None else depth.encoding, camera=camera)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._reader.close()


class PoseBagWriter:
    """Write poses (and optionally copies of input messages) to a new rosbag2 in MCAP.

    ::

        with PoseBagWriter(out / 'poses', 'coco_wholebody') as bag:
            bag.write_poses(poses, stamp_ns, 'camera_color_optical_frame')

    :param path: the rosbag2 directory to create (it holds ``<name>.mcap`` and
        ``metadata.yaml``); must not exist.
    :param skeleton: keypoint layout of the poses (for the markers).
    :param storage: ``mcap`` (default) or ``sqlite3``.
    :param markers: also write ``/humans/markers``.
    :param cues: also write ``/humans/cues`` (``write_poses(..., cues=...)``).
    :param typestore: rosbags typestore with our messages (default Humble + ours).
    :raises BagError: the directory exists, or rosbags is too old to write MCAP.
    """

    def __init__(self, path: Path, skeleton: str, *, storage: str = 'mcap',
                 markers: bool = True, typestore: Any = None, cues: bool = False) -> None:
        from humanpose.ros.messages import build_typestore, rosbags_namespace

        try:
            from rosbags.rosbag2 import StoragePlugin, Writer
        except ImportError as err:
            raise BagError('writing MCAP bags needs rosbags >= 0.10.9 (pip install -U '
                           f'rosbags): {err}') from err
        self.path = Path(path)
        if self.path.exists():
            raise BagError(f'{self.path} exists already; remove it or choose another output '
                           'directory (--overwrite replaces outputs of an earlier run)')
        plugins = {'mcap': StoragePlugin.MCAP, 'sqlite3': StoragePlugin.SQLITE3}
        if storage not in plugins:
            raise BagError(f'storage must be one of {", ".join(plugins)}, got {storage!r}')
        self.store = typestore if typestore is not None else build_typestore()
        self.ns = rosbags_namespace(self.store)
        self.counts: dict[str, int] = {}
        self._copied: dict[int, Any] = {}
        self._skipped_ids: set[int] = set()
        self._writer = Writer(self.path, version=BAG_VERSION, storage_plugin=plugins[storage])
        self._writer.open()
        self._closed = False
        try:
            qos = output_qos()
            self._pose_conn = self._writer.add_connection(
                POSE_TOPIC, POSE_TYPE, typestore=self.store, offered_qos_profiles=qos)
            self._marker_conn = None
            self._markers: Any = None
            if markers:
                from humanpose.ros.marker_timing import FramePeriod
                from humanpose.ros.markers import MarkerBuilder
                self._markers = MarkerBuilder(skeleton)
                # Marker lifetimes from the recorded frame period, as the node does.
                self._marker_period = FramePeriod()
                self._marker_conn = self._writer.add_connection(
                    MARKER_TOPIC, MARKER_TYPE, typestore=self.store, offered_qos_profiles=qos)
            self._cues_conn = None
            if cues:
                self._cues_conn = self._writer.add_connection(
                    CUES_TOPIC, CUES_TYPE, typestore=self.store, offered_qos_profiles=qos)
        except BaseException:
            self.close()
            raise

    @property
    def file(self) -> Path:
        """The storage file inside the bag directory (``<dir>/<dir name>.mcap``)."""
        suffix = '.mcap' if self._writer.storage_plugin.name == 'MCAP' else '.db3'
        return self.path / f'{self.path.name}{suffix}'

    def _write(self, connection: Any, log_time_ns: int, raw: bytes) -> None:
        self._writer.write(connection, int(log_time_ns), raw)
        self.counts[connection.topic] = self.counts.get(connection.topic, 0) + 1

    def write_poses(self, poses: Poses, stamp_ns: int, frame_id: str,
                    log_time_ns: Optional[int] = None, cues: Any = None) -> None:
        """Write one image's poses, cues and markers with the image's stamp and frame.

        As the node publishes them: one ``/humans/markers`` array per image, holding the
        skeletons and (with ``cues``) the head directions and pointing rays.

        :param poses: results of the image.
        :param stamp_ns: the image's header stamp, nanoseconds.
        :param frame_id: the image's optical frame.
        :param log_time_ns: bag time of the messages (default ``stamp_ns``).
        :param cues: :class:`humanpose.cues.Cues` of the image, written to ``/humans/cues``.
        :raises BagError: ``cues`` given to a writer made without ``cues=True``.
        """
        from humanpose.ros.cdr import encode_pose_array
        from humanpose.ros.messages import make_header

        if cues is not None and self._cues_conn is None:
            raise BagError('this bag writer has no /humans/cues topic; create it with cues=True')
        log_time = stamp_ns if log_time_ns is None else log_time_ns
        header = make_header(self.ns, stamp_ns, frame_id)
        sec, nanosec = header.stamp.sec, header.stamp.nanosec
        self._write(self._pose_conn, log_time, encode_pose_array(poses, sec, nanosec, frame_id))
        if cues is not None:
            from humanpose.ros.cue_cdr import encode_cues_array
            self._write(self._cues_conn, log_time,
                        encode_cues_array(cues, sec, nanosec, frame_id))
        if self._markers is not None and self._marker_conn is not None:
            from humanpose.ros.cue_markers import cue_marker_specs
            from humanpose.ros.marker_timing import (DEFAULT_FLOOR_S, DEFAULT_PERIODS,
                                                     marker_lifetime_s)
            self._markers.lifetime_s = marker_lifetime_s(
                self._marker_period.tick(log_time / 1e9), DEFAULT_PERIODS, DEFAULT_FLOOR_S)
            extra = cue_marker_specs(cues, self._markers.lifetime_s) if cues is not None else ()
            markers = self._markers.encode(poses, sec, nanosec, frame_id, extra)
            if markers is not None:
                self._write(self._marker_conn, log_time, markers)

    def copy(self, connection: Any, log_time_ns: int, raw: bytes) -> None:
        """Copy one input message (its connection's type, definition and QoS kept).

        Topics the writer itself fills (``/humans/pose``, ``/humans/markers``,
        ``/humans/cues``) and types whose definition is neither in the input bag nor in the
        typestore are skipped (logged once per topic).
        """
        out = self._copied.get(connection.id)
        if out is None:
            if connection.id in self._skipped_ids:
                return
            out = self._add_copy(connection)
            if out is None:
                return
            self._copied[connection.id] = out
        self._write(out, log_time_ns, bytes(raw))

    def _add_copy(self, connection: Any) -> Any:
        topic, msgtype = connection.topic, connection.msgtype
        if topic in (POSE_TOPIC, MARKER_TOPIC, CUES_TOPIC):
            _log.info('not copying input topic %s: the output bag writes its own', topic)
            self._skipped_ids.add(connection.id)
            return None
        msgdef = getattr(getattr(connection, 'msgdef', None), 'data', '') or ''
        digest = getattr(connection, 'digest', '') or ''
        qos = getattr(connection.ext, 'offered_qos_profiles', ())
        if msgdef and digest:
            return self._writer.add_connection(topic, msgtype, msgdef=msgdef, rihs01=digest,
                                               offered_qos_profiles=qos)
        if msgtype in self.store.types:
            return self._writer.add_connection(topic, msgtype, typestore=self.store,
                                               offered_qos_profiles=qos)
        _log.warning('not copying input topic %s: the bag has no definition of %s', topic,
                     msgtype)
        self._skipped_ids.add(connection.id)
        return None

    def close(self) -> None:
        """Finish the bag (MCAP summary, metadata.yaml); safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._writer.close()

    def __enter__(self) -> PoseBagWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_pose_bag(path: Path) -> list[tuple[int, Any]]:
    """Return the ``/humans/pose`` messages of a bag as (bag time ns, message), in order.

    :raises BagError: unreadable bag or no pose topic.
    """
    from humanpose.ros.messages import build_typestore

    store = build_typestore()
    reader = _open_reader(Path(path))
    try:
        connections = [c for c in reader.connections if c.topic == POSE_TOPIC]
        if not connections:
            raise BagError(f'{path} has no {POSE_TOPIC} topic')
        return [(int(t), store.deserialize_cdr(raw, c.msgtype))
                for c, t, raw in reader.messages(connections=connections)]
    finally:
        reader.close()


def write_image_bag(path: Path, frames: Iterable[SourceFrame], *, storage: str = 'mcap',
                    image_topic: str = '/camera/color/image_raw', compressed: bool = False,
                    depth_topic: Optional[str] = None,
                    camera_info_topic: Optional[str] = None, encoding: str = 'bgr8',
                    typestore: Any = None) -> int:
    """Record frames as a rosbag2 of camera messages (test data, video-to-bag conversion).

    Each frame becomes an Image (``bgr8``, ``rgb8`` or ``mono8``) or a JPEG
    CompressedImage on ``image_topic``, plus its depth (16UC1 millimetres for uint16,
    32FC1 metres for float32) on ``depth_topic`` and its camera on ``camera_info_topic``
    when given and present in the frame; all stamped with the frame's stamp and logged at
    :attr:`SourceFrame.record_time_ns`.

    :return: the number of colour images written.
    :raises BagError: the directory exists, or an unknown storage or encoding.
    """
    import cv2

    from humanpose.ros.messages import build_typestore, make_header, rosbags_namespace
    from rosbags.rosbag2 import StoragePlugin, Writer

    plugins = {'mcap': StoragePlugin.MCAP, 'sqlite3': StoragePlugin.SQLITE3}
    if storage not in plugins:
        raise BagError(f'storage must be one of {", ".join(plugins)}, got {storage!r}')
    if encoding not in ('bgr8', 'rgb8', 'mono8'):
        raise BagError(f'encoding must be bgr8, rgb8 or mono8, got {encoding!r}')
    if Path(path).exists():
        raise BagError(f'{path} exists already')
    store = typestore if typestore is not None else build_typestore()
    ns = rosbags_namespace(store)
    count = 0
    with Writer(path, version=BAG_VERSION, storage_plugin=plugins[storage]) as writer:
        image_type = COMPRESSED_TYPE if compressed else IMAGE_TYPE
        image_conn = writer.add_connection(image_topic, image_type, typestore=store)
        depth_conn = (writer.add_connection(depth_topic, IMAGE_TYPE, typestore=store)
                      if depth_topic else None)
        info_conn = (writer.add_connection(camera_info_topic, CAMERA_INFO_TYPE,
                                           typestore=store) if camera_info_topic else None)
        for frame in frames:
            header = make_header(ns, frame.stamp_ns, frame.frame_id or 'camera')
            log_time = frame.record_time_ns
            if compressed:
                ok, jpeg = cv2.imencode('.jpg', frame.image, [cv2.IMWRITE_JPEG_QUALITY, 95])
                msg = ns.new('CompressedImage', header=header, format='jpeg',
                             data=np.asarray(jpeg, np.uint8).reshape(-1))
            else:
                image: NDArray[Any] = frame.image
                if encoding == 'rgb8':
                    image = image[..., ::-1]
                elif encoding == 'mono8':
                    image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)[..., None]
                pixels = np.ascontiguousarray(image, np.uint8)
                h, w = pixels.shape[:2]
                msg = ns.new('Image', header=header, height=h, width=w, encoding=encoding,
                             is_bigendian=0, step=w * pixels.shape[2], data=pixels.reshape(-1))
            writer.write(image_conn, log_time, bytes(store.serialize_cdr(msg, image_type)))
            count += 1
            if depth_conn is not None and frame.depth is not None:
                depth = np.ascontiguousarray(frame.depth)
                depth_encoding = '16UC1' if depth.dtype == np.uint16 else '32FC1'
                depth = depth.astype(np.uint16 if depth_encoding == '16UC1' else np.float32)
                h, w = depth.shape[:2]
                dmsg = ns.new('Image', header=header, height=h, width=w,
                              encoding=depth_encoding, is_bigendian=0,
                              step=w * depth.dtype.itemsize,
                              data=depth.reshape(-1).view(np.uint8))
                writer.write(depth_conn, log_time, bytes(store.serialize_cdr(dmsg, IMAGE_TYPE)))
            if info_conn is not None and frame.camera is not None:
                cam = frame.camera
                assert cam.p is not None
                info = ns.new('CameraInfo', header=header, height=cam.height, width=cam.width,
                              distortion_model=cam.distortion_model,
                              d=np.asarray(cam.d, np.float64), k=cam.k.reshape(-1),
                              r=np.eye(3).reshape(-1), p=cam.p.reshape(-1))
                writer.write(info_conn, log_time,
                             bytes(store.serialize_cdr(info, CAMERA_INFO_TYPE)))
    return count
