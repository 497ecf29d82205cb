"""Fixtures of the message-layer tests: the rosbags typestore and its message namespace.

Tests that need the rclpy namespace (test_node.py) or a lighter one define their own
``ns`` fixture, which takes precedence over this one.
"""

import pytest

from humanpose.ros.messages import build_typestore, rosbags_namespace


@pytest.fixture(scope='module')
def store():
    return build_typestore()


@pytest.fixture(scope='module')
def ns(store):
    return rosbags_namespace(store)
