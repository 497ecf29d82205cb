"""Judge the JUnit XML files of ``colcon test --packages-select pose_bringup``.

Usage: ``python3 .ci/check_ros_results.py BUILD_DIR/pose_bringup/test_results/pose_bringup``

Fails (exit code 1) on any failure or error, on any skipped test that is not about TensorRT
or a GPU by its reason or its module (test_tensorrt, test_trt_*; on a real ROS 2 everything
else must run: the rclpy node tests, the launch-file tests, the launch test, the pycocotools
comparisons ...), and when the node, launch-file or launch tests are missing from the
results altogether. Prints one summary line and one line per problem.
"""

from __future__ import annotations

from pathlib import Path
import re
import sys
import xml.etree.ElementTree as ET

#: Skips that are expected on a machine without TensorRT or an NVIDIA GPU (reason or module).
ALLOWED_SKIP = re.compile(r'tensorrt|\btrt\b|\bgpu\b|\bcuda\b', re.IGNORECASE)

#: Tests that must have run and passed: (what, result file name pattern, test id pattern).
REQUIRED = (
    ('rclpy node tests', r'^humanpose_tests\.', r'test\.ros\.test_node\b'),
    ('launch-file tests', r'^humanpose_tests\.', r'test\.ros\.test_launch_file\b'),
    ('launch test (launch_testing)', r'test_launch_pose', r''),
)


def _cases(folder: Path) -> list[tuple[str, str, str, str]]:
    """Return (file name, test id, outcome, message) of every test case in ``folder``."""
    cases = []
    for path in sorted(folder.glob('*.xml')):
        root = ET.parse(path).getroot()
        for case in root.iter('testcase'):
            test_id = f'{case.get("classname", "")}::{case.get("name", "")}'
            outcome, message = 'passed', ''
            for tag in ('failure', 'error', 'skipped'):
                found = case.find(tag)
                if found is not None:
                    outcome = tag
                    message = (found.get('message') or found.text or '').strip()
                    break
            cases.append((path.name, test_id, outcome, message))
    return cases


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    folder = Path(argv[1])
    cases = _cases(folder) if folder.is_dir() else []
    if not cases:
        print(f'FAIL: no JUnit results in {folder}')
        return 1
    problems = []
    counts = {'passed': 0, 'failure': 0, 'error': 0, 'skipped': 0}
    allowed = 0
    for name, test_id, outcome, message in cases:
        counts[outcome] += 1
        first_line = message.splitlines()[0][:200] if message else ''
        if outcome in ('failure', 'error'):
            problems.append(f'{outcome}: {test_id} ({name}): {first_line}')
        elif outcome == 'skipped':
            module = test_id.split('::')[0].replace('_', ' ')
            if ALLOWED_SKIP.search(message) or ALLOWED_SKIP.search(module):
                allowed += 1
            else:
                problems.append(f'skipped, but must run here: {test_id}: {first_line}')
    for what, file_pattern, id_pattern in REQUIRED:
        ran = [c for c in cases if re.search(file_pattern, c[0]) and re.search(id_pattern, c[1])
               and c[2] == 'passed']
        if not ran:
            problems.append(f'the {what} did not run (no passed test case in the results)')
    print(f'{len(cases)} tests: {counts["passed"]} passed, {counts["failure"]} failures, '
          f'{counts["error"]} errors, {counts["skipped"]} skipped ({allowed} TensorRT/GPU, '
          f'allowed)')
    for problem in problems:
        print(f'FAIL: {problem}')
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
