"""The launcher on Kubernetes: training (or GPU captioning) in pods of its own, through
dagster-k8s's ``PipesK8sClient``.

Machine 0 is the pipes pod: its main process reports to Dagster, and a headless Service named
after the run points at it (the rendezvous address). Machines 1..N-1 are an Indexed Job whose
pods take ``--machine_rank`` from their completion index. Every pod mounts the shared work volume
(a ReadWriteMany claim, also mounted in the step pods) at ``$COSMOALIGN_CACHE``, where the asset
writes the run's config and the run writes checkpoints, TensorBoard logs and its export.

Needs the ``k8s`` extra (``pip install 'cosmoalign[k8s]'``).
"""

from __future__ import annotations

import os
import re
import shlex
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import dagster as dg
from kubernetes import client as k8s
from pydantic import Field

from resources.launcher import AccelerateLauncher, accelerate_command

POD_LAUNCH = ("accelerate", "launch")
TRAINING_LABEL = "cosmoalign/training"
RANK_LABEL = "cosmoalign/machine-rank"
GPU = "nvidia.com/gpu"
# Settings of the launching step that the training pods need too.
FORWARDED_ENV = ("COSMOALIGN_HOME", "COSMOALIGN_PROFILE", "HF_HUB_OFFLINE", "HF_HOME")


@dataclass(frozen=True)
class TrainingPods:
    """What one launch creates: its name, namespace, machines and processes per machine."""

    name: str
    namespace: str
    num_machines: int
    processes_per_machine: int

    @property
    def main_process_ip(self) -> str:
        """The rank-0 pod's address: the headless Service of this launch."""
        return f"{self.name}.{self.namespace}.svc"


class K8sAccelerateLauncher(AccelerateLauncher):
    """``accelerate launch`` in GPU pods: ``num_machines`` pods of ``num_processes`` GPUs each."""

    num_processes: int = Field(default=1, description="Processes (GPUs) per machine")
    num_machines: int = Field(default=1, description="Pods (nodes) one training run spans")
    main_process_port: int = Field(default=29500, description="Rendezvous port on machine 0")
    image: str = Field(
        default="",
        description="Image of the training pods; empty: the image "
        "of the launching step ($DAGSTER_CURRENT_IMAGE, set by Dagster's chart)",
    )
    namespace: str = Field(default="", description="Namespace; empty: the step pod's own")
    service_account: str = Field(default="cosmoalign-training")
    cpu_request: str = Field(default="8", description="CPU cores per pod (data loading)")
    memory_request: str = Field(default="32Gi")
    shm_size: str = Field(default="16Gi", description="/dev/shm for DataLoader workers and NCCL")
    node_selector: dict[str, str] = Field(default={}, description="e.g. the GPU node pool")
    gpu_toleration: bool = Field(
        default=True, description=f"Tolerate the usual `{GPU}` NoSchedule taint of GPU nodes"
    )
    work_claim: str = Field(
        default="cosmoalign-work", description="ReadWriteMany claim shared with the step pods"
    )
    work_mount: str = Field(
        default="/var/cache/cosmoalign", description="Its mount path, exported as COSMOALIGN_CACHE"
    )
    env_secrets: list[str] = Field(
        default=[], description="Secrets whose keys become env vars (e.g. S3 credentials)"
    )
    cluster_gpus: int = Field(
        default=0, description="GPUs in the cluster's GPU pool; sizes the `gpu` concurrency pool"
    )
    pod_wait_timeout: float = Field(default=7 * 24 * 3600, description="Seconds to wait")
    run_as_user: int = Field(
        default=10001, description="The image's non-root user; also the volume's fsGroup"
    )

    @property
    def gpus_per_run(self) -> int:
        """GPUs one training run holds."""
        return 0 if self.cpu else self.num_machines * self.num_processes

    def gpu_pool_limit(self) -> int:
        """How many training runs fit on the cluster's GPUs at once (at least 1)."""
        if self.gpus_per_run == 0 or self.cluster_gpus == 0:
            return 1
        return max(1, self.cluster_gpus // self.gpus_per_run)

    def plan(self, name: str, namespace: str, num_processes: int | None = None) -> TrainingPods:
        """The pods of one launch; an explicit ``num_processes`` means one machine with that
        many (GPU captioning asks for 1)."""
        if num_processes:
            return TrainingPods(name, namespace, 1, num_processes)
        return TrainingPods(name, namespace, self.num_machines, self.num_processes)

    def pod_command(
        self, pods: TrainingPods, module: str, args: list[str], rank: int | str
    ) -> list[str]:
        """The ``accelerate launch`` argv of one machine."""
        return accelerate_command(
            module,
            args,
            num_processes=pods.num_machines * pods.processes_per_machine,
            num_machines=pods.num_machines,
            machine_rank=rank,
            main_process_ip=pods.main_process_ip if pods.num_machines > 1 else None,
            main_process_port=self.main_process_port,
            mixed_precision=self.mixed_precision,
            cpu=self.cpu,
            extra_args=self.extra_args,
            launch=POD_LAUNCH,
        )

    def worker_command(self, pods: TrainingPods, module: str, args: list[str]) -> list[str]:
        """Machines 1..N-1: the rank is the Indexed Job's completion index plus one."""
        placeholder = "__MACHINE_RANK__"
        line = shlex.join(self.pod_command(pods, module, args, placeholder))
        return [
            "/bin/sh",
            "-c",
            "exec " + line.replace(placeholder, '"$((JOB_COMPLETION_INDEX + 1))"'),
        ]

    def pod_spec(self, pods: TrainingPods, command: list[str]) -> k8s.V1PodSpec:
        """One machine's pod: GPUs, the work volume, shared memory, env, GPU-node placement."""
        image = self.image or os.environ.get("DAGSTER_CURRENT_IMAGE")
        if not image:
            raise ValueError(
                "no image for the training pods: set COSMOALIGN_TRAINING_IMAGE (the "
                "launcher's `image`) or DAGSTER_CURRENT_IMAGE"
            )
        gpus = 0 if self.cpu else pods.processes_per_machine
        requests = {"cpu": self.cpu_request, "memory": self.memory_request}
        limits = {"memory": self.memory_request} | ({GPU: str(gpus)} if gpus else {})
        env = {name: os.environ[name] for name in FORWARDED_ENV if name in os.environ}
        env |= {"COSMOALIGN_CACHE": self.work_mount, "PYTHONUNBUFFERED": "1"}
        if not gpus:
            env["CUDA_VISIBLE_DEVICES"] = ""
        container = k8s.V1Container(
            name="training",
            image=image,
            command=command,
            env=[k8s.V1EnvVar(name=key, value=value) for key, value in sorted(env.items())],
            env_from=[
                k8s.V1EnvFromSource(secret_ref=k8s.V1SecretEnvSource(name=secret))
                for secret in self.env_secrets
            ],
            resources=k8s.V1ResourceRequirements(requests=requests, limits=limits),
            ports=[k8s.V1ContainerPort(name="rendezvous", container_port=self.main_process_port)],
            volume_mounts=[
                k8s.V1VolumeMount(name="work", mount_path=self.work_mount),
                k8s.V1VolumeMount(name="shm", mount_path="/dev/shm"),
            ],
        )
        tolerations = (
            [k8s.V1Toleration(key=GPU, operator="Exists", effect="NoSchedule")]
            if gpus and self.gpu_toleration
            else None
        )
        return k8s.V1PodSpec(
            containers=[container],
            restart_policy="Never",
            service_account_name=self.service_account,
            security_context=k8s.V1PodSecurityContext(
                run_as_non_root=True, run_as_user=self.run_as_user, fs_group=self.run_as_user
            ),
            node_selector=self.node_selector or None,
            tolerations=tolerations,
            volumes=[
                k8s.V1Volume(
                    name="work",
                    persistent_volume_claim=k8s.V1PersistentVolumeClaimVolumeSource(
                        claim_name=self.work_claim
                    ),
                ),
                k8s.V1Volume(
                    name="shm",
                    empty_dir=k8s.V1EmptyDirVolumeSource(medium="Memory", size_limit=self.shm_size),
                ),
            ],
        )

    def main_pod(
        self, pods: TrainingPods, module: str, args: list[str]
    ) -> tuple[k8s.V1ObjectMeta, k8s.V1PodSpec]:
        """Machine 0's metadata and spec, as ``PipesK8sClient.run`` takes them."""
        spec = self.pod_spec(pods, self.pod_command(pods, module, args, 0))
        labels = {TRAINING_LABEL: pods.name, RANK_LABEL: "0"}
        return k8s.V1ObjectMeta(labels=labels), spec

    def worker_job(self, pods: TrainingPods, module: str, args: list[str]) -> k8s.V1Job:
        """Machines 1..N-1 as one Indexed Job."""
        workers = pods.num_machines - 1
        template = k8s.V1PodTemplateSpec(
            metadata=k8s.V1ObjectMeta(labels={TRAINING_LABEL: pods.name}),
            spec=self.pod_spec(pods, self.worker_command(pods, module, args)),
        )
        return k8s.V1Job(
            api_version="batch/v1",
            kind="Job",
            metadata=k8s.V1ObjectMeta(
                name=f"{pods.name}-workers", labels={TRAINING_LABEL: pods.name}
            ),
            spec=k8s.V1JobSpec(
                completions=workers,
                parallelism=workers,
                completion_mode="Indexed",
                backoff_limit=0,
                ttl_seconds_after_finished=3600,
                template=template,
            ),
        )

    def rendezvous_service(self, pods: TrainingPods) -> k8s.V1Service:
        """A headless Service resolving ``main_process_ip`` to machine 0, ready or not."""
        return k8s.V1Service(
            api_version="v1",
            kind="Service",
            metadata=k8s.V1ObjectMeta(name=pods.name, labels={TRAINING_LABEL: pods.name}),
            spec=k8s.V1ServiceSpec(
                cluster_ip="None",
                selector={TRAINING_LABEL: pods.name, RANK_LABEL: "0"},
                publish_not_ready_addresses=True,
                ports=[k8s.V1ServicePort(name="rendezvous", port=self.main_process_port)],
            ),
        )

    def run(
        self,
        context: dg.AssetExecutionContext,
        module: str,
        args: list[str],
        num_processes: int | None = None,
        env: Mapping[str, str] | None = None,
    ) -> dg.MaterializeResult:
        """Create the workers and their Service, run machine 0 through pipes, clean up.

        Pods take credentials from Secrets (``env_secrets``), never from ``env``: a pod spec's
        values are readable by anyone who can read the pod."""
        if env:
            raise ValueError(
                f"training pods cannot take {sorted(env)} from the lake resource's "
                "storage_options: put them in a Secret named by COSMOALIGN_TRAINING_SECRETS"
            )
        from dagster_k8s import PipesK8sClient
        from dagster_k8s.utils import detect_current_namespace

        namespace = self.namespace or detect_current_namespace(None) or "default"
        pods = self.plan(launch_name(context.run.run_id, context.op.name), namespace, num_processes)
        meta, spec = self.main_pod(pods, module, args)
        serialize = k8s.ApiClient().sanitize_for_serialization
        context.log.info(
            f"launching {pods.name}: {pods.num_machines} machine(s) x "
            f"{pods.processes_per_machine} process(es): {' '.join(spec.containers[0].command)}"
        )
        with _workers(self, pods, module, args):
            invocation = PipesK8sClient().run(
                context=context,
                namespace=namespace,
                base_pod_meta=serialize(meta),
                base_pod_spec=serialize(spec),
                pod_wait_timeout=self.pod_wait_timeout,
            )
        return invocation.get_materialize_result()


def launcher_from_env(environ: Mapping[str, str] = os.environ) -> K8sAccelerateLauncher:
    """The launcher as the chart's values configure it, through ``COSMOALIGN_*`` variables
    (see docs/deploy.md); unset ones keep the defaults."""
    settings: dict = {"mixed_precision": environ.get("COSMOALIGN_MIXED_PRECISION", "bf16")}
    for field, variable in _INT_SETTINGS.items():
        if environ.get(variable):
            settings[field] = int(environ[variable])
    for field, variable in _STR_SETTINGS.items():
        if environ.get(variable):
            settings[field] = environ[variable]
    if environ.get("COSMOALIGN_TRAINING_SECRETS"):
        settings["env_secrets"] = environ["COSMOALIGN_TRAINING_SECRETS"].split(",")
    if environ.get("COSMOALIGN_GPU_NODE_SELECTOR"):
        pairs = (item.split("=", 1) for item in environ["COSMOALIGN_GPU_NODE_SELECTOR"].split(","))
        settings["node_selector"] = dict(pairs)
    settings["cpu"] = environ.get("COSMOALIGN_TRAINING_CPU", "") == "1"
    return K8sAccelerateLauncher(**settings)


_INT_SETTINGS = {
    "num_processes": "COSMOALIGN_GPUS",
    "num_machines": "COSMOALIGN_NUM_MACHINES",
    "cluster_gpus": "COSMOALIGN_CLUSTER_GPUS",
    "main_process_port": "COSMOALIGN_MAIN_PROCESS_PORT",
}
_STR_SETTINGS = {
    "image": "COSMOALIGN_TRAINING_IMAGE",
    "service_account": "COSMOALIGN_TRAINING_SERVICE_ACCOUNT",
    "work_claim": "COSMOALIGN_WORK_CLAIM",
    "work_mount": "COSMOALIGN_CACHE",
    "cpu_request": "COSMOALIGN_TRAINING_CPU_REQUEST",
    "memory_request": "COSMOALIGN_TRAINING_MEMORY",
    "shm_size": "COSMOALIGN_TRAINING_SHM",
}


def launch_name(run_id: str, step: str) -> str:
    """A DNS-label name for one launch: run, step and a random suffix (retries get new ones)."""
    slug = re.sub("[^a-z0-9-]", "", step.lower().replace("_", "-"))[:24].strip("-")
    return f"train-{run_id[:8]}-{slug}-{uuid.uuid4().hex[:6]}"


@contextmanager
def _workers(
    launcher: K8sAccelerateLauncher, pods: TrainingPods, module: str, args: list[str]
) -> Iterator[None]:
    """Machines 1..N-1 and the rendezvous Service exist while the block runs."""
    if pods.num_machines == 1:
        yield
        return
    from kubernetes import config

    _load_config(config)
    core, batch = k8s.CoreV1Api(), k8s.BatchV1Api()
    core.create_namespaced_service(pods.namespace, launcher.rendezvous_service(pods))
    try:
        job = batch.create_namespaced_job(pods.namespace, launcher.worker_job(pods, module, args))
        try:
            yield
        finally:
            background = k8s.V1DeleteOptions(propagation_policy="Background")
            batch.delete_namespaced_job(job.metadata.name, pods.namespace, body=background)
    finally:
        core.delete_namespaced_service(pods.name, pods.namespace)


def _load_config(config) -> None:
    """In-cluster credentials inside a pod, else the local kubeconfig."""
    if os.getenv("KUBERNETES_SERVICE_HOST"):
        config.load_incluster_config()
    else:
        config.load_kube_config()
