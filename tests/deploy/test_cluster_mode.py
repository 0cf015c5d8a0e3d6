"""``COSMOALIGN_ENV=k8s``: steps as pods, training through the Kubernetes launcher, the ``gpu``
pool sized to the cluster; the local default is untouched."""

import importlib.util
import sys

import dagster as dg
import pytest

pytest.importorskip("dagster_k8s", reason="the k8s extra is not installed: pip install '.[k8s]'")

from dagster_k8s import k8s_job_executor

from pipeline import definitions
from pipeline.definitions import defs
from pipeline.executors import DATA_STEPS, MODEL_STEPS
from resources.gpu_pool import POOL, size_gpu_pool
from resources.k8s_launcher import K8sAccelerateLauncher
from resources.launcher import AccelerateLauncher
from tests.dagster_env import REPO_ROOT, repo_instance


def _definitions_module(monkeypatch, **environ):
    """pipeline/definitions.py executed afresh under ``environ`` (with the job modules it
    imports, which read it too)."""
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    for module in ("pipeline.jobs", "pipeline.schedules", "pipeline.shard_plan"):
        monkeypatch.delitem(sys.modules, module)
    spec = importlib.util.spec_from_file_location(
        "definitions_under_test", REPO_ROOT / "pipeline" / "definitions.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cluster_mode_runs_steps_as_pods_and_training_in_gpu_pods(monkeypatch):
    module = _definitions_module(
        monkeypatch,
        COSMOALIGN_ENV="k8s",
        COSMOALIGN_HOME="/var/cache/cosmoalign/lake",
        COSMOALIGN_GPUS="8",
        COSMOALIGN_NUM_MACHINES="2",
    )
    for name in ("finetune", "ingest", "recaption", "plan_shards"):
        assert module.defs.resolve_job_def(name).executor_def is k8s_job_executor
    launcher = module.RESOURCES["launcher"]
    assert isinstance(launcher, K8sAccelerateLauncher)
    assert (launcher.num_machines, launcher.num_processes) == (2, 8)
    assert module.RESOURCES["lake"] is module.RESOURCES_PROD["lake"]


def _preloaded(job: str) -> list[str]:
    executor = defs.resolve_job_def(job).executor_def
    config = executor.apply_config_mapping({}).value["config"]
    return config["start_method"]["forkserver"]["preload_modules"]


def test_the_local_default_keeps_the_multiprocess_executor_and_subprocess_launcher():
    assert definitions.EXECUTOR is MODEL_STEPS
    assert defs.resolve_job_def("finetune").executor_def is MODEL_STEPS
    assert {"pipeline.definitions", "torch", "open_clip"} <= set(_preloaded("finetune"))
    for data_job in ("ingest", "ingest_shards", "balance", "recaption", "plan_shards"):
        assert defs.resolve_job_def(data_job).executor_def is DATA_STEPS is dg.in_process_executor
    assert type(definitions.RESOURCES["launcher"]) is AccelerateLauncher


def test_the_gpu_pool_is_sized_to_the_runs_the_cluster_holds(tmp_path):
    with repo_instance(tmp_path) as instance:
        two_nodes = K8sAccelerateLauncher(num_machines=2, num_processes=8, cluster_gpus=48)
        assert size_gpu_pool(instance, two_nodes) == 3
        assert instance.event_log_storage.get_concurrency_info(POOL).slot_count == 3
        one_gpu = K8sAccelerateLauncher(num_processes=1, cluster_gpus=48)
        assert size_gpu_pool(instance, one_gpu) == 48
        assert instance.event_log_storage.get_concurrency_info(POOL).slot_count == 48
        too_big = K8sAccelerateLauncher(num_machines=8, num_processes=8, cluster_gpus=16)
        assert size_gpu_pool(instance, too_big) == 1  # never 0: runs would wait forever
