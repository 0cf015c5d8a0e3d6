from pathlib import Path

import pytest

from cosmoalign.captions import mllm
from cosmoalign.captions.mllm import MllmCaptioner, parse_features
from cosmoalign.captions.random_models import build_tiny_llava, sample_images


@pytest.fixture(scope="module")
def llava_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_llava(tmp_path_factory.mktemp("tiny-llava"))


@pytest.fixture(scope="module")
def plain_llava_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_llava(tmp_path_factory.mktemp("tiny-llava-plain"), chat_template=None)


@pytest.mark.parametrize("fixture", ["llava_dir", "plain_llava_dir"])
def test_captions_one_answer_per_image(fixture: str, request: pytest.FixtureRequest):
    path = request.getfixturevalue(fixture)
    captioner = MllmCaptioner(str(path), batch_size=2, max_new_tokens=5, device="cpu")
    captions = captioner.caption(sample_images(3))
    assert len(captions) == 3
    assert all(isinstance(c, str) for c in captions)


def test_prompt_uses_chat_template_or_plain_fallback(llava_dir: Path, plain_llava_dir: Path):
    templated = MllmCaptioner(str(llava_dir), device="cpu")
    text = templated.chat_text(templated.loaded[1])
    assert text.startswith("user: <image>") and text.endswith("assistant:")
    plain = MllmCaptioner(str(plain_llava_dir), device="cpu")
    assert plain.chat_text(plain.loaded[1]) == f"<image>\n{plain.prompt}\n"


def test_batch_size_does_not_change_captions(llava_dir: Path):
    images = sample_images(3)
    small = MllmCaptioner(str(llava_dir), batch_size=2, max_new_tokens=5, device="cpu")
    large = MllmCaptioner(str(llava_dir), batch_size=8, max_new_tokens=5, device="cpu")
    assert small.caption(images) == large.caption(images)


def test_info_hashes_the_prompt(llava_dir: Path, monkeypatch: pytest.MonkeyPatch):
    info = MllmCaptioner(str(llava_dir), device="cpu").info
    assert info.name == "mllm"
    assert info.version.startswith(f"{llava_dir.name}@")
    monkeypatch.setitem(mllm.PROMPTS, "v2", "List the visual features of this galaxy.")
    assert MllmCaptioner(str(llava_dir), "v2", device="cpu").info.prompt_hash != info.prompt_hash


def test_unknown_prompt_version_is_rejected():
    with pytest.raises(ValueError, match="prompt_version"):
        MllmCaptioner("unused", prompt_version="v0", device="cpu")


@pytest.mark.parametrize(
    ("answer", "features"),
    [
        (
            "A face-on spiral with two arms. Features: spiral arms, central bar, Spiral arms.",
            ["spiral arms", "central bar"],
        ),
        (
            "An elliptical galaxy.\nfeatures:\n- smooth light profile\n- red colour\n* halo",
            ["smooth light profile", "red colour", "halo"],
        ),
        ("Features: 1. tidal tail; 2) companion galaxy", ["tidal tail", "companion galaxy"]),
        ("A bright, compact source with no list.", []),
    ],
)
def test_parse_features(answer: str, features: list[str]):
    assert parse_features(answer) == features
