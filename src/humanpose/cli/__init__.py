"""The ``humanpose`` command: one entry point, one module per subcommand.

Each subcommand module has ``add_parser(subparsers)`` which registers its parser and sets
``func`` to a ``main(args) -> int``. A :class:`~humanpose.errors.HumanPoseError` ends the
command with a one-line message and exit code 2 (no traceback); Ctrl-C exits 130.
"""

from __future__ import annotations

import argparse
from importlib import import_module
import logging
import os
import sys
from typing import Optional, Sequence

from humanpose.errors import HumanPoseError

#: Subcommand modules under humanpose.cli, in --help order.
COMMANDS: tuple[str, ...] = ('run', 'demo', 'eval', 'models', 'build_engine', 'bench')


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
    try:
        return int(args.func(args) or 0)
    except HumanPoseError as err:
        print(f'humanpose {args.command}: error: {err}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f'humanpose {args.command}: interrupted', file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`humanpose models list | head`): stop quietly, and keep
        # Python from complaining again when it flushes stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


if __name__ == '__main__':
    sys.exit(main())
