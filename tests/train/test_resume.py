"""Resume safety with the loop's own save and resume on a real Accelerate run: a checkpoint is
loaded only if its files are the ones written at save time and its settings are the run's."""

from __future__ import annotations

import json
import pickle
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from accelerate import Accelerator
from transformers import get_cosine_schedule_with_warmup

from cosmoalign.pipes_reporter import LogReporter
from cosmoalign.train.checkpoints import (
    TRAINER_STATE,
    CheckpointError,
    Progress,
    newest_complete,
)
from cosmoalign.train.config import TrainConfig
from cosmoalign.train.loop import _resume, _save


def _run(config: TrainConfig, steps: int = 0, seed: int = 0):
    """A tiny model trained ``steps`` steps under ``config``'s lr and schedule."""
    torch.manual_seed(seed)
    accelerator = Accelerator(cpu=True)
    model = torch.nn.Linear(4, 2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr)
    model, optimizer = accelerator.prepare(model, optimizer)
    scheduler = get_cosine_schedule_with_warmup(optimizer, config.warmup_steps, 10)
    progress = Progress()
    for _ in range(steps):
        loss = model(torch.randn(8, 4)).pow(2).mean()
        accelerator.backward(loss)
        optimizer.step()
        optimizer.zero_grad()
        scheduler.step()
        progress.step += 1
        progress.samples += 8
    return accelerator, model, optimizer, scheduler, progress


def _saved(tmp_path: Path) -> tuple[TrainConfig, Path, dict]:
    config = TrainConfig("cosmoclip", str(tmp_path / "lake"), "p", str(tmp_path / "run"))
    config = replace(config, lr=1e-3, warmup_steps=2)
    accelerator, model, _, scheduler, progress = _run(config, steps=3)
    _save(accelerator, config, progress, scheduler)
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    return config, newest_complete(config.checkpoint_dir), weights


def test_an_unchanged_config_resumes_weights_optimizer_schedule_and_progress(tmp_path):
    config, checkpoint, weights = _saved(tmp_path)
    assert checkpoint is not None and not list(checkpoint.glob("*.pkl"))[1:]  # rng state only
    state = json.loads((checkpoint / TRAINER_STATE).read_text())
    assert state["progress"]["step"] == 3 and state["schedule"]["last_epoch"] == 3

    accelerator, model, optimizer, scheduler, progress = _run(config, seed=1)
    resumed = _resume(accelerator, config, progress, scheduler, LogReporter())
    assert resumed == progress.step == 3 and progress.samples == 24
    assert scheduler.last_epoch == 3
    assert scheduler.get_last_lr() == state["schedule"]["_last_lr"]
    assert optimizer.state_dict()["state"][0]["step"] == 3
    for name, value in model.state_dict().items():
        torch.testing.assert_close(value, weights[name])


def test_changed_training_settings_are_refused_naming_the_fields(tmp_path):
    config, _, _ = _saved(tmp_path)
    changed = replace(config, lr=2e-3, max_steps=40)
    accelerator, _, _, scheduler, progress = _run(changed)
    with pytest.raises(CheckpointError) as caught:
        _resume(accelerator, changed, progress, scheduler, LogReporter())
    message = str(caught.value)
    assert "settings (lr 0.001 -> 0.002, max_steps None -> 40);" in message
    assert progress.step == 0

    # where things are written and how often are not training settings
    moved = replace(config, checkpoint_every=7, log_every=3, export_to=str(tmp_path / "x"))
    accelerator, _, _, scheduler, progress = _run(moved)
    assert _resume(accelerator, moved, progress, scheduler, LogReporter()) == 3


class _Planted:
    """A pickle that creates a file when unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("tamper", ["plant custom pickle", "edit optimizer", "drop model"])
def test_a_tampered_run_folder_is_refused_before_anything_is_loaded(tmp_path, tamper):
    config, checkpoint, _ = _saved(tmp_path)
    marker = tmp_path / "code-ran"
    if tamper == "plant custom pickle":
        planted = checkpoint / "custom_checkpoint_0.pkl"
        torch.save(_Planted(marker), planted, pickle_module=pickle)
    elif tamper == "edit optimizer":
        optimizer_file = checkpoint / "optimizer.bin"
        optimizer_file.write_bytes(optimizer_file.read_bytes() + b"\0")
    else:
        (checkpoint / "model.safetensors").unlink()

    accelerator, _, _, scheduler, progress = _run(config)
    with pytest.raises(CheckpointError, match="is not the checkpoint that was saved"):
        _resume(accelerator, config, progress, scheduler, LogReporter())
    assert not marker.exists() and progress.step == 0


def test_a_marker_without_digests_is_refused(tmp_path):
    config, checkpoint, _ = _saved(tmp_path)
    (checkpoint / "COMPLETE").write_text("ok\n")  # what earlier versions wrote
    accelerator, _, _, scheduler, progress = _run(config)
    with pytest.raises(CheckpointError, match="holds no file digests"):
        _resume(accelerator, config, progress, scheduler, LogReporter())
