"""The ``humanpose`` command: one entry point, one module per subcommand.

Each subcommand module has ``add_parser(subparsers)`` which registers its parser and sets
``func`` to a ``main(args) -> int``. The error boundary is here, for every subcommand:
a :class:`~humanpose.errors.HumanPoseError` or an operating-system error (unwritable or
read-only directory, full disk, a file where a directory should be) ends the command
with ONE line on stderr naming the problem and the fix, and exit code 2 (no traceback).
Ctrl-C exits 130, SIGTERM 143 and SIGHUP 129, after the outputs are closed.
"""

from __future__ import annotations

import argparse
import errno
from importlib import import_module
import logging
import os
import signal
import sys
from typing import NoReturn, Optional, Sequence

from humanpose.errors import HumanPoseError

#: errno -> what to do about it, for the one-line message of an OS error.
OS_ERROR_HINTS: dict[int, str] = {
    errno.EACCES: 'check its permissions or choose another location',
    errno.EPERM: 'check its permissions or choose another location',
    errno.EROFS: 'the file system is read-only; choose another location',
    errno.ENOSPC: 'the disk is full; free some space or choose another location',
    errno.EDQUOT: 'the disk quota is exceeded; free some space or choose another location',
    errno.ENOTDIR: 'a part of the path is a file, not a directory; choose another path',
    errno.EISDIR: 'it is a directory, a file is needed; choose another path',
    errno.EEXIST: 'it exists already; remove it or choose another path',
    errno.ENOENT: 'check the path',
    errno.ENAMETOOLONG: 'choose a shorter path',
    errno.EIO: 'the device reported an input/output error; check the disk',
}


def os_error_line(err: OSError) -> str:
    """Return one line saying which path failed how, and what to do."""
    where = ' -> '.join(str(p) for p in (err.filename, err.filename2) if p is not None)
    what = err.strerror or str(err) or type(err).__name__
    hint = OS_ERROR_HINTS.get(err.errno or 0, 'check the path and the disk')
    line = f'cannot access {where}: {what}' if where else what
    return ' '.join(f'{line}; {hint}'.split())


#: Subcommand modules under humanpose.cli, in --help order.
COMMANDS: tuple[str, ...] = ('run', 'demo', 'eval', 'models', 'build_engine', 'bench')


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line too (exit code 2, as argparse's)."""

    def error(self, message: str) -> NoReturn:
        """Print ``prog: error: message (see prog --help)`` and exit 2."""
        self.exit(2, f'{self.prog}: error: {message} (see {self.prog} --help)\n')


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog='humanpose', description='Whole-body human pose (COCO-WholeBody, 133 keypoints).')
    parser.add_argument('-v', '--verbose', action='count', default=0,
                        help='more log output (-vv for debug)')
    sub = parser.add_subparsers(dest='command', metavar='COMMAND')
    sub.required = True
    for name in COMMANDS:
        try:
            module = import_module(f'humanpose.cli.{name}')
        except ModuleNotFoundError as err:
            if err.name != f'humanpose.cli.{name}':
                raise
            continue  # command not part of this build yet
        module.add_parser(sub)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = (logging.WARNING, logging.INFO, logging.DEBUG)[min(args.verbose, 2)]
    logging.basicConfig(level=level, format='%(levelname)s %(name)s: %(message)s')
    from humanpose.io.outputs import signals_interrupt

    try:
        with signals_interrupt():
            return int(args.func(args) or 0)
    except HumanPoseError as err:
        print(f'humanpose {args.command}: error: {" ".join(str(err).split())}', file=sys.stderr)
        return 2
    except KeyboardInterrupt as err:
        signum = int(getattr(err, 'signum', signal.SIGINT))
        print(f'humanpose {args.command}: interrupted ({signal.Signals(signum).name})',
              file=sys.stderr)
        return 128 + signum
    except BrokenPipeError:
        # The reader went away (`humanpose models list | head`): stop quietly, and keep
        # Python from complaining again when it flushes stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except OSError as err:
        print(f'humanpose {args.command}: error: {os_error_line(err)}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
