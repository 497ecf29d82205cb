"""Writing outputs without losing what was there: staged files, atomic commit, signals.

Every output of a run (``poses.json``, the ``poses/`` rosbag2, ``poses.mp4``) is written
under a temporary name in its final directory (``.poses.json.partial-<pid>``, ...) and
renamed into place when the run ends (:meth:`StagedOutputs.commit`). So

* an earlier run's results stay untouched until a new, complete set replaces them: a bad
  input, a zero-frame video or a crash before the first frame leaves them as they were
  (:meth:`StagedOutputs.discard`);
* ``overwrite`` replaces only outputs that are ours: a regular ``poses.json`` holding a
  JSON list, a ``poses/`` directory holding nothing but a rosbag2 (``metadata.yaml`` and
  its storage file), a regular ``poses.mp4``. Anything else under those names (a user's
  directory called ``poses.json``, a ``poses/`` folder with other files) is refused,
  never removed;
* a rename within one directory is atomic for files; a bag directory replaces the old one
  by two renames (old one aside, new one in) and then the old one is deleted.

:func:`signals_interrupt` turns SIGTERM and SIGHUP (``timeout``, systemd, a closed
terminal) into :class:`SignalInterrupt`, a ``KeyboardInterrupt``, so the ``finally``
blocks that close the writers run for them as they do for Ctrl-C: the JSON list is
terminated and the MCAP gets its summary and ``metadata.yaml``.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
import logging
import os
from pathlib import Path
import shutil
import signal
import threading
from types import FrameType
from typing import Any, Callable, Iterator, Optional, Sequence

from humanpose.errors import InvalidInputError

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutputSpec:
    """One output of a run.

    :param name: its file or directory name inside the output directory.
    :param is_ours: whether an existing path of that name was written by us (and so may be
        replaced with ``overwrite``).
    :param what: what it is, for messages (``COCO results``, ``rosbag2``, ...).
    :param directory: the output is a directory (staged as ``.<name>.partial-*/<name>``,
        so what is inside keeps its final names).
    """

    name: str
    is_ours: Callable[[Path], bool]
    what: str
    directory: bool = False


def is_results_json(path: Path) -> bool:
    """Whether ``path`` is a regular file holding (the start of) a JSON list."""
    if path.is_symlink() or not path.is_file():
        return False
    with path.open('rb') as stream:
        head = stream.read(64).lstrip()
    return head[:1] in (b'[', b'')


def is_bag_dir(path: Path) -> bool:
    """Whether ``path`` is a directory holding nothing but a rosbag2 of its name."""
    if path.is_symlink() or not path.is_dir():
        return False
    allowed = {'metadata.yaml', f'{path.name}.mcap', f'{path.name}.db3'}
    return all(p.name in allowed and p.is_file() for p in path.iterdir())


def is_plain_file(path: Path) -> bool:
    """Whether ``path`` is a regular file (not a directory, link or device)."""
    return not path.is_symlink() and path.is_file()


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


class StagedOutputs:
    """A run's outputs, written under temporary names and committed all together.

    :param directory: the output directory (created if missing).
    :param specs: the outputs of the run.
    :param overwrite: an existing output of ours may be replaced (at commit, not before).
    :raises InvalidInputError: ``directory`` is a file; an output exists and ``overwrite``
        is off; an existing path of an output's name is not ours.
    :raises OSError: the directory cannot be created (permissions, read-only, full disk).
    """

    def __init__(self, directory: Path, specs: Sequence[OutputSpec], overwrite: bool) -> None:
        self.directory = Path(directory)
        self.specs = {spec.name: spec for spec in specs}
        if self.directory.exists() and not self.directory.is_dir():
            raise InvalidInputError(f'--out {self.directory} is a file, not a directory; '
                                    'choose a directory (it is created if missing)')
        existing = [self.directory / s.name for s in specs
                    if os.path.lexists(self.directory / s.name)]
        if existing and not overwrite:
            raise InvalidInputError(
                f'{", ".join(str(p) for p in existing)} exist(s) from an earlier run; pass '
                '--overwrite to replace them or choose another --out')
        for path in existing:
            spec = self.specs[path.name]
            if not spec.is_ours(path):
                raise InvalidInputError(
                    f'{path} exists but is not a {spec.what} written by humanpose; not '
                    'replacing it. Move it away or choose another --out')
        self.directory.mkdir(parents=True, exist_ok=True)
        self.overwrite = overwrite
        self._tag = f'partial-{os.getpid()}-{threading.get_ident() % 100000}'
        self._staged: dict[str, Path] = {}

    def path(self, name: str) -> Path:
        """Return the temporary path to write output ``name`` to (same directory)."""
        if name not in self.specs:
            raise KeyError(name)
        final = self.directory / name
        if self.specs[name].directory:
            parent = final.with_name(f'.{final.name}.{self._tag}')
            _remove(parent)
            parent.mkdir()
            staged = parent / name
        else:
            suffix = final.suffix  # kept: OpenCV picks the container from it
            staged = final.with_name(f'.{final.stem}.{self._tag}{suffix}')
            _remove(staged)
        self._staged[name] = staged
        return staged

    def _holder(self, name: str) -> Path:
        """Return the path to delete to remove everything staged for ``name``."""
        staged = self._staged[name]
        return staged.parent if self.specs[name].directory else staged

    def commit(self) -> list[Path]:
        """Rename every staged output into place (replacing ours) and return the paths.

        Outputs are renamed one by one; each rename is atomic for files. With
        ``overwrite``, an earlier output of ours that this run did not write (e.g. the
        video of a run with ``--video`` when this one has none) is removed, so the
        directory never mixes two runs.
        """
        written: list[Path] = []
        if self.overwrite:
            for name, spec in self.specs.items():
                final = self.directory / name
                if name not in self._staged and os.path.lexists(final) and spec.is_ours(final):
                    _remove(final)
        for name, staged in self._staged.items():
            if not os.path.lexists(staged):  # never written (e.g. no video frame)
                _remove(self._holder(name))
                continue
            final = self.directory / name
            if self.specs[name].directory and os.path.lexists(final):
                aside = final.with_name(f'.{final.name}.replaced-{self._tag}')
                os.replace(final, aside)
                os.replace(staged, final)
                _remove(aside)
            else:
                os.replace(staged, final)
            if self.specs[name].directory:
                _remove(staged.parent)
            written.append(final)
        return written

    def discard(self) -> None:
        """Remove every staged output; what was in place before stays as it was."""
        for name in self._staged:
            _remove(self._holder(name))


class SignalInterrupt(KeyboardInterrupt):
    """A termination signal (SIGTERM, SIGHUP) raised like Ctrl-C, so outputs get closed.

    :param signum: the signal number (exit code 128 + signum).
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


#: Signals that stop a command like Ctrl-C does (SIGHUP does not exist on Windows).
STOP_SIGNALS: tuple[int, ...] = tuple(
    int(getattr(signal, name)) for name in ('SIGINT', 'SIGTERM', 'SIGHUP')
    if hasattr(signal, name))


@contextmanager
def signals_interrupt(signals: Sequence[int] = STOP_SIGNALS) -> Iterator[None]:
    """Raise :class:`SignalInterrupt` (a KeyboardInterrupt) on the first of ``signals``.

    Later signals are ignored while the interrupted command closes its outputs (a second
    Ctrl-C must not cut the MCAP summary in half); ``kill -9`` still ends it. Outside the
    main thread (where handlers cannot be installed) this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    stopping = False

    def handler(signum: int, frame: Optional[FrameType]) -> None:
        nonlocal stopping
        if stopping:
            _log.warning('%s: already stopping; closing the outputs first',
                         signal.Signals(signum).name)
            return
        stopping = True
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise SignalInterrupt(signum)

    previous: dict[int, Any] = {}
    for signum in signals:
        previous[signum] = signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
