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


def test_the_default_locks_the_whole_image_side_and_trains_the_text_projection():
    from cosmoalign.models import ModelSpec, build_model
    from cosmoalign.train.loop import _lock_towers

    for arch in ("tiny", "offline-default"):
        clip = build_model(ModelSpec(arch, None, 32), seed=0).model
        _lock_towers(clip, TrainConfig("cosmoclip", "lake", "p", "run"))
        trainable = {name for name, p in clip.named_parameters() if p.requires_grad}
        assert not any(name.startswith("visual.") for name in trainable), arch
        assert trainable & {"text_projection", "text.proj.weight"}, arch
        assert "logit_scale" in trainable

    clip = build_model(ModelSpec("tiny", None, 32), seed=0).model
    config = TrainConfig("cosmoclip", "lake", "p", "run", lock_image_projection=False)
    _lock_towers(clip, config)
    trainable = {name for name, p in clip.named_parameters() if p.requires_grad}
    assert {name for name in trainable if name.startswith("visual.")} == {"visual.proj"}
