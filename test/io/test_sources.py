"""Frame sources: image files, image folders, videos, webcams; stamps, names, errors."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from humanpose.errors import InvalidInputError
from humanpose.io import sources
from humanpose.io.sources import SourceFrame, image_folder_source, open_source


def _noise(seed: int, w: int = 64, h: int = 48) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8)


def _write_video(path: Path, frames: list[np.ndarray], fps: float) -> None:
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*'mp4v'), fps, (w, h))
    assert writer.isOpened()
    for frame in frames:
        writer.write(frame)
    writer.release()


def test_image_folder_gives_frames_in_name_order_with_stems_and_steady_stamps(
        tmp_path: Path) -> None:
    images = {'b': _noise(1), 'a': _noise(2), '10': _noise(3)}
    for stem, image in images.items():
        cv2.imwrite(str(tmp_path / f'{stem}.png'), image)
    (tmp_path / 'notes.txt').write_text('not an image')
    with open_source(str(tmp_path), fps=10.0) as source:
        assert source.kind == 'folder' and source.length == 3
        frames = list(source)
    assert [f.name for f in frames] == ['10', 'a', 'b']
    assert [f.index for f in frames] == [0, 1, 2]
    assert [f.stamp_ns for f in frames] == [0, 100_000_000, 200_000_000]
    for frame in frames:
        np.testing.assert_array_equal(frame.image, images[frame.name])  # PNG is lossless


def test_image_folder_default_rate_is_30_fps(tmp_path: Path) -> None:
    for i in range(2):
        cv2.imwrite(str(tmp_path / f'{i}.jpg'), _noise(i))
    frames = list(open_source(str(tmp_path)))
    assert frames[1].stamp_ns == round(1e9 / 30)


def test_single_image_is_one_frame_at_stamp_zero(tmp_path: Path) -> None:
    path = tmp_path / 'people.png'
    cv2.imwrite(str(path), _noise(4))
    with open_source(str(path)) as source:
        frames = list(source)
    assert source.kind == 'image'
    assert len(frames) == 1 and frames[0].stamp_ns == 0 and frames[0].name == 'people'
    assert frames[0].image.shape == (48, 64, 3) and frames[0].image.dtype == np.uint8


def test_grey_image_becomes_three_channels(tmp_path: Path) -> None:
    path = tmp_path / 'grey.png'
    cv2.imwrite(str(path), _noise(5)[..., 0])
    (frame,) = list(open_source(str(path)))
    assert frame.image.shape == (48, 64, 3)


def test_folder_with_two_images_of_the_same_stem_is_refused(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / 'x.png'), _noise(1))
    cv2.imwrite(str(tmp_path / 'x.jpg'), _noise(2))
    with pytest.raises(InvalidInputError, match='same name stem'):
        image_folder_source(tmp_path)


def test_folder_without_images_says_what_it_expected(tmp_path: Path) -> None:
    (tmp_path / 'readme.md').write_text('hi')
    with pytest.raises(InvalidInputError, match='holds no images'):
        open_source(str(tmp_path))


def test_corrupt_image_raises_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / 'broken.png').write_bytes(b'\x89PNG not really')
    with pytest.raises(InvalidInputError, match='cannot decode image .*broken.png'):
        list(open_source(str(tmp_path)))


def test_video_frames_are_stamped_index_over_fps(tmp_path: Path) -> None:
    path = tmp_path / 'clip.mp4'
    frames = [np.full((48, 64, 3), 40 * i, np.uint8) for i in range(5)]
    _write_video(path, frames, fps=12.5)
    with open_source(str(path)) as source:
        assert source.kind == 'video' and source.fps == pytest.approx(12.5)
        assert source.length == 5
        got = list(source)
    assert [f.stamp_ns for f in got] == [0, 80_000_000, 160_000_000, 240_000_000, 320_000_000]
    assert [f.name for f in got] == ['0', '1', '2', '3', '4']
    # Lossy codec: flat grey frames come back within a few levels.
    means = [float(f.image.mean()) for f in got]
    assert means == pytest.approx([40.0 * i for i in range(5)], abs=4)


def test_video_without_frame_rate_assumes_30_fps_and_says_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / 'clip.mp4'
    _write_video(path, [_noise(i) for i in range(3)], fps=25.0)
    real = cv2.VideoCapture

    class NoRate:
        def __init__(self, target: str) -> None:
            self._cap = real(target)

        def get(self, prop: int) -> float:
            return 0.0 if prop == cv2.CAP_PROP_FPS else float(self._cap.get(prop))

        def __getattr__(self, name: str) -> object:
            return getattr(self._cap, name)

    monkeypatch.setattr(cv2, 'VideoCapture', NoRate)
    source = open_source(str(path))
    assert source.fps == 30.0 and source.fps_assumed
    assert 'assumed' in source.description
    assert [f.stamp_ns for f in source][1] == round(1e9 / 30)
    source.close()


def test_unreadable_video_raises_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / 'broken.mp4'
    path.write_bytes(b'\x00\x00\x00\x18ftypmp42 this is not a video' * 10)
    with pytest.raises(InvalidInputError, match='broken.mp4'):
        with open_source(str(path)) as source:
            list(source)


def test_webcam_stamps_come_from_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    class FakeCapture:
        def __init__(self, index: int) -> None:
            assert index == 3
            self.left = 2

        def isOpened(self) -> bool:  # noqa: N802 (OpenCV's name)
            return True

        def get(self, prop: int) -> float:
            return 30.0 if prop == cv2.CAP_PROP_FPS else -1.0

        def read(self) -> tuple[bool, np.ndarray]:
            self.left -= 1
            return self.left >= 0, _noise(max(self.left, 0))

        def release(self) -> None:
            pass

    monkeypatch.setattr(cv2, 'VideoCapture', FakeCapture)
    clock = iter([1_000, 2_000])
    source = sources.VideoSource(3, clock=lambda: next(clock))
    assert source.kind == 'webcam' and source.length is None
    assert [f.stamp_ns for f in source] == [1_000, 2_000]


def test_missing_webcam_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    class Closed:
        def __init__(self, index: int) -> None:
            pass

        def isOpened(self) -> bool:  # noqa: N802 (OpenCV's name)
            return False

        def release(self) -> None:
            pass

    monkeypatch.setattr(cv2, 'VideoCapture', Closed)
    with pytest.raises(InvalidInputError, match='cannot open webcam 7'):
        open_source('7')


def test_missing_source_and_bag_options_on_non_bags_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match='source not found'):
        open_source(str(tmp_path / 'nope.mp4'))
    path = tmp_path / 'a.png'
    cv2.imwrite(str(path), _noise(1))
    with pytest.raises(InvalidInputError, match='--image-topic only apply to rosbag2'):
        open_source(str(path), image_topic='/camera/image_raw')


def test_record_time_defaults_to_the_stamp() -> None:
    frame = SourceFrame(index=0, stamp_ns=5, name='0', image=_noise(0))
    assert frame.record_time_ns == 5
    assert SourceFrame(index=0, stamp_ns=5, name='0', image=_noise(0),
                       log_time_ns=9).record_time_ns == 9
