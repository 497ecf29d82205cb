"""The output-writing layer: staged files, commit/discard, what is ours, signals."""

from __future__ import annotations

import os
from pathlib import Path
import signal

import pytest

from humanpose.errors import InvalidInputError
from humanpose.io.outputs import (OutputSpec, SignalInterrupt, StagedOutputs, is_bag_dir,
                                  is_plain_file, is_results_json, signals_interrupt)

SPECS = (OutputSpec('poses.json', is_results_json, 'COCO results file'),
         OutputSpec('poses', is_bag_dir, 'rosbag2 directory', directory=True),
         OutputSpec('poses.mp4', is_plain_file, 'video file'))


def _write_run(out: Path, text: str, overwrite: bool = False, video: bool = True) -> None:
    staged = StagedOutputs(out, SPECS, overwrite)
    staged.path('poses.json').write_text(text)
    bag = staged.path('poses')
    bag.mkdir()
    (bag / 'metadata.yaml').write_text(text)
    (bag / 'poses.mcap').write_text(text)
    if video:
        staged.path('poses.mp4').write_text(text)
    # Nothing is in place before the commit; the staged names are hidden.
    assert not (out / 'poses.json').exists() or overwrite
    staged.commit()


def test_commit_puts_outputs_in_place_and_leaves_nothing_else(tmp_path: Path) -> None:
    out = tmp_path / 'out'
    _write_run(out, '[1]')
    assert sorted(p.name for p in out.iterdir()) == ['poses', 'poses.json', 'poses.mp4']
    assert sorted(p.name for p in (out / 'poses').iterdir()) == ['metadata.yaml',
                                                                 'poses.mcap']
    with pytest.raises(InvalidInputError, match='--overwrite'):
        StagedOutputs(out, SPECS, overwrite=False)
    _write_run(out, '[2]', overwrite=True, video=False)
    assert (out / 'poses.json').read_text() == '[2]'
    assert (out / 'poses' / 'metadata.yaml').read_text() == '[2]'
    assert not (out / 'poses.mp4').exists()  # of the earlier run: never mixed with this one
    assert sorted(p.name for p in out.iterdir()) == ['poses', 'poses.json']


def test_discard_keeps_what_was_there(tmp_path: Path) -> None:
    out = tmp_path / 'out'
    _write_run(out, '[1]')
    staged = StagedOutputs(out, SPECS, overwrite=True)
    staged.path('poses.json').write_text('[')
    staged.path('poses').mkdir()
    staged.discard()
    assert (out / 'poses.json').read_text() == '[1]'
    assert sorted(p.name for p in out.iterdir()) == ['poses', 'poses.json', 'poses.mp4']


@pytest.mark.parametrize(('make', 'what'), [
    (lambda out: (out / 'poses.json').mkdir(), 'COCO results file'),
    (lambda out: (out / 'poses.json').write_text('{"my": "notes"}'), 'COCO results file'),
    (lambda out: ((out / 'poses').mkdir(), (out / 'poses' / 'a.txt').write_text('x')),
     'rosbag2 directory'),
    (lambda out: (out / 'poses.mp4').symlink_to(out / 'elsewhere.mp4'), 'video file'),
])
def test_what_is_not_ours_is_refused_and_kept(tmp_path: Path, make, what: str) -> None:
    out = tmp_path / 'out'
    out.mkdir()
    make(out)
    before = sorted(str(p) for p in out.rglob('*'))
    with pytest.raises(InvalidInputError, match=f'not a {what} written by humanpose'):
        StagedOutputs(out, SPECS, overwrite=True)
    assert sorted(str(p) for p in out.rglob('*')) == before


def test_out_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / 'out').write_text('x')
    with pytest.raises(InvalidInputError, match='is a file, not a directory'):
        StagedOutputs(tmp_path / 'out', SPECS, overwrite=True)


@pytest.mark.parametrize('signum', [signal.SIGTERM, signal.SIGHUP])
def test_termination_signals_raise_once_then_are_ignored(signum: int) -> None:
    before = signal.getsignal(signum)
    closed = []
    with pytest.raises(SignalInterrupt) as info:
        with signals_interrupt():
            try:
                os.kill(os.getpid(), signum)
            finally:
                os.kill(os.getpid(), signum)  # while closing: ignored, closing goes on
                closed.append(True)
    assert info.value.signum == signum and closed == [True]
    assert isinstance(info.value, KeyboardInterrupt)
    assert signal.getsignal(signum) == before
