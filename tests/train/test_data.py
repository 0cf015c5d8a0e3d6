"""Box-aware augmentation and batching of training pairs."""

import torch

from cosmoalign.train.data import Collate, dihedral, text_group, trim_padding


def _patch_image(box_pixels, size=8):
    x0, y0, x1, y1 = box_pixels
    image = torch.zeros(1, size, size)
    image[0, y0:y1, x0:x1] = 1.0
    return image


def _box_of_ones(image):
    ys, xs = torch.nonzero(image[0], as_tuple=True)
    size = image.shape[-1]
    return [xs.min() / size, ys.min() / size, (xs.max() + 1) / size, (ys.max() + 1) / size]


def test_boxes_follow_every_rotation_and_flip():
    pixels = (1, 2, 3, 6)  # an off-centre, non-square patch
    box = [p / 8 for p in pixels]
    for turns in range(4):
        for flip in (False, True):
            image, [moved] = dihedral(_patch_image(pixels), [box], turns, flip)
            expected = [float(v) for v in _box_of_ones(image)]
            assert moved == expected, (turns, flip)


def test_text_groups_are_stable_and_distinct():
    assert text_group("a bright bulge") == text_group("a bright bulge")
    assert text_group("a bright bulge") != text_group("a faint disc")


def test_collate_flattens_regions_with_their_owner():
    def tokenizer(texts):
        return torch.tensor([[len(t), 1] for t in texts], dtype=torch.long)

    items = [
        {
            "image": torch.zeros(3, 4, 4),
            "caption": "a",
            "label": 0,
            "boxes": [],
            "region_texts": [],
        },
        {
            "image": torch.ones(3, 4, 4),
            "caption": "bb",
            "label": 2,
            "boxes": [[0.0, 0.0, 0.5, 0.5], [0.5, 0.5, 1.0, 1.0]],
            "region_texts": ["core", "arm"],
        },
    ]
    batch = Collate(tokenizer, with_regions=True)(items)
    assert batch["images"].shape == (2, 3, 4, 4)
    assert batch["labels"].tolist() == [0, 2]
    assert batch["region_owner"].tolist() == [1, 1]
    assert batch["region_boxes"].shape == (2, 4)
    assert batch["region_texts"].tolist() == [[4, 1], [3, 1]]
    assert batch["region_groups"].tolist() == [text_group("core"), text_group("arm")]


def test_galaxalign_trains_only_on_rows_whose_class_has_a_symbol(tmp_path):
    from cosmoalign.train.data import PairsDataset
    from tests.fixtures.pairs_lake import build_pairs_lake

    lake, result = build_pairs_lake(str(tmp_path), per_class=4, hst=12)
    assert result.without_symbol > 0  # the unlabelled HST cutouts

    def labels(with_symbol: bool) -> set[int]:
        dataset = PairsDataset.from_lake(
            lake,
            "p",
            with_symbol=with_symbol,
            preprocess=None,
            augment=False,
            seed=0,
            max_regions=4,
        )
        return {row["label"] for row in dataset.rows}

    assert -1 in labels(with_symbol=False)
    assert -1 not in labels(with_symbol=True)


def test_trim_padding_keeps_every_real_token():
    tokens = torch.tensor([[5, 6, 0, 0, 0], [7, 0, 0, 0, 0]])
    assert trim_padding(tokens).tolist() == [[5, 6], [7, 0]]
    assert trim_padding(torch.zeros(2, 4, dtype=torch.long)).shape == (2, 1)


def test_trimmed_captions_embed_exactly_as_padded_ones_in_the_hf_text_tower():
    from cosmoalign.models import ModelSpec, build_model

    bundle = build_model(ModelSpec("offline-default"))
    tokens = bundle.tokenizer(["a smooth round galaxy", "a barred spiral with loose arms"])
    with torch.inference_mode():
        padded = bundle.model.encode_text(tokens)
        trimmed = bundle.model.encode_text(trim_padding(tokens))
    assert trimmed.shape == padded.shape
    assert torch.allclose(trimmed, padded, atol=1e-5)
