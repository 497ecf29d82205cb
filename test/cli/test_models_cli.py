"""``humanpose models list|download|path`` as a user runs them."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
import shutil
from typing import Iterator
import zipfile

import pytest

from humanpose.cli import main
from humanpose.models.card import builtin_cards, card_from_dict
from humanpose.paths import models_dir
from humanpose.testing.contracts import simcc_contract_onnx

MODEL_BYTES = simcc_contract_onnx()


def _archive(tmp_path: Path) -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w') as bundle:
        bundle.writestr('test-pose/end2end.onnx', MODEL_BYTES)
    path = tmp_path / 'served' / 'test-pose.zip'
    path.parent.mkdir()
    path.write_bytes(buffer.getvalue())
    return path


@pytest.fixture()
def test_card(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
              humanpose_home: Path) -> Iterator[tuple[str, Path]]:
    """A built-in card served from a local file URL (no sha256 pinned)."""
    archive = _archive(tmp_path)
    card = card_from_dict({
        'name': 'test-pose', 'task': 'pose', 'input_size': [192, 256],
        'skeleton': 'coco_wholebody', 'head': {'type': 'simcc', 'split_ratio': 2.0},
        'url': archive.as_uri(), 'sha256': None, 'file': 'end2end.onnx',
        'description': 'test card'})
    monkeypatch.setitem(builtin_cards(), 'test-pose', card)
    shutil.rmtree(models_dir(), ignore_errors=True)
    yield 'test-pose', archive
    shutil.rmtree(models_dir(), ignore_errors=True)


def test_list_shows_every_builtin_card_and_the_cache(capsys: pytest.CaptureFixture[str],
                                                     humanpose_home: Path) -> None:
    assert main(['models', 'list']) == 0
    out = capsys.readouterr().out
    for name in builtin_cards():
        assert name in out
    assert str(models_dir()) in out


def test_list_filters_by_task(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(['models', 'list', '--task', 'detection']) == 0
    out = capsys.readouterr().out
    assert 'rtmdet-m-person' in out and 'rtmw-m-256x192' not in out


def test_path_of_a_model_that_is_not_installed_is_one_line_and_exit_2(
        capsys: pytest.CaptureFixture[str], test_card: tuple[str, Path]) -> None:
    assert main(['models', 'path', 'test-pose']) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'humanpose models download test-pose' in err
    assert 'Traceback' not in err


def test_download_then_path_then_list(capsys: pytest.CaptureFixture[str],
                                      test_card: tuple[str, Path]) -> None:
    name, archive = test_card
    assert main(['models', 'download', name]) == 0
    captured = capsys.readouterr()
    installed = models_dir() / 'test-pose.onnx'
    assert f'test-pose: downloaded and installed: {installed}' in captured.out
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    assert f'sha256 {digest} (NOT verified' in captured.err
    assert installed.read_bytes() == MODEL_BYTES
    assert main(['models', 'path', name]) == 0
    assert capsys.readouterr().out.strip() == str(installed)
    assert main(['models', 'list']) == 0
    assert 'installed (sha256 not verified)' in capsys.readouterr().out
    assert main(['models', 'download', name]) == 0
    assert 'already installed' in capsys.readouterr().out


def test_wrong_sha256_fails_with_one_line(capsys: pytest.CaptureFixture[str],
                                          test_card: tuple[str, Path],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    card = builtin_cards()['test-pose']
    from dataclasses import replace
    monkeypatch.setitem(builtin_cards(), 'test-pose', replace(card, sha256='ab' * 32))
    assert main(['models', 'download', 'test-pose']) == 2
    lines = capsys.readouterr().err.splitlines()
    # The download's final progress line, then the error in one line.
    assert lines[0].startswith('test-pose: ') and ' B in ' in lines[0]
    assert len(lines) == 2
    assert lines[1].startswith('humanpose models: error: sha256 mismatch for test-pose')
    assert not (models_dir() / 'test-pose.onnx').exists()


def test_download_from_a_local_file(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                    test_card: tuple[str, Path],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    name, archive = test_card
    card = builtin_cards()[name]
    from dataclasses import replace
    monkeypatch.setitem(builtin_cards(), name, replace(
        card, url='http://127.0.0.1:9/unreachable.zip',
        sha256=hashlib.sha256(archive.read_bytes()).hexdigest()))
    assert main(['models', 'download', name, '--from', str(archive)]) == 0
    captured = capsys.readouterr()
    assert 'installed' in captured.out and '(verified)' in captured.out


def test_unknown_model_name_lists_the_known_ones(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(['models', 'download', 'rtmw-zz']) == 2
    err = capsys.readouterr().err
    assert "no built-in model card 'rtmw-zz'" in err and 'rtmw-m-256x192' in err


def test_offline_download_says_where_to_copy(capsys: pytest.CaptureFixture[str],
                                             test_card: tuple[str, Path],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    name, _ = test_card
    card = builtin_cards()[name]
    from dataclasses import replace
    monkeypatch.setitem(builtin_cards(), name, replace(card, url='http://127.0.0.1:9/x.zip'))
    assert main(['models', 'download', name, '--timeout', '5']) == 2
    err = capsys.readouterr().err
    assert 'download on a connected machine and copy to' in err
    assert str(models_dir() / 'downloads' / 'x.zip') in err
