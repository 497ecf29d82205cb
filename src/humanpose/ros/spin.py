"""Run a node until SIGINT or SIGTERM, then shut down in order: the process exits with 0.

``rclpy.spin`` with rclpy's own signal handlers races with itself on Ctrl-C. Its handler
shuts the context down from a signal while the executor may be building a wait set, and
Python's handler raises ``KeyboardInterrupt`` at whatever bytecode runs next, which can be
inside rclpy's conversion of a message just taken (pybind11 then reports ``RuntimeError:
Unable to convert call argument to Python object``). Under a steady stream of images, about
one Ctrl-C in four ended a plain ``rclpy.spin`` node with a traceback and exit code 1 on
Humble and Jazzy (the same race as ros/joint_state_publisher#117).

:func:`run_node` installs neither. Its handlers only set a flag; the executor spins in short
steps and stops between callbacks. Then the node is destroyed, which lets the worker thread
publish what it is working on, and only after that is the context shut down. A second signal
during that shutdown gets the default behaviour back (Ctrl-C raises, SIGTERM ends the
process), so ``ros2 launch``'s escalation and an impatient user still win.
"""

from __future__ import annotations

import os
import re
import signal
import sys
from types import FrameType
from typing import Any, Callable, NoReturn, Optional, Sequence

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.impl.implementation_singleton import rclpy_implementation
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions
from rclpy.task import Future

SHUTDOWN_SIGNALS = (signal.SIGINT, signal.SIGTERM)
#: rcl's ", at /build/.../file.c:123" suffixes: where in rcl, not what the user did.
_RCL_LOCATION = re.compile(r',? at \S+:\d+')
#: Longest wait of one executor step: how late a signal is noticed when nothing arrives.
POLL_S = 0.1


class ShutdownSignals:
    """While entered, SIGINT and SIGTERM set :attr:`received` (the signal number) and return.

    The first signal restores the previous handlers, so a second one acts as it did before.
    Leaving restores them in any case. Use it from the main thread (Python's rule).
    """

    def __init__(self, signals: Sequence[signal.Signals] = SHUTDOWN_SIGNALS) -> None:
        self.signals = tuple(signals)
        self.received: Optional[int] = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> ShutdownSignals:
        self._previous = {sig: signal.signal(sig, self._on_signal) for sig in self.signals}
        return self

    def __exit__(self, *exc: object) -> None:
        self._restore()

    def _on_signal(self, signum: int, frame: Optional[FrameType]) -> None:
        self.received = signum
        self._restore()

    def _restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}


def run_node(make_node: Callable[[], Node], args: Optional[list[str]] = None,
             until: Optional[Callable[[Node], Future]] = None) -> Optional[int]:
    """Initialise rclpy, build the node, spin it until a signal, ``until`` or the end of ROS.

    ``until(node)`` gives a future that ends the run when done (the lifecycle node's
    ``shutdown`` transition). Returns the signal number that ended the run, or None. The
    node's ``destroy_node`` runs before the context is shut down, in every case. Arguments
    rclpy refuses (unknown ones, a params file that does not parse, a bad remapping) and a
    node the middleware cannot create end the process with one line and exit code 2.
    """
    try:
        rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    except rclpy_implementation.UnknownROSArgsError as err:
        _exit_with(f'unknown ROS arguments {err}: after --ros-args give parameters as '
                   '-p name:=value and remappings as -r from:=to')
    except rclpy_implementation.RCLError as err:
        _exit_with(f'cannot start ROS: {_rcl_message(err)}; fix that argument or file')
    node: Optional[Node] = None
    try:
        try:
            node = make_node()
        except rclpy_implementation.RCLError as err:
            domain = os.environ.get('ROS_DOMAIN_ID', '(unset)')
            _exit_with(f'cannot create the node: {_rcl_message(err)}; check ROS_DOMAIN_ID '
                       f'(now {domain}; 0-101 works with every DDS), RMW_IMPLEMENTATION and '
                       'the DDS configuration')
        finished = until(node) if until is not None else None
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        with ShutdownSignals() as signals:
            try:
                while signals.received is None and rclpy.ok():
                    if finished is not None and finished.done():
                        break
                    executor.spin_once(timeout_sec=POLL_S)
            except ExternalShutdownException:
                pass
            finally:
                executor.shutdown(timeout_sec=0)
        return signals.received
    except KeyboardInterrupt:  # Ctrl-C while the node was built, or a second while spinning
        return int(signal.SIGINT)
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()


def _rcl_message(err: Exception) -> str:
    return _RCL_LOCATION.sub('', str(err)).strip()


def _exit_with(line: str) -> NoReturn:
    print(line, file=sys.stderr)
    raise SystemExit(2) from None
