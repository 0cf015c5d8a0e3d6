"""The pods, Job and Service the Kubernetes launcher creates, built with the kubernetes client's
models exactly as ``PipesK8sClient`` submits them (no cluster is reachable here)."""

import os
import subprocess

import pytest

pytest.importorskip("dagster_k8s", reason="the k8s extra is not installed: pip install '.[k8s]'")

from dagster_k8s.models import k8s_model_from_dict, k8s_snake_case_dict
from dagster_k8s.pipes import build_pod_body
from kubernetes import client as k8s

from resources.k8s_launcher import (
    GPU,
    RANK_LABEL,
    TRAINING_LABEL,
    K8sAccelerateLauncher,
    launch_name,
    launcher_from_env,
)
from resources.launcher import accelerate_command

IMAGE = "registry.example.com/cosmoalign:0.1.0-cuda"
ARGS = ["--config", "/var/cache/cosmoalign/work/train/cosmoclip/embedded/abc/train_config.json"]
PIPES_ENV = {"DAGSTER_PIPES_CONTEXT": "ctx", "DAGSTER_PIPES_MESSAGES": "msg"}


def _launcher(**overrides) -> K8sAccelerateLauncher:
    settings = {
        "image": IMAGE,
        "num_machines": 3,
        "num_processes": 4,
        "mixed_precision": "bf16",
        "env_secrets": ["cosmoalign-s3"],
        "node_selector": {"cosmoalign/pool": "gpu"},
    }
    return K8sAccelerateLauncher(**{**settings, **overrides})


def _flags(command: list[str]) -> dict[str, str]:
    """``--flag value`` pairs of an ``accelerate launch`` argv, up to ``-m``."""
    head = command[: command.index("-m")]
    return {
        flag: value
        for flag, value in zip(head, [*head[1:], ""], strict=True)
        if flag.startswith("--") and not value.startswith("--")
    }


def _main_pod(launcher: K8sAccelerateLauncher, name: str = "train-1234abcd-cosmoclip-model-ab12cd"):
    """Machine 0 as PipesK8sClient.run builds it from the launcher's meta and spec."""
    pods = launcher.plan(name, "cosmoalign")
    meta, spec = launcher.main_pod(pods, "cosmoalign.train", ARGS)
    serialize = k8s.ApiClient().sanitize_for_serialization
    pod = build_pod_body(
        pod_name="dagster-pipes-pod",
        image=None,
        command=None,
        env_vars=PIPES_ENV,
        base_pod_meta=serialize(meta),
        base_pod_spec=serialize(spec),
    )
    return pods, pod


def test_machine_zero_requests_its_gpus_and_runs_rank_zero_of_the_multi_node_launch(monkeypatch):
    monkeypatch.setenv("COSMOALIGN_HOME", "s3://lake/cosmoalign")
    pods, pod = _main_pod(_launcher())
    [container] = pod.spec.containers
    assert container.image == IMAGE
    assert container.resources.limits[GPU] == "4"
    assert container.resources.requests["cpu"] == "8"
    command = container.command
    assert command[:2] == ["accelerate", "launch"]
    assert command[command.index("-m") :] == ["-m", "cosmoalign.train", *ARGS]
    flags = _flags(command)
    assert flags["--num_processes"] == "12" and flags["--num_machines"] == "3"
    assert flags["--machine_rank"] == "0"
    assert flags["--main_process_ip"] == f"{pods.name}.cosmoalign.svc"
    assert flags["--main_process_port"] == "29500" and flags["--mixed_precision"] == "bf16"
    assert "--multi_gpu" in command and "--cpu" not in command
    env = {item.name: item.value for item in container.env}
    assert env["DAGSTER_PIPES_CONTEXT"] == "ctx"  # pipes reaches the first container
    assert env["COSMOALIGN_CACHE"] == "/var/cache/cosmoalign"
    assert env["COSMOALIGN_HOME"] == "s3://lake/cosmoalign"
    assert "CUDA_VISIBLE_DEVICES" not in env
    assert [source.secret_ref.name for source in container.env_from] == ["cosmoalign-s3"]
    assert pod.metadata.labels[TRAINING_LABEL] == pods.name
    assert pod.metadata.labels[RANK_LABEL] == "0"
    assert pod.spec.restart_policy == "Never"
    assert pod.spec.service_account_name == "cosmoalign-training"
    security = pod.spec.security_context
    assert security.run_as_non_root and security.run_as_user == security.fs_group == 10001
    assert pod.spec.node_selector == {"cosmoalign/pool": "gpu"}
    [toleration] = pod.spec.tolerations
    assert (toleration.key, toleration.effect) == (GPU, "NoSchedule")


def test_every_machine_mounts_the_shared_work_volume_and_shared_memory():
    launcher = _launcher()
    pods, pod = _main_pod(launcher)
    worker = launcher.worker_job(pods, "cosmoalign.train", ARGS).spec.template.spec
    for spec in (pod.spec, worker):
        volumes = {volume.name: volume for volume in spec.volumes}
        assert volumes["work"].persistent_volume_claim.claim_name == "cosmoalign-work"
        assert volumes["shm"].empty_dir.medium == "Memory"
        mounts = {mount.name: mount.mount_path for mount in spec.containers[0].volume_mounts}
        assert mounts == {"work": "/var/cache/cosmoalign", "shm": "/dev/shm"}
        assert spec.containers[0].resources.limits[GPU] == "4"
        assert spec.containers[0].image == IMAGE


def test_workers_are_an_indexed_job_for_machines_one_to_n():
    launcher = _launcher()
    pods = launcher.plan("train-1234abcd-grain-model-ab12cd", "cosmoalign")
    job = launcher.worker_job(pods, "cosmoalign.train", ARGS)
    assert job.metadata.name == f"{pods.name}-workers"
    assert (job.spec.completions, job.spec.parallelism) == (2, 2)
    assert job.spec.completion_mode == "Indexed" and job.spec.backoff_limit == 0
    template = job.spec.template
    assert template.metadata.labels == {TRAINING_LABEL: pods.name}  # not rank 0's Service
    assert template.spec.restart_policy == "Never"
    # The manifests are valid API objects: through the API's JSON and back into the models.
    as_json = k8s.ApiClient().sanitize_for_serialization(job)
    parsed = k8s_model_from_dict(k8s.V1Job, k8s_snake_case_dict(k8s.V1Job, as_json))
    assert parsed.spec.template.spec.containers[0].command == template.spec.containers[0].command


def test_a_worker_takes_its_machine_rank_from_the_completion_index(tmp_path):
    """The worker's shell line, run by /bin/sh with an ``accelerate`` that prints its argv."""
    launcher = _launcher()
    pods = launcher.plan("train-1234abcd-grain-model-ab12cd", "cosmoalign")
    command = launcher.worker_command(pods, "cosmoalign.train", ARGS)
    assert command[:2] == ["/bin/sh", "-c"]
    fake = tmp_path / "accelerate"
    fake.write_text('#!/bin/sh\nfor arg in "$@"; do echo "$arg"; done\n')
    fake.chmod(0o755)
    env = {"PATH": f"{tmp_path}:{os.environ['PATH']}", "JOB_COMPLETION_INDEX": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    argv = done.stdout.splitlines()
    assert argv[0] == "launch"
    flags = _flags(["accelerate", *argv])
    assert flags["--machine_rank"] == "2"
    assert flags["--main_process_ip"] == f"{pods.name}.cosmoalign.svc"
    assert argv[argv.index("-m") :] == ["-m", "cosmoalign.train", *ARGS]


def test_the_rendezvous_service_is_headless_and_selects_machine_zero_only():
    launcher = _launcher()
    pods, pod = _main_pod(launcher)
    service = launcher.rendezvous_service(pods)
    assert service.metadata.name == pods.name  # the host part of --main_process_ip
    assert service.spec.cluster_ip == "None"
    assert service.spec.publish_not_ready_addresses is True
    selector = service.spec.selector
    assert selector.items() <= pod.metadata.labels.items()
    worker_labels = launcher.worker_job(pods, "m", []).spec.template.metadata.labels
    assert not selector.items() <= worker_labels.items()
    assert service.spec.ports[0].port == 29500


def test_one_machine_launches_need_no_rendezvous_and_captioning_asks_for_one_gpu():
    launcher = _launcher(num_machines=1)
    pods = launcher.plan("train-x", "ns")
    flags = _flags(launcher.pod_command(pods, "cosmoalign.train", ARGS, 0))
    assert "--main_process_ip" not in flags and flags["--num_machines"] == "1"
    captioning = _launcher().plan("train-y", "ns", num_processes=1)
    assert (captioning.num_machines, captioning.processes_per_machine) == (1, 1)
    _, spec = _launcher().main_pod(captioning, "cosmoalign.captions", ["--x"])
    assert spec.containers[0].resources.limits[GPU] == "1"
    assert "--multi_gpu" not in spec.containers[0].command


def test_cpu_pods_request_no_gpu_and_hide_any():
    launcher = _launcher(cpu=True, num_machines=1, num_processes=2)
    _, spec = launcher.main_pod(launcher.plan("train-x", "ns"), "cosmoalign.train", ARGS)
    [container] = spec.containers
    assert GPU not in container.resources.limits and spec.tolerations is None
    assert {e.name: e.value for e in container.env}["CUDA_VISIBLE_DEVICES"] == ""
    assert "--multi_gpu" in container.command and "--cpu" not in container.command
    assert launcher.gpus_per_run == 0 and launcher.gpu_pool_limit() == 1


def test_pods_need_an_image(monkeypatch):
    monkeypatch.delenv("DAGSTER_CURRENT_IMAGE", raising=False)
    launcher = _launcher(image="")
    with pytest.raises(ValueError, match="DAGSTER_CURRENT_IMAGE"):
        launcher.main_pod(launcher.plan("train-x", "ns"), "cosmoalign.train", ARGS)
    monkeypatch.setenv("DAGSTER_CURRENT_IMAGE", "from-dagster:1")
    _, spec = launcher.main_pod(launcher.plan("train-x", "ns"), "cosmoalign.train", ARGS)
    assert spec.containers[0].image == "from-dagster:1"


def test_multi_machine_commands_need_an_address_and_an_even_split():
    with pytest.raises(ValueError, match="split"):
        accelerate_command(
            "m", [], num_processes=5, num_machines=2, main_process_ip="h", main_process_port=1
        )
    with pytest.raises(ValueError, match="main_process_ip"):
        accelerate_command("m", [], num_processes=4, num_machines=2, main_process_port=1)


def test_launch_names_are_dns_labels_unique_per_attempt():
    names = {launch_name("8f1c2d3e-aaaa-bbbb", "galaxalign_model") for _ in range(5)}
    assert len(names) == 5
    for name in names:
        assert len(name) <= 52  # room for the "-workers" Job and its pods' suffixes
        assert name.startswith("train-8f1c2d3e-galaxalign-model-")
        assert all(c.isdigit() or c.islower() or c == "-" for c in name)


def test_the_launcher_reads_the_chart_settings_from_the_environment():
    launcher = launcher_from_env(
        {
            "COSMOALIGN_GPUS": "8",
            "COSMOALIGN_NUM_MACHINES": "2",
            "COSMOALIGN_CLUSTER_GPUS": "40",
            "COSMOALIGN_WORK_CLAIM": "work-rwx",
            "COSMOALIGN_CACHE": "/cache",
            "COSMOALIGN_TRAINING_SECRETS": "s3,wandb",
            "COSMOALIGN_GPU_NODE_SELECTOR": "pool=a100,zone=b",
            "COSMOALIGN_TRAINING_SHM": "64Gi",
        }
    )
    assert (launcher.num_processes, launcher.num_machines, launcher.gpus_per_run) == (8, 2, 16)
    assert launcher.gpu_pool_limit() == 2  # 40 GPUs hold two 16-GPU runs
    assert (launcher.work_claim, launcher.work_mount) == ("work-rwx", "/cache")
    assert launcher.env_secrets == ["s3", "wandb"]
    assert launcher.node_selector == {"pool": "a100", "zone": "b"}
    assert launcher.shm_size == "64Gi"
    assert launcher.mixed_precision == "bf16" and not launcher.cpu
    assert launcher_from_env({}).num_machines == 1
