"""Install the humanpose package; the ROS messages' .msg files travel inside it."""

from pathlib import Path
import shutil

from setuptools import setup
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


setup(cmdclass={'build_py': BuildPyWithMessages})
