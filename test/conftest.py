"""Shared fixtures: an isolated cache home and the generated models, made once per session."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest


def _keep_humanpose_logs_visible() -> None:
    """Undo what importing Humble's ``launch`` does to logging, for this test process.

    In a ROS environment the launch_testing pytest plugin imports ``launch``, which makes
    every logger created afterwards non-propagating (``LaunchLogger``); humanpose's log
    records would then never reach pytest's ``caplog``.
    """
    if logging.getLoggerClass() is not logging.Logger:
        logging.setLoggerClass(logging.Logger)
    for name, logger in list(logging.Logger.manager.loggerDict.items()):
        if name.startswith('humanpose') and isinstance(logger, logging.Logger):
            logger.propagate = True


_keep_humanpose_logs_visible()


@pytest.fixture(autouse=True)
def _humanpose_logs_reach_caplog() -> None:
    _keep_humanpose_logs_visible()


@pytest.fixture(scope='session', autouse=True)
def humanpose_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Point HUMANPOSE_HOME at a session directory so tests never touch the user's cache.

    Set HUMANPOSE_TEST_HOME to reuse generated models across runs.
    """
    home = Path(os.environ.get('HUMANPOSE_TEST_HOME') or tmp_path_factory.mktemp('home'))
    old = os.environ.get('HUMANPOSE_HOME')
    os.environ['HUMANPOSE_HOME'] = str(home)
    yield home
    if old is None:
        os.environ.pop('HUMANPOSE_HOME', None)
    else:
        os.environ['HUMANPOSE_HOME'] = old


@pytest.fixture(scope='session')
def pose_model(humanpose_home: Path) -> Path:
    from humanpose.testing.models import analytic_pose_model
    return analytic_pose_model()


@pytest.fixture(scope='session')
def pose_model_large(humanpose_home: Path) -> Path:
    from humanpose.testing.models import analytic_pose_model
    return analytic_pose_model(input_size=(288, 384))


@pytest.fixture(scope='session')
def heatmap_model(humanpose_home: Path) -> Path:
    from humanpose.testing.models import analytic_pose_model
    return analytic_pose_model(head='heatmap')


@pytest.fixture(scope='session')
def detector_model(humanpose_home: Path) -> Path:
    from humanpose.testing.models import analytic_detector_model
    return analytic_detector_model()


@pytest.fixture(scope='session')
def pose3d_model(humanpose_home: Path) -> Path:
    """The RTMW3D-shaped analytic model (384 x 288 input, simcc_z of the drawn relief)."""
    from humanpose.testing.models import analytic_pose_model
    return analytic_pose_model(input_size=(288, 384), head='simcc3d')
