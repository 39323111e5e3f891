"""Configs round-trip through JSON exactly; bad JSON is reported with the key path."""

import json

import pytest

from moviegen.configs.presets import MovieGenVideoConfig, video_30b, video_debug, video_tiny
from moviegen.configs.serialize import config_from_dict, config_to_dict
from moviegen.text.config import TextStackConfig, text_paper


@pytest.mark.parametrize("build", [video_debug, video_tiny, video_30b])
def test_video_configs_round_trip_through_json(build):
    cfg = build()
    assert config_from_dict(MovieGenVideoConfig, json.loads(json.dumps(config_to_dict(cfg)))) == cfg


def test_enums_are_written_by_value_and_tuples_as_lists():
    data = config_to_dict(text_paper())
    assert isinstance(data["padding"], str) and isinstance(data["encoders"], list)
    assert config_from_dict(TextStackConfig, data) == text_paper()


def test_unknown_and_mistyped_keys_name_the_path():
    data = config_to_dict(video_debug())
    data["dit"]["dimension"] = 64
    with pytest.raises(ValueError, match=r"MovieGenVideoConfig\.dit: unknown keys \['dimension'\]"):
        config_from_dict(MovieGenVideoConfig, data)
    data = config_to_dict(video_debug())
    data["dit"]["num_layers"] = "two"
    with pytest.raises(ValueError, match=r"dit\.num_layers: expected int"):
        config_from_dict(MovieGenVideoConfig, data)
