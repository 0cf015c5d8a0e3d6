"""Size Dagster's ``gpu`` pool to the cluster: ``python -m resources.gpu_pool``.

Run once in the code location's pod after ``helm install`` (and whenever the GPU node pool or
the launcher's machines change): as many model steps hold the pool at once as training runs fit
on ``COSMOALIGN_CLUSTER_GPUS`` GPUs.
"""

from __future__ import annotations

import dagster as dg

from resources.accelerator_pool import POOL
from resources.k8s_launcher import K8sAccelerateLauncher, launcher_from_env


def size_gpu_pool(instance: dg.DagsterInstance, launcher: K8sAccelerateLauncher) -> int:
    """Set the pool's limit on the instance to the launcher's :meth:`gpu_pool_limit`."""
    limit = launcher.gpu_pool_limit()
    instance.event_log_storage.set_concurrency_slots(POOL, limit)
    return limit


def main() -> None:
    """Size the pool of ``$DAGSTER_HOME``'s instance from the ``COSMOALIGN_*`` settings."""
    launcher = launcher_from_env()
    with dg.DagsterInstance.get() as instance:
        limit = size_gpu_pool(instance, launcher)
    print(
        f"pool {POOL!r}: {limit} concurrent training run(s) "
        f"({launcher.cluster_gpus} GPUs, {launcher.gpus_per_run} per run)"
    )


if __name__ == "__main__":
    main()
