"""Bad inputs, one row each: exit code, the one line on stderr, what is on disk afterwards.

A new case is one row of :data:`CASES` (command line) or :data:`API_CASES` (Python API).
Each CLI row builds its inputs in a fresh directory (``make``), may patch something
(``patch``: a full disk, a model failing at run time, a signal), runs ``humanpose``, and
checks the last stderr line and the files (``after``). Earlier outputs ("mine") are made
by a real first run, so "nothing a user had is lost" is checked against real results.
"""

from __future__ import annotations

from dataclasses import dataclass
import errno
import json
import os
from pathlib import Path
import signal
from typing import Any, Callable, Optional

import cv2
import numpy as np
import pytest

from humanpose.cli import main
from humanpose.testing.scene import random_people, render_scene

W, H = 320, 240


@dataclass
class Env:
    """What a row's functions get: the row's directory and the generated models."""

    tmp: Path
    pose: Path
    detector: Path

    @property
    def out(self) -> Path:
        return self.tmp / 'out'


def _image(seed: int = 1) -> np.ndarray:
    return render_scene(W, H, random_people(1, W, H, seed=seed), seed=seed).image


def _folder(env: Env, names: dict[str, Optional[bytes]]) -> Path:
    """A folder of images: name -> bytes (None = a good PNG)."""
    folder = env.tmp / 'frames'
    folder.mkdir(exist_ok=True)
    for name, data in names.items():
        if data is None:
            cv2.imwrite(str(folder / name), _image(len(name)))
        else:
            (folder / name).write_bytes(data)
    return folder


def _video(env: Env, frames: int = 20, keep: float = 1.0, zero_frame: int = -1) -> Path:
    """An MJPG AVI of ``frames`` frames, cut to ``keep`` of its bytes, and with the JPEG of
    frame ``zero_frame`` overwritten by zeros (damaged bytes in the middle)."""
    path = env.tmp / 'walk.avi'
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*'MJPG'), 10.0, (W, H))
    image = _image()
    for _ in range(frames):
        writer.write(image)
    writer.release()
    data = bytearray(path.read_bytes())
    if zero_frame >= 0:
        chunks = [i for i in range(len(data) - 4) if data[i:i + 4] == b'00dc']
        start, end = chunks[zero_frame + 1] + 8, chunks[zero_frame + 2]  # +1: the list chunk
        data[start:end] = bytes(end - start)
    path.write_bytes(bytes(data[:int(len(data) * keep)]))
    return path


def _bag_with_a_corrupt_message(env: Env) -> Path:
    """A bag of three colour images; the second one's CDR is cut short."""
    from rosbags.rosbag2 import Writer

    from humanpose.ros.messages import build_typestore, make_header, rosbags_namespace
    store = build_typestore()
    ns = rosbags_namespace(store)
    path = env.tmp / 'bag'
    with Writer(path, version=8) as writer:
        conn = writer.add_connection('/camera/color/image_raw', 'sensor_msgs/msg/Image',
                                     typestore=store)
        for i in range(3):
            msg = ns.new('Image', header=make_header(ns, i * 10**8, 'cam'), height=H, width=W,
                         encoding='bgr8', is_bigendian=0, step=W * 3,
                         data=_image(i).reshape(-1))
            raw = bytes(store.serialize_cdr(msg, 'sensor_msgs/msg/Image'))
            writer.write(conn, i * 10**8, raw[:100] if i == 1 else raw)
    return path


def _truncated_mcap(env: Env) -> Path:
    from humanpose.io.bags import write_image_bag
    from humanpose.io.sources import SourceFrame
    write_image_bag(env.tmp / 'rec', [SourceFrame(i, i * 10**8, str(i), _image())
                                      for i in range(4)])
    data = (env.tmp / 'rec' / 'rec.mcap').read_bytes()
    (env.tmp / 'cut.mcap').write_bytes(data[:len(data) // 2])
    return env.tmp / 'cut.mcap'


def _copied_images(env: Env) -> int:
    from rosbags.rosbag2 import Reader
    with Reader(env.out / 'poses') as reader:
        return sum(c.msgcount for c in reader.connections
                   if c.topic == '/camera/color/image_raw')


def _earlier_run(env: Env) -> None:
    """Results of a good earlier run in env.out (what the user has)."""
    source = _folder(env, {'good.png': None})
    args = ['run', str(source), '--pose-model', str(env.pose), '--backend',
            'onnxruntime-cpu', '--out', str(env.out), '--video']
    assert main(args) == 0
    (env.tmp / 'frames' / 'good.png').unlink()
    (env.tmp / 'mine.json').write_bytes((env.out / 'poses.json').read_bytes())


def _mine_kept(env: Env) -> None:
    assert (env.out / 'poses.json').read_bytes() == (env.tmp / 'mine.json').read_bytes()
    assert (env.out / 'poses' / 'metadata.yaml').is_file()
    assert (env.out / 'poses.mp4').stat().st_size > 0
    assert not [p for p in env.out.iterdir() if p.name.startswith('.')], 'temporary files left'


def _nothing_written(env: Env) -> None:
    assert not (env.out / 'poses.json').exists() and not (env.out / 'poses').exists()


def _results(env: Env) -> list[dict[str, Any]]:
    data = json.loads((env.out / 'poses.json').read_text())
    assert isinstance(data, list)
    return data


def _bag_closed(env: Env) -> int:
    """The output bag opens (MCAP footer, metadata.yaml); return its pose message count."""
    from rosbags.rosbag2 import Reader
    with Reader(env.out / 'poses') as reader:
        return sum(c.msgcount for c in reader.connections if c.topic == '/humans/pose')


def _card(env: Env, text: str, raw: Optional[bytes] = None) -> Path:
    path = env.tmp / 'card.yaml'
    if raw is not None:
        path.write_bytes(raw)
        return path
    path.write_text('name: c\ntask: pose\ninput_size: [192, 256]\nskeleton: coco_wholebody\n'
                    + text)
    return path


def _simcc(extra: str = '') -> str:
    return 'head: {type: simcc, split_ratio: 2.0, sigma: [4.9, 5.66]' + extra + '}\n'


def _empty_topic_bag(env: Env) -> Path:
    from rosbags.rosbag2 import Writer

    from humanpose.ros.messages import build_typestore
    path = env.tmp / 'bag'
    with Writer(path, version=8) as writer:
        writer.add_connection('/camera/color/image_raw', 'sensor_msgs/msg/Image',
                              typestore=build_typestore())
    return path


def _depth_only_bag(env: Env) -> Path:
    from humanpose.io.bags import write_image_bag
    from humanpose.io.sources import SourceFrame
    path = env.tmp / 'bag'
    write_image_bag(path, [SourceFrame(0, 0, '0', _image())], image_topic='/camera/rgb')
    return path


def _garbage_metadata_model(env: Env) -> Path:
    import onnx
    model = onnx.load(str(env.pose))
    for prop in model.metadata_props:
        if prop.key == 'humanpose_card':
            prop.value = '{"name": "broken", '
    path = env.tmp / 'broken.onnx'
    onnx.save(model, str(path))
    return path


Patch = Callable[[pytest.MonkeyPatch, 'Env'], None]


def _signal_at_frame(number: int, signum: int) -> Patch:
    def patch(monkeypatch: pytest.MonkeyPatch, env: Env) -> None:
        from humanpose.pipeline import Pipeline
        real = Pipeline.__call__
        calls: list[int] = []

        def call(self: Pipeline, *args: Any, **kwargs: Any) -> Any:
            calls.append(1)
            if len(calls) == number:
                os.kill(os.getpid(), signum)
            return real(self, *args, **kwargs)
        monkeypatch.setattr(Pipeline, '__call__', call)
    return patch


def _raise_in(target: str, err: BaseException) -> Patch:
    def patch(monkeypatch: pytest.MonkeyPatch, env: Env) -> None:
        def fail(*args: Any, **kwargs: Any) -> Any:
            raise err
        monkeypatch.setattr(target, fail)
    return patch


def _home_is_a_file(monkeypatch: pytest.MonkeyPatch, env: Env) -> None:
    """The cache root (HUMANPOSE_HOME) cannot hold directories: like a read-only cache."""
    (env.tmp / 'home').write_text('x')
    monkeypatch.setenv('HUMANPOSE_HOME', str(env.tmp / 'home'))


def _downloadable(url_of: Callable[[Env], str]) -> Callable[[Env], None]:
    """Register a built-in card 'test-dl' downloading from url_of(env) (no sha256)."""
    def make(env: Env) -> None:
        from humanpose.models.card import builtin_cards, card_from_dict
        builtin_cards()['test-dl'] = card_from_dict({
            'name': 'test-dl', 'task': 'pose', 'input_size': [192, 256],
            'skeleton': 'coco_wholebody', 'head': {'type': 'simcc', 'split_ratio': 2.0},
            'url': url_of(env), 'file': 'end2end.onnx'})
    return make


def _served(env: Env, data: bytes, name: str = 'm.zip') -> str:
    path = env.tmp / 'served' / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data)
    return path.as_uri()


def _zip(members: dict[str, bytes], compression: int = 0) -> bytes:
    import io
    import zipfile
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w', compression) as bundle:
        for name, data in members.items():
            bundle.writestr(name, data)
    return buffer.getvalue()


def _model_zip(split_ratio: float = 2.0) -> bytes:
    from humanpose.testing.contracts import simcc_contract_onnx
    return _zip({'m/end2end.onnx': simcc_contract_onnx(split_ratio=split_ratio)})


def _no_model_installed(env: Env) -> None:
    from humanpose.models.download import archive_file, model_file
    assert not model_file('test-dl').exists()
    assert not archive_file('test-dl').exists()
    assert not archive_file('test-dl').with_name(archive_file('test-dl').name + '.part').exists()


def _cached_archive(data: bytes) -> Callable[[Env], None]:
    def make(env: Env) -> None:
        from humanpose.models.download import archive_file
        _downloadable(lambda e: 'http://127.0.0.1:9/unreachable.zip')(env)
        archive_file('test-dl').parent.mkdir(parents=True, exist_ok=True)
        archive_file('test-dl').write_bytes(data)
    return make


@dataclass
class Case:
    """One bad input.

    :param name: test id.
    :param make: builds the inputs in env.tmp (and env.out for earlier results).
    :param argv: the command line; ``{pose}``, ``{out}``, ``{tmp}``, ``{det}`` are filled in.
    :param code: expected exit code.
    :param line: exit code 2: expected in the one error line, which is the last
        ``humanpose`` line on stderr; other codes: expected in the output.
    :param after: checks the disk afterwards.
    :param patch: sets up a failure that needs a patch (full disk, signal, runtime error).
    """

    name: str
    make: Callable[[Env], Any]
    argv: str
    code: int
    line: str
    after: Callable[[Env], Any] = _nothing_written
    patch: Optional[Patch] = None


RUN = 'run {src} --pose-model {pose} --backend onnxruntime-cpu --out {out}'
FOLDER = RUN.replace('{src}', '{tmp}/frames')
VIDEO = RUN.replace('{src}', '{tmp}/walk.avi')
BAG = RUN.replace('{src}', '{tmp}/bag')
ONE = lambda env: _folder(env, {'a.png': None})  # noqa: E731
CORRUPT = b'\x89PNG\r\n\x1a\n garbage'

CASES = [
    # Outputs that cannot be written.
    Case('out-is-a-file', lambda e: (ONE(e), e.out.write_text('x')), FOLDER, 2,
         'is a file, not a directory', lambda e: e.out.read_text() == 'x'),
    Case('out-under-a-file', lambda e: (ONE(e), (e.tmp / 'f').write_text('x')),
         FOLDER.replace('{out}', '{tmp}/f/out'), 2, 'Not a directory',
         lambda e: (e.tmp / 'f').read_text() == 'x'),
    Case('out-unwritable', ONE, FOLDER, 2, 'Permission denied; check its permissions',
         _nothing_written,
         _raise_in('humanpose.io.outputs.StagedOutputs.path',
                   PermissionError(errno.EACCES, 'Permission denied', 'out/.poses.json'))),
    Case('disk-full-keeps-earlier-results',
         lambda e: (_earlier_run(e), _folder(e, {'b.png': None})), FOLDER + ' --overwrite', 2,
         'the disk is full', _mine_kept,
         _raise_in('humanpose.io.coco.CocoResultsWriter.write',
                   OSError(errno.ENOSPC, 'No space left on device', 'out/poses.json'))),
    Case('demo-out-is-a-file', lambda e: e.out.write_text('x'), 'demo --out {out}', 2,
         'is a file, not a directory', lambda e: e.out.read_text() == 'x'),
    # --overwrite never destroys what it has not replaced.
    Case('overwrite-with-a-bad-image-keeps-results',
         lambda e: (_earlier_run(e), _folder(e, {'bad.png': CORRUPT})),
         FOLDER + ' --overwrite', 2, 'cannot decode image', _mine_kept),
    Case('overwrite-with-a-zero-frame-video-keeps-results',
         lambda e: (_earlier_run(e), (e.tmp / 'walk.avi').write_bytes(b'RIFF')),
         VIDEO + ' --overwrite', 2, 'cannot open video', _mine_kept),
    Case('overwrite-replaces-all-of-an-earlier-run',
         lambda e: (_earlier_run(e), _folder(e, {'new.png': None})), FOLDER + ' --overwrite', 0,
         'wrote', lambda e: ({r['image_id'] for r in _results(e)} == {'new'},
                             not (e.out / 'poses.mp4').exists(), _bag_closed(e) == 1)),
    Case('overwrite-refuses-a-user-directory-named-poses.json',
         lambda e: (ONE(e), (e.out / 'poses.json').mkdir(parents=True),
                    (e.out / 'poses.json' / 'thesis.tex').write_text('mine')),
         FOLDER + ' --overwrite', 2, 'is not a COCO results file written by humanpose',
         lambda e: (e.out / 'poses.json' / 'thesis.tex').read_text() == 'mine'),
    Case('overwrite-refuses-a-poses-directory-with-user-files',
         lambda e: (ONE(e), (e.out / 'poses').mkdir(parents=True),
                    (e.out / 'poses' / 'notes.txt').write_text('mine')),
         FOLDER + ' --overwrite', 2, 'is not a rosbag2 directory written by humanpose',
         lambda e: (e.out / 'poses' / 'notes.txt').read_text() == 'mine'),
    Case('overwrite-refuses-a-user-directory-named-poses.mp4',
         lambda e: (ONE(e), (e.out / 'poses.mp4').mkdir(parents=True),
                    (e.out / 'poses.mp4' / 'clip.mp4').write_text('mine')),
         FOLDER + ' --overwrite --video', 2, 'is not a video file written by humanpose',
         lambda e: (e.out / 'poses.mp4' / 'clip.mp4').read_text() == 'mine'),
    # Signals: outputs closed (JSON terminated, MCAP footer + metadata.yaml).
    Case('sigterm-closes-outputs', lambda e: _video(e, 8), VIDEO, 128 + signal.SIGTERM,
         'interrupted (SIGTERM)', lambda e: (len(_results(e)) == 2, _bag_closed(e) == 2),
         _signal_at_frame(3, signal.SIGTERM)),
    Case('sighup-closes-outputs', lambda e: _video(e, 8), VIDEO, 128 + signal.SIGHUP,
         'interrupted (SIGHUP)', lambda e: _bag_closed(e) == 1,
         _signal_at_frame(2, signal.SIGHUP)),
    # Bad files in a folder: stop, or skip and go on.
    Case('bad-image-in-folder-stops', lambda e: _folder(e, {'a.png': None, 'b.png': CORRUPT}),
         FOLDER, 2, 'cannot decode image', lambda e: len({r['image_id'] for r in _results(e)})
         == 1),
    Case('bad-image-in-folder-skipped',
         lambda e: _folder(e, {'a.png': None, 'b.png': CORRUPT, 'c.png': None}),
         FOLDER + ' --on-error skip', 3, '1 bad input(s) skipped',
         lambda e: {r['image_id'] for r in _results(e)} == {'a', 'c'}),
    Case('all-images-bad-skipped', lambda e: _folder(e, {'b.png': CORRUPT}),
         FOLDER + ' --on-error skip', 2, 'no frame of'),
    Case('image-ids-1-and-001-stay-distinct',
         lambda e: _folder(e, {'1.png': None, '001.png': None, '0001.png': None}), FOLDER, 0,
         'frames: 3', lambda e: {r['image_id'] for r in _results(e)} == {'1', '001', '0001'}),
    # Videos that end early are reported; what decoded is kept.
    Case('truncated-video-reported', lambda e: _video(e, 20, keep=0.5), VIDEO, 2,
         'decoded 10 of the 20 frames', lambda e: _bag_closed(e) == 10),
    Case('damaged-video-goes-on-and-reports', lambda e: _video(e, 20, zero_frame=5), VIDEO, 2,
         'decoded 19 of the 20 frames its container announces (1 undecodable in the middle)',
         lambda e: {r['image_id'] for r in _results(e)} == set(range(20)) - {5}),
    Case('truncated-video-skipped', lambda e: _video(e, 20, keep=0.5),
         VIDEO + ' --on-error skip', 3, 'bad input(s) skipped', lambda e: _bag_closed(e) == 10),
    # Bags.
    Case('corrupt-bag-message-stops', _bag_with_a_corrupt_message, BAG, 2,
         'cannot deserialise a sensor_msgs/msg/Image message on /camera/color/image_raw',
         lambda e: (_bag_closed(e) == 1, _copied_images(e) == 1)),
    Case('corrupt-bag-message-skipped-and-not-copied', _bag_with_a_corrupt_message,
         BAG + ' --on-error skip', 3, '1 bad input(s) skipped',
         lambda e: (_bag_closed(e) == 2, _copied_images(e) == 2)),
    Case('bag-topic-without-messages', _empty_topic_bag, BAG, 2,
         '/camera/color/image_raw in', _nothing_written),
    Case('depth-topic-is-the-only-image-topic', _depth_only_bag,
         BAG + ' --depth-topic /camera/rgb', 2, 'is the only colour image candidate'),
    Case('truncated-mcap-not-blamed-on-rosbags', _truncated_mcap,
         RUN.replace('{src}', '{tmp}/cut.mcap'), 2,
         'the bag is damaged or incomplete (re-record or re-copy it)'),
    Case('garbage-bag-metadata-one-line',
         lambda e: ((e.tmp / 'bag').mkdir(), (e.tmp / 'bag' / 'metadata.yaml').write_text(
             'rosbag2_bagfile_information:\n  version: [\n  - a\n  b: {\n' * 3)),
         BAG, 2, 'cannot read rosbag2'),
    # Options.
    Case('max-people-not-a-number', ONE, FOLDER + ' --max-people abc', 2,
         "argument --max-people: invalid int value: 'abc' (see humanpose run --help)"),
    Case('unknown-option', ONE, FOLDER + ' --max-peeple 3', 2,
         'unrecognized arguments: --max-peeple 3'),
    Case('max-people-0', ONE, FOLDER + ' --max-people 0', 2, '--max-people must be'),
    Case('max-people-negative', ONE, FOLDER + ' --max-people -1', 2, '--max-people must be'),
    Case('score-threshold-nan', ONE, FOLDER + ' --score-threshold nan', 2,
         '--score-threshold must be a number in [0, 1], got nan'),
    Case('score-threshold-2', ONE, FOLDER + ' --score-threshold 2', 2,
         '--score-threshold must be a number in [0, 1]'),
    Case('fps-0', ONE, FOLDER + ' --fps 0', 2, '--fps must be a number in'),
    Case('boxes-not-utf8', lambda e: (ONE(e), (e.tmp / 'b.json').write_bytes(b'{"\xff": 1}')),
         FOLDER + ' --boxes {tmp}/b.json', 2, 'is not UTF-8 text'),
    # Cards: typed and range-checked fields, checked against the model.
    *[Case(f'card-{name}', lambda e, t=text, r=raw: (ONE(e), _card(e, t, r)),
           FOLDER + ' --pose-card {tmp}/card.yaml', 2, line)
      for name, text, raw, line in [
          ('padding-abc', 'padding: abc\n' + _simcc(), None, 'padding must be a number'),
          ('padding-negative', 'padding: -1.25\n' + _simcc(), None,
           'padding must be a number in [1, 3], got -1.25'),
          ('sigma-negative', 'head: {type: simcc, split_ratio: 2.0, sigma: -5}\n', None,
           'head.sigma must be'),
          ('split-ratio-0', 'head: {type: simcc, split_ratio: 0}\n', None,
           'head.split_ratio must be a number in (0, 64]'),
          ('input-size-0', 'input_size: [0, 0]\n' + _simcc(), None,
           'input_size must be [width, height]'),
          ('not-utf8', '', b'name: c\ndescription: \xff\xfe\n', 'is not UTF-8 text'),
          ('split-ratio-contradicts-model', 'head: {type: simcc, split_ratio: 1.0}\n', None,
           'simcc_x has 384 bins, but input width 192 x split_ratio 1 needs 192'),
          ('input-size-contradicts-model', 'input_size: [288, 384]\n' + _simcc(), None,
           'the card says input_size [288, 384]'),
          ('skeleton-contradicts-model',
           'head: {type: simcc, split_ratio: 2.0}\nskeleton: coco\n', None,
           'has 133 keypoints, but the skeleton coco has 17'),
      ]],
    Case('garbage-json-in-onnx-metadata', lambda e: (ONE(e), _garbage_metadata_model(e)),
         FOLDER.replace('{pose}', '{tmp}/broken.onnx'), 2,
         '(humanpose_card) is not valid JSON'),
    Case('model-fails-while-running', ONE, FOLDER, 2,
         'failed while running on onnxruntime-cpu (1 input(s)): RuntimeError: bad node',
         _nothing_written,
         _raise_in('humanpose.backends.onnxruntime.OnnxRuntimeBackend.run',
                   RuntimeError('bad node'))),
    # Downloads without a pinned sha256 are still checked for what they must be.
    Case('download-html-page',
         _downloadable(lambda e: _served(e, b'<!DOCTYPE html><html>Not found</html>')),
         'models download test-dl', 2, 'is an HTML page', _no_model_installed),
    Case('download-cut-off', _downloadable(lambda e: _served(e, _model_zip()[:-40])),
         'models download test-dl', 2, 'is not a complete zip archive', _no_model_installed),
    Case('download-zip-bomb', _downloadable(lambda e: _served(e, _zip(
         {'m/end2end.onnx': bytes(20_000_000)}, compression=8))),
         'models download test-dl', 2, 'would unpack to 20000000 bytes', _no_model_installed),
    Case('download-not-matching-the-card',
         _downloadable(lambda e: _served(e, _model_zip(split_ratio=1.0))),
         'models download test-dl', 2, 'does not match its card', _no_model_installed),
    Case('model-cache-unwritable', _downloadable(lambda e: _served(e, _model_zip())),
         'models download test-dl', 2, 'set HUMANPOSE_HOME to a writable directory',
         lambda e: (e.tmp / 'home').read_text() == 'x', _home_is_a_file),
    Case('model-cache-full', _downloadable(lambda e: _served(e, _model_zip())),
         'models download test-dl', 2, 'No space left on device; the model cache is',
         lambda e: None,
         _raise_in('humanpose.models.download._extract',
                   OSError(errno.ENOSPC, 'No space left on device', 'models/test-dl.onnx'))),
    Case('cached-stitched-zip-removed',
         _cached_archive(_model_zip() + _zip({'m/end2end.onnx': b'x' * 5000})),
         'models download test-dl', 2, 'run the command again to download it anew',
         _no_model_installed),
    Case('cached-zip-with-bad-crc-removed',
         _cached_archive(_model_zip()[:300] + bytes(50) + _model_zip()[350:]),
         'models download test-dl', 2, 'damaged zip archive (Bad CRC-32', _no_model_installed),
    Case('cached-garbage-zip-removed', _cached_archive(b'PK\x03\x04' + bytes(500)),
         'models download test-dl', 2, 'the file was removed', _no_model_installed),
]


@pytest.fixture()
def clean_test_card(humanpose_home: Path) -> Any:
    import shutil

    from humanpose.models.card import builtin_cards
    from humanpose.paths import models_dir
    yield
    builtin_cards().pop('test-dl', None)
    shutil.rmtree(models_dir(), ignore_errors=True)


@pytest.mark.parametrize('case', CASES, ids=[c.name for c in CASES])
def test_bad_input(case: Case, tmp_path: Path, pose_model: Path, detector_model: Path,
                   monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                   clean_test_card: Any) -> None:
    env = Env(tmp_path, pose_model, detector_model)
    case.make(env)
    capsys.readouterr()
    if case.patch is not None:
        case.patch(monkeypatch, env)
    argv = case.argv.format(pose=pose_model, det=detector_model, out=env.out, tmp=tmp_path,
                            src='')
    try:
        code = main(argv.split())
    except SystemExit as exit:  # argparse's usage errors
        code = int(exit.code or 0)
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.startswith('humanpose')]
    assert code == case.code, err
    if case.code == 2:
        errors = [line for line in lines if ': error: ' in line]
        assert len(errors) == 1, err
        assert case.line in errors[0], err
        assert errors[0] == lines[-1]
    else:
        assert case.line in out + err, out + err
    result = case.after(env)
    if isinstance(result, tuple):
        assert all(r is not False for r in result)
    else:
        assert result is not False


def _camera(**k: Any) -> Any:
    from humanpose.types import CameraModel
    values = dict(fx=500.0, fy=500.0, cx=160.0, cy=120.0)
    values.update(k)
    return CameraModel.from_intrinsics(W, H, **values)


def _singular_k() -> Any:
    from humanpose.types import CameraModel
    return CameraModel(W, H, k=[[500, 0, 160], [0, 500, 120], [0, 0, 0]])


def _closed_pipeline(pose: Path) -> Any:
    from humanpose.pipeline import Pipeline
    pipe = Pipeline(pose, backend='onnxruntime-cpu')
    pipe.close()
    pipe.close()  # twice is fine
    return pipe(_image())


def _pipe(pose: Path, **call: Any) -> Any:
    from humanpose.pipeline import Pipeline
    return Pipeline(pose, backend='onnxruntime-cpu')(_image(), **call)


def _singular_camera_info() -> Any:
    from types import SimpleNamespace

    from humanpose.lift3d import camera_from_info
    return camera_from_info(SimpleNamespace(
        k=[500, 0, 160, 0, 500, 120, 0, 0, 0], p=[0] * 12, d=[], width=W, height=H,
        distortion_model='plumb_bob'))


#: Python API: (id, call(pose model path), error type name, expected in the message).
API_CASES: list[tuple[str, Callable[[Path], Any], str, str]] = [
    ('pipeline-none', lambda p: __import__('humanpose').Pipeline(None), 'InvalidInputError',
     'the pose model must be a model file path'),
    ('call-after-close', _closed_pipeline, 'ClosedError', 'was closed'),
    ('color-hsv', lambda p: _pipe(p, color='hsv'), 'InvalidInputError',
     "color must be one of bgr, rgb (the channel order of the image), got 'hsv'"),
    ('nan-box-score', lambda p: _pipe(p, boxes=[[10, 10, 100, 200]], box_scores=[np.nan]),
     'InvalidInputError', 'box score 0 is nan'),
    ('boxes-with-strings', lambda p: _pipe(p, boxes=[['a', 1, 2, 3]]), 'InvalidInputError',
     'boxes must be numbers'),
    ('max-people-0', lambda p: __import__('humanpose').Pipeline(p, max_people=0),
     'InvalidInputError', 'max_people must be an integer >= 1'),
    ('fx-negative', lambda p: _camera(fx=-500.0), 'InvalidInputError',
     'fx = -500, fy = 500 must be positive'),
    ('fx-infinite', lambda p: _camera(fx=np.inf), 'InvalidInputError', 'NaN or infinite'),
    ('singular-k', lambda p: _singular_k(), 'InvalidInputError', 'last row must be [0, 0, 1]'),
    ('singular-camera-info', lambda p: _singular_camera_info(), 'InvalidInputError',
     'not a pinhole camera matrix'),
    ('uncalibrated-camera-for-3d', lambda p: __import__('humanpose.lift3d').lift3d.lift_to_3d(
        np.zeros((1, 2, 2)), np.ones((H, W), np.float32),
        __import__('humanpose').types.CameraModel(W, H, k=np.zeros((3, 3)))),
     'InvalidInputError', 'the camera is uncalibrated (K all zero)'),
    ('singular-p', lambda p: __import__('humanpose').types.CameraModel(
        W, H, k=np.eye(3), p=[[500, 0, 160, 0], [0, 500, 120, 0], [0, 0, 0, 0]]),
     'InvalidInputError', 'camera P = '),
]


@pytest.mark.parametrize(('call', 'error', 'message'), [c[1:] for c in API_CASES],
                         ids=[c[0] for c in API_CASES])
def test_bad_api_input(call: Callable[[Path], Any], error: str, message: str,
                       pose_model: Path) -> None:
    from humanpose import errors
    with pytest.raises(getattr(errors, error)) as info:
        call(pose_model)
    assert message in str(info.value)
    assert '\n' not in str(info.value)


def test_depth_of_1e30_m_is_no_reading() -> None:
    from humanpose.lift3d import lift_to_3d
    depth = np.full((H, W), 2.0, np.float32)
    depth[100:140, 100:140] = 1e30
    points, valid = lift_to_3d(np.array([[[120.0, 120.0], [20.0, 20.0]]]), depth, _camera(),
                               window=3)
    assert valid.tolist() == [[False, True]]
    assert np.isnan(points[0, 0]).all() and points[0, 1, 2] == pytest.approx(2.0)


def test_uncalibrated_camera_info_in_a_bag_is_reported_once(
        tmp_path: Path, caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    import humanpose.lift3d as lift3d
    from humanpose.io.bags import BagSource, write_image_bag
    from humanpose.io.sources import SourceFrame
    from humanpose.types import CameraModel

    camera = CameraModel.from_intrinsics(W, H, 500.0, 500.0, 160.0, 120.0)
    depth = np.full((H, W), 2000, np.uint16)
    write_image_bag(tmp_path / 'bag', [SourceFrame(i, i * 10**8, str(i), _image(), depth=depth,
                                                   camera=camera) for i in range(4)],
                    depth_topic='/camera/depth', camera_info_topic='/camera/camera_info')
    real = lift3d.camera_from_info

    def uncalibrated(msg: Any) -> Any:  # every CameraInfo of the bag says K = 0
        msg.k = np.zeros(9)
        return real(msg)

    monkeypatch.setattr(lift3d, 'camera_from_info', uncalibrated)
    caplog.set_level('WARNING')
    with BagSource(tmp_path / 'bag', depth_topic='/camera/depth',
                   camera_info_topic='/camera/camera_info') as source:
        frames = list(source)
    assert len(frames) == 4 and all(f.camera is None for f in frames)
    assert len([r for r in caplog.records if 'no calibration' in r.getMessage()]) == 1
