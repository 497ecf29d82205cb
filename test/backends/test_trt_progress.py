"""Build progress lines (heartbeat, top-level phases, cancel)."""

from humanpose.backends.trt_progress import BuildProgress


# --------------------------------------------------------------------------- progress

class _Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_progress_reports_start_phases_heartbeat_and_end():
    lines, clock = [], _Clock()
    progress = BuildProgress('rtmw.onnx', lines.append, interval_s=3600, clock=clock)
    with progress:
        clock.now += 42
        progress.phase_started('Building engine', None, 3)
        progress.phase_started('Tactic selection', 'Building engine', 10)
        assert progress.step_completed('Building engine', 0)
        assert progress.heartbeat_line() == ('building TensorRT engine for rtmw.onnx: 42 s '
                                             'elapsed (Building engine: 1/3)')
        progress.phase_finished('Building engine')
        clock.now += 100
    assert lines[0].startswith('building TensorRT engine for rtmw.onnx (minutes on a Jetson')
    assert lines[1] == 'building rtmw.onnx: Building engine (3 steps)'
    assert lines[-1] == 'building TensorRT engine for rtmw.onnx: done after 142 s'
    assert len(lines) == 3  # nested phases are not reported
    progress.cancelled = True
    assert not progress.step_completed('Building engine', 1)
