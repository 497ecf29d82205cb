"""A node run by :func:`humanpose.ros.spin.run_node` in its own process, for test_spin.py.

    python3 spin_victim.py MODE TOPIC

Modes: ``flood`` counts the images on TOPIC; ``slow`` spends a second in each image
callback; ``until`` ends itself through ``until`` after three timer ticks; ``external``
calls ``rclpy.shutdown()`` from a timer; ``hang`` takes 30 s to destroy. It prints what
happened, one word per line, for the test to read.
"""

import signal
import sys
import time

import rclpy
from rclpy.node import Node
from rclpy.task import Future
from sensor_msgs.msg import Image

from humanpose.ros.spin import run_node


def say(word: str) -> None:
    print(word, flush=True)


class Victim(Node):

    def __init__(self, mode: str, topic: str) -> None:
        super().__init__('spin_victim')
        self.mode, self.received, self.ticks = mode, 0, 0
        self.finished = Future()
        self.create_subscription(Image, topic, self.on_image, 1)
        if mode in ('until', 'external'):
            self.create_timer(0.05, self.on_timer)
        say('ready')

    def on_image(self, msg: Image) -> None:
        self.received += 1
        if self.received == 1:
            say('receiving')
        if self.mode == 'slow':
            say('callback-started')
            time.sleep(1.0)
            say('callback-done')

    def on_timer(self) -> None:
        self.ticks += 1
        if self.ticks == 3 and self.mode == 'until':
            self.finished.set_result(True)
        elif self.ticks == 3:
            rclpy.shutdown()

    def destroy_node(self) -> None:
        if self.mode == 'hang':
            say('hanging')
            time.sleep(30.0)
        say(f'destroyed-after-{self.received}')
        super().destroy_node()


def main(mode: str, topic: str) -> None:
    ended = run_node(lambda: Victim(mode, topic),
                     until=(lambda node: node.finished) if mode == 'until' else None)
    say(f'returned-{ended}')
    restored = (signal.getsignal(signal.SIGINT) is signal.default_int_handler
                and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL)
    say(f'handlers-restored-{restored}')
    say(f'context-ok-{rclpy.ok()}')


if __name__ == '__main__':
    main(*sys.argv[1:3])
