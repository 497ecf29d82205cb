"""`humanpose bench` keeps working (tiny configuration; the numbers are not asserted)."""

import json

from humanpose.bench import STAGES
from humanpose.cli import main
from humanpose.cues import kernel
from humanpose.decode import simcc_implementation


def test_bench_runs_every_stage_and_writes_json_and_plot(tmp_path, capsys):
    out = tmp_path / 'bench.json'
    plot = tmp_path / 'bench.png'
    code = main(['bench', '--people', '1,3', '--sizes', '320x240', '--frames', '2',
                 '--warmup', '1', '--blocks', '1,1,1,1', '--json', str(out),
                 '--plot', str(plot), '--cue-people', '1,2'])
    assert code == 0
    table = capsys.readouterr().out
    assert all(stage in table for stage in STAGES)
    data = json.loads(out.read_text())
    cases = data['results']
    assert [c['people'] for c in cases] == [1, 3]
    assert all(c['people_found'] == c['people'] for c in cases)
    assert set(cases[0]['median_ms']) == set(STAGES)
    assert 0.0 <= cases[1]['overhead'] < 1.0 and cases[1]['per_person_ms'] > 0
    assert plot.stat().st_size > 1000
    assert data['simcc_decoder'] == simcc_implementation()
    assert data['simcc_decoder'] in table
    # The 3D pose network figure: z decode + placement per person on top of the 2D decode.
    assert '3D pose network (RTMW3D outputs)' in table
    assert [r['people'] for r in data['pose3d']] == [1, 3]
    assert all(r['decode_3d_ms'] > 0 and r['monocular_ms'] > 0 and r['fused_ms'] > 0
               and 'extra_per_person_ms' in r for r in data['pose3d'])
    assert 'ROS4HRI output' in table
    hri = cases[1]['extra_ms']
    assert hri['hri'] > 0 and hri['hri_cropped'] > 0
    # The cues, everyone waving and pointing, in every implementation the install has.
    assert 'everyone waving and pointing' in table
    implementations = [kernel.implementation()] + (['NumPy'] if kernel.KERNEL else [])
    assert [(r['people'], r['implementation']) for r in data['cues']] == \
        [(n, name) for n in (1, 2) for name in implementations]
    assert all(r['frame_ms'] > 0 and r['frame_cpu_ms'] > 0
               and r['per_person_ms'] == r['frame_ms'] / r['people'] for r in data['cues'])


def test_bench_rejects_bad_sizes(capsys):
    assert main(['bench', '--sizes', 'huge']) == 2
    assert '--sizes' in capsys.readouterr().err


def test_bench_rejects_bad_cue_people(capsys):
    assert main(['bench', '--cue-people', '2,x']) == 2
    assert '--cue-people' in capsys.readouterr().err
