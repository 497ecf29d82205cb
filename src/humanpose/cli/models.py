"""``humanpose models``: the built-in model cards and the model cache.

  humanpose models list                  cards, and which models are installed
  humanpose models download NAME [...]   download (resumable), verify sha256, unpack
  humanpose models download NAME --from FILE   install a zip fetched elsewhere (offline)
  humanpose models path NAME             print the installed model file (for scripts)

The cache is $HUMANPOSE_HOME/models (default ~/.cache/humanpose/models). Nothing is ever
downloaded unless asked here. On a machine without network, download on a connected
machine and copy the zip to the path the error message names (or use --from).
"""

from __future__ import annotations

import argparse
from pathlib import Path
import sys
from typing import Any, Optional


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        'models', help='list, download and locate released models',
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest='models_command', metavar='ACTION')
    sub.required = True
    listing = sub.add_parser('list', help='list the built-in model cards')
    listing.add_argument('--task', choices=('pose', 'detection'), help='only this task')
    download = sub.add_parser('download', help='download, verify and install models')
    download.add_argument('names', nargs='+', metavar='NAME', help='card name(s)')
    download.add_argument('--force', action='store_true',
                          help='download again even if installed')
    download.add_argument('--from', dest='source', type=Path, metavar='FILE',
                          help='install from this local file (the released zip) instead '
                               'of downloading; only with one NAME')
    download.add_argument('--timeout', type=float, default=30.0,
                          help='network timeout in seconds (default 30)')
    path = sub.add_parser('path', help='print the installed model file of NAME')
    path.add_argument('name', metavar='NAME', help='card name')
    parser.set_defaults(func=main)


def _list(task: Optional[str]) -> int:
    from humanpose.models.card import builtin_cards
    from humanpose.models.download import download_record, installed_model
    from humanpose.paths import models_dir

    cards = [c for c in builtin_cards().values() if task is None or c.task == task]
    rows = []
    for card in cards:
        installed = installed_model(card)
        status = '-'
        if installed is not None:
            status = ('installed' if download_record(card).get('verified')
                      else 'installed (sha256 not verified)')
        width, height = card.input_size
        rows.append((card.name, card.task, f'{width}x{height}', status, card.description))
    widths = [max(len(r[i]) for r in rows + [('name', 'task', 'input WxH', 'status', '')])
              for i in range(4)]
    print(f'{"name":<{widths[0]}}  {"task":<{widths[1]}}  {"input WxH":<{widths[2]}}  '
          f'{"status":<{widths[3]}}  description')
    for row in rows:
        print('  '.join(f'{v:<{w}}' for v, w in zip(row[:4], widths)) + f'  {row[4]}')
    print(f'\ncache: {models_dir()} (set HUMANPOSE_HOME to move it)')
    return 0


def _download(names: list[str], force: bool, source: Optional[Path], timeout_s: float) -> int:
    from humanpose.cli.progress import Progress
    from humanpose.errors import DownloadError
    from humanpose.models.card import get_card
    from humanpose.models.download import download_model

    if source is not None and len(names) != 1:
        raise DownloadError('--from installs one model; give exactly one NAME')
    cards = [get_card(name) for name in names]  # unknown names fail before any download
    for card in cards:
        bar: Optional[Progress] = None

        def progress(done: int, total: Optional[int], name: str = card.name) -> None:
            nonlocal bar
            if bar is None:
                bar = Progress(f'{name}', total, unit_bytes=True)
            bar.count = done
            bar.update(0)

        try:
            result = download_model(card, force=force, source=source, progress=progress,
                                    timeout_s=timeout_s)
        finally:
            if bar is not None:
                bar.close()
        state = ('downloaded and installed' if result.downloaded
                 else 'installed' if result.installed else 'already installed')
        print(f'{card.name}: {state}: {result.path}')
        if result.verified:
            print(f'  sha256 {result.sha256} (verified)')
        elif result.sha256:
            print(f'  sha256 {result.sha256} (NOT verified: the card has no sha256; compare it '
                  'with a trusted source and pin it in the card)', file=sys.stderr)
    return 0


def _path(name: str) -> int:
    from humanpose.errors import ModelLoadError
    from humanpose.models.card import get_card
    from humanpose.models.download import installed_model, model_file

    card = get_card(name)
    path = installed_model(card)
    if path is None:
        raise ModelLoadError(f'{name} is not installed (expected {model_file(card)}); run '
                             f'`humanpose models download {name}`')
    print(path)
    return 0


def main(args: argparse.Namespace) -> int:
    if args.models_command == 'list':
        return _list(args.task)
    if args.models_command == 'download':
        return _download(args.names, args.force, args.source, args.timeout)
    return _path(args.name)
