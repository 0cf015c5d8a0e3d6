"""The ``gpu`` pool: steps that run a model (training, evaluation, embedding) hold a slot of it.

Dagster's instance limits the pool across runs (one slot locally, see dagster.yaml; as many as
training runs fit the GPUs on a cluster, see :mod:`resources.gpu_pool`). A step that finds the
pool full retries with a growing back-off, up to 15 s, so within one local run the executor also
limits the pool's steps by their tag (:data:`ONE_AT_A_TIME`): the next one asks for the slot
only when the last has freed it, instead of waiting out the back-off.
"""

from __future__ import annotations

POOL = "gpu"
POOL_TAG = "cosmoalign/pool"

IN_POOL = {"pool": POOL, "op_tags": {POOL_TAG: POOL}}
"""Keyword arguments of ``dg.asset`` for a step in the pool."""

ONE_AT_A_TIME = [{"key": POOL_TAG, "value": POOL, "limit": 1}]
"""A local executor's ``tag_concurrency_limits``: one step of the pool at a time in a run."""
