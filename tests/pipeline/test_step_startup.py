"""A step process forked from the run's fork server opens the repo's instance without importing
Dagster's storage stack again (sqlalchemy, alembic, the sqlite storages): the server preloads it."""

import json
import os
import subprocess
import sys

from tests.dagster_env import REPO_ROOT

PROBE = """
import importlib, json, sys
from pipeline.executors import CODE_LOCATION_MODULES
for module in CODE_LOCATION_MODULES:
    importlib.import_module(module)
import dagster as dg
from dagster._core.instance.ref import InstanceRef
before = set(sys.modules)
with dg.DagsterInstance.from_ref(InstanceRef.from_dir(sys.argv[1])) as instance:
    instance.get_runs(limit=1)
print(json.dumps(sorted(set(sys.modules) - before)))
"""
STORAGE_STACK = (
    "sqlalchemy",
    "alembic",
    "dagster._core.storage.runs",
    "dagster._core.storage.event_log",
    "dagster._core.storage.schedules",
)


def test_opening_the_instance_after_the_preload_imports_no_storage_modules(tmp_path):
    probe = subprocess.run(
        [sys.executable, "-c", PROBE, str(REPO_ROOT)],
        cwd=REPO_ROOT,
        env={**os.environ, "COSMOALIGN_DAGSTER_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert probe.returncode == 0, probe.stderr[-3000:]
    imported = json.loads(probe.stdout.splitlines()[-1])
    late = [name for name in imported if name.startswith(STORAGE_STACK)]
    assert not late, f"imported by each step, not preloaded: {late}"
