"""Frame sources: an image file, a folder of images, a video file or a webcam.

Every source is an iterable of :class:`SourceFrame` (index, stamp, name, BGR image) with
``close()`` and context-manager support; :func:`open_source` picks the right one from
what the user typed (rosbag2 directories and ``.mcap``/``.db3`` files go to
:mod:`humanpose.io.bags`).

Stamps (nanoseconds):

* video file: frame index / fps, fps from the container (``CAP_PROP_FPS``); when the
  container has none, 30 fps is assumed and ``fps_assumed`` says so;
* image folder: frame index / ``fps`` (default 30), so tracking and smoothing see a
  steady clock; a single image has stamp 0;
* webcam: the wall clock when the frame was read.

Image ids for COCO results (:func:`humanpose.io.coco.image_id_for`): the frame index, or
for image folders the file-name stem.
"""

from __future__ import annotations

from dataclasses import dataclass
import logging
import math
from pathlib import Path
import time
from types import TracebackType
from typing import Any, Callable, Iterator, Optional, Protocol, Type, Union

import numpy as np
from numpy.typing import NDArray

from humanpose.errors import InvalidInputError
from humanpose.types import CameraModel

_log = logging.getLogger(__name__)

#: File suffixes read as still images (lower case).
IMAGE_SUFFIXES: frozenset[str] = frozenset(
    {'.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp', '.pgm', '.ppm', '.pnm'})
#: File suffixes of rosbag2 storage files.
BAG_SUFFIXES: frozenset[str] = frozenset({'.mcap', '.db3'})
#: Frame rate assumed where the source does not give one.
DEFAULT_FPS = 30.0
_NS_PER_S = 1_000_000_000
#: Failed reads in a row after which a video with frames still to come is given up.
MAX_FAILED_READS = 25
#: Called with (what was skipped, why) for an input that is skipped instead of ending the
#: run (``humanpose run --on-error skip``).
BadInputCallback = Callable[[str, Exception], None]


def missing_frames_tolerated(expected: int) -> int:
    """Frames a video may fall short of its announced count without a report.

    Containers estimate the count from duration x rate; it can be off by a frame or two.
    """
    return max(1, expected // 100)


@dataclass(frozen=True)
class SourceFrame:
    """One frame of a source.

    :param index: 0-based position in the source.
    :param stamp_ns: capture time in nanoseconds (header stamp for bags).
    :param name: the frame's name: the file-name stem for image files, else the index.
    :param image: (H, W, 3) uint8 BGR.
    :param frame_id: optical frame of the camera (bags: the image header's frame_id).
    :param log_time_ns: when the frame was recorded (bags: the bag's receive time);
        None = ``stamp_ns``.
    :param depth: (H, W) uint16 millimetres or float32 metres, aligned to ``image``
        (bags with a depth topic), else None.
    :param depth_encoding: ``16UC1``, ``mono16`` or ``32FC1`` for ``depth``.
    :param camera: the colour camera's model (bags with camera_info), else None.
    :param image_id: the COCO image id the source gives this frame (image folders whose
        numeric stems collide, e.g. ``1.png`` and ``001.png``, use the stem strings);
        None = :func:`humanpose.io.coco.image_id_for` decides.
    """

    index: int
    stamp_ns: int
    name: str
    image: NDArray[np.uint8]
    frame_id: str = ''
    log_time_ns: Optional[int] = None
    depth: Optional[NDArray[Any]] = None
    depth_encoding: Optional[str] = None
    camera: Optional[CameraModel] = None
    image_id: Union[int, str, None] = None

    @property
    def record_time_ns(self) -> int:
        """The time to log outputs at: the bag receive time, else the stamp."""
        return self.stamp_ns if self.log_time_ns is None else self.log_time_ns


class FrameSource(Protocol):
    """What :func:`open_source` returns."""

    #: ``image``, ``folder``, ``video``, ``webcam`` or ``bag``.
    kind: str
    #: Frames the source will give, where known (for progress), else None.
    length: Optional[int]
    #: Frames per second where the source has a rate (videos, webcams, folders), else None.
    fps: Optional[float]
    #: One line saying what the source is.
    description: str

    def __iter__(self) -> Iterator[SourceFrame]:
        ...

    def close(self) -> None:
        ...

    def __enter__(self) -> FrameSource:
        ...

    def __exit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        ...


class _SourceBase:
    """Context-manager plumbing shared by the sources."""

    kind = ''
    length: Optional[int] = None
    fps: Optional[float] = None
    description = ''

    def close(self) -> None:
        """Release the source (idempotent)."""

    def __enter__(self) -> Any:
        return self

    def __exit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        self.close()


def read_image(path: Path) -> NDArray[np.uint8]:
    """Read an image file as (H, W, 3) uint8 BGR (grey and alpha images converted).

    :raises InvalidInputError: missing, unreadable or not an image.
    """
    import cv2

    if not path.is_file():
        raise InvalidInputError(f'image not found: {path}')
    data = np.fromfile(str(path), np.uint8)  # imread cannot report why it failed
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise InvalidInputError(
            f'cannot decode image {path} ({data.size} bytes); expected a readable '
            f'{", ".join(sorted(s.lstrip(".") for s in IMAGE_SUFFIXES))} file')
    return np.asarray(image, np.uint8)


class ImageFilesSource(_SourceBase):
    """Still images, one frame each, in the given order.

    :param paths: image files.
    :param fps: frame rate the stamps are spaced at.
    :param kind: ``image`` (one file) or ``folder``.
    :param description: one line for the user.
    :param on_bad: called with (file name, error) for an unreadable image, which is then
        skipped; None = the error ends the iteration.
    """

    def __init__(self, paths: list[Path], fps: float = DEFAULT_FPS, kind: str = 'folder',
                 description: str = '', on_bad: Optional[BadInputCallback] = None) -> None:
        if fps <= 0 or not math.isfinite(fps):
            raise InvalidInputError(f'--fps must be a positive number, got {fps}')
        self.on_bad = on_bad
        self.paths = list(paths)
        # Numeric stems are integer image ids (COCO), unless two of them would collide
        # (1.png, 001.png): then every frame keeps its stem string, so ids stay distinct.
        numeric = [int(p.stem) for p in self.paths if p.stem.isdigit()]
        self.string_ids = len(set(numeric)) != len(numeric)
        if self.string_ids:
            _log.warning('numeric file names that are the same number (e.g. 1.png and 001.png) '
                         'in %s: image ids are the file-name stems as strings',
                         self.paths[0].parent)
        self.kind = kind
        self.fps = fps
        self._period_ns = _NS_PER_S / fps
        self.length = len(self.paths)
        self.description = description or f'{len(self.paths)} image(s)'

    def __iter__(self) -> Iterator[SourceFrame]:
        for index, path in enumerate(self.paths):
            try:
                image = read_image(path)
            except InvalidInputError as err:
                if self.on_bad is None:
                    raise
                self.on_bad(path.name, err)
                continue
            yield SourceFrame(index=index, stamp_ns=round(index * self._period_ns),
                              name=path.stem, image=image,
                              image_id=path.stem if self.string_ids else None)


def image_folder_source(folder: Path, fps: float = DEFAULT_FPS,
                        on_bad: Optional[BadInputCallback] = None) -> ImageFilesSource:
    """Return the images of ``folder`` (not recursive) in file-name order.

    :raises InvalidInputError: no images, or two images with the same stem (their image
        ids would collide).
    """
    paths = sorted((p for p in folder.iterdir()
                    if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES),
                   key=lambda p: p.name)
    if not paths:
        raise InvalidInputError(
            f'{folder} holds no images ({", ".join(sorted(IMAGE_SUFFIXES))}) and is not a '
            'rosbag2 directory (no metadata.yaml, .mcap or .db3)')
    stems: dict[str, Path] = {}
    for path in paths:
        if path.stem in stems:
            raise InvalidInputError(
                f'{stems[path.stem].name} and {path.name} in {folder} have the same name '
                'stem, which is the image id of their results; rename one')
        stems[path.stem] = path
    return ImageFilesSource(paths, fps, 'folder', f'image folder {folder} ({len(paths)} images)',
                            on_bad)


class VideoSource(_SourceBase):
    """A video file or a webcam, read with OpenCV.

    A video file that gives fewer frames than its container announces (truncated, or
    damaged past what the decoder can conceal) is reported: the iteration raises at the
    end, after every decodable frame (or calls ``on_bad``). Failed reads in the middle
    are retried, so frames after a damaged one still come.

    :param target: video file path, or webcam index.
    :param on_bad: called with (description, error) for frames that could not be decoded;
        None = an InvalidInputError at the end of the iteration.
    :raises InvalidInputError: the video cannot be opened or has no decodable frame.
    """

    def __init__(self, target: Union[Path, int], clock: Callable[[], int] = time.time_ns,
                 on_bad: Optional[BadInputCallback] = None) -> None:
        import cv2

        self.on_bad = on_bad
        self.webcam = isinstance(target, int)
        self.kind = 'webcam' if self.webcam else 'video'
        self._clock = clock
        self._cap = cv2.VideoCapture(target if isinstance(target, int) else str(target))
        if not self._cap.isOpened():
            self._cap.release()
            if self.webcam:
                raise InvalidInputError(
                    f'cannot open webcam {target}; check that the camera is connected and '
                    'not in use (ls /dev/video*), or give a video file')
            raise InvalidInputError(
                f'cannot open video {target}: OpenCV found no decoder for it; check that the '
                'file is a complete video (ffprobe it) or convert it to MP4 (H.264)')
        fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps_assumed = not (math.isfinite(fps) and 0.0 < fps <= 1000.0)
        self.fps = DEFAULT_FPS if self.fps_assumed else fps
        self._period_ns = _NS_PER_S / self.fps
        count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.length = count if count > 0 and not self.webcam else None
        self.target = target
        self.description = (f'webcam {target}' if self.webcam else f'video {target}') + (
            f' ({self.fps:g} fps assumed: the source gives no frame rate)'
            if self.fps_assumed and not self.webcam else f' ({self.fps:g} fps)')
        if self.fps_assumed and not self.webcam:
            _log.warning('%s gives no frame rate; stamps assume %g fps', target, DEFAULT_FPS)

    def __iter__(self) -> Iterator[SourceFrame]:
        # position: the frame's place in the file (a damaged frame keeps its place, so
        # later frames keep their stamps and ids); decoded: frames that came out.
        position = decoded = failed = damaged = 0
        while True:
            ok, image = self._cap.read()
            if not ok or image is None:
                failed += 1
                more = (not self.webcam and self.length is not None
                        and position + failed < self.length and failed < MAX_FAILED_READS)
                if more:
                    continue  # the decoder may pick up again after damaged bytes
                break
            if failed:  # reads failed, then one worked: those frames were damaged
                damaged += failed
                position += failed
                failed = 0
            stamp = self._clock() if self.webcam else round(position * self._period_ns)
            if image.ndim == 2:
                image = np.repeat(image[..., None], 3, axis=2)
            yield SourceFrame(index=position, stamp_ns=int(stamp), name=str(position),
                              image=np.asarray(image[..., :3], np.uint8))
            position += 1
            decoded += 1
        if decoded == 0:
            raise InvalidInputError(
                f'cannot decode any frame of {self.target}; the file is damaged, empty or in '
                'a codec this OpenCV build lacks (convert it to MP4 / H.264)')
        missing = 0 if self.length is None else self.length - decoded
        if damaged or missing > missing_frames_tolerated(self.length or 0):
            where = f' ({damaged} undecodable in the middle)' if damaged else ''
            err = InvalidInputError(
                f'video {self.target}: decoded {decoded} of the {self.length} frames its '
                f'container announces{where}; the file is truncated or damaged (check it with '
                'ffprobe; --on-error skip accepts it)')
            if self.on_bad is None:
                raise err
            self.on_bad(f'{missing} frame(s) of {self.target}', err)

    def close(self) -> None:
        self._cap.release()


def is_bag_path(path: Path) -> bool:
    """Return whether ``path`` is a rosbag2 directory or storage file."""
    if path.is_file():
        return path.suffix.lower() in BAG_SUFFIXES
    if path.is_dir():
        return (path / 'metadata.yaml').is_file() or any(
            p.suffix.lower() in BAG_SUFFIXES for p in path.iterdir() if p.is_file())
    return False


def open_source(spec: str, *, fps: Optional[float] = None, image_topic: Optional[str] = None,
                depth_topic: Optional[str] = None, camera_info_topic: Optional[str] = None,
                on_message: Optional[Callable[[Any, int, bytes], None]] = None,
                on_bad: Optional[BadInputCallback] = None) -> FrameSource:
    """Open what the user named as a frame source.

    :param spec: an image file, a folder of images, a video file, a webcam index (``0``),
        or a rosbag2 directory / ``.mcap`` / ``.db3`` file.
    :param fps: frame rate of image folders (default 30); ignored by other sources.
    :param image_topic: bags: the colour image topic (Image or CompressedImage); may be
        omitted when the bag has exactly one image topic.
    :param depth_topic: bags: aligned depth image topic.
    :param camera_info_topic: bags: the colour camera's CameraInfo topic.
    :param on_message: bags: called with (connection, bag timestamp ns, raw CDR) for every
        message read, in bag order (used to copy the input into the output bag).
    :param on_bad: called with (what, error) for an input frame that cannot be read
        (image file, video frames, bag message), which is then skipped; None = the error
        ends the iteration.
    :return: a :class:`FrameSource`.
    :raises InvalidInputError: the source does not exist or cannot be read; bag topics
        given for a source that is not a bag.
    :raises BagError: the bag cannot be read or lacks the topic.
    """
    path = Path(spec).expanduser()
    bag_options = {'--image-topic': image_topic, '--depth-topic': depth_topic,
                   '--camera-info-topic': camera_info_topic}
    if is_bag_path(path):
        from humanpose.io.bags import BagSource
        return BagSource(path, image_topic=image_topic, depth_topic=depth_topic,
                         camera_info_topic=camera_info_topic, on_message=on_message,
                         on_bad=on_bad)
    given = [name for name, value in bag_options.items() if value]
    if given:
        raise InvalidInputError(
            f'{", ".join(given)} only apply to rosbag2 sources, but {spec} is not a bag '
            '(a directory with metadata.yaml, or a .mcap / .db3 file)')
    if fps is not None and not (math.isfinite(fps) and fps > 0):
        raise InvalidInputError(f'--fps must be a positive number, got {fps}')
    if spec.isdigit() and not path.exists():
        return VideoSource(int(spec))
    if not path.exists():
        raise InvalidInputError(
            f'source not found: {spec}; give an image, a folder of images, a video, a webcam '
            'index (0) or a rosbag2 directory / .mcap file')
    if path.is_dir():
        return image_folder_source(path, DEFAULT_FPS if fps is None else fps, on_bad)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return ImageFilesSource([path], DEFAULT_FPS if fps is None else fps, 'image',
                                f'image {path}')
    return VideoSource(path, on_bad=on_bad)
