"""``humanpose eval``: COCO keypoint AP / AR of a results file against annotations.

Prints one row per part (body, foot, face, left_hand, right_hand, wholebody for
COCO-WholeBody; body for COCO) and the ten COCO keypoint metrics as columns.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys

from humanpose.errors import EvaluationError
from humanpose.evaluation import evaluate, format_table, load_ground_truth, load_results
from humanpose.skeletons import skeleton_names


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``eval`` subcommand."""
    parser = subparsers.add_parser(
        'eval', help='COCO keypoint AP/AR of predictions against annotations',
        description='Evaluate predicted poses (COCO results format) against COCO or '
                    'COCO-WholeBody keypoint annotations with the COCO OKS protocol: AP and '
                    'AR over OKS 0.50:0.05:0.95, per part (body, foot, face, hands, '
                    'wholebody), as pycocotools / xtcocotools compute them.')
    parser.add_argument('--gt', required=True, type=Path, metavar='ANNOTATIONS.json',
                        help='COCO or COCO-WholeBody keypoint annotation file')
    parser.add_argument('--results', required=True, type=Path, metavar='POSES.json',
                        help='predictions: a JSON list of {image_id, category_id, keypoints '
                             '[x, y, score] * K, score}')
    parser.add_argument('--skeleton', choices=skeleton_names(), default=None,
                        help='keypoint layout (default: coco_wholebody when the annotations '
                             'have foot_kpts, else coco)')
    parser.add_argument('--json', metavar='OUT.json', default=None,
                        help='also write the numbers as JSON to OUT.json; "-" writes only the '
                             'JSON, to stdout')
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    """Run the evaluation and print the table (and/or write the JSON)."""
    ground_truth = load_ground_truth(args.gt, args.skeleton)
    results = load_results(args.results, ground_truth.skeleton)
    metrics = evaluate(ground_truth, results)
    report = {
        'ground_truth': str(args.gt),
        'results': str(args.results),
        'skeleton': ground_truth.skeleton,
        'metrics': metrics,
    }
    if args.json == '-':
        json.dump(report, sys.stdout, indent=2)
        sys.stdout.write('\n')
        return 0
    print(f'{args.results} against {args.gt} ({ground_truth.skeleton}, OKS AP/AR, '
          'max 20 people per image)')
    print(format_table(metrics))
    if args.json is not None:
        try:
            Path(args.json).write_text(json.dumps(report, indent=2) + '\n', encoding='utf-8')
        except OSError as err:
            raise EvaluationError(
                f'{args.json}: cannot write the JSON report ({err}); choose a writable path.'
            ) from err
    return 0
