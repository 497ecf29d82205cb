"""Model download: loopback HTTP with Range resume, sha256 verification, zip unpacking."""

from __future__ import annotations

import hashlib
import http.server
import io
import logging
from pathlib import Path
import socket
import threading
from typing import Iterator
import zipfile

import pytest

from humanpose.errors import DownloadError
from humanpose.models.card import ModelCard, card_from_dict, load_card
from humanpose.models.download import (archive_file, download_model, installed_model,
                                       model_file)
from humanpose.paths import models_dir
from humanpose.testing.contracts import simcc_contract_onnx

MODEL_BYTES = simcc_contract_onnx()  # stands in for end2end.onnx (RTMW's I/O)


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w', zipfile.ZIP_STORED) as bundle:
        for name, data in members.items():
            bundle.writestr(name, data)
    return buffer.getvalue()


ARCHIVE = _zip({'rtmw-test/deploy.json': b'{}', 'rtmw-test/end2end.onnx': MODEL_BYTES})
ARCHIVE_SHA = hashlib.sha256(ARCHIVE).hexdigest()


class Server:
    """A loopback HTTP server with byte ranges; records what it was asked and sent."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.ranges: list[str] = []
        self.sent = 0
        self.honour_range = True
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                data = outer.files.get(self.path)
                if data is None:
                    self.send_error(404, 'Not Found')
                    return
                wanted = self.headers.get('Range')
                outer.ranges.append(wanted or '')
                start = 0
                if wanted and outer.honour_range:
                    start = int(wanted.split('=')[1].split('-')[0])
                    if start >= len(data):
                        self.send_error(416)
                        return
                    self.send_response(206)
                    self.send_header('Content-Range', f'bytes {start}-{len(data) - 1}/{len(data)}')
                else:
                    self.send_response(200)
                self.send_header('Content-Length', str(len(data) - start))
                self.end_headers()
                # Counted before writing: the client may check the count as soon as it has
                # read the bytes, before this thread would get past the write.
                outer.sent += len(data) - start
                self.wfile.write(data[start:])

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.url = f'http://127.0.0.1:{self.httpd.server_address[1]}'
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def server() -> Iterator[Server]:
    srv = Server()
    srv.files['/models/rtmw-test.zip'] = ARCHIVE
    yield srv
    srv.close()


@pytest.fixture()
def clean_cache(humanpose_home: Path) -> Iterator[Path]:
    """Each test starts without downloaded models (the session home is shared)."""
    import shutil

    shutil.rmtree(models_dir(), ignore_errors=True)
    yield models_dir()
    shutil.rmtree(models_dir(), ignore_errors=True)


def _card(url: str, sha256: str | None = ARCHIVE_SHA, file: str = 'end2end.onnx') -> ModelCard:
    return card_from_dict({
        'name': 'rtmw-test', 'task': 'pose', 'input_size': [192, 256],
        'skeleton': 'coco_wholebody',
        'head': {'type': 'simcc', 'split_ratio': 2.0, 'sigma': [4.9, 5.66], 'beta': 150.0},
        'url': url, 'sha256': sha256, 'file': file})


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return int(sock.getsockname()[1])


def test_download_verifies_and_unpacks_the_card_file(server: Server, clean_cache: Path) -> None:
    card = _card(server.url + '/models/rtmw-test.zip')
    seen: list[tuple[int, int | None]] = []
    result = download_model(card, progress=lambda done, total: seen.append((done, total)))
    assert result.verified and result.downloaded and result.installed
    assert result.sha256 == ARCHIVE_SHA
    assert result.path == clean_cache / 'rtmw-test.onnx' == model_file(card)
    assert result.path.read_bytes() == MODEL_BYTES
    assert seen[-1] == (len(ARCHIVE), len(ARCHIVE))
    # The sidecar card makes the installed file self-describing for PoseEstimator.
    sidecar = load_card(result.path.with_suffix('.yaml'))
    assert sidecar.name == 'rtmw-test' and sidecar.head['split_ratio'] == 2.0
    assert not archive_file(card).exists()  # unpacked, the zip is gone
    assert installed_model(card) == result.path


def test_wrong_sha256_is_rejected_and_nothing_is_installed(server: Server,
                                                           clean_cache: Path) -> None:
    card = _card(server.url + '/models/rtmw-test.zip', sha256='0' * 64)
    with pytest.raises(DownloadError, match=f'sha256 mismatch for rtmw-test: expected 0+, got '
                                            f'{ARCHIVE_SHA}; the file was removed'):
        download_model(card)
    assert not model_file(card).exists()
    assert not archive_file(card).exists()


def test_missing_sha256_reports_the_digest_as_not_verified(
        server: Server, clean_cache: Path, caplog: pytest.LogCaptureFixture) -> None:
    card = _card(server.url + '/models/rtmw-test.zip', sha256=None)
    with caplog.at_level(logging.WARNING, logger='humanpose.models.download'):
        result = download_model(card)
    assert not result.verified and result.sha256 == ARCHIVE_SHA
    assert 'NOT verified' in caplog.text and ARCHIVE_SHA in caplog.text
    assert result.path.read_bytes() == MODEL_BYTES


def test_interrupted_download_resumes_with_a_range_request(server: Server,
                                                           clean_cache: Path) -> None:
    card = _card(server.url + '/models/rtmw-test.zip')
    part = archive_file(card).with_name(archive_file(card).name + '.part')
    part.parent.mkdir(parents=True)
    half = len(ARCHIVE) // 2
    part.write_bytes(ARCHIVE[:half])
    result = download_model(card)
    assert server.ranges == [f'bytes={half}-']
    assert server.sent == len(ARCHIVE) - half  # only the missing half came
    assert result.verified and result.path.read_bytes() == MODEL_BYTES


def test_a_server_ignoring_range_restarts_from_zero(server: Server, clean_cache: Path) -> None:
    server.honour_range = False
    card = _card(server.url + '/models/rtmw-test.zip')
    part = archive_file(card).with_name(archive_file(card).name + '.part')
    part.parent.mkdir(parents=True)
    part.write_bytes(b'garbage that is not the start of the archive')
    result = download_model(card)
    assert server.sent == len(ARCHIVE) and result.verified


def test_complete_part_answered_416_is_used(server: Server, clean_cache: Path) -> None:
    card = _card(server.url + '/models/rtmw-test.zip')
    part = archive_file(card).with_name(archive_file(card).name + '.part')
    part.parent.mkdir(parents=True)
    part.write_bytes(ARCHIVE)
    assert download_model(card).verified
    assert server.sent == 0


def test_stale_part_answered_416_is_downloaded_again(server: Server, clean_cache: Path) -> None:
    # A .part of another, larger file (e.g. an older release): the server has no bytes past
    # its length (416), and the part is no valid archive, so it is fetched anew.
    card = _card(server.url + '/models/rtmw-test.zip', sha256=None)
    part = archive_file(card).with_name(archive_file(card).name + '.part')
    part.parent.mkdir(parents=True)
    part.write_bytes(b'\x00' * (len(ARCHIVE) + 100))
    result = download_model(card)
    assert server.ranges == [f'bytes={len(ARCHIVE) + 100}-', '']
    assert server.sent == len(ARCHIVE) and result.sha256 == ARCHIVE_SHA
    assert result.path.read_bytes() == MODEL_BYTES


def test_offline_machine_gets_told_where_to_copy_the_file(clean_cache: Path) -> None:
    card = _card(f'http://127.0.0.1:{_closed_port()}/models/rtmw-test.zip')
    with pytest.raises(DownloadError) as info:
        download_model(card, timeout_s=5)
    message = str(info.value)
    assert 'download on a connected machine and copy to' in message
    assert str(archive_file(card)) in message and str(model_file(card)) in message
    assert '\n' not in message


def test_archive_copied_into_the_cache_installs_without_network(clean_cache: Path) -> None:
    card = _card(f'http://127.0.0.1:{_closed_port()}/models/rtmw-test.zip')
    archive_file(card).parent.mkdir(parents=True)
    archive_file(card).write_bytes(ARCHIVE)
    result = download_model(card)
    assert result.verified and not result.downloaded and result.installed


def test_install_from_a_local_file_keeps_that_file(tmp_path: Path, clean_cache: Path) -> None:
    local = tmp_path / 'fetched-elsewhere.zip'
    local.write_bytes(ARCHIVE)
    card = _card(f'http://127.0.0.1:{_closed_port()}/x.zip')
    result = download_model(card, source=local)
    assert result.verified and result.path.read_bytes() == MODEL_BYTES
    assert local.is_file()
    with pytest.raises(DownloadError, match='sha256 mismatch.*is left as it is'):
        download_model(_card(card.url or '', sha256='1' * 64), source=local)
    assert local.is_file()


def test_file_urls_work(tmp_path: Path, clean_cache: Path) -> None:
    local = tmp_path / 'm.zip'
    local.write_bytes(ARCHIVE)
    assert download_model(_card(local.as_uri())).verified


def test_an_installed_model_is_not_downloaded_again(server: Server, clean_cache: Path) -> None:
    card = _card(server.url + '/models/rtmw-test.zip')
    download_model(card)
    again = download_model(card)
    assert not again.downloaded and not again.installed and again.verified
    assert len(server.ranges) == 1
    assert download_model(card, force=True).downloaded
    assert len(server.ranges) == 2


def test_http_errors_say_the_url_may_be_wrong(server: Server, clean_cache: Path) -> None:
    with pytest.raises(DownloadError, match='answered HTTP 404'):
        download_model(_card(server.url + '/models/moved.zip'))


def test_archive_without_the_card_file_lists_what_it_holds(
        server: Server, clean_cache: Path) -> None:
    card = _card(server.url + '/models/rtmw-test.zip', file='model.onnx')
    with pytest.raises(DownloadError, match='holds no model.onnx .*rtmw-test/end2end.onnx'):
        download_model(card)


def test_a_plain_onnx_url_is_installed_as_is(server: Server, clean_cache: Path) -> None:
    server.files['/m.onnx'] = MODEL_BYTES
    card = _card(server.url + '/m.onnx', sha256=hashlib.sha256(MODEL_BYTES).hexdigest())
    assert download_model(card).path.read_bytes() == MODEL_BYTES


def test_cards_without_url_cannot_be_downloaded(clean_cache: Path) -> None:
    card = _card('', sha256=None)
    with pytest.raises(DownloadError, match='has no download URL'):
        download_model(card)


def test_importing_the_modules_touches_neither_network_nor_disk(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    home = tmp_path / 'home'
    env = {**os.environ, 'HUMANPOSE_HOME': str(home),
           'PYTHONPATH': os.pathsep.join(sys.path)}
    subprocess.run([sys.executable, '-c', 'import humanpose.models.download, '
                    'humanpose.cli.models, humanpose.cli.run'], check=True, env=env)
    assert not home.exists()
