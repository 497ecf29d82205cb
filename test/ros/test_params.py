"""The node's parameter table: YAML consistency, validation, run-time rules."""

from pathlib import Path

import pytest
import yaml

from humanpose.errors import InvalidInputError
from humanpose.ros.params import (NodeConfig, PARAMETERS, PARAMETERS_BY_NAME, check_value,
                                  config_field_names, config_from_values, default_values,
                                  markdown_table, read_only_changes)

ROOT = Path(__file__).resolve().parents[2]
YAML = ROOT / 'config' / 'pose_estimator.yaml'


@pytest.fixture(scope='module')
def yaml_values():
    data = yaml.safe_load(YAML.read_text())
    assert list(data) == ['/**'], 'the file must apply to the node under any name/namespace'
    return data['/**']['ros__parameters']


def test_yaml_has_every_parameter_in_table_order(yaml_values):
    assert list(yaml_values) == [spec.name for spec in PARAMETERS]


def test_yaml_defaults_equal_the_table(yaml_values):
    for spec in PARAMETERS:
        value = yaml_values[spec.name]
        # rcl reads 1 as an integer: a double parameter must be written 1.0 in the file.
        assert type(value) is spec.type, f'{spec.name}: {value!r} is not a {spec.type.__name__}'
        assert value == spec.default, spec.name


def test_yaml_values_make_a_valid_config(yaml_values):
    assert config_from_values(yaml_values) == config_from_values({})


def test_config_fields_are_the_parameters():
    assert config_field_names() == tuple(spec.name for spec in PARAMETERS)
    assert len(PARAMETERS_BY_NAME) == len(PARAMETERS)


def test_defaults_need_no_download_and_leave_the_annotated_image_off():
    config = config_from_values({})
    assert config.pose_model == '' and config.detector_model == ''
    assert config.publish_annotated_image is False and config.publish_markers is True
    assert config.synchronised_inputs == ()


def test_every_spec_is_self_consistent():
    for spec in PARAMETERS:
        assert spec.description.endswith('.'), spec.name
        assert check_value(spec, spec.default) == spec.default
        if spec.min_value is not None:
            assert spec.type in (int, float) and spec.max_value is not None
            assert spec.min_value <= spec.default <= spec.max_value


def test_models_backend_and_inputs_are_read_only_thresholds_are_not():
    for name in ('pose_model', 'pose_card', 'detector_model', 'detector_card', 'backend',
                 'device', 'precision', 'engine_cache_dir', 'compressed', 'use_depth'):
        assert PARAMETERS_BY_NAME[name].read_only, name
    for name in ('detection_threshold', 'nms_iou_threshold', 'max_people', 'detect_every',
                 'keypoint_threshold', 'marker_lifetime_s', 'publish_annotated_image'):
        assert not PARAMETERS_BY_NAME[name].read_only, name
    assert read_only_changes({'backend': 'x', 'max_people': 3, 'use_sim_time': True}) == (
        'backend',)


@pytest.mark.parametrize('name, value, match', [
    ('detection_threshold', 1.5, r'\[0, 1\]'),
    ('detection_threshold', -0.1, r'\[0, 1\]'),
    ('detection_threshold', True, 'must be of type double'),
    ('detection_threshold', 'high', 'must be of type double'),
    ('max_people', 0, r'\[1, 100\]'),
    ('max_people', 2.0, 'must be of type integer'),
    ('detect_every', False, 'must be of type integer'),
    ('precision', 'int8', 'fp32, fp16'),
    ('publish_markers', 1, 'must be of type bool'),
    ('pose_model', None, 'must be of type string'),
])
def test_invalid_values_are_rejected_with_the_reason(name, value, match):
    with pytest.raises(InvalidInputError, match=match):
        config_from_values({name: value})


def test_all_problems_are_reported_at_once_and_unknown_names_too():
    with pytest.raises(InvalidInputError) as info:
        config_from_values({'max_people': -1, 'keypoint_treshold': 0.2})
    assert 'max_people' in str(info.value) and "'keypoint_treshold'" in str(info.value)


def test_ints_are_accepted_for_doubles_and_updates_keep_the_rest():
    base = config_from_values({'pose_model': '/m.onnx', 'detection_threshold': 1})
    assert base.detection_threshold == 1.0 and isinstance(base.detection_threshold, float)
    updated = config_from_values({'keypoint_threshold': 0.6, 'max_people': 3}, base=base)
    assert (updated.keypoint_threshold, updated.max_people) == (0.6, 3)
    assert updated.pose_model == '/m.onnx' and updated.detection_threshold == 1.0
    assert base.keypoint_threshold == 0.3  # frozen: the old config is unchanged
    with pytest.raises(Exception):
        base.max_people = 4  # type: ignore[misc]


def test_synchronised_inputs():
    assert config_from_values({'use_camera_info': True}).synchronised_inputs == ('camera_info',)
    assert config_from_values({'use_depth': True}).synchronised_inputs == (
        'depth', 'camera_info')


def test_markdown_table_lists_every_parameter():
    table = markdown_table()
    assert table.count('\n') == len(PARAMETERS) + 1
    for spec in PARAMETERS:
        assert f'| `{spec.name}` |' in table
    assert '| `detection_threshold` | double | `0.5` | [0, 1] | yes |' in table
    assert "| `backend` | string | `'auto'` |  | no |" in table


def test_default_values_and_config_agree():
    config = NodeConfig(**default_values())
    assert config == config_from_values({})


def test_readme_lists_every_parameter():
    readme = (Path(__file__).resolve().parents[2] / 'README.md').read_text()
    missing = [spec.name for spec in PARAMETERS if f'| `{spec.name}` |' not in readme]
    assert not missing, f'README parameter table lacks {missing}'
