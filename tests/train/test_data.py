"""Box-aware augmentation and batching of training pairs."""

import io

import numpy as np
import pyarrow as pa
import pytest
import torch
from PIL import Image

from cosmoalign.train.data import (
    Collate,
    PairsDataset,
    dihedral,
    start_epoch,
    text_group,
    trim_padding,
)


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
        return {row["label"] for row in dataset.rows.take(range(len(dataset)))}

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


def _to_tensor(image: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.array(image)).permute(2, 0, 1)


def _augmented_pairs(count: int, seed: int, lake_root: str | None = None) -> PairsDataset:
    """``count`` rows of one 4x4 image without dihedral symmetry; the caption is the index.
    With ``lake_root`` the rows are stored as ``training_pairs`` (with as many held-out rows
    between them) and streamed from the lake."""
    image = Image.fromarray(np.arange(48, dtype=np.uint8).reshape(4, 4, 3) * 5)
    png = io.BytesIO()
    image.save(png, format="PNG")
    row = {"image_png": png.getvalue(), "frame": [0.0, 0.0, 1.0, 1.0], "label": 0}
    row |= {"region_boxes": [], "region_texts": []}
    rows = [{**row, "caption": str(i)} for i in range(count)]
    kwargs = {"augment": True, "seed": seed, "max_regions": 0}
    if lake_root is None:
        return PairsDataset(rows, _to_tensor, **kwargs)
    from cosmoalign.lake import Lake
    from cosmoalign.schema import PAIRS_TABLE

    stored = [
        {**r, "caption": c, "split": s}
        for r in rows
        for c, s in ((r["caption"], "train"), ("held out", "test"))
    ]
    lake = Lake(lake_root)
    lake.write_table(
        PAIRS_TABLE, "p", pa.Table.from_pylist([{**r, "symbol_key": None} for r in stored])
    )
    return PairsDataset.from_lake(lake, "p", with_symbol=False, preprocess=_to_tensor, **kwargs)


def _prepared(dataset: PairsDataset, processes: int, rank: int) -> torch.utils.data.DataLoader:
    """The loader as ``Accelerator.prepare`` makes it in ``loop.train`` on process ``rank``."""
    from accelerate.data_loader import prepare_data_loader

    def collate(items: list[dict]) -> dict[str, torch.Tensor]:
        return {
            "index": torch.tensor([int(item["caption"]) for item in items]),
            "images": torch.stack([item["image"] for item in items]),
        }

    loader = torch.utils.data.DataLoader(
        dataset, batch_size=2, shuffle=True, drop_last=True, collate_fn=collate
    )
    return prepare_data_loader(
        loader, num_processes=processes, process_index=rank, use_seedable_sampler=True
    )


def _epoch(loader, epoch: int, skip: int = 0) -> list[tuple[int, torch.Tensor]]:
    """(index, image) of every sample, started as ``loop.train`` starts an epoch."""
    from accelerate.data_loader import skip_first_batches

    start_epoch(loader, epoch)
    batches = skip_first_batches(loader, skip)
    samples = [zip(b["index"].tolist(), b["images"], strict=True) for b in batches]
    return [sample for batch in samples for sample in batch]


@pytest.mark.parametrize(
    ("processes", "rank", "stored"), [(1, 0, False), (2, 1, False), (2, 1, True)]
)
def test_every_epoch_reaugments_through_the_prepared_loader(processes, rank, stored, tmp_path):
    """Under DDP Accelerate's ``set_epoch`` stops at the sharded sampler; the dataset must still
    augment each epoch anew, as (seed, epoch, row) says, also when resuming mid-epoch, and the
    same whether rows are in memory or streamed from the lake (where a train row's id is its row
    number in the table, held-out rows between them)."""
    reference = _augmented_pairs(16, seed=3)

    def make() -> PairsDataset:
        return _augmented_pairs(16, seed=3, lake_root=str(tmp_path) if stored else None)

    row_ids = make().rows.row_ids(range(16))
    assert list(row_ids) == (list(range(0, 32, 2)) if stored else list(range(16)))

    def expected(epoch: int, index: int) -> torch.Tensor:
        reference.set_epoch(epoch)
        return reference.sample(reference.rows[index], int(row_ids[index]))["image"]

    loader = _prepared(make(), processes, rank)
    epochs = [_epoch(loader, epoch) for epoch in range(3)]
    for epoch, samples in enumerate(epochs):
        assert len(samples) == 16 // processes
        for index, image in samples:
            assert torch.equal(image, expected(epoch, index)), (epoch, index)
    first, second = dict(epochs[0]), dict(epochs[1])
    assert any(not torch.equal(first[i], second[i]) for i in first.keys() & second.keys())

    resumed = _epoch(_prepared(make(), processes, rank), 1, skip=2)
    assert [i for i, _ in resumed] == [i for i, _ in epochs[1][4:]]
    assert all(torch.equal(a, b) for (_, a), (_, b) in zip(resumed, epochs[1][4:], strict=True))


def test_streamed_rows_reach_a_loader_worker_one_batch_per_read(tmp_path):
    from cosmoalign.train.loader_server import loader_context

    streamed = _augmented_pairs(12, seed=1, lake_root=str(tmp_path))
    assert streamed.rows.indices.tolist() == list(range(0, 24, 2))  # train rows only, by index
    loader = torch.utils.data.DataLoader(
        streamed,
        batch_size=4,
        num_workers=1,
        multiprocessing_context=loader_context(),
        collate_fn=_items,
    )
    in_memory = _augmented_pairs(12, seed=1)
    for batch, start in zip(loader, range(0, 12, 4), strict=True):
        for offset, item in enumerate(batch):
            position = start + offset
            assert item["caption"] == str(position)
            row = in_memory.sample(in_memory.rows[position], 2 * position)  # its table row
            assert torch.equal(item["image"], row["image"])


def _items(items: list[dict]) -> list[dict]:
    return items


def test_an_arrow_copy_serves_the_same_rows_as_the_lake(tmp_path):
    from cosmoalign.schema import PAIRS_TABLE
    from cosmoalign.train.data import write_arrow_file
    from tests.fixtures.pairs_lake import build_pairs_lake

    lake, _ = build_pairs_lake(str(tmp_path), per_class=3, hst=4)
    copy = str(tmp_path / "pairs.arrow")
    write_arrow_file(lake.read(PAIRS_TABLE, "p"), copy)
    options = {"preprocess": None, "augment": False, "seed": 0, "max_regions": 4}
    for with_symbol in (False, True):
        from_lake = PairsDataset.from_lake(lake, "p", with_symbol=with_symbol, **options)
        from_copy = PairsDataset.from_arrow_file(copy, with_symbol=with_symbol, **options)
        positions = list(range(len(from_lake)))[::-1]
        assert len(from_copy) == len(from_lake)
        assert from_copy.rows.take(positions) == from_lake.rows.take(positions)
