"""export_open_clip: folders that plain open_clip loads by both routes, with equal embeddings."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import open_clip
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from cosmoalign.models import ClipBundle, ModelSpec, build_model, export_open_clip, relocate_export
from cosmoalign.models.export import CHECKPOINT_FILE, TEXT_TOWER_DIR, shareable_state_dict

TEXTS = ["a barred spiral galaxy", "a smooth round elliptical", "two merging galaxies"]


def embeddings(model: torch.nn.Module, tokenizer, image_size: int) -> tuple[torch.Tensor, ...]:
    """Image and text embeddings of fixed inputs, in eval mode."""
    model.eval()
    images = torch.randn(2, 3, image_size, image_size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        return model.encode_image(images), model.encode_text(tokenizer(TEXTS))


def assert_same_embeddings(actual: tuple[torch.Tensor, ...], expected: tuple[torch.Tensor, ...]):
    for got, want in zip(actual, expected, strict=True):
        assert torch.allclose(got, want, atol=1e-6)


def assert_loads_by_both_open_clip_routes(bundle: ClipBundle, out_dir: Path, model_name: str):
    expected = embeddings(bundle.model, bundle.tokenizer, bundle.image_size)

    model, _, preprocess_val = open_clip.create_model_and_transforms(f"local-dir:{out_dir}")
    tokenizer = open_clip.get_tokenizer(f"local-dir:{out_dir}")
    assert torch.equal(tokenizer(TEXTS), bundle.tokenizer(TEXTS))
    image = Image.fromarray(np.arange(90 * 70 * 3, dtype=np.uint8).reshape(90, 70, 3))
    assert torch.equal(preprocess_val(image), bundle.preprocess_val(image))
    assert_same_embeddings(embeddings(model, tokenizer, bundle.image_size), expected)

    open_clip.add_model_config(out_dir / f"{model_name}.json")
    model, _, _ = open_clip.create_model_and_transforms(
        model_name, pretrained=str(out_dir / CHECKPOINT_FILE)
    )
    tokenizer = open_clip.get_tokenizer(model_name)
    assert_same_embeddings(embeddings(model, tokenizer, bundle.image_size), expected)

    reloaded = build_model(ModelSpec(f"local-dir:{out_dir}"))
    assert reloaded.image_size == bundle.image_size
    assert reloaded.image_mean == pytest.approx(bundle.image_mean)
    assert_same_embeddings(
        embeddings(reloaded.model, reloaded.tokenizer, bundle.image_size), expected
    )


def test_tiny_export_loads_in_plain_open_clip(tmp_path, tiny_bundle: ClipBundle):
    out_dir = export_open_clip(tiny_bundle, tmp_path / "tiny", model_name="cosmoalign-test-tiny")
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "cosmoalign-test-tiny.json",
        "open_clip_config.json",
        "open_clip_model.safetensors",
    ]
    assert_loads_by_both_open_clip_routes(tiny_bundle, out_dir, "cosmoalign-test-tiny")


def test_export_of_a_bare_model_needs_its_config(tmp_path, tiny_bundle: ClipBundle):
    with pytest.raises(ValueError, match="model_cfg"):
        export_open_clip(tiny_bundle.model, tmp_path / "bare")
    out_dir = export_open_clip(tiny_bundle.model, tmp_path / "bare", tiny_bundle.model_cfg)
    assert (out_dir / "bare.json").is_file()


def test_open_clip_arch_route_loads_a_local_checkpoint_file(tmp_path, tiny_bundle: ClipBundle):
    """An architecture registered with open_clip plus ``pretrained=<file>``: the online path."""
    out_dir = export_open_clip(tiny_bundle, tmp_path / "arch", model_name="cosmoalign-test-arch")
    open_clip.add_model_config(out_dir / "cosmoalign-test-arch.json")
    bundle = build_model(
        ModelSpec("cosmoalign-test-arch", pretrained=str(out_dir / CHECKPOINT_FILE))
    )
    assert bundle.name == f"cosmoalign-test-arch:{out_dir / CHECKPOINT_FILE}"
    assert not bundle.model.training
    assert_same_embeddings(
        embeddings(bundle.model, bundle.tokenizer, 64),
        embeddings(tiny_bundle.model, tiny_bundle.tokenizer, 64),
    )


def test_export_replaces_a_previous_export_and_leaves_no_temporaries(tmp_path):
    first = build_model(ModelSpec("tiny"), seed=1)
    second = build_model(ModelSpec("tiny"), seed=2)
    export_open_clip(first, tmp_path / "model")
    out_dir = export_open_clip(second, tmp_path / "model")
    assert [p.name for p in tmp_path.iterdir()] == ["model"]
    saved = load_file(out_dir / CHECKPOINT_FILE)
    assert torch.equal(saved["visual.proj"], second.model.visual.proj)


def test_failed_export_keeps_the_previous_one(tmp_path, monkeypatch, tiny_bundle: ClipBundle):
    out_dir = export_open_clip(tiny_bundle, tmp_path / "model")
    before = (out_dir / CHECKPOINT_FILE).read_bytes()

    def disk_full(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("cosmoalign.models.export.save_file", disk_full)
    with pytest.raises(OSError, match="disk full"):
        export_open_clip(build_model(ModelSpec("tiny"), seed=9), out_dir)
    assert (out_dir / CHECKPOINT_FILE).read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def test_model_name_may_not_clash_with_the_export_files(tmp_path, tiny_bundle: ClipBundle):
    with pytest.raises(ValueError, match="clash"):
        export_open_clip(tiny_bundle, tmp_path / "model", model_name="open_clip_config")


def test_tied_tensors_are_saved_as_copies():
    module = torch.nn.Module()
    module.a = torch.nn.Linear(4, 4, bias=False)
    module.b = torch.nn.Linear(4, 4, bias=False)
    module.b.weight = module.a.weight
    module.register_buffer("view", module.a.weight.detach()[:2])
    state = shareable_state_dict(module)
    storages = {tensor.untyped_storage().data_ptr() for tensor in state.values()}
    assert len(storages) == len(state)
    assert torch.equal(state["b.weight"], module.a.weight)


def test_offline_default_export_loads_in_plain_open_clip(
    tmp_path, monkeypatch, offline_bundle: ClipBundle
):
    out_dir = export_open_clip(
        offline_bundle, tmp_path / "offline", model_name="cosmoalign-test-offline"
    )
    text_cfg = json.loads((out_dir / "open_clip_config.json").read_text())["model_cfg"]["text_cfg"]
    tower = str(out_dir / TEXT_TOWER_DIR)
    assert text_cfg["hf_model_name"] == text_cfg["hf_tokenizer_name"] == tower
    assert (out_dir / TEXT_TOWER_DIR / "config.json").is_file()
    monkeypatch.chdir(tmp_path)  # plain open_clip, from anywhere but the folder
    assert_loads_by_both_open_clip_routes(offline_bundle, out_dir, "cosmoalign-test-offline")


def test_a_copied_export_relocated_loads_in_plain_open_clip(
    tmp_path, monkeypatch, offline_bundle: ClipBundle
):
    out_dir = export_open_clip(offline_bundle, tmp_path / "offline", model_name="copied")
    copied = Path(shutil.copytree(out_dir, tmp_path / "elsewhere" / "copied"))
    shutil.rmtree(out_dir)
    with pytest.raises((OSError, ValueError)):  # names the tower of the folder that is gone
        open_clip.create_model_and_transforms(f"local-dir:{copied}")
    assert relocate_export(copied) == copied.resolve()
    text_cfg = json.loads((copied / "copied.json").read_text())["text_cfg"]
    assert text_cfg["hf_model_name"] == str(copied.resolve() / TEXT_TOWER_DIR)
    monkeypatch.chdir(tmp_path)
    assert_loads_by_both_open_clip_routes(offline_bundle, copied, "copied")


def test_moved_offline_export_uses_its_own_text_tower(tmp_path, offline_bundle: ClipBundle):
    out_dir = export_open_clip(offline_bundle, tmp_path / "offline")
    moved = shutil.move(out_dir, tmp_path / "moved")
    reloaded = build_model(ModelSpec(f"local-dir:{moved}"))
    assert reloaded.model_cfg["text_cfg"]["hf_model_name"] == str(Path(moved) / TEXT_TOWER_DIR)
    assert_same_embeddings(
        embeddings(reloaded.model, reloaded.tokenizer, 128),
        embeddings(offline_bundle.model, offline_bundle.tokenizer, 128),
    )
