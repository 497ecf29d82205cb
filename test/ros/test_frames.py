"""The node's frame mailbox: only the newest frame is kept, nothing queues (no ROS needed)."""

import threading

from humanpose.ros.frames import Frame, FrameSlot


def test_frame_slot_keeps_only_the_newest():
    slot = FrameSlot()
    frames = [Frame(image=i, compressed=False, depth=None, camera_info=None, received_s=i)
              for i in range(3)]
    assert slot.take(0.0) is None
    assert slot.put(frames[0]) is False
    assert slot.put(frames[1]) is True and slot.put(frames[2]) is True
    assert slot.dropped == 2
    assert slot.take(0.0).image == 2 and slot.take(0.0) is None
    # take waits for a frame put from another thread; stop releases a waiting worker.
    threading.Timer(0.05, slot.put, args=(frames[0],)).start()
    assert slot.take(5.0).image == 0
    threading.Timer(0.05, slot.stop).start()
    assert slot.take(5.0) is None and slot.stopped
    slot.put(frames[1])  # a frame arriving during shutdown is harmless
    assert slot.take(0.0) is None
