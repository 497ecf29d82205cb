"""Print the shell commands of the README code block marked ``<!-- ci:NAME -->``.

Usage: ``python3 .ci/readme_block.py NAME [README.md]``. CI runs the README's install
commands through this, so what the README tells users is what CI proves.
"""

from pathlib import Path
import sys


def block(text: str, name: str) -> str:
    """Return the body of the first fenced block after the marker (ValueError if none)."""
    marker = f'<!-- ci:{name} -->'
    lines = text.splitlines()
    try:
        start = lines.index(marker)
    except ValueError:
        raise ValueError(f'README has no {marker}') from None
    fence = next(i for i in range(start + 1, len(lines)) if lines[i].startswith('```'))
    end = next(i for i in range(fence + 1, len(lines)) if lines[i].startswith('```'))
    return '\n'.join(lines[fence + 1:end]) + '\n'


if __name__ == '__main__':
    readme = Path(sys.argv[2] if len(sys.argv) > 2 else 'README.md')
    try:
        sys.stdout.write(block(readme.read_text(encoding='utf-8'), sys.argv[1]))
    except (ValueError, StopIteration, IndexError) as err:
        sys.exit(f'readme_block: {err or "unterminated code block"}')
