"""The node's frame mailbox (pure Python, no ROS): the newest frame wins, nothing queues."""

from __future__ import annotations

from dataclasses import dataclass
import threading
from typing import Any, Optional


@dataclass(frozen=True)
class Frame:
    """One input frame as it came from the callbacks (conversion happens in the worker).

    :param image: sensor_msgs/Image or sensor_msgs/CompressedImage (see ``compressed``).
    :param compressed: whether ``image`` is a CompressedImage.
    :param depth: aligned sensor_msgs/Image depth (16UC1 mm or 32FC1 m) paired with the
        image, or None when ``use_depth`` is off.
    :param camera_info: sensor_msgs/CameraInfo paired with the image, or None.
    :param received_s: monotonic seconds at arrival.
    """

    image: Any
    compressed: bool
    depth: Any
    camera_info: Any
    received_s: float


class FrameSlot:
    """A mailbox for the newest frame: ``put`` replaces, ``take`` waits for one.

    Thread-safe. Nothing is ever queued: a frame put before the previous one was taken
    replaces it and counts as dropped.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._frame: Optional[Frame] = None
        self._stopped = False
        self.dropped = 0

    def put(self, frame: Frame) -> bool:
        """Store ``frame``; return True if it replaced a frame nobody took (a drop)."""
        with self._cond:
            replaced = self._frame is not None
            if replaced:
                self.dropped += 1
            self._frame = frame
            self._cond.notify()
            return replaced

    def take(self, timeout_s: float) -> Optional[Frame]:
        """Return the newest frame and empty the slot; None after ``timeout_s`` or stop."""
        with self._cond:
            if self._frame is None and not self._stopped:
                self._cond.wait(timeout_s)
            frame, self._frame = self._frame, None
            return None if self._stopped else frame

    def stop(self) -> None:
        """Wake and release the worker; later ``take`` calls return None."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    @property
    def stopped(self) -> bool:
        with self._cond:
            return self._stopped
