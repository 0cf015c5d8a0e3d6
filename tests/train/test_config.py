"""Training configs: JSON round trip and clear errors."""

import json

import pytest

from cosmoalign.train.config import TrainConfig


def test_round_trip(tmp_path):
    config = TrainConfig("grain", "/lake", "embedded", str(tmp_path), epochs=3, lock_text=True)
    config.to_json(tmp_path / "c.json")
    assert TrainConfig.from_json(tmp_path / "c.json") == config


def test_unknown_field_names_file_and_field(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(
        json.dumps(
            {
                "recipe": "cosmoclip",
                "lake_root": "",
                "partition": "p",
                "run_dir": "r",
                "learning_rate": 1,
            }
        )
    )
    with pytest.raises(ValueError, match=r"c\.json.*learning_rate"):
        TrainConfig.from_json(path)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("recipe", "simclr", "recipe"),
        ("wise_ft_alpha", 1.5, "wise_ft_alpha"),
        ("mixed_precision", "fp8", "mixed_precision"),
    ],
)
def test_invalid_values_are_named(field, value, message):
    kwargs = {"recipe": "cosmoclip", "lake_root": "", "partition": "p", "run_dir": "r"}
    with pytest.raises(ValueError, match=message):
        TrainConfig(**{**kwargs, field: value})
