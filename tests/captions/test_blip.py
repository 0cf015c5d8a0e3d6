from pathlib import Path

import pytest

from cosmoalign.captions.blip import BlipCaptioner, strip_prompt
from cosmoalign.captions.random_models import build_random_blip, sample_images


@pytest.fixture(scope="module")
def blip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_random_blip(tmp_path_factory.mktemp("tiny-blip"))


def test_captions_one_description_per_image(blip_dir: Path):
    captioner = BlipCaptioner(str(blip_dir), batch_size=2, max_new_tokens=6, device="cpu")
    captions = captioner.caption(sample_images(3), labels=["spiral", None, "ring"])
    assert len(captions) == 3
    assert all(
        isinstance(c, str) and not c.startswith("an astronomical image of") for c in captions
    )


def test_batch_size_does_not_change_captions(blip_dir: Path):
    images = sample_images(3)
    small = BlipCaptioner(str(blip_dir), batch_size=2, max_new_tokens=6, device="cpu")
    large = BlipCaptioner(str(blip_dir), batch_size=8, max_new_tokens=6, device="cpu")
    assert small.caption(images) == large.caption(images)


def test_info_names_model_and_hashes_prompt_without_loading_weights(blip_dir: Path):
    captioner = BlipCaptioner(str(blip_dir), device="cpu")
    info = captioner.info
    assert info.name == "blip"
    assert (
        info.version.startswith(f"{blip_dir.name}@") and len(info.version) > len(blip_dir.name) + 1
    )
    assert "loaded" not in vars(captioner)
    assert BlipCaptioner(str(blip_dir), device="cpu").info == info
    assert BlipCaptioner(str(blip_dir), prompt="a galaxy", device="cpu").info.prompt_hash != (
        info.prompt_hash
    )
    assert BlipCaptioner(str(blip_dir), max_new_tokens=5, device="cpu").info.prompt_hash != (
        info.prompt_hash
    )


def test_strip_prompt():
    assert strip_prompt("An  astronomical image of\n a  spiral ", "an astronomical image of") == (
        "a spiral"
    )
    assert strip_prompt("a spiral galaxy", "an astronomical image of") == "a spiral galaxy"


def test_rejects_empty_batches():
    with pytest.raises(ValueError, match="batch_size"):
        BlipCaptioner("unused", batch_size=0, device="cpu")
