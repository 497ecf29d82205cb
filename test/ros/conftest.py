"""Fixtures of the ROS tests: the rosbags typestore, its message namespace, an rclpy context.

Tests that need the rclpy namespace (test_node.py) or a lighter one define their own
``ns`` fixture, which takes precedence over this one.
"""

import os

import pytest

from humanpose.ros.messages import build_typestore, rosbags_namespace


@pytest.fixture(scope='module')
def store():
    return build_typestore()


@pytest.fixture(scope='module')
def ns(store):
    return rosbags_namespace(store)


@pytest.fixture(scope='module')
def context(request):
    """An rclpy context on a DDS domain of the test module's own.

    The domain follows the process id plus the module's ``DOMAIN_OFFSET``, so that parallel
    runs, other ROS processes and the modules of one run do not see each other's nodes.
    """
    rclpy = pytest.importorskip('rclpy', reason='needs a sourced ROS 2 (rclpy)')
    ctx = rclpy.Context()
    offset = getattr(request.module, 'DOMAIN_OFFSET', 0)
    rclpy.init(context=ctx, domain_id=100 + (os.getpid() + offset) % 100)
    yield ctx
    rclpy.try_shutdown(context=ctx)
