"""deploy/helm/values.yaml and deploy/k8s/cosmoalign.yaml against what they configure: the
run launcher's config as Dagster's chart writes it into the instance (validated by dagster-k8s's
own schema), the instance's concurrency, Kubernetes objects through the client's models, and the
launcher settings the code location reads. With ``helm`` and a local copy of the chart
(``COSMOALIGN_DAGSTER_CHART``), the values are also rendered by ``helm template``."""

import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path

import dagster as dg
import pytest
import yaml

pytest.importorskip("dagster_k8s", reason="the k8s extra is not installed: pip install '.[k8s]'")

from dagster._config import process_config
from dagster_k8s import K8sRunLauncher
from dagster_k8s.models import k8s_model_from_dict, k8s_snake_case_dict
from kubernetes import client as k8s

from resources.k8s_launcher import K8sAccelerateLauncher, launcher_from_env

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
VALUES = yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())
MANIFESTS = list(yaml.safe_load_all((DEPLOY / "k8s" / "cosmoalign.yaml").read_text()))
# The keys of the chart's runLauncher.config.k8sRunLauncher (its values schema, chart 1.13).
CHART_RUN_LAUNCHER_KEYS = {
    "image", "imagePullPolicy", "jobNamespace", "loadInclusterConfig", "kubeconfigFile",
    "envConfigMaps", "envSecrets", "envVars", "volumeMounts", "volumes", "labels",
    "failPodOnRunFailure", "resources", "schedulerName", "securityContext", "runK8sConfig",
}  # fmt: skip
RUN_K8S_CONFIG = {
    "containerConfig": "container_config",
    "podSpecConfig": "pod_spec_config",
    "podTemplateSpecMetadata": "pod_template_spec_metadata",
    "jobSpecConfig": "job_spec_config",
    "jobMetadata": "job_metadata",
}


def _model(model_class, value: dict):
    """A kubernetes model from chart-style (camelCase) YAML; unknown keys raise."""
    return k8s_model_from_dict(model_class, k8s_snake_case_dict(model_class, value))


def _deployment() -> dict:
    [deployment] = VALUES["dagster-user-deployments"]["deployments"]
    return deployment


def _deployment_env() -> dict[str, str]:
    return {item["name"]: item["value"] for item in _deployment()["env"]}


def _instance_run_launcher(chart: dict) -> dict:
    """The instance's ``run_launcher.config`` the chart writes from ``k8sRunLauncher`` values."""
    config = {
        "load_incluster_config": chart["loadInclusterConfig"],
        "job_namespace": chart.get("jobNamespace") or "cosmoalign",
        "image_pull_policy": chart["imagePullPolicy"],
        "service_account_name": "dagster",
        "dagster_home": "/opt/dagster/dagster_home",
        "instance_config_map": "dagster-instance",
        "postgres_password_secret": VALUES["global"]["postgresqlSecretName"],
        "env_secrets": [secret["name"] for secret in chart.get("envSecrets", [])],
        "volumes": chart.get("volumes", []),
        "volume_mounts": chart.get("volumeMounts", []),
    }
    run_k8s = chart.get("runK8sConfig", {})
    config["run_k8s_config"] = {RUN_K8S_CONFIG[key]: value for key, value in run_k8s.items()}
    return config


def test_runs_launch_as_kubernetes_jobs_with_a_config_dagster_k8s_accepts():
    assert VALUES["runLauncher"]["type"] == "K8sRunLauncher"
    chart = VALUES["runLauncher"]["config"]["k8sRunLauncher"]
    assert set(chart) <= CHART_RUN_LAUNCHER_KEYS, set(chart) - CHART_RUN_LAUNCHER_KEYS
    assert set(chart.get("runK8sConfig", {})) <= RUN_K8S_CONFIG.keys()
    result = process_config(K8sRunLauncher.config_type(), _instance_run_launcher(chart))
    assert result.success, [error.message for error in result.errors]
    container = _model(
        k8s.V1Container, {"name": "dagster", **chart["runK8sConfig"]["containerConfig"]}
    )
    assert container.resources.requests["cpu"] == "1"
    pod = _model(k8s.V1PodSpec, {"containers": [], **chart["runK8sConfig"]["podSpecConfig"]})
    assert pod.security_context.run_as_non_root is True


def test_the_launcher_schema_check_can_fail():
    chart = VALUES["runLauncher"]["config"]["k8sRunLauncher"]
    broken = {**_instance_run_launcher(chart), "volume_mounts": [{"mountPath": "/x"}]}
    assert not process_config(K8sRunLauncher.config_type(), broken).success
    with pytest.raises(Exception, match="Unexpected keys"):
        _model(k8s.V1Volume, {"name": "work", "persistentVolumeClam": {"claimName": "x"}})


def test_code_server_run_and_step_pods_share_the_work_volume_the_launcher_mounts():
    deployment = _deployment()
    chart = VALUES["runLauncher"]["config"]["k8sRunLauncher"]
    launcher = launcher_from_env(_deployment_env())
    for owner in (deployment, chart):
        volumes = [_model(k8s.V1Volume, volume) for volume in owner["volumes"]]
        mounts = [_model(k8s.V1VolumeMount, mount) for mount in owner["volumeMounts"]]
        claims = {v.name: v.persistent_volume_claim.claim_name for v in volumes}
        paths = {mount.name: mount.mount_path for mount in mounts}
        assert {name: (claims[name], paths[name]) for name in paths} == {
            "work": (launcher.work_claim, launcher.work_mount)
        }
    assert deployment["includeConfigInLaunchedRuns"]["enabled"] is True


def test_the_code_location_runs_cluster_mode_with_secrets_by_reference_only():
    deployment = _deployment()
    assert deployment["dagsterApiGrpcArgs"] == ["-m", "pipeline.definitions"]
    assert importlib.util.find_spec("pipeline.definitions") is not None
    image = deployment["image"]
    # Training pods run the code location's image (the install line in values.yaml sets both).
    assert deployment["env"][3] == {
        "name": "COSMOALIGN_TRAINING_IMAGE",
        "value": f"{image['repository']}:{image['tag']}",
    }
    assert "env[3].value=$REPO:$TAG" in (DEPLOY / "helm" / "values.yaml").read_text()
    env = _deployment_env()
    assert env["COSMOALIGN_ENV"] == "k8s"
    lake = env["COSMOALIGN_HOME"]
    assert lake.startswith(("s3://", env["COSMOALIGN_CACHE"] + "/"))
    secrets = [secret["name"] for secret in deployment["envSecrets"]]
    launcher = launcher_from_env(env)
    assert launcher.env_secrets == secrets  # training pods get the credentials the steps get
    credentials = re.compile(r"^AWS_|ACCESS_KEY|SECRET_KEY|PASSWORD$|TOKEN$")
    assert not [name for name in env if credentials.search(name)]
    assert "postgresqlPassword" not in VALUES.get("postgresql", {})
    assert VALUES["generatePostgresqlPasswordSecret"] is False
    resources = _model(k8s.V1ResourceRequirements, deployment["resources"])
    assert resources.requests["memory"] == "2Gi"
    context = _model(k8s.V1PodSecurityContext, deployment["podSecurityContext"])
    assert context.run_as_non_root is True and context.run_as_user == 10001


def test_runs_queue_and_the_gpu_pool_starts_at_one_on_a_real_instance():
    concurrency = VALUES["concurrency"]
    assert concurrency["enabled"] is True
    coordinator = VALUES["dagsterDaemon"]["runCoordinator"]
    assert coordinator["type"] == "QueuedRunCoordinator"
    assert "maxConcurrentRuns" not in coordinator.get("config", {}).get("queuedRunCoordinator", {})
    overrides = {
        "concurrency": {
            "pools": {"default_limit": concurrency["pools"]["defaultLimit"]},
            "runs": {"max_concurrent_runs": concurrency["runs"]["maxConcurrentRuns"]},
        },
        "run_coordinator": {
            "module": "dagster._core.run_coordinator",
            "class": "QueuedRunCoordinator",
        },
    }
    with dg.instance_for_test(overrides=overrides) as instance:
        config = instance.get_concurrency_config()
        assert config.pool_config.default_pool_limit == 1
        assert config.run_queue_config.max_concurrent_runs == 8
    chart_gpus = int(_deployment_env()["COSMOALIGN_CLUSTER_GPUS"])
    assert launcher_from_env(_deployment_env()).gpu_pool_limit() == chart_gpus // 8


def test_manifests_provide_the_claim_account_and_rights_the_launcher_uses():
    kinds = {doc["kind"]: doc for doc in MANIFESTS}
    defaults = K8sAccelerateLauncher()
    claim = _model(k8s.V1PersistentVolumeClaim, kinds["PersistentVolumeClaim"])
    assert claim.metadata.name == defaults.work_claim
    assert claim.spec.access_modes == ["ReadWriteMany"]
    account = _model(k8s.V1ServiceAccount, kinds["ServiceAccount"])
    assert account.metadata.name == defaults.service_account
    role = _model(k8s.V1Role, kinds["Role"])
    allowed = {
        (group, resource, verb)
        for rule in role.rules
        for group in rule.api_groups
        for resource in rule.resources
        for verb in rule.verbs
    }
    used = {
        ("", "pods", "create"), ("", "pods", "delete"), ("", "pods", "get"),
        ("", "pods", "list"), ("", "pods", "watch"), ("", "pods/log", "get"),
        ("", "services", "create"), ("", "services", "delete"),
        ("batch", "jobs", "create"), ("batch", "jobs", "delete"),
    }  # fmt: skip
    assert used <= allowed, used - allowed
    binding = _model(k8s.V1RoleBinding, kinds["RoleBinding"])
    assert binding.role_ref.name == role.metadata.name
    assert [subject.name for subject in binding.subjects] == ["dagster"]


def _chart() -> str:
    if not shutil.which("helm"):
        pytest.skip("no helm binary on PATH (not packaged for this OS; see docs/deploy.md)")
    chart = os.environ.get("COSMOALIGN_DAGSTER_CHART")
    if not chart or not Path(chart).exists():
        pytest.skip(
            "Dagster's chart cannot be fetched offline: set COSMOALIGN_DAGSTER_CHART to a copy "
            "(helm pull dagster/dagster --version 1.13.27 --untar)"
        )
    return chart


def test_helm_template_renders_the_values():
    chart = _chart()
    values = str(DEPLOY / "helm" / "values.yaml")
    command = ["helm", "template", "dagster", chart, "-n", "cosmoalign", "-f", values]
    rendered = subprocess.run(command, capture_output=True, text=True, check=True, timeout=120)
    documents = [doc for doc in yaml.safe_load_all(rendered.stdout) if doc]
    [instance_map] = [
        doc
        for doc in documents
        if doc["kind"] == "ConfigMap" and doc["metadata"]["name"].endswith("-instance")
    ]
    instance = yaml.safe_load(instance_map["data"]["dagster.yaml"])
    assert instance["run_launcher"]["class"] == "K8sRunLauncher"
    assert instance["concurrency"]["pools"]["default_limit"] == 1
    deployments = [d for d in documents if d["kind"] == "Deployment"]
    images = {c["image"] for d in deployments for c in d["spec"]["template"]["spec"]["containers"]}
    image = _deployment()["image"]
    assert f"{image['repository']}:{image['tag']}" in images


def test_every_setting_the_values_pass_is_read_by_the_code():
    """A misspelt variable would silently keep a default: each one must appear in the code."""
    root = DEPLOY.parent
    sources = " ".join(
        path.read_text()
        for folder in ("resources", "pipeline", "cosmoalign", "assets")
        for path in (root / folder).rglob("*.py")
    )
    unread = [name for name in _deployment_env() if f'"{name}"' not in sources]
    assert not unread, unread
