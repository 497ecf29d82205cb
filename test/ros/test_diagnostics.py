"""Pipeline counters -> diagnostic_msgs through the rosbags namespace, CDR round trips."""

import threading

import pytest

from humanpose.ros.diagnostics import (FAILED, LOADING, PipelineStats, RateMeter, RUNNING,
                                       STATUS_NAME, diagnostic_array, level_number,
                                       level_value, status_level)

TYPENAME = 'diagnostic_msgs/msg/DiagnosticArray'


def _running(camera_hz=30.0, processed_every=3, seconds=4.0, latency_s=0.04):
    """A node that receives ``camera_hz`` images and processes one in ``processed_every``."""
    stats = PipelineStats()
    stats.set_running({'backend': 'onnxruntime-cpu', 'pose model': 'rtmw-m (/m.onnx)'})
    for i in range(int(seconds * camera_hz)):
        t = i / camera_hz
        stats.image_received(t)
        if i % processed_every == 0:
            stats.frame_published(t + latency_s, latency_s, 2, {'detect': 0.01, 'infer': 0.02})
        else:
            stats.frames_dropped()
    return stats, seconds


def _values(msg):
    return {kv.key: kv.value for kv in msg.status[0].values}


def test_rates_latency_drops_and_info(store, ns):
    stats, now = _running()
    msg = store.deserialize_cdr(
        store.serialize_cdr(diagnostic_array(stats.snapshot(now), ns, 42_000_000_001,
                                             hardware_id='cpu'), TYPENAME), TYPENAME)
    status = msg.status[0]
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (42, 1)
    assert status.name == STATUS_NAME and status.hardware_id == 'cpu'
    assert level_number(status.level) == 0
    values = _values(msg)
    assert float(values['input rate (Hz)']) == pytest.approx(30.0, rel=0.02)
    assert float(values['output rate (Hz)']) == pytest.approx(10.0, rel=0.05)
    assert float(values['latency (ms)']) == pytest.approx(40.0)
    assert float(values['mean latency (ms)']) == pytest.approx(40.0)
    assert values['images received'] == '120'
    assert values['frames published'] == '40' and values['frames dropped'] == '80'
    assert values['backend'] == 'onnxruntime-cpu' and values['pose model'] == 'rtmw-m (/m.onnx)'
    assert float(values['infer (ms)']) == pytest.approx(20.0)
    assert values['people'] == '2' and values['last error'] == ''
    assert '10.0 of 30.0 images/s' in status.message and '2 people' in status.message


def test_model_load_failure_is_an_error_with_the_reason(ns):
    stats = PipelineStats()
    stats.set_failed(1.0, 'pose_model is not set')
    msg = diagnostic_array(stats.snapshot(2.0), ns, 0)
    assert level_number(msg.status[0].level) == 2
    assert 'pose_model is not set' in msg.status[0].message
    assert _values(msg)['state'] == FAILED
    assert _values(msg)['last error'] == 'pose_model is not set'


def test_levels_over_a_node_life():
    stats = PipelineStats()
    assert status_level(stats.snapshot(0.0)) == ('WARN', 'loading models')
    assert stats.snapshot(0.0).state == LOADING
    stats.set_running({})
    assert status_level(stats.snapshot(0.5)) == ('WARN', 'waiting for images')
    stats.image_received(1.0)
    stats.frame_published(1.05, 0.05, 0)
    assert status_level(stats.snapshot(1.1))[0] == 'OK'
    assert stats.snapshot(1.1).state == RUNNING
    stats.frame_failed(1.2, "image encoding '16UC1' is not supported")
    level, message = status_level(stats.snapshot(1.3))
    assert level == 'WARN' and '16UC1' in message
    stats.image_received(7.0)
    assert status_level(stats.snapshot(7.1))[0] == 'OK'  # the error is older than the window
    level, message = status_level(stats.snapshot(12.0))
    assert level == 'WARN' and message == 'no image for 5 s'
    assert stats.snapshot(12.0).failed == 1


def test_rate_meter_window():
    meter = RateMeter(window_s=2.0)
    assert meter.rate_hz(0.0) == 0.0
    for i in range(21):
        meter.tick(i * 0.1)
    assert meter.rate_hz(2.0) == pytest.approx(10.0)
    assert meter.rate_hz(10.0) == 0.0  # everything left the window


def test_level_values_follow_the_namespace(ns):
    # rosbags: int; rclpy: bytes of length 1. level_number reads both.
    assert level_value(ns, 'ERROR') == 2
    assert level_number(b'\x02') == 2 and level_number(1) == 1


def test_counters_are_thread_safe():
    stats = PipelineStats()

    def feed():
        for i in range(2000):
            stats.image_received(i * 1e-3)
            stats.frames_dropped()

    threads = [threading.Thread(target=feed) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    snap = stats.snapshot(2.0)
    assert snap.received == 8000 and snap.dropped == 8000
