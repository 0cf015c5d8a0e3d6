"""What a run spends outside its steps: `dagster job execute -j finetune` on a tiny graph.

The literal CLI on the repo's instance (state and lake in a scratch folder), the ``smoke``
training profile and a tiny embedded partition (procedural galaxies only, 48 px, no real set),
so that steps take seconds and the overheads show. From the run's event log:

- ``first_step_after_s``: run start to the first step's start (the model job's fork server
  importing the code location, torch and open_clip);
- ``step_start_s``: per step but the first, its worker starting to the step starting (a fork
  of the server, opening the instance, resources); median and max;
- ``run_s``: run start to run success, and the step count.

    nice -n 10 python bench/step_startup.py [--runs 2] [--out bench/results/step_startup.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TINY_SOURCE = {
    "embedded": {
        "total": 0,
        "min_per_class": 6,
        "size": 48,
        "include_hst": False,
        "max_real": 0,
    }
}


def _run_once(scratch: Path) -> dict:
    """One `dagster job execute -j finetune` in ``scratch``; its overheads from the event log."""
    import yaml

    config = scratch / "tiny.yaml"
    config.write_text(yaml.safe_dump({"resources": {"sources": {"config": TINY_SOURCE}}}))
    env = {
        **os.environ,
        "DAGSTER_HOME": str(REPO),
        "DAGSTER_MODULE_NAME": "pipeline.definitions",
        "COSMOALIGN_DAGSTER_DIR": str(scratch / "dagster"),
        "COSMOALIGN_HOME": str(scratch / "lake"),
        "COSMOALIGN_PROFILE": "smoke",
        "COSMOALIGN_REAL_EVAL": "",  # no real set: the steps stay short
    }
    dagster = Path(sys.executable).with_name("dagster")
    done = subprocess.run(
        [str(dagster), "job", "execute", "-j", "finetune", "-c", str(config)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if done.returncode != 0:
        raise RuntimeError(f"finetune failed:\n{done.stderr[-3000:]}")
    os.environ["COSMOALIGN_DAGSTER_DIR"] = env["COSMOALIGN_DAGSTER_DIR"]
    return _overheads()


def _overheads() -> dict:
    """Overheads of the one run in the instance that ``$COSMOALIGN_DAGSTER_DIR`` stores."""
    import dagster as dg
    from dagster._core.events import DagsterEventType

    with dg.DagsterInstance.from_config(str(REPO)) as instance:
        [run] = instance.get_runs(limit=1)
        records = instance.get_records_for_run(run.run_id, limit=100_000).records
    times: dict[DagsterEventType, dict[str | None, float]] = {}
    for record in records:
        event = record.event_log_entry
        if event.dagster_event is not None:
            kind = event.dagster_event.event_type
            times.setdefault(kind, {}).setdefault(event.step_key, event.timestamp)
    started = times[DagsterEventType.RUN_START][None]
    step_starts = times[DagsterEventType.STEP_START]
    workers = times[DagsterEventType.STEP_WORKER_STARTING]
    first = min(step_starts, key=step_starts.get)
    gaps = [step_starts[key] - workers[key] for key in step_starts if key != first]
    return {
        "steps": len(step_starts),
        "run_s": round(times[DagsterEventType.RUN_SUCCESS][None] - started, 1),
        "first_step_after_s": round(min(step_starts.values()) - started, 1),
        "step_start_s": {
            "median": round(statistics.median(gaps), 2),
            "max": round(max(gaps), 2),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=REPO / "bench/results/step_startup.json")
    args = parser.parse_args()
    runs = []
    for index in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="step-startup-") as scratch:
            runs.append(_run_once(Path(scratch)))
        print(f"run {index + 1}: {json.dumps(runs[-1])}", flush=True)
    results = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "command": "dagster job execute -j finetune (smoke profile, tiny embedded partition)",
        "runs": runs,
        "load_average_after": [round(v, 2) for v in os.getloadavg()],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
