"""Training throughput: cosmoalign's cosmoclip recipe against open_clip's own trainer,
``open_clip_train``, on the same model, pairs, batch, steps, precision and threads (this CPU).

Both trainers run as child processes of this script, alternating (A B, then B A, ...), each for
the same whole epochs over the same pairs: the bench lake's ``training_pairs`` for cosmoalign, the
same rows written as the tab-separated CSV plus PNG files that ``open_clip_train --dataset-type
csv`` reads. The child registers one global optimizer-step hook before the trainer starts, so
throughput is measured identically for both: ``batch * (steps - W) / (t[last] - t[W])`` over the
optimizer-step timestamps, the first ``W`` steps (start-up, first batches) left out. Timers on
the model's ``forward``, the loss, the image and text encoders and the optimizer step split each
measured step into data (everything between the previous step and the next forward), forward,
backward (incl. gradient clipping) and optimizer.

Cases: the offline default (128 px; locked towers, image batch norms frozen, as the recipe
defaults: open_clip_train gets ``--lock-image --lock-image-freeze-bn-stats --lock-text
--lock-text-freeze-layer-norm``) and ViT-B-32 with random weights at 64 px (both towers train),
on this CPU; and, on a CUDA machine, ViT-B-32 at 224 px, batch 256, bf16 autocast, with model
FLOPs utilisation (nominal training FLOPs per sample, counted by ``FlopCounterMode`` at 77 text
tokens, against the GPU's dense bf16 peak). Writes ``bench/results/train_vs_open_clip.json``::

    python bench/train.py            # the CPU cases, 3 runs per trainer (about 15 minutes)
    python bench/train.py --quick    # the offline default, 2 runs per trainer, fewer steps
    # a GPU box with torch and open_clip but no pylance: build the pairs here, run there
    python bench/train.py --cases vit-b-32-cuda-bf16-224px --data-dir .benchdata --prepare-only
    python bench/train.py --cases vit-b-32-cuda-bf16-224px --data-dir .benchdata --out gpu.json

Cases marked ``pairs_from: arrow_file`` train cosmoalign from an Arrow IPC copy of
``training_pairs`` (``TrainConfig.pairs_file``), the rest from the lake.

Needs the ``bench`` extra (``pip install -e .[bench]``: open_clip_train's data dependencies).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "train_vs_open_clip.json"
PARTITION = "bench"
TRAINERS = ("open_clip_train", "cosmoalign")

CASES = {
    "offline-default": {
        "arch": "offline-default",
        "image_size": 128,
        "lock_image": True,
        "lock_text": True,
        "batch_size": 32,
        "steps_per_epoch": 8,
        "epochs": 4,
        "warmup_steps_excluded": 3,
    },
    "vit-b-32-random-64px": {
        "arch": "ViT-B-32",
        "image_size": 64,
        "lock_image": False,
        "lock_text": False,
        "batch_size": 32,
        "steps_per_epoch": 3,
        "epochs": 2,
        "warmup_steps_excluded": 2,
    },
    "vit-b-32-cuda-bf16-224px": {
        "arch": "ViT-B-32",
        "image_size": 224,
        "lock_image": False,
        "lock_text": False,
        "batch_size": 256,
        "steps_per_epoch": 16,
        "epochs": 3,
        "warmup_steps_excluded": 6,
        "device": "cuda",
        "precision": "bf16",
        "loader_workers": 12,
        "distinct_rows": 256,
        "pairs_from": "arrow_file",
    },
}
CPU_CASES = ("offline-default", "vit-b-32-random-64px")
DEFAULTS = {"device": "cpu", "precision": "fp32", "loader_workers": 1, "pairs_from": "lake"}
PEAK_BF16_TFLOPS = {"H200": 989.4, "H100": 989.4, "A100": 312.0}
"""Dense bf16 tensor-core peaks from the vendor's data sheets (SXM parts)."""
QUICK = {"offline-default": {"steps_per_epoch": 4, "epochs": 3, "warmup_steps_excluded": 2}}
LR, WEIGHT_DECAY, WARMUP, GRAD_CLIP, SEED = 1e-3, 0.1, 10, 1.0, 0


# ---------------------------------------------------------------- the shared training pairs
def build_pairs(root: Path, rows: int) -> None:
    """A lake with ``rows`` training pairs (half real SDSS cutouts, half procedural galaxies of
    the ten classes, measured and captioned by the morphology captioner: the test suite's
    lake builder, the same core functions the assets call), the same rows as a Parquet file,
    and their images as PNG files that open_clip_train's CSV names (paths relative to ``root``).
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from cosmoalign.schema import PAIRS_TABLE
    from tests.fixtures.pairs_lake import build_pairs_lake

    per_class = rows // 10 // 2 + 2
    lake, _ = build_pairs_lake(str(root / "lake"), PARTITION, per_class, size=128, real=rows)
    table = lake.read(PAIRS_TABLE, PARTITION)
    train = table.filter(pc.equal(table.column("split"), "train"))
    labelled = train.filter(pc.greater_equal(train.column("label"), 0))
    real = train.filter(pc.less(train.column("label"), 0))
    half = min(rows // 2, len(labelled))
    chosen = pa.concat_tables([labelled.slice(0, half), real.slice(0, rows - half)])
    if len(chosen) != rows:
        raise RuntimeError(f"bench lake has {len(chosen)} usable training rows, {rows} needed")
    lake.write_table(PAIRS_TABLE, PARTITION, chosen)
    pq.write_table(chosen, root / "distinct.parquet")
    (root / "images").mkdir()
    for row in chosen.select(["object_id", "image_png"]).to_pylist():
        (root / _image_name(row["object_id"])).write_bytes(row["image_png"])


def _image_name(object_id: str) -> str:
    return f"images/{object_id.replace('/', '_')}.png"


def tile_pairs(root: Path, rows: int) -> None:
    """``pairs.tsv`` and ``pairs.arrow`` of ``rows`` rows: the distinct pairs repeated (a GPU
    batch needs more rows than are worth carrying to the machine)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from cosmoalign.train.data import write_arrow_file

    distinct = pq.read_table(root / "distinct.parquet")
    repeats = -(-rows // len(distinct))
    write_arrow_file(pa.concat_tables([distinct] * repeats).slice(0, rows), root / "pairs.arrow")
    lines = ["filepath\ttitle"]
    for i in range(rows):
        row = distinct.slice(i % len(distinct), 1).select(["object_id", "caption"]).to_pylist()[0]
        lines.append(f"{_image_name(row['object_id'])}\t{' '.join(row['caption'].split())}")
    (root / "pairs.tsv").write_text("\n".join(lines) + "\n")


def export_offline_default(folder: Path, image_size: int) -> Path:
    """The offline default as a folder ``open_clip.create_model('local-dir:...')`` loads: the
    same architecture and weights open_clip_train then trains."""
    from cosmoalign.models import ModelSpec, build_model, export_open_clip

    bundle = build_model(ModelSpec("offline-default", None, image_size), seed=SEED)
    return export_open_clip(bundle, folder / "offline-default")


# ---------------------------------------------------------------- the child: one timed run
class StepClock:
    """Timestamps of optimizer steps and time spent in forward, loss, encoders and optimizer."""

    def __init__(self) -> None:
        import torch

        # On a GPU the step timestamps wait for the queued kernels (the same sync in both
        # trainers); the forward and encoder spans stay host-side (the time to enqueue), so
        # there "backward" holds the device's whole forward and backward.
        self.synced = time.perf_counter
        if torch.cuda.is_available():
            self.synced = lambda: (torch.cuda.synchronize(), time.perf_counter())[1]
        self.step_start: list[float] = []
        self.step_end: list[float] = []
        self.forward: list[tuple[float, float]] = []
        self.spans: dict[str, list[float]] = {"image_encoder": [], "text_encoder": []}

    def install(self, forward_owners: list[type], encoder_owners: list[type]) -> None:
        from torch.optim.optimizer import (
            register_optimizer_step_post_hook,
            register_optimizer_step_pre_hook,
        )

        register_optimizer_step_pre_hook(lambda *_: self.step_start.append(self.synced()))
        register_optimizer_step_post_hook(lambda *_: self.step_end.append(self.synced()))
        for owner in forward_owners:
            owner.forward = self._timed_forward(owner.forward)
        for owner in encoder_owners:
            owner.encode_image = self._timed_span(owner.encode_image, "image_encoder")
            owner.encode_text = self._timed_span(owner.encode_text, "text_encoder")

    def _timed_forward(self, forward):
        def timed(module, *args, **kwargs):
            start = time.perf_counter()
            out = forward(module, *args, **kwargs)
            if module.training:
                self.forward.append((start, time.perf_counter()))
            return out

        return timed

    def _timed_span(self, method, name: str):
        def timed(module, *args, **kwargs):
            start = time.perf_counter()
            out = method(module, *args, **kwargs)
            if module.training:
                self.spans[name].append(time.perf_counter() - start)
            return out

        return timed

    def summary(self, batch: int, warm: int) -> dict:
        """Samples/s over the steps after the first ``warm``, and the mean seconds per step of
        each phase over the same steps."""
        ends, starts = self.step_end, self.step_start
        steps = len(ends)
        # Forward spans: one (open_clip model + its loss module are merged below) per step.
        forwards = _merge_per_step(self.forward, starts)
        measured = range(warm, steps)
        phases = {"data": [], "forward": [], "backward": [], "optimizer": []}
        for i in measured:
            first, last = forwards[i]
            phases["data"].append(first - ends[i - 1])
            phases["forward"].append(last - first)
            phases["backward"].append(starts[i] - last)
            phases["optimizer"].append(ends[i] - starts[i])
        per_step = {name: statistics.fmean(values) for name, values in phases.items()}
        for name, values in self.spans.items():
            per_step[name] = statistics.fmean(values[warm:]) if len(values) > warm else 0.0
        return {
            "steps": steps,
            "measured_steps": len(measured),
            "samples_per_second": batch * len(measured) / (ends[-1] - ends[warm - 1]),
            "seconds_per_step": per_step,
        }


def _merge_per_step(spans: list[tuple[float, float]], step_starts: list[float]) -> list:
    """(first start, last end) of the forward spans that fall before each optimizer step."""
    merged, k = [], 0
    for limit in step_starts:
        first = last = None
        while k < len(spans) and spans[k][0] < limit:
            first = spans[k][0] if first is None else first
            last = spans[k][1]
            k += 1
        merged.append((first, last))
    return merged


def run_child(trainer: str, spec: dict, out: Path) -> None:
    """Train once with ``trainer`` under the clock; write the clock's summary to ``out``."""
    import open_clip.loss
    import open_clip.model

    clock = StepClock()
    clip_classes = [open_clip.model.CLIP, open_clip.model.CustomTextCLIP]
    if trainer == "open_clip_train":
        clock.install([*clip_classes, open_clip.loss.ClipLoss], clip_classes)
        from open_clip_train.main import main

        main(_open_clip_train_args(spec))
    else:
        from cosmoalign.train.config import TrainConfig
        from cosmoalign.train.loop import train
        from cosmoalign.train.recipes import ClipObjective, CosmoClipObjective

        clock.install([CosmoClipObjective], [ClipObjective])
        config = TrainConfig(
            "cosmoclip",
            spec["lake"],
            PARTITION,
            spec["run_dir"],
            pairs_file=spec["pairs_file"] if spec["pairs_from"] == "arrow_file" else None,
            arch=spec["arch"],
            image_size=spec["image_size"],
            epochs=spec["epochs"],
            batch_size=spec["batch_size"],
            lr=LR,
            weight_decay=WEIGHT_DECAY,
            warmup_steps=WARMUP,
            lock_image=spec["lock_image"],
            # open_clip_train's --lock-image freezes the trunk and trains the head: same work.
            lock_image_projection=False,
            lock_text=spec["lock_text"],
            mixed_precision="bf16" if spec["precision"] == "bf16" else "no",
            short_caption_rate=0.0,
            grad_clip=GRAD_CLIP,
            loader_workers=spec["loader_workers"],
            checkpoint_every=10_000,
            seed=SEED,
        )
        train(config)
    out.write_text(json.dumps(clock.summary(spec["batch_size"], spec["warmup_steps_excluded"])))


def _open_clip_train_args(spec: dict) -> list[str]:
    model = (
        ["--model", f"local-dir:{spec['export']}"]
        if spec["arch"] == "offline-default"
        else ["--model", spec["arch"], "--force-image-size", str(spec["image_size"])]
    )
    lock = ["--lock-image", "--lock-image-freeze-bn-stats"] if spec["lock_image"] else []
    if spec["lock_text"]:
        lock += ["--lock-text", "--lock-text-freeze-layer-norm"]
    return [
        *model,
        *lock,
        "--train-data", spec["csv"],
        "--dataset-type", "csv",
        "--csv-img-key", "filepath",
        "--csv-caption-key", "title",
        "--batch-size", str(spec["batch_size"]),
        "--epochs", str(spec["epochs"]),
        "--lr", str(LR),
        "--wd", str(WEIGHT_DECAY),
        "--warmup", str(WARMUP),
        "--beta1", "0.9", "--beta2", "0.98", "--eps", "1e-6",
        "--grad-clip-norm", str(GRAD_CLIP),
        "--precision", "amp_bf16" if spec["precision"] == "bf16" else "fp32",
        "--workers", str(spec["loader_workers"]),
        "--seed", str(SEED),
        "--save-frequency", "0",
        "--report-to", "",
        "--log-every-n-steps", "5",
        "--logs", str(Path(spec["run_dir"]) / "logs"),
        "--name", "bench",
    ]  # fmt: skip


# ---------------------------------------------------------------- the parent: alternate runs
def run_once(trainer: str, spec: dict, folder: Path) -> dict:
    """One child run in ``folder`` (the case's data; open_clip_train's CSV paths are relative to
    it); its summary plus wall-clock seconds."""
    run_dir = Path(tempfile.mkdtemp(dir=folder, prefix=f"{trainer}-"))
    out = run_dir / "clock.json"
    spec = {**spec, "run_dir": str(run_dir)}
    (run_dir / "spec.json").write_text(json.dumps(spec))
    command = [sys.executable, __file__, "--child", trainer, str(run_dir / "spec.json"), str(out)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=folder)
    if done.returncode != 0:
        raise RuntimeError(f"{trainer} failed:\n{done.stderr[-4000:]}")
    if spec.get("verbose"):
        print(done.stderr[-3000:])
    return {**json.loads(out.read_text()), "wall_seconds": time.perf_counter() - started}


def prepare_case(name: str, spec: dict, data_dir: Path) -> Path:
    """The case's pairs (and, for the offline default, its export) in ``data_dir/name``; kept
    and reused when already there."""
    folder = data_dir / name
    if not (folder / "ready").exists():
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        build_pairs(folder, spec.get("distinct_rows", spec["batch_size"] * spec["steps_per_epoch"]))
        if spec["arch"] == "offline-default":
            export_offline_default(folder, spec["image_size"])
        (folder / "ready").touch()
    return folder


def bench_case(name: str, spec: dict, runs: int, data_dir: Path) -> dict:
    """Alternate the two trainers ``runs`` times each; medians, spread, the ratio and (on a
    GPU) model FLOPs utilisation."""
    rows = spec["batch_size"] * spec["steps_per_epoch"]
    folder = prepare_case(name, spec, data_dir)
    tile_pairs(folder, rows)
    spec = {
        **spec,
        "csv": str(folder / "pairs.tsv"),
        "pairs_file": str(folder / "pairs.arrow"),
        "lake": str(folder / "lake"),
        "export": str(folder / "offline-default"),
    }
    results: dict[str, list[dict]] = {trainer: [] for trainer in TRAINERS}
    for run in range(runs):
        order = TRAINERS if run % 2 == 0 else TRAINERS[::-1]
        for trainer in order:
            result = run_once(trainer, spec, folder)
            results[trainer].append(result)
            phases = " ".join(f"{k} {v:.3f}" for k, v in result["seconds_per_step"].items())
            print(f"{name} run {run + 1} {trainer}: {result['samples_per_second']:.2f} samples/s")
            print(f"  seconds per step: {phases}")
    summary = {}
    for trainer, values in results.items():
        rates = [r["samples_per_second"] for r in values]
        phases = values[0]["seconds_per_step"].keys()
        summary[trainer] = {
            "samples_per_second": rates,
            "median": statistics.median(rates),
            "spread": [min(rates), max(rates)],
            "seconds_per_step_median": {
                phase: statistics.median(r["seconds_per_step"][phase] for r in values)
                for phase in phases
            },
        }
    ratio = summary["cosmoalign"]["median"] / summary["open_clip_train"]["median"]
    keep = ("arch", "image_size", "lock_image", "lock_text", "batch_size", "steps_per_epoch")
    keep += ("epochs", "device", "precision", "loader_workers", "pairs_from")
    report = {
        "setup": {key: spec[key] for key in keep}
        | {
            "rows": rows,
            "distinct_rows": spec.get("distinct_rows", rows),
            "steps": spec["steps_per_epoch"] * spec["epochs"],
            "warmup_steps_excluded": spec["warmup_steps_excluded"],
        },
        "trainers": summary,
        "ratio_cosmoalign_over_open_clip_train": ratio,
    }
    if spec["device"] == "cuda":
        report["utilisation"] = model_flops_utilisation(spec, summary)
    return report


def training_flops_per_sample(arch: str, image_size: int) -> float:
    """FLOPs of one forward and backward pass of one image-text pair (77 text tokens), both
    towers training, counted by ``torch.utils.flop_counter`` on the CPU."""
    import open_clip
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    model = open_clip.create_model(arch, force_image_size=image_size)
    images = torch.zeros(2, 3, image_size, image_size)
    tokens = torch.zeros(2, 77, dtype=torch.long)
    with FlopCounterMode(display=False) as counter:
        image_features, text_features, _ = model(images, tokens)
        (image_features.sum() + text_features.sum()).backward()
    return counter.get_total_flops() / 2


def model_flops_utilisation(spec: dict, summary: dict) -> dict:
    """Achieved model TFLOP/s of each trainer and its fraction of the GPU's dense bf16 peak."""
    import torch

    name = torch.cuda.get_device_name()
    peak = next((value for key, value in PEAK_BF16_TFLOPS.items() if key in name), None)
    flops = training_flops_per_sample(spec["arch"], spec["image_size"])
    achieved = {trainer: flops * values["median"] / 1e12 for trainer, values in summary.items()}
    return {
        "gpu": name,
        "training_gflops_per_sample": flops / 1e9,
        "peak_bf16_tflops": peak,
        "achieved_tflops": achieved,
        "mfu": {trainer: tf / peak for trainer, tf in achieved.items()} if peak else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="about 2 minutes: fewer steps")
    parser.add_argument("--runs", type=int, help="runs per trainer (default 3, quick 2)")
    parser.add_argument("--cases", nargs="*", choices=sorted(CASES), help="default: CPU cases")
    parser.add_argument("--data-dir", type=Path, help="keep (and reuse) each case's pairs here")
    parser.add_argument("--prepare-only", action="store_true", help="build the pairs and stop")
    parser.add_argument(
        "--set", nargs="*", default=[], metavar="KEY=VALUE", help="override a case setting (JSON)"
    )
    parser.add_argument("--verbose", action="store_true", help="print each trainer's log tail")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--child", nargs=3, metavar=("TRAINER", "SPEC", "OUT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        trainer, spec, out = args.child
        run_child(trainer, json.loads(Path(spec).read_text()), Path(out))
        return
    names = args.cases or (sorted(QUICK) if args.quick else list(CPU_CASES))
    runs = args.runs or (2 if args.quick else 3)
    overrides = {k: json.loads(v) for k, v in (item.split("=", 1) for item in args.set)}
    overrides |= {"verbose": True} if args.verbose else {}
    quick = QUICK if args.quick else {}
    specs = {n: {**DEFAULTS, **CASES[n], **quick.get(n, {}), **overrides} for n in names}
    with tempfile.TemporaryDirectory(prefix="bench-train-") as scratch:
        data_dir = (args.data_dir or Path(scratch)).resolve()
        if args.prepare_only:
            for name, spec in specs.items():
                print(f"{name}: pairs in {prepare_case(name, spec, data_dir)}")
            return
        report = _report_header(specs)
        for name, spec in specs.items():
            report["cases"][name] = bench_case(name, spec, runs, data_dir)
            ratio = report["cases"][name]["ratio_cosmoalign_over_open_clip_train"]
            print(f"{name}: cosmoalign / open_clip_train = {ratio:.2f}x")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    staging = args.out.with_suffix(".tmp")
    staging.write_text(json.dumps(report, indent=2) + "\n")
    staging.replace(args.out)
    print(f"wrote {args.out}")


def _report_header(specs: dict) -> dict:
    import torch

    return {
        "command": " ".join(["python", "bench/train.py", *sys.argv[1:]]),
        "machine": {
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "python": platform.python_version(),
            "nice": os.nice(0),
            "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        },
        "measurement": (
            "optimizer-step timestamps from a global torch.optim step hook, the same in both "
            "trainers; samples/s = batch * (steps - W) / (t[last step] - t[step W]); W first "
            "steps excluded; runs alternate between trainers"
        ),
        "cases": {},
    }


if __name__ == "__main__":
    main()
