"""The launcher: runs GPU work (training, GPU captioning) under ``accelerate launch``; one process
runs inline (:mod:`cosmoalign.inline_launch`: forked from the step when that is safe, else in
one subprocess instead of the launcher's two), more are ``accelerate launch`` subprocesses.

The process talks back through dagster-pipes (logs, the materialization); only its main
process opens pipes. The same command scales from one CPU to N GPUs with ``num_processes``; on a
cluster :class:`resources.k8s_launcher.K8sAccelerateLauncher` runs the same module in pods, with
the command line built by :func:`accelerate_command` here.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence

import dagster as dg
from dagster._core.errors import DagsterExecutionInterruptedError, DagsterPipesExecutionError
from pydantic import Field

from cosmoalign.inline_launch import WarmLaunch, can_fork_warm

LOCAL_LAUNCH = (sys.executable, "-m", "accelerate.commands.launch")
INLINE_LAUNCH = (sys.executable, "-m", "cosmoalign.inline_launch")
FORKED, INLINE, SUBPROCESSES = "inline, forked", "inline", "accelerate launch"
"""How :meth:`AccelerateLauncher.run` starts a launch (it logs which)."""
TERMINATION_SECONDS = 60
"""How long an interrupted launch gets to stop after SIGINT."""


def accelerate_command(
    module: str,
    args: Sequence[str],
    *,
    num_processes: int,
    main_process_port: int,
    mixed_precision: str = "no",
    num_machines: int = 1,
    machine_rank: int | str = 0,
    main_process_ip: str | None = None,
    cpu: bool = False,
    cpu_threads: int | None = None,
    extra_args: Sequence[str] = (),
    launch: Sequence[str] = LOCAL_LAUNCH,
) -> list[str]:
    """``accelerate launch`` of ``python -m module args``: ``num_processes`` in all, spread over
    ``num_machines`` (this one is ``machine_rank``; rank 0 listens on ``main_process_ip``), each
    with ``cpu_threads`` torch threads (None: Accelerate's choice, 1 unless ``--cpu``)."""
    if num_machines > 1 and not main_process_ip:
        raise ValueError("multi-machine training needs main_process_ip (the rank-0 address)")
    if num_processes % num_machines:
        raise ValueError(f"{num_processes} processes do not split over {num_machines} machines")
    flags = ["--num_processes", str(num_processes), "--num_machines", str(num_machines)]
    flags += ["--machine_rank", str(machine_rank)]
    if main_process_ip:
        flags += ["--main_process_ip", main_process_ip]
    flags += ["--main_process_port", str(main_process_port)]
    flags += ["--mixed_precision", mixed_precision, "--dynamo_backend", "no"]
    if cpu_threads:
        flags += ["--num_cpu_threads_per_process", str(cpu_threads)]
    if num_processes > 1:
        # Several processes on CPU are DDP over gloo, which Accelerate picks when no GPU is
        # visible; `--cpu` would send them to its single-process launcher.
        flags.append("--multi_gpu")
    elif cpu:
        flags.append("--cpu")
    return [*launch, *flags, *extra_args, "-m", module, *args]


class AccelerateLauncher(dg.ConfigurableResource):
    """How ``accelerate launch`` is invoked for out-of-process work."""

    num_processes: int = Field(default=1, description="Processes (one per GPU); >1 uses DDP")
    cpu: bool = Field(default=False, description="Force CPU even when a GPU is present")
    mixed_precision: str = Field(default="no", description="no, bf16 or fp16")
    extra_args: list[str] = Field(default=[], description="More `accelerate launch` flags")

    def command(self, module: str, args: list[str], num_processes: int | None = None) -> list[str]:
        """The command line that runs ``python -m module args`` under Accelerate
        (``num_processes`` overrides the configured count, e.g. 1 for captioning)."""
        return accelerate_command(
            module,
            args,
            num_processes=num_processes or self.num_processes,
            main_process_port=_free_port(),
            mixed_precision=self.mixed_precision,
            cpu=self.cpu,
            cpu_threads=_threads_per_process(num_processes or self.num_processes),
            extra_args=self.extra_args,
        )

    def run(
        self,
        context: dg.AssetExecutionContext,
        module: str,
        args: list[str],
        num_processes: int | None = None,
        env: Mapping[str, str] | None = None,
    ) -> dg.MaterializeResult:
        """Launch, stream the process's pipes messages into the run, return its result.

        One process runs inline (:mod:`cosmoalign.inline_launch`): forked from this one when
        that is safe (torch and open_clip are imported already), else in one subprocess; more
        are an ``accelerate launch`` subprocess. ``env`` (e.g. the lake's credentials) is added
        to the environment and never logged."""
        command = self.command(module, args, num_processes)
        how = _how_to_launch(num_processes or self.num_processes)
        context.log.info(f"launching ({how}): {' '.join(command)}")
        with dg.open_pipes_session(
            context=context,
            context_injector=dg.PipesTempFileContextInjector(),
            message_reader=dg.PipesTempFileMessageReader(),
        ) as session:
            environment = {
                **os.environ,
                **(env or {}),
                "PYTHONUNBUFFERED": "1",
                **session.get_bootstrap_env_vars(),
            }
            process = _start(how, command, environment)
            try:
                if process.wait() != 0:
                    raise DagsterPipesExecutionError(
                        f"{module} failed with exit code {process.returncode}"
                    )
            except DagsterExecutionInterruptedError:
                context.log.info(f"interrupted: stopping {module}")
                process.send_signal(signal.SIGINT)
                process.wait(timeout=TERMINATION_SECONDS)
                raise
        return dg.PipesClientCompletedInvocation(session).get_materialize_result()


def _how_to_launch(processes: int) -> str:
    if processes > 1:
        return SUBPROCESSES
    return FORKED if can_fork_warm() else INLINE


def _start(how: str, command: list[str], env: Mapping[str, str]) -> WarmLaunch | subprocess.Popen:
    """Start ``command`` (an ``accelerate launch``) the way ``how`` says."""
    launch_args = command[len(LOCAL_LAUNCH) :]
    if how == FORKED:
        return WarmLaunch(launch_args, env)
    return subprocess.Popen([*INLINE_LAUNCH, *launch_args] if how == INLINE else command, env=env)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _threads_per_process(processes: int) -> int:
    """This machine's usable cores shared among ``processes``: Accelerate's own default is one
    thread per process unless ``--cpu`` is passed (it set ``OMP_NUM_THREADS=1`` for training
    on a CPU-only machine, a third slower than the same trainer run alone)."""
    return max(1, len(os.sched_getaffinity(0)) // processes)
