"""Real training runs through ``python -m cosmoalign.train`` and ``accelerate launch``: every
recipe, 2-process DDP on CPU (gloo), and resuming after SIGKILL."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cosmoalign.train.checkpoints import newest_complete
from cosmoalign.train.config import TrainConfig
from tests.fixtures.pairs_lake import build_pairs_lake

# Samples are made in the training process (no loader worker and its fork server to start)
# unless a test is about the worker path.
TINY = {"arch": "tiny", "warmup_steps": 1, "lr": 1e-3, "log_every": 1, "loader_workers": 0}


@pytest.fixture(scope="module")
def lake_root(tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp("lake"))
    build_pairs_lake(root, "p", per_class=6)
    return root


def _config(lake_root: str, run_dir: Path, recipe: str = "cosmoclip", **overrides) -> Path:
    config = TrainConfig(recipe, lake_root, "p", str(run_dir), **{**TINY, **overrides})
    run_dir.mkdir(parents=True, exist_ok=True)
    config.to_json(run_dir / "config.json")
    return run_dir / "config.json"


def _python(config: Path) -> list[str]:
    return [sys.executable, "-m", "cosmoalign.train", "--config", str(config)]


def _accelerate(config: Path, processes: int) -> list[str]:
    flags = ["--num_processes", str(processes), "--num_machines", "1", "--mixed_precision", "no"]
    flags += ["--dynamo_backend", "no", "--multi_gpu"] if processes > 1 else ["--cpu"]
    launch = [sys.executable, "-m", "accelerate.commands.launch", *flags]
    return [*launch, "-m", "cosmoalign.train", "--config", str(config)]


def _run(command: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-4000:]
    return done


def _metrics(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow
@pytest.mark.parametrize("recipe", ["cosmoclip", "galaxalign", "grain"])
def test_every_recipe_trains_and_exports(lake_root, tmp_path, recipe):
    import open_clip

    workers = int(recipe == "grain")  # one recipe (regions: the fullest samples) via a worker
    config = _config(lake_root, tmp_path, recipe, max_steps=4, batch_size=8, loader_workers=workers)
    _run(_python(config))
    metrics = _metrics(tmp_path)
    assert [row["step"] for row in metrics] == [1, 2, 3, 4]
    parts = {
        "cosmoclip": {"image_text"},
        "galaxalign": {"image_text", "symbol_text", "image_symbol"},
        "grain": {"global", "region"},
    }[recipe]
    assert parts <= set(metrics[0])
    export = tmp_path / "export"
    open_clip.create_model_and_transforms(f"local-dir:{export}")
    assert (tmp_path / "tensorboard").exists()
    card = (export / "README.md").read_text()
    assert card.startswith("---\nlibrary_name: open_clip\n") and f"cosmoalign {recipe} on p" in card


@pytest.mark.slow
@pytest.mark.parametrize("recipe", ["cosmoclip", "grain"])
def test_two_process_ddp_matches_one_process_on_the_same_global_batch(lake_root, tmp_path, recipe):
    """Each process holds half the batch; gathered features make the loss global, and the
    gradient scaling makes the following steps identical too."""
    single = _config(lake_root, tmp_path / "one", recipe, max_steps=3, batch_size=8)
    double = _config(lake_root, tmp_path / "two", recipe, max_steps=3, batch_size=4)
    _run(_python(single))
    _run(_accelerate(double, processes=2))
    one, two = _metrics(tmp_path / "one"), _metrics(tmp_path / "two")
    assert [row["step"] for row in two] == [1, 2, 3]
    for a, b in zip(one, two, strict=True):
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-4, abs=1e-5), (a, b)


@pytest.mark.slow
def test_two_process_ddp_augments_each_epoch_anew(lake_root, tmp_path, monkeypatch):
    """Accelerate's ``set_epoch`` does not reach the dataset under DDP; the loop must. (Samples
    are made in the training processes, where the probe's patch is: loader workers start from a
    fork server that never imported it.)"""
    config = _config(lake_root, tmp_path, epochs=2, batch_size=4)
    command = _accelerate(config, processes=2)
    command[command.index("cosmoalign.train")] = "tests.train.epoch_probe"
    monkeypatch.setenv("EPOCH_PROBE_DIR", str(tmp_path))
    _run(command)
    for rank in ("0", "1"):
        fetched = (tmp_path / f"{rank}.txt").read_text().splitlines()
        epochs = [int(line.split()[0]) for line in fetched]
        assert epochs == sorted(epochs) and epochs.count(0) == epochs.count(1) > 0, rank


@pytest.mark.slow
def test_a_killed_run_resumes_from_its_last_checkpoint(lake_root, tmp_path):
    steps = 40
    config = _config(
        lake_root, tmp_path, max_steps=steps, batch_size=8, checkpoint_every=3, log_every=40
    )
    process = subprocess.Popen(
        _python(config),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    deadline = time.monotonic() + 120
    while newest_complete(tmp_path / "checkpoints") is None:
        assert process.poll() is None, "the run ended before its first checkpoint"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    killed_at = int(newest_complete(tmp_path / "checkpoints").name.split("-")[1])
    assert 0 < killed_at < steps
    assert not (tmp_path / "export").exists()

    resumed = _run(_python(config))
    assert f"resumed from checkpoint step-{killed_at:08d}" in resumed.stderr
    [final] = _metrics(tmp_path)
    assert final["step"] == steps
    result = json.loads(resumed.stderr.split("result ", 1)[1].split(" (version")[0])
    assert (result["steps"], result["resumed_from_step"]) == (steps, killed_at)


def _exported_state(export: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(export / "open_clip_model.safetensors"))


def _base_state() -> dict:
    from cosmoalign.models import ModelSpec, build_model

    return build_model(ModelSpec("tiny"), seed=0).model.state_dict()


@pytest.mark.slow
def test_locked_text_tower_and_accumulation(lake_root, tmp_path):
    import torch

    config = _config(
        lake_root,
        tmp_path,
        max_steps=2,
        batch_size=4,
        grad_accum=2,
        lock_text=True,
        lock_image=False,
    )
    _run(_python(config))
    assert [row["step"] for row in _metrics(tmp_path)] == [1, 2]
    trained, base = _exported_state(tmp_path / "export"), _base_state()
    text_trunk = [k for k in base if k.startswith(("transformer.", "token_embedding"))]
    assert text_trunk and all(torch.equal(trained[k], base[k]) for k in text_trunk)
    assert not torch.equal(trained["text_projection"], base["text_projection"])
    assert not torch.equal(trained["visual.conv1.weight"], base["visual.conv1.weight"])


@pytest.mark.slow
def test_wise_ft_interpolates_the_export_with_the_base(lake_root, tmp_path):
    import torch

    full, half = tmp_path / "full", tmp_path / "half"
    _run(_python(_config(lake_root, full, max_steps=2, batch_size=8)))
    _run(_python(_config(lake_root, half, max_steps=2, batch_size=8, wise_ft_alpha=0.5)))
    base, tuned, mixed = (
        _base_state(),
        _exported_state(full / "export"),
        _exported_state(half / "export"),
    )
    for key in ("visual.conv1.weight", "text_projection", "logit_scale"):
        assert torch.allclose(mixed[key], (base[key] + tuned[key]) / 2, atol=1e-6), key


@pytest.mark.slow
def test_grain_trains_from_an_arrow_copy_on_a_box_without_pylance(lake_root, tmp_path):
    from cosmoalign.lake import Lake
    from cosmoalign.schema import PAIRS_TABLE
    from cosmoalign.train.data import write_arrow_file

    pairs = tmp_path / "pairs.arrow"
    write_arrow_file(Lake(lake_root).read(PAIRS_TABLE, "p"), pairs)
    run_dir = tmp_path / "run"
    # The lake root does not exist: only the Arrow file is read.
    config = _config(str(tmp_path / "no-lake"), run_dir, "grain", max_steps=2, batch_size=8)
    data = json.loads(config.read_text()) | {"pairs_file": str(pairs)}
    config.write_text(json.dumps(data))
    without = "import sys, runpy; sys.modules['lance'] = None; sys.modules['dagster'] = None; "
    main = "sys.argv = ['train', '--config', sys.argv[1]]; "
    main += "runpy.run_module('cosmoalign.train', run_name='__main__')"
    _run([sys.executable, "-c", without + main, str(config)])
    assert [row["step"] for row in _metrics(run_dir)] == [1, 2]
    assert {"global", "region"} <= set(_metrics(run_dir)[0])
    assert (run_dir / "export" / "open_clip_config.json").exists()


def test_galaxalign_cannot_train_from_an_arrow_copy(tmp_path):
    with pytest.raises(ValueError, match="galaxalign reads its class symbols from the lake"):
        TrainConfig("galaxalign", "lake", "p", str(tmp_path), pairs_file="pairs.arrow")
