"""A frozen image side's features, computed once per training row and epoch, shared by runs.

With the image tower locked whole (trunk and projection, as the recipes' defaults lock it), what
a training sample's image contributes to the loss (its normalised embedding and, for GRAIN, the
pooled embeddings of its regions) is a fixed function of the augmented image, and the
augmentation is a fixed function of (seed, epoch, row). So the features of every training row
of an epoch are computed in one inference pass (channels-last, no autograd) and stored as
memory-mapped ``.npy`` files under a key of everything they depend on; a run that finds them,
whichever recipe it trains, reads them instead of decoding and encoding pixels.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from cosmoalign.losses import pool_regions
from cosmoalign.models import has_token_grid, image_embedding_and_grid
from cosmoalign.models.batch_norm_folding import folded_image_tower
from cosmoalign.models.fingerprint import preprocessing, tower_fingerprint
from cosmoalign.models.spec import ClipBundle

_ARRAYS = ("rows", "image", "region_offsets", "regions")


def image_side_frozen(clip: nn.Module) -> bool:
    """True when the image side's features can be stored: nothing on it trains or draws
    randomness in training mode (every ``visual.*`` parameter frozen, no active dropout), and
    it has a token grid for region features."""
    frozen = all(not p.requires_grad for n, p in clip.named_parameters() if n.startswith("visual."))
    dropout = any(
        isinstance(m, nn.modules.dropout._DropoutNd) and m.p > 0 for m in clip.visual.modules()
    )
    return frozen and not dropout and has_token_grid(clip)


@dataclass(frozen=True)
class EpochFeatures:
    """One epoch's features of the training rows ``rows`` (sorted row ids): ``image`` (N, E)
    normalised embeddings, and the regions of row ``i`` at
    ``regions[region_offsets[i]:region_offsets[i + 1]]`` (normalised, in the sample's order)."""

    rows: np.ndarray
    image: np.ndarray
    region_offsets: np.ndarray
    regions: np.ndarray

    def of(self, row_id: int) -> tuple[np.ndarray, np.ndarray]:
        """The image embedding and region embeddings of training row ``row_id``."""
        i = int(np.searchsorted(self.rows, row_id))
        if i >= len(self.rows) or self.rows[i] != row_id:
            raise KeyError(f"training row {row_id} has no cached image features")
        return self.image[i], self.regions[self.region_offsets[i] : self.region_offsets[i + 1]]

    def save(self, folder: Path) -> None:
        """Write the arrays into ``folder`` whole or not at all (a folder renamed into place;
        when another process got there first, its identical copy stays)."""
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
        try:
            for name in _ARRAYS:
                np.save(staging / f"{name}.npy", getattr(self, name))
            os.rename(staging, folder)
        except OSError:
            if not folder.is_dir():
                raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    @classmethod
    def load(cls, folder: Path) -> EpochFeatures:
        """The arrays of ``folder``, memory-mapped (processes share the page cache)."""
        return cls(**{name: np.load(folder / f"{name}.npy", mmap_mode="r") for name in _ARRAYS})


class ImageFeatureStore:
    """The stored features of one key, an epoch per folder; picklable into loader workers (it
    holds a path, and maps an epoch's files on first use in each process)."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        self._loaded: dict[int, EpochFeatures] = {}

    def mark_used(self) -> None:
        """Create the key's folder and renew its time: feature sets left unused for a while are
        removed (:func:`cosmoalign.work_folders.remove_unused`)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        os.utime(self.folder)

    def has(self, epoch: int) -> bool:
        """Whether ``epoch``'s features are stored."""
        return (self.folder / f"epoch-{epoch}").is_dir()

    def epoch(self, epoch: int) -> EpochFeatures:
        """``epoch``'s features (stored by :meth:`ensure`)."""
        if epoch not in self._loaded:
            self._loaded = {epoch: EpochFeatures.load(self.folder / f"epoch-{epoch}")}
        return self._loaded[epoch]

    def ensure(self, epoch: int, compute: Callable[[int], EpochFeatures]) -> bool:
        """Store ``compute(epoch)`` unless the epoch is stored already; True if it computed.
        Each call renews the set's time, so a long run's set is never taken for unused."""
        self.mark_used()
        if self.has(epoch):
            return False
        compute(epoch).save(self.folder / f"epoch-{epoch}")
        return True

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_loaded": {}}


def feature_key(bundle: ClipBundle, source_identity: dict) -> str:
    """sha256 of what the features depend on: the image tower's weights and preprocessing, the
    training rows (``source_identity``: their table version and split, the seed and the
    augmentation settings)."""
    blob = [tower_fingerprint(bundle, image=True), preprocessing(bundle), source_identity]
    return hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()


def compute_epoch_features(
    clip: nn.Module,
    loader: torch.utils.data.DataLoader,
    epoch: int,
    log: Callable[[str], None],
) -> EpochFeatures:
    """Encode every training row of ``epoch`` (``loader``: the whole split in order, pixels and
    region boxes, :class:`~cosmoalign.train.data.Collate`), as training would see it."""
    loader.dataset.set_epoch(epoch)
    rows = np.asarray(loader.dataset.rows.row_ids(range(len(loader.dataset))), np.int64)
    if np.any(np.diff(rows) <= 0):
        raise ValueError("image features need the training rows in ascending row order")
    images, regions, counts = [], [], []
    started, modes = time.perf_counter(), [(m, m.training) for m in clip.modules()]
    clip.eval()  # frozen: batch norms keep their statistics, no dropout (image_side_frozen)
    bar = tqdm(total=len(rows), desc=f"image features, epoch {epoch}", unit="row")
    batches = iter(loader)
    first = next(batches)
    example = _pixels(clip, first)[:1]
    with torch.inference_mode(), bar, folded_image_tower(clip, example) as folded:
        for batch in chain([first], batches):
            image, region = _encode(folded, batch)
            images.append(image)
            regions.append(region)
            counts.append(torch.bincount(batch["region_owner"], minlength=len(image)))
            bar.update(len(image))
    for module, training in modes:  # each as it was (locked trunks stay in eval mode)
        module.train(training)
    seconds = time.perf_counter() - started
    log(f"image features of epoch {epoch}: {len(rows)} rows in {seconds:.1f} s")
    offsets = np.concatenate([[0], torch.cat(counts).cumsum(0).numpy()]).astype(np.int64)
    dim = images[0].shape[1] if images else 0
    flat = [r for r in regions if r.numel()]
    return EpochFeatures(
        rows=rows,
        image=torch.cat(images).numpy() if images else np.zeros((0, dim), np.float32),
        region_offsets=offsets,
        regions=torch.cat(flat).numpy() if flat else np.zeros((0, dim), np.float32),
    )


def _pixels(clip: nn.Module, batch: dict) -> torch.Tensor:
    device = next(clip.parameters()).device
    return batch["images"].to(device).contiguous(memory_format=torch.channels_last)


def _encode(clip: nn.Module, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
    image, grid = image_embedding_and_grid(clip, _pixels(clip, batch))
    device = next(clip.parameters()).device
    boxes, owner = batch["region_boxes"].to(device), batch["region_owner"].to(device)
    return image.float().cpu(), pool_regions(grid, boxes, owner).float().cpu()
