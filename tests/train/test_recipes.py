"""The recipe modules: every configurable recipe has one, and each says what data it needs."""

import pytest
import torch

from cosmoalign.models import ModelSpec, build_model
from cosmoalign.train.config import RECIPES
from cosmoalign.train.recipes import OBJECTIVES, build_objective
from cosmoalign.train.recipes.galaxalign import SYMBOL_ENCODER_FILE


def test_every_configurable_recipe_has_an_objective_and_no_other():
    assert set(OBJECTIVES) == set(RECIPES)


def test_needs_decide_what_an_objective_is_built_with():
    clip = build_model(ModelSpec("tiny")).model
    with pytest.raises(ValueError, match="galaxalign needs the class symbols"):
        build_objective("galaxalign", clip)
    with pytest.raises(ValueError, match="unknown recipe 'simclr'"):
        build_objective("simclr", clip)
    size = clip.visual.image_size
    symbols = (torch.zeros(2, 3, *size), torch.tensor([0, 1]))
    galaxalign = build_objective("galaxalign", clip, symbols=symbols)
    assert galaxalign.needs_symbols and not galaxalign.needs_regions
    assert build_objective("grain", clip, region_weight=0.3).loss.region_weight == 0.3


def test_galaxalign_stage_two_starts_at_its_fraction_and_its_encoder_is_exported(tmp_path):
    clip = build_model(ModelSpec("tiny")).model
    size = clip.visual.image_size
    symbols = (torch.zeros(2, 3, *size), torch.tensor([0, 1]))
    objective = build_objective("galaxalign", clip, symbols=symbols, stage_two_fraction=0.25)
    objective.before_step(2, 4)
    assert int(objective.stage) == 1
    objective.before_step(3, 4)
    assert int(objective.stage) == 2
    objective.export_extras(tmp_path)
    assert (tmp_path / SYMBOL_ENCODER_FILE).stat().st_size > 0
    build_objective("cosmoclip", clip).export_extras(tmp_path / "none")
    assert not (tmp_path / "none").exists()
