"""The training set: rows of ``training_pairs`` as tensors, with box-aware sky augmentations."""

from __future__ import annotations

import hashlib
import io
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pyarrow.compute as pc
import torch
from PIL import Image

from cosmoalign.framing import boxes_in_frame, pixel_box, wide_frame, zoomed_frame
from cosmoalign.lake import Lake
from cosmoalign.pairs import PAIRS_TABLE
from cosmoalign.symbol_table import SYMBOLS_TABLE

Box = list[float]


def dihedral(image: torch.Tensor, boxes: Sequence[Box], turns: int, flip: bool):
    """Rotate an image (C, H, W) by ``turns`` quarter turns counter-clockwise, then maybe mirror
    it left-right; normalised boxes ``(x0, y0, x1, y1)`` move with it. Galaxies have no up."""
    image = torch.rot90(image, turns, dims=(-2, -1))
    moved = []
    for x0, y0, x1, y1 in boxes:
        for _ in range(turns % 4):
            x0, y0, x1, y1 = y0, 1.0 - x1, y1, 1.0 - x0
        if flip:
            x0, x1 = 1.0 - x1, 1.0 - x0
        moved.append([x0, y0, x1, y1])
    if flip:
        image = image.flip(-1)
    return image, moved


def trim_padding(tokens: torch.Tensor, pad_id: int = 0) -> torch.Tensor:
    """Drop the padding columns every row shares at the end, so the text tower runs on the
    batch's real length instead of the full context. Only for towers that mask padding (the
    Hugging Face ones); open_clip's built-in ``CLIP`` text tower needs the full context."""
    used = (tokens != pad_id).any(dim=0).nonzero()
    return tokens[:, : int(used.max()) + 1] if len(used) else tokens[:, :1]


def first_sentence(text: str) -> str:
    """The caption's first sentence (its type or label text): the short phrases that zero-shot
    prompts look like."""
    head, dot, _ = text.partition(". ")
    return head + "." if dot else text


def text_group(text: str) -> int:
    """A stable id per distinct text, equal on every process (identical texts are positives)."""
    return int.from_bytes(hashlib.sha1(text.encode()).digest()[:7], "big")


class PairsDataset(torch.utils.data.Dataset):
    """One partition's training rows; augmentation depends only on (seed, epoch, index), so
    every process and every resumed run sees the same sample for the same index."""

    def __init__(
        self,
        rows: list[dict],
        preprocess: Callable[[Image.Image], torch.Tensor],
        *,
        augment: bool,
        seed: int,
        max_regions: int,
        short_caption_rate: float = 0.0,
    ) -> None:
        if not rows:
            raise ValueError("no training rows: the partition's training_pairs has no train split")
        self.rows, self.preprocess = rows, preprocess
        self.augment, self.seed, self.max_regions = augment, seed, max_regions
        self.short_caption_rate = short_caption_rate
        self.epoch = 0

    @classmethod
    def from_lake(
        cls, lake: Lake, partition: str, split: str = "train", *, with_symbol: bool, **kwargs
    ) -> PairsDataset:
        """The rows of one split of ``training_pairs`` (``with_symbol``: only rows whose class
        has a symbol, which GalaxAlign needs; unlabelled survey rows have none)."""
        table = lake.read(PAIRS_TABLE, partition)
        keep = pc.equal(table.column("split"), split)
        if with_symbol:
            keep = pc.and_(keep, pc.is_valid(table.column("symbol_key")))
        return cls(table.filter(keep).to_pylist(), **kwargs)

    def set_epoch(self, epoch: int) -> None:
        """Choose the augmentations of this epoch."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict:
        """The row's galaxy-centred frame (augmented: zoomed out towards the whole field, turned
        and mirrored), its caption (augmented: sometimes only its first sentence), label and
        region boxes in the crop's coordinates."""
        row = self.rows[index]
        picture = Image.open(io.BytesIO(row["image_png"])).convert("RGB")
        frame, caption = row["frame"], row["caption"]
        if self.augment:
            rng = random.Random(f"{self.seed}:{self.epoch}:{index}")
            turns, flip = rng.randrange(4), rng.random() < 0.5
            frame = zoomed_frame(frame, wide_frame(*picture.size), rng.random() ** 2)
            if rng.random() < self.short_caption_rate:
                caption = first_sentence(caption)
        inside = [
            (box, text)
            for box, text in zip(
                boxes_in_frame(row["region_boxes"], frame), row["region_texts"], strict=True
            )
            if box[2] > box[0] and box[3] > box[1]
        ][: self.max_regions]
        boxes, texts = [box for box, _ in inside], [text for _, text in inside]
        image = self.preprocess(picture.crop(pixel_box(frame, *picture.size)))
        if self.augment:
            image, boxes = dihedral(image, boxes, turns, flip)
        return {
            "image": image,
            "caption": caption,
            "label": row["label"],
            "boxes": boxes,
            "region_texts": texts,
        }


def start_epoch(loader: torch.utils.data.DataLoader, epoch: int) -> None:
    """Reshuffle a prepared ``loader`` and choose its dataset's augmentations for ``epoch``.

    Accelerate's ``set_epoch`` reaches the dataset only when no sampler in the loader takes the
    epoch; under DDP the seedable sampler inside ``BatchSamplerShard`` always does, so set both.
    """
    loader.set_epoch(epoch)
    loader.dataset.set_epoch(epoch)


@dataclass
class Collate:
    """Stacks images, tokenizes captions and region texts, flattens regions with their image."""

    tokenizer: Callable[[list[str]], torch.Tensor]
    with_regions: bool
    trim_text: bool = False
    """Cut captions to the batch's real length (see :func:`trim_padding`)."""

    def tokens(self, texts: list[str]) -> torch.Tensor:
        """Token ids of ``texts``, trimmed when the text tower allows it."""
        tokens = self.tokenizer(texts)
        return trim_padding(tokens) if self.trim_text else tokens

    def __call__(self, items: list[dict]) -> dict[str, torch.Tensor]:
        batch = {
            "images": torch.stack([item["image"] for item in items]),
            "texts": self.tokens([item["caption"] for item in items]),
            "labels": torch.tensor([item["label"] for item in items], dtype=torch.long),
        }
        if self.with_regions:
            boxes, owners, texts = [], [], []
            for i, item in enumerate(items):
                boxes += item["boxes"]
                owners += [i] * len(item["boxes"])
                texts += item["region_texts"]
            batch["region_boxes"] = torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)
            batch["region_owner"] = torch.tensor(owners, dtype=torch.long)
            batch["region_texts"] = self.tokens(texts or [""])[: len(texts)]
            batch["region_groups"] = torch.tensor([text_group(t) for t in texts], dtype=torch.long)
        return batch


def symbol_images(
    lake: Lake, partition: str, preprocess: Callable[[Image.Image], torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor]:
    """The class symbols as preprocessed images, and their labels (GalaxAlign)."""
    rows = lake.read(SYMBOLS_TABLE, partition, ["label", "image_png"]).to_pylist()
    if not rows:
        raise ValueError(f"symbols of partition {partition!r} are empty: galaxalign needs them")
    images = [preprocess(Image.open(io.BytesIO(r["image_png"])).convert("RGB")) for r in rows]
    labels = torch.tensor([r["label"] for r in rows], dtype=torch.long)
    return torch.stack(images), labels
