from humanpose.cli import main


def test_demo_reports_accuracy_and_writes_the_image(tmp_path, capsys):
    assert main(['demo', '--out', str(tmp_path), '--people', '3', '--size', '640x480']) == 0
    out = capsys.readouterr().out
    assert 'people drawn: 3; found: 3..3' in out
    assert (tmp_path / 'demo.png').stat().st_size > 10_000
    line = next(line for line in out.splitlines() if line.strip().startswith('all'))
    mean, p95, worst = (float(v) for v in line.split()[1:])
    assert worst < 1.0


def test_demo_bad_size_is_one_line_exit_2(tmp_path, capsys):
    assert main(['demo', '--out', str(tmp_path), '--size', 'big']) == 2
    assert 'must look like 1280x720' in capsys.readouterr().err


def test_a_closed_pipe_ends_quietly(monkeypatch):
    import os
    # `humanpose models list | head -1`: the reader has gone before the listing is written.
    read_end, write_end = os.pipe()
    os.close(read_end)
    stdout = os.fdopen(write_end, 'w', buffering=1)
    monkeypatch.setattr('sys.stdout', stdout)
    assert main(['models', 'list']) == 1  # no traceback: BrokenPipeError was handled
    stdout.close()
