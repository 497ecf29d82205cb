"""``humanpose bench``: per-stage latency and throughput on generated scenes.

Runs the whole frame path (Image message conversion, detection, crops, ONE pose call,
decode, 3D, tracking + smoothing, message and marker serialisation, HRI cues and their
messages) on scenes with 1..16
people at 640x480, 1280x720 and 1920x1080, with a generated pose model of about RTMW-m's
compute, and prints median per-stage times, frames per second and the share of the
frame spent outside inference. Also compares batched pose inference with one call per
person, and times the 3D stages of a 3D pose network (RTMW3D's z decode, monocular
placement, fusion with depth) per person. Performance targets live here, not in the tests.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys
from typing import Any

from humanpose.errors import InvalidInputError


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        'bench', help='per-stage latency and throughput of the pose pipeline',
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--people', default='1,2,4,8,16', help='people counts, comma-separated')
    parser.add_argument('--sizes', default='640x480,1280x720,1920x1080',
                        help='image sizes WxH, comma-separated')
    parser.add_argument('--frames', type=int, default=50, help='measured frames per case')
    parser.add_argument('--warmup', type=int, default=5, help='unmeasured frames first')
    parser.add_argument('--backend', default='onnxruntime-cpu', help='inference backend')
    parser.add_argument('--model', choices=('compute', 'analytic'), default='compute',
                        help='compute: random weights, ~RTMW-m FLOPs; analytic: tiny, exact')
    parser.add_argument('--blocks', default='6,8,12,8',
                        help='conv blocks per stage of the compute model')
    parser.add_argument('--threads', type=int, default=0, help='ONNX Runtime threads')
    parser.add_argument('--no-batch-compare', action='store_true',
                        help='skip the batched vs per-person comparison')
    parser.add_argument('--no-3d', action='store_true',
                        help='skip the 3D pose network (RTMW3D) timings')
    parser.add_argument('--json', type=Path, help='write the numbers to this JSON file')
    parser.add_argument('--plot', type=Path, help='write a PNG of stage bars per people count')
    parser.add_argument('--cue-people', default='1,2,4,8,16', metavar='N,N',
                        help='people counts of the worst-case cue measurement, everyone '
                             'waving and pointing (comma-separated; 0 skips it)')
    parser.set_defaults(func=main)


def _ints(text: str, what: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(','))
    except ValueError:
        raise InvalidInputError(f'--{what} takes comma-separated integers, got {text!r}') from None
    if not values or min(values) < 1:
        raise InvalidInputError(f'--{what} values must be >= 1, got {text!r}')
    return values


def _sizes(text: str) -> tuple[tuple[int, int], ...]:
    try:
        pairs = [tuple(int(v) for v in item.lower().split('x')) for item in text.split(',')]
    except ValueError:
        pairs = []
    if not pairs or any(len(p) != 2 or min(p) < 32 for p in pairs):
        raise InvalidInputError(f'--sizes takes WxH,WxH (e.g. 640x480), got {text!r}')
    return tuple((p[0], p[1]) for p in pairs)


def main(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from humanpose.bench import (BenchConfig, format_cues, format_pose3d, format_table,
                                 measure_cues, measure_pose3d, run_bench, to_json, write_plot)

    cue_people = () if args.cue_people.strip() == '0' else _ints(args.cue_people, 'cue-people')
    config = BenchConfig(people=_ints(args.people, 'people'), sizes=_sizes(args.sizes),
                         frames=max(1, args.frames), warmup=max(0, args.warmup),
                         backend=args.backend, model=args.model,
                         stage_blocks=_ints(args.blocks, 'blocks'),
                         compare_batching=not args.no_batch_compare, threads=args.threads)
    tty = sys.stderr.isatty()

    def progress(text: str) -> None:
        if tty:
            print(f'\r{text:<60}', end='', file=sys.stderr, flush=True)

    results = run_bench(config, progress)
    if tty:
        print(file=sys.stderr)
    print(format_table(results))
    data = to_json(config, results)
    if not args.no_3d:
        pose3d = measure_pose3d(config.people, config.frames)
        print(format_pose3d(pose3d))
        data['pose3d'] = [{**asdict(r), 'extra_per_person_ms': r.extra_per_person_ms,
                           'fused_extra_per_person_ms': r.fused_extra_per_person_ms}
                          for r in pose3d]
    if cue_people:
        cues = measure_cues(cue_people, frames=max(10, args.frames))
        print(format_cues(cues))
        data['cues'] = [{**asdict(r), 'per_person_ms': r.per_person_ms,
                         'per_person_cpu_ms': r.per_person_cpu_ms} for r in cues]
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(data, indent=2))
        print(f'wrote {args.json}')
    if args.plot:
        write_plot(results, args.plot)
        print(f'wrote {args.plot}')
    return 0
