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
null``) gets the computed digest reported and the result marked unverified, never
silently accepted. An archive placed in ``downloads/`` by hand (offline machines) is used
without any network access.
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

from humanpose.errors import DownloadError
from humanpose.models.card import ModelCard, get_card
from humanpose.paths import models_dir

_log = logging.getLogger(__name__)

#: Called with (bytes done, total bytes or None) while downloading.
ProgressCallback = Callable[[int, Optional[int]], None]
_CHUNK = 1 << 20


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
           timeout_s: float) -> None:
    """Download ``card.url`` into ``part``, continuing what ``part`` already holds."""
    assert card.url is not None
    offset = part.stat().st_size if part.is_file() else 0
    request = urllib.request.Request(card.url, headers={'User-Agent': 'humanpose'})
    if offset:
        request.add_header('Range', f'bytes={offset}-')
    try:
        response = urllib.request.urlopen(request, timeout=timeout_s)
    except urllib.error.HTTPError as err:
        if err.code == 416 and offset:
            return  # the part is already complete; verification decides
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


def _extract(card: ModelCard, archive: Path, target: Path) -> None:
    """Put the model of ``archive`` (a zip holding ``card.file``, or the model) at target."""
    tmp = target.with_name(target.name + '.tmp')
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as bundle:
            names = [n for n in bundle.namelist() if not n.endswith('/')]
            wanted = card.file
            members = ([n for n in names if n.rsplit('/', 1)[-1] == wanted] if wanted
                       else [n for n in names if n.lower().endswith('.onnx')])
            if not members:
                raise DownloadError(
                    f'{archive.name} holds no {wanted or ".onnx file"} (it has: '
                    f'{", ".join(names[:10])}{" ..." if len(names) > 10 else ""}); fix the '
                    '`file` field of the card')
            member = min(members, key=len)
            with bundle.open(member) as src, tmp.open('wb') as dst:
                shutil.copyfileobj(src, dst, _CHUNK)
    else:
        shutil.copyfile(archive, tmp)
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
        model offline), sha256 mismatch (the bad file is removed), or an archive without
        the card's model file.
    """
    found = _card(card)
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
    _extract(found, archive, target)
    target.with_suffix('.yaml').write_text(_card_yaml(found), 'utf-8')
    target.with_suffix('.download.json').write_text(json.dumps(
        {'name': found.name, 'url': found.url, 'source': str(archive), 'sha256': digest,
         'verified': verified, 'file': found.file}, indent=1) + '\n', 'utf-8')
    if source is None:
        archive.unlink(missing_ok=True)  # unpacked; the model file is what is kept
    return DownloadResult(found.name, target, digest, verified, downloaded, True)
