"""Released models on demand: download, resume, verify, unpack into the cache.

Nothing here runs at import time; a download happens only when asked
(``humanpose models download NAME`` or :func:`download_model`). Layout of the cache
(:func:`humanpose.paths.models_dir`, i.e. ``$HUMANPOSE_HOME/models``, default
``~/.cache/humanpose/models``)::

    <name>.onnx            the model (the card's ``file`` member of the released zip)
    <name>.yaml            its card, found by PoseEstimator / PersonDetector as a sidecar
    <name>.download.json   where it came from, the archive's sha256, whether it was verified
    downloads/<archive>    the archive while it downloads (``.part``), removed once unpacked

Downloads resume: a ``.part`` file left by an interrupted download is continued with an
HTTP ``Range`` request (a server that ignores it sends the whole file again). The sha256
of the downloaded file is checked against the card's; a card without one (``sha256:
null``) gets the computed digest reported and recorded, and the result marked unverified.
Every download, pinned or not, is also checked for what it must be (:func:`check_archive`,
:func:`check_model_file`): an HTML page, a truncated or stitched zip, a zip whose model
would expand past :data:`MAX_MODEL_BYTES` (or more than :data:`MAX_ZIP_RATIO` times its
packed size), or a file that is not an ONNX model with the card's inputs and outputs is
refused and removed from the cache, so the next run downloads it anew. A ``.part`` that
the server answers with 416 (range not satisfiable) is kept only if it is a complete,
valid archive; else it is downloaded again from the start. An archive placed in
``downloads/`` by hand (offline machines) is used without any network access.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
import shutil
from typing import Any, Callable, NamedTuple, Optional, Union
import urllib.error
import urllib.parse
import urllib.request
import zipfile

from humanpose.errors import DownloadError, HumanPoseError
from humanpose.models.card import ModelCard, check_card_against_model, get_card
from humanpose.paths import models_dir

_log = logging.getLogger(__name__)

#: Called with (bytes done, total bytes or None) while downloading.
ProgressCallback = Callable[[int, Optional[int]], None]
_CHUNK = 1 << 20
#: Largest model file a download may unpack to (the released ONNX files are < 300 MB).
MAX_MODEL_BYTES = 2 << 30
#: Largest unpacked / packed size ratio of a zip member (ONNX weights pack ~1.1x).
MAX_ZIP_RATIO = 50


class DownloadResult(NamedTuple):
    """What :func:`download_model` did.

    :param name: the card name.
    :param path: the installed model file.
    :param sha256: hex digest of the downloaded (or given) archive; '' when the model was
        already installed and no record of its digest exists.
    :param verified: the digest matched the card's sha256 (False: the card has none).
    :param downloaded: bytes came over the network in this call.
    :param installed: the model was unpacked in this call (False: it was installed).
    """

    name: str
    path: Path
    sha256: str
    verified: bool
    downloaded: bool
    installed: bool


def _card(card: Union[str, ModelCard]) -> ModelCard:
    return card if isinstance(card, ModelCard) else get_card(card)


def model_file(card: Union[str, ModelCard]) -> Path:
    """Return where the model of ``card`` is (or would be) installed."""
    return models_dir() / f'{_card(card).name}.onnx'


def archive_file(card: Union[str, ModelCard]) -> Path:
    """Return where the downloaded archive of ``card`` goes (the URL's file name).

    :raises DownloadError: the card has no URL.
    """
    found = _card(card)
    if not found.url:
        raise DownloadError(f'model card {found.name!r} has no download URL; it is not a '
                            'released model (give the ONNX file path instead)')
    name = Path(urllib.parse.urlparse(found.url).path).name or f'{found.name}.download'
    return models_dir() / 'downloads' / name


def installed_model(card: Union[str, ModelCard]) -> Optional[Path]:
    """Return the installed model file of ``card``, or None if it is not installed."""
    path = model_file(card)
    return path if path.is_file() else None


def download_record(card: Union[str, ModelCard]) -> dict[str, Any]:
    """Return the stored record of an installed model's download ({} if none)."""
    path = model_file(card).with_suffix('.download.json')
    try:
        data = json.loads(path.read_text('utf-8'))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def sha256_file(path: Path) -> str:
    """Return the hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with Path(path).open('rb') as stream:
        for block in iter(lambda: stream.read(_CHUNK), b''):
            digest.update(block)
    return digest.hexdigest()


def offline_hint(card: ModelCard) -> str:
    """Return how to install ``card``'s model on a machine without network access."""
    archive = archive_file(card)
    return (f'download on a connected machine and copy to {archive} (from {card.url}), then '
            f'run `humanpose models download {card.name}` here again to verify and unpack '
            f'it; or copy the unpacked {card.file or "ONNX file"} to {model_file(card)}')


def _fetch(card: ModelCard, part: Path, progress: Optional[ProgressCallback],
           timeout_s: float) -> bool:
    """Download ``card.url`` into ``part``, continuing what ``part`` already holds.

    :return: False when the server said the part is already complete (HTTP 416), else True.
    """
    assert card.url is not None
    offset = part.stat().st_size if part.is_file() else 0
    request = urllib.request.Request(card.url, headers={'User-Agent': 'humanpose'})
    if offset:
        request.add_header('Range', f'bytes={offset}-')
    try:
        response = urllib.request.urlopen(request, timeout=timeout_s)
    except urllib.error.HTTPError as err:
        if err.code == 416 and offset:
            return False  # complete, or stale: the caller checks it
        raise DownloadError(f'cannot download {card.name}: {card.url} answered HTTP '
                            f'{err.code} {err.reason}; the URL may be wrong or moved. '
                            f'Otherwise {offline_hint(card)}') from err
    except (urllib.error.URLError, OSError, ValueError) as err:
        reason = getattr(err, 'reason', err)
        raise DownloadError(f'cannot download {card.name} ({reason}). If this machine is '
                            f'offline, {offline_hint(card)}') from err
    with response:
        status = getattr(response, 'status', None) or 200
        resumed = offset > 0 and status == 206
        if offset and not resumed:
            _log.info('%s ignored the resume request; downloading from the start', card.url)
        done = offset if resumed else 0
        length = response.headers.get('Content-Length')
        total = done + int(length) if length and length.isdigit() else None
        try:
            with part.open('ab' if resumed else 'wb') as out:
                for block in iter(lambda: response.read(_CHUNK), b''):
                    out.write(block)
                    done += len(block)
                    if progress is not None:
                        progress(done, total)
        except OSError as err:
            raise DownloadError(f'download of {card.name} broke off after {done} bytes '
                                f'({err}); run the command again to resume from {part}'
                                ) from err
    if total is not None and done < total:
        raise DownloadError(f'download of {card.name} ended after {done} of {total} bytes; '
                            f'run the command again to resume from {part}')
    return True


def _looks_like_html(path: Path) -> bool:
    with path.open('rb') as stream:
        head = stream.read(512).lstrip().lower()
    return head.startswith((b'<!doctype', b'<html', b'<?xml', b'<head', b'<body'))


def check_archive(card: ModelCard, archive: Path) -> Optional[zipfile.ZipInfo]:
    """Check that ``archive`` is what the card's URL promises; return its model member.

    :return: the zip member holding the model, or None when the archive is the model
        itself (a plain .onnx URL; :func:`check_model_file` checks it).
    :raises DownloadError: an HTML page, not a zip where one is expected (truncated, or
        another file), a damaged or stitched zip, no model member, or a member larger than
        :data:`MAX_MODEL_BYTES` or packed more than :data:`MAX_ZIP_RATIO` times.
    """
    size = archive.stat().st_size
    if _looks_like_html(archive):
        raise DownloadError(f'{archive.name} is an HTML page ({size} bytes), not the model: '
                            'the server sent an error or login page')
    expect_zip = not str(card.url or '').lower().endswith('.onnx')
    if not zipfile.is_zipfile(archive):
        if expect_zip:
            raise DownloadError(f'{archive.name} is not a complete zip archive ({size} bytes): '
                                'the download was cut off or the server sent something else')
        return None
    try:
        with zipfile.ZipFile(archive) as bundle:
            infos = [i for i in bundle.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        raise DownloadError(f'{archive.name} is a damaged zip archive ({err})') from err
    wanted = card.file
    members = ([i for i in infos if i.filename.rsplit('/', 1)[-1] == wanted] if wanted
               else [i for i in infos if i.filename.lower().endswith('.onnx')])
    if not members:
        names = [i.filename for i in infos]
        raise DownloadError(
            f'{archive.name} holds no {wanted or ".onnx file"} (it has: '
            f'{", ".join(names[:10])}{" ..." if len(names) > 10 else ""}); fix the '
            '`file` field of the card')
    member = min(members, key=lambda i: len(i.filename))
    if member.file_size > MAX_MODEL_BYTES or member.file_size > MAX_ZIP_RATIO * max(
            member.compress_size, 1):
        raise DownloadError(
            f'{archive.name}: {member.filename} would unpack to {member.file_size} bytes from '
            f'{member.compress_size} (limit {MAX_MODEL_BYTES} bytes, {MAX_ZIP_RATIO}x); not a '
            'released model archive')
    return member


def _onnx_io(model: Any) -> tuple[list[Any], dict[str, list[Any]]]:
    """Return the first real input's shape and the output shapes of an ONNX ModelProto."""
    def dims(value: Any) -> list[Any]:
        shape = value.type.tensor_type.shape
        return [d.dim_value if d.HasField('dim_value') else (d.dim_param or None)
                for d in shape.dim]

    weights = {init.name for init in model.graph.initializer}
    inputs = [v for v in model.graph.input if v.name not in weights]
    return (dims(inputs[0]) if inputs else []), {v.name: dims(v) for v in model.graph.output}


def check_model_file(card: ModelCard, path: Path) -> None:
    """Check that ``path`` is an ONNX model with the inputs and outputs ``card`` describes.

    :raises DownloadError: not a readable ONNX file, no inputs/outputs, or a model that
        contradicts the card (input size, outputs, keypoints, SimCC bins ...).
    """
    import onnx

    if _looks_like_html(path):
        raise DownloadError(f'{path.name} is an HTML page, not an ONNX model: the server sent '
                            'an error or login page')
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as err:  # protobuf decode errors have no common base
        raise DownloadError(f'{path.name} is not a readable ONNX model ({type(err).__name__}); '
                            'the download is damaged or not a model') from err
    input_shape, outputs = _onnx_io(model)
    if not input_shape or not outputs:
        raise DownloadError(f'{path.name} is not an ONNX model with inputs and outputs; the '
                            'download is damaged or not a model')
    try:
        check_card_against_model(card, input_shape, outputs, path.name)
    except HumanPoseError as err:
        raise DownloadError(f'the downloaded model does not match its card: {err}') from err


def _extract(card: ModelCard, archive: Path, target: Path) -> None:
    """Put the model of ``archive`` at ``target``, checked before it replaces anything.

    See :func:`check_archive` and :func:`check_model_file`.
    """
    member = check_archive(card, archive)
    tmp = target.with_name(target.name + '.tmp')
    try:
        if member is None:
            shutil.copyfile(archive, tmp)
        else:
            try:
                with zipfile.ZipFile(archive) as bundle, bundle.open(member) as src, \
                        tmp.open('wb') as dst:
                    copied = 0
                    for block in iter(lambda: src.read(_CHUNK), b''):
                        copied += len(block)
                        if copied > member.file_size:  # the header lied about the size
                            raise DownloadError(f'{archive.name}: {member.filename} is longer '
                                                'than its zip entry says; not a model archive')
                        dst.write(block)
            except (zipfile.BadZipFile, EOFError, ValueError) as err:  # CRC, truncation
                raise DownloadError(f'{archive.name} is a damaged zip archive ({err})') from err
        check_model_file(card, tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, target)


def _card_yaml(card: ModelCard) -> str:
    import yaml

    def plain(value: Any) -> Any:
        if isinstance(value, (tuple, list)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    data: dict[str, Any] = {
        'name': card.name, 'task': card.task, 'description': card.description,
        'input_size': list(card.input_size), 'color': card.color, 'mean': list(card.mean),
        'std': list(card.std), 'padding': card.padding, 'head': plain(dict(card.head)),
        'url': card.url, 'sha256': card.sha256, 'file': card.file,
        **plain(dict(card.extra))}
    if card.skeleton:
        data['skeleton'] = card.skeleton
    return str(yaml.safe_dump(data, sort_keys=False))


def download_model(card: Union[str, ModelCard], *, force: bool = False,
                   source: Optional[Path] = None, progress: Optional[ProgressCallback] = None,
                   timeout_s: float = 30.0) -> DownloadResult:
    """Install the released model of ``card`` into the cache and return where it is.

    :param card: built-in card name or a card with ``url`` (and ideally ``sha256``).
    :param force: download and install again even if installed.
    :param source: install from this local file (the released zip, or the ONNX) instead
        of the URL; it is verified like a download and left in place.
    :param progress: called with (bytes done, total or None) while downloading.
    :param timeout_s: network timeout per connection attempt and read, seconds.
    :raises DownloadError: no URL, network failure (the message says how to install the
        model offline), sha256 mismatch (the bad file is removed), an archive that is not
        what the card describes (removed), or a cache that cannot be written (full,
        read-only: the message names it and HUMANPOSE_HOME).
    """
    try:
        return _download_model(_card(card), force, source, progress, timeout_s)
    except OSError as err:
        where = err.filename or models_dir()
        raise DownloadError(
            f'cannot write {where}: {err.strerror or err}; the model cache is {models_dir()}: '
            'free some space or fix its permissions, or set HUMANPOSE_HOME to a writable '
            'directory') from err


def _download_model(found: ModelCard, force: bool, source: Optional[Path],
                    progress: Optional[ProgressCallback], timeout_s: float) -> DownloadResult:
    target = model_file(found)
    if target.is_file() and not force and source is None:
        record = download_record(found)
        return DownloadResult(found.name, target, str(record.get('sha256', '')),
                              bool(record.get('verified', False)), False, False)
    downloaded = False
    if source is not None:
        archive = Path(source)
        if not archive.is_file():
            raise DownloadError(f'{archive} is not a file; give the downloaded model archive')
    else:
        archive = archive_file(found)
        part = archive.with_name(archive.name + '.part')
        if force or not archive.is_file():
            archive.parent.mkdir(parents=True, exist_ok=True)
            if force:
                archive.unlink(missing_ok=True)
            _log.info('downloading %s from %s', found.name, found.url)
            if not _fetch(found, part, progress, timeout_s):
                try:
                    check_archive(found, part)
                except DownloadError as err:
                    _log.warning('%s: the server has no more bytes for %s, which is not a '
                                 'valid archive (%s); downloading it again from the start',
                                 found.name, part, err)
                    part.unlink()
                    _fetch(found, part, progress, timeout_s)
            os.replace(part, archive)
            downloaded = True
        else:
            _log.info('using %s (already downloaded)', archive)
    digest = sha256_file(archive)
    verified = False
    if found.sha256:
        if digest.lower() != found.sha256.strip().lower():
            where = f'{archive} is left as it is'
            if source is None:
                archive.unlink(missing_ok=True)
                where = f'the file was removed ({archive})'
            raise DownloadError(
                f'sha256 mismatch for {found.name}: expected {found.sha256}, got {digest}; '
                f'{where}. The download was corrupted or the file changed upstream: run the '
                'command again, and if it persists check the url and sha256 of the card')
        verified = True
    else:
        _log.warning('%s: the card has no sha256, so the download is NOT verified; computed '
                     'sha256 %s (pin it in the card)', found.name, digest)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        _extract(found, archive, target)
    except DownloadError as err:
        if source is not None:
            raise DownloadError(f'{err}; {archive} is left as it is') from err
        archive.unlink(missing_ok=True)  # else every later run would trip over it
        raise DownloadError(f'{found.name}: {err}; the file was removed ({archive}), run the '
                            'command again to download it anew') from err
    target.with_suffix('.yaml').write_text(_card_yaml(found), 'utf-8')
    target.with_suffix('.download.json').write_text(json.dumps(
        {'name': found.name, 'url': found.url, 'source': str(archive), 'sha256': digest,
         'verified': verified, 'structure_checked': True, 'file': found.file}, indent=1)
        + '\n', 'utf-8')
    if source is None:
        archive.unlink(missing_ok=True)  # unpacked; the model file is what is kept
    return DownloadResult(found.name, target, digest, verified, downloaded, True)
