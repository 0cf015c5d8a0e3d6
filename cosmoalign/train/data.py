"""The training set: rows of ``training_pairs`` as tensors, with box-aware sky augmentations.

Rows stream from the lake by row index (Lance ``take``), a batch at a time, so training memory
does not grow with the dataset. An Arrow IPC copy of ``training_pairs`` serves the same way
(:class:`ArrowFileRows`, memory-mapped) on a training box without pylance.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch
from PIL import Image

from cosmoalign.files import file_sha256
from cosmoalign.framing import boxes_in_frame, pixel_box, wide_frame, zoomed_frame
from cosmoalign.schema import PAIRS_TABLE, SYMBOLS_TABLE

if TYPE_CHECKING:  # Lance is imported where a lake is read, so training from Parquet needs none
    import lance

    from cosmoalign.lake import Lake
    from cosmoalign.train.image_features import ImageFeatureStore

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
    batch's real length instead of the full context. Only for towers where that is exact (see
    :func:`cosmoalign.train.text_encoding.can_trim_padding`)."""
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


PAIR_COLUMNS = ["image_png", "frame", "caption", "label", "region_boxes", "region_texts"]
"""The columns a training sample is made of."""


class RowSource(Protocol):
    """Rows a :class:`PairsDataset` fetches by position, a batch at a time."""

    def __len__(self) -> int: ...

    def take(self, positions: Sequence[int]) -> list[dict]:
        """The rows at ``positions``, in that order."""
        ...

    def row_ids(self, positions: Sequence[int]) -> np.ndarray:
        """Stable ids of the rows at ``positions`` (their row numbers in the table), which seed
        their augmentation: one row is one sample whichever subset of the table a run reads."""
        ...

    def identity(self) -> dict:
        """What names these rows' content (a table version, a file digest)."""
        ...


class LanceRows:
    """Rows of one Lance dataset version, fetched by row index (``dataset.take``).

    Only the selected row indices live in memory (8 bytes a row); the rows themselves are read
    a batch at a time. Every process (each DDP rank, each loader worker) opens the dataset
    itself, at the same pinned version, so a later commit to the table never changes a run.
    """

    def __init__(
        self,
        uri: str,
        version: int,
        indices: np.ndarray,
        storage_options: dict[str, str] | None = None,
        columns: list[str] | None = None,
    ) -> None:
        self.uri, self.version, self.indices = uri, version, indices
        self.storage_options = storage_options or {}
        self.columns = columns or PAIR_COLUMNS
        self._opened: tuple[int, lance.LanceDataset] | None = None

    def __len__(self) -> int:
        return len(self.indices)

    def take(self, positions: Sequence[int]) -> list[dict]:
        """The rows at ``positions`` of the selection, read in one ``take``."""
        rows = self._dataset().take(self.indices[np.asarray(positions, np.int64)], self.columns)
        return rows.to_pylist()

    def row_ids(self, positions: Sequence[int]) -> np.ndarray:
        """Row numbers in the dataset version."""
        return self.indices[np.asarray(positions, np.int64)]

    def identity(self) -> dict:
        """The dataset's URI and pinned version."""
        return {"lance": self.uri, "version": self.version}

    def _dataset(self) -> lance.LanceDataset:
        """The dataset opened by this process (a forked worker must not reuse its parent's)."""
        import lance

        if self._opened is None or self._opened[0] != os.getpid():
            dataset = lance.dataset(
                self.uri, version=self.version, storage_options=self.storage_options or None
            )
            self._opened = (os.getpid(), dataset)
        return self._opened[1]

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_opened": None}


class ArrowFileRows:
    """Rows of an uncompressed Arrow IPC file (a copy of ``training_pairs``), fetched by row
    index like :class:`LanceRows`. The file is memory-mapped: every process shares the page
    cache, a ``take`` touches only the pages of its rows, and only the selected indices live
    in this object's memory."""

    def __init__(self, path: str, indices: np.ndarray, columns: list[str] | None = None) -> None:
        self.path, self.indices = path, indices
        self.columns = columns or PAIR_COLUMNS
        self._opened: tuple[int, pa.Table] | None = None

    def __len__(self) -> int:
        return len(self.indices)

    def take(self, positions: Sequence[int]) -> list[dict]:
        """The rows at ``positions`` of the selection."""
        if self._opened is None or self._opened[0] != os.getpid():
            self._opened = (os.getpid(), read_arrow_file(self.path).select(self.columns))
        return self._opened[1].take(self.row_ids(positions)).to_pylist()

    def row_ids(self, positions: Sequence[int]) -> np.ndarray:
        """Row numbers in the file."""
        return self.indices[np.asarray(positions, np.int64)]

    def identity(self) -> dict:
        """The file's sha256."""
        return {"arrow_file_sha256": file_sha256(self.path)}

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_opened": None}


def write_arrow_file(table: pa.Table, path: str) -> None:
    """Write ``table`` as the uncompressed Arrow IPC file :class:`ArrowFileRows` maps."""
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=1024)


def read_arrow_file(path: str) -> pa.Table:
    """An Arrow IPC file, memory-mapped: zero-copy when uncompressed (a compressed file is
    decompressed into this process's memory)."""
    return pa.ipc.open_file(pa.memory_map(str(path))).read_all()


class ListRows(list):
    """Rows held in memory (small sets, tests) as a :class:`RowSource`."""

    def take(self, positions: Sequence[int]) -> list[dict]:
        """The rows at ``positions``."""
        return [self[position] for position in positions]

    def row_ids(self, positions: Sequence[int]) -> np.ndarray:
        """The positions themselves."""
        return np.asarray(positions, np.int64)

    def identity(self) -> dict:
        """sha256 of the rows' images, frames and region boxes."""
        digest = hashlib.sha256()
        for row in self:
            digest.update(hashlib.sha256(row["image_png"]).digest())
            digest.update(repr((row["frame"], row["region_boxes"])).encode())
        return {"rows_sha256": digest.hexdigest()}


class PairsDataset(torch.utils.data.Dataset):
    """One partition's training rows; augmentation depends only on (seed, epoch, index), so
    every process and every resumed run sees the same sample for the same index.

    The loader's sampler owns the order (global shuffle per seed and epoch, resumed mid-epoch by
    skipping batches); the dataset fetches each batch's rows in one read
    (:meth:`__getitems__`), so memory holds one batch of rows per loader worker.
    """

    def __init__(
        self,
        rows: RowSource | list[dict],
        preprocess: Callable[[Image.Image], torch.Tensor],
        *,
        augment: bool,
        seed: int,
        max_regions: int,
        short_caption_rate: float = 0.0,
    ) -> None:
        if not len(rows):
            raise ValueError("no training rows: the partition's training_pairs has no train split")
        self.rows = ListRows(rows) if isinstance(rows, list) else rows
        self.preprocess = preprocess
        self.augment, self.seed, self.max_regions = augment, seed, max_regions
        self.short_caption_rate = short_caption_rate
        self.epoch = 0
        self.image_features: ImageFeatureStore | None = None

    @classmethod
    def from_lake(
        cls,
        lake: Lake,
        partition: str,
        split: str = "train",
        *,
        with_symbol: bool,
        version: int | None = None,
        **kwargs,
    ) -> PairsDataset:
        """The rows of one split of ``training_pairs`` at ``version`` (default: the newest,
        pinned for the whole run); ``with_symbol``: only rows whose class has a symbol, which
        GalaxAlign needs (unlabelled survey rows have none). Reads only the ``split`` and
        ``symbol_key`` columns here; images are read by row index while training."""
        dataset = lake.dataset(PAIRS_TABLE, partition, version)
        indices = _selected(dataset.to_table(columns=["split", "symbol_key"]), split, with_symbol)
        rows = LanceRows(dataset.uri, dataset.version, indices, lake.storage_options)
        return cls(rows, **kwargs)

    @classmethod
    def from_arrow_file(
        cls, path: str, split: str = "train", *, with_symbol: bool, **kwargs
    ) -> PairsDataset:
        """The rows of one split of an Arrow IPC copy of ``training_pairs`` (written by
        ``write_arrow_file(lake.read("training_pairs", partition), path)``)."""
        table = read_arrow_file(path).select(["split", "symbol_key"])
        return cls(ArrowFileRows(path, _selected(table, split, with_symbol)), **kwargs)

    def set_epoch(self, epoch: int) -> None:
        """Choose the augmentations of this epoch."""
        self.epoch = epoch

    def use_image_features(self, store: ImageFeatureStore) -> None:
        """Give samples their stored image features instead of pixels (a frozen image side,
        see :mod:`cosmoalign.train.image_features`): images are no longer decoded."""
        self.image_features = store

    def identity(self, split: str) -> dict:
        """What every sample's image depends on besides the model: the rows and split, the
        seed and the augmentation settings (the key of stored image features)."""
        settings = {"split": split, "augment": self.augment, "seed": self.seed}
        return {**self.rows.identity(), **settings, "max_regions": self.max_regions}

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict:
        """One sample (see :meth:`sample`)."""
        return self.__getitems__([index])[0]

    def __getitems__(self, indices: list[int]) -> list[dict]:
        """The samples of one batch, its rows read together (the loader calls this)."""
        rows, ids = self.rows.take(indices), self.rows.row_ids(indices)
        return [self.sample(row, int(row_id)) for row, row_id in zip(rows, ids, strict=True)]

    def sample(self, row: dict, row_id: int) -> dict:
        """Row ``row_id``'s galaxy-centred frame (augmented: zoomed out towards the whole field,
        turned and mirrored), its caption (augmented: sometimes only its first sentence), label
        and region boxes in the crop's coordinates; with stored image features, those features
        (``image_feature``, ``region_features``) in place of the image and boxes."""
        picture = Image.open(io.BytesIO(row["image_png"]))  # the header only, until converted
        frame, caption = row["frame"], row["caption"]
        if self.augment:
            rng = random.Random(f"{self.seed}:{self.epoch}:{row_id}")
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
        item = {"caption": caption, "label": row["label"], "region_texts": texts}
        if self.image_features is not None:
            image, regions = self.image_features.epoch(self.epoch).of(row_id)
            if len(regions) != len(texts):
                raise ValueError(f"row {row_id}: stored region features do not match its regions")
            return item | {
                "image_feature": torch.from_numpy(np.array(image)),
                "region_features": torch.from_numpy(np.array(regions)),
            }
        image = self.preprocess(picture.convert("RGB").crop(pixel_box(frame, *picture.size)))
        if self.augment:
            image, boxes = dihedral(image, boxes, turns, flip)
        return item | {"image": image, "boxes": boxes}


def _selected(table: pa.Table, split: str, with_symbol: bool) -> np.ndarray:
    """Row indices of ``split`` (and, with ``with_symbol``, only rows whose class has one)."""
    keep = pc.equal(table.column("split"), split)
    if with_symbol:
        keep = pc.and_(keep, pc.is_valid(table.column("symbol_key")))
    return np.flatnonzero(pc.fill_null(keep, False).to_numpy()).astype(np.int64)


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
    with_texts: bool = True
    """Tokenize captions and region texts (a pass over images alone needs neither)."""

    def tokens(self, texts: list[str]) -> torch.Tensor:
        """Token ids of ``texts``, trimmed when the text tower allows it."""
        tokens = self.tokenizer(texts)
        return trim_padding(tokens) if self.trim_text else tokens

    def __call__(self, items: list[dict]) -> dict[str, torch.Tensor]:
        batch = {"labels": torch.tensor([item["label"] for item in items], dtype=torch.long)}
        if self.with_texts:
            batch["texts"] = self.tokens([item["caption"] for item in items])
        features = "image_feature" in items[0]
        if features:
            batch["image_features"] = torch.stack([item["image_feature"] for item in items])
        else:
            batch["images"] = torch.stack([item["image"] for item in items])
        if self.with_regions:
            texts = [text for item in items for text in item["region_texts"]]
            if features:
                batch["region_features"] = torch.cat([item["region_features"] for item in items])
            else:
                boxes = [box for item in items for box in item["boxes"]]
                owners = [i for i, item in enumerate(items) for _ in item["boxes"]]
                batch["region_boxes"] = torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)
                batch["region_owner"] = torch.tensor(owners, dtype=torch.long)
            if self.with_texts:
                batch["region_texts"] = self.tokens(texts or [""])[: len(texts)]
                groups = [text_group(t) for t in texts]
                batch["region_groups"] = torch.tensor(groups, dtype=torch.long)
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
