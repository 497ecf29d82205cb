"""Install the humanpose package; the ROS messages' .msg files travel inside it.

The C kernels are optional: without a C compiler the package installs without them and
does the same work in NumPy (SimCC decoding: src/humanpose/_simcc.c; the HRI cues:
src/humanpose/cues/csrc/).
"""

from pathlib import Path
import shutil

from setuptools import Extension, setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


class BuildPyWithMessages(build_py):
    """Copy msg/*.msg (the one source of truth) into the built package as humanpose/msg."""

    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / 'humanpose' / 'msg'
        target.mkdir(parents=True, exist_ok=True)
        for msg in sorted((HERE / 'msg').glob('*.msg')):
            shutil.copy2(msg, target / msg.name)


SIMCC_KERNEL = Extension('humanpose._simcc', sources=['src/humanpose/_simcc.c'],
                         extra_compile_args=['-O3', '-std=c99'], optional=True)

CUES = 'src/humanpose/cues/csrc'
CUE_KERNEL = Extension('humanpose.cues._kernel',
                       sources=sorted(str(p.relative_to(HERE))
                                      for p in (HERE / CUES).glob('*.c')),
                       depends=sorted(str(p.relative_to(HERE)) for p in (HERE / CUES).glob('*.h')),
                       extra_compile_args=['-O3', '-std=c99'], optional=True)

setup(cmdclass={'build_py': BuildPyWithMessages}, ext_modules=[SIMCC_KERNEL, CUE_KERNEL])
