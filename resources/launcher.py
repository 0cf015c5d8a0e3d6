"""The launcher: runs GPU work (training, GPU captioning) as ``accelerate launch`` subprocesses.

The subprocess talks back through dagster-pipes (logs, the materialization); only its main
process opens pipes. The same command scales from one CPU to N GPUs with ``num_processes``; on a
cluster the client is swapped for ``PipesK8sClient`` running the same module.
"""

from __future__ import annotations

import socket
import sys

import dagster as dg
from pydantic import Field


class AccelerateLauncher(dg.ConfigurableResource):
    """How ``accelerate launch`` is invoked for out-of-process work."""

    num_processes: int = Field(default=1, description="Processes (one per GPU); >1 uses DDP")
    cpu: bool = Field(default=False, description="Force CPU even when a GPU is present")
    mixed_precision: str = Field(default="no", description="no, bf16 or fp16")
    extra_args: list[str] = Field(default=[], description="More `accelerate launch` flags")

    def command(self, module: str, args: list[str], num_processes: int | None = None) -> list[str]:
        """The command line that runs ``python -m module args`` under Accelerate
        (``num_processes`` overrides the configured count, e.g. 1 for captioning)."""
        processes = num_processes or self.num_processes
        flags = [
            "--num_processes",
            str(processes),
            "--num_machines",
            "1",
            "--mixed_precision",
            self.mixed_precision,
            "--dynamo_backend",
            "no",
            "--main_process_port",
            str(_free_port()),
        ]
        if processes > 1:
            flags.append("--multi_gpu")
        if self.cpu:
            flags.append("--cpu")
        launch = [sys.executable, "-m", "accelerate.commands.launch"]
        return [*launch, *flags, *self.extra_args, "-m", module, *args]

    def run(
        self,
        context: dg.AssetExecutionContext,
        module: str,
        args: list[str],
        num_processes: int | None = None,
    ) -> dg.MaterializeResult:
        """Launch, stream the subprocess's pipes messages into the run, return its result."""
        command = self.command(module, args, num_processes)
        context.log.info(f"launching: {' '.join(command)}")
        client = dg.PipesSubprocessClient(env={"PYTHONUNBUFFERED": "1"})
        return client.run(command=command, context=context).get_materialize_result()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
