"""``humanpose build-engine``: build the TensorRT engine of an ONNX model on this machine.

The engine goes into the engine cache (``$HUMANPOSE_HOME/engines``, or ``--cache-dir``),
where ``backend: tensorrt`` / ``auto`` finds it; ``--out`` also copies it elsewhere. A fresh
build is compared with ONNX Runtime on drawn people and the keypoint difference is printed.
"""

from __future__ import annotations

import argparse
from pathlib import Path
import sys
from typing import Any

from humanpose.backends.base import BackendOptions

_DEFAULTS = BackendOptions()


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f'must be at least 1, got {value}')
    return value


def add_parser(subparsers: Any) -> None:
    """Register ``build-engine``."""
    parser = subparsers.add_parser(
        'build-engine', help='build the TensorRT engine of an ONNX model (on the target)',
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('model', type=Path, metavar='MODEL.onnx', help='the ONNX model')
    parser.add_argument('--fp16', action='store_true',
                        help='FP16 engine (normalisation and the SimCC head stay FP32)')
    parser.add_argument('--fp16-everywhere', '--no-keep-fp32', dest='fp16_everywhere',
                        action='store_true',
                        help='with --fp16: FP16 for every layer (fastest; may cost finger '
                             'accuracy)')
    parser.add_argument('--max-batch', type=_positive, default=_DEFAULTS.max_batch, metavar='N',
                        help='largest batch (people per call) the engine takes '
                             '(default %(default)s)')
    parser.add_argument('--opt-batch', type=_positive, default=_DEFAULTS.opt_batch, metavar='N',
                        help='batch the engine is tuned for (default %(default)s)')
    parser.add_argument('--workspace', type=_positive, default=_DEFAULTS.workspace_mb,
                        metavar='MB', help='builder workspace limit (default %(default)s)')
    parser.add_argument('--out', type=Path, metavar='PATH',
                        help='also copy the engine (and its .json sidecar) here')
    parser.add_argument('--cache-dir', type=Path, metavar='DIR',
                        help='engine cache (default $HUMANPOSE_HOME/engines)')
    parser.add_argument('--device', type=int, default=_DEFAULTS.device_id, metavar='ID',
                        help='CUDA device (default %(default)s)')
    parser.add_argument('--force', action='store_true', help='rebuild even if cached')
    parser.add_argument('--no-check', action='store_true',
                        help='skip the comparison with ONNX Runtime after the build')
    parser.add_argument('--threshold-px', type=float, default=1.0, metavar='PX',
                        help='warn when keypoints differ from ONNX Runtime by more '
                             '(default %(default)s)')
    parser.set_defaults(func=main)


def options_from_args(args: argparse.Namespace) -> BackendOptions:
    """Turn parsed arguments into backend options."""
    return BackendOptions(device_id=args.device, precision='fp16' if args.fp16 else 'fp32',
                          max_batch=args.max_batch, opt_batch=min(args.opt_batch, args.max_batch),
                          workspace_mb=args.workspace, cache_dir=args.cache_dir,
                          keep_fp32=not args.fp16_everywhere)


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def main(args: argparse.Namespace) -> int:
    """Build (or find) the engine and print where it is and how it compares."""
    from humanpose.backends.tensorrt import build_engine

    options = options_from_args(args)
    result = build_engine(args.model, options, out=args.out, force=args.force,
                          check=not args.no_check, threshold_px=args.threshold_px,
                          progress=_progress)
    key = result.sidecar.get('key', {})
    print(f'engine: {result.engine_path}')
    if result.engine_path != result.cache_path:
        print(f'cached: {result.cache_path}')
    state = 'built' if result.built else 'up to date (cached; --force rebuilds)'
    profile = (key.get('profiles') or [{}])[0]
    low, opt, high = (profile.get(k, ['?'])[0] for k in ('min', 'opt', 'max'))
    print(f'{state}: TensorRT {key.get("trt_version", "?")}, {key.get("gpu_name", "?")} '
          f'(sm {key.get("compute_capability", "?")}), {key.get("precision", "?")}'
          f'{", FP32 normalisation and head" if key.get("keep_fp32") else ""}, '
          f'batch {low}..{high} (opt {opt})')
    guard = result.guard.to_json() if result.guard is not None else result.sidecar.get('guard')
    if guard:
        print(f'check vs ONNX Runtime: max {guard["max_px"]:.2f} px, mean {guard["mean_px"]:.3f} '
              f'px, worst {guard["worst_part"]} ({"ok" if guard["passed"] else "ABOVE"} '
              f'{guard["threshold_px"]:g} px)')
    return 0
