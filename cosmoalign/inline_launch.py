"""``accelerate launch`` of one process, with the module run in the launcher's interpreter
instead of a second one, in the environment Accelerate's own launcher gives its process.

``accelerate launch`` starts an interpreter that imports torch (4.5 s on 2 cores), which starts
another that imports it again. Run inline, one interpreter does both:

- warm (:class:`WarmLaunch`): fork this process. A model step starts from a fork server that
  has imported torch and open_clip, so training starts in a second instead of 14 s. Only while
  nothing fork-unsafe has started here (:func:`can_fork_warm`): Lance's runtime, CUDA.
- cold: ``python -m cosmoalign.inline_launch <accelerate launch arguments>`` (:func:`main`).
"""

from __future__ import annotations

import os
import runpy
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Mapping, Sequence
from multiprocessing import util as multiprocessing_util
from typing import NoReturn


def can_fork_warm() -> bool:
    """Whether this process may fork a training run: Lance never imported (its runtime is not
    fork-safe once started) and CUDA never initialised."""
    if not hasattr(os, "fork") or "lance" in sys.modules:
        return False
    torch = sys.modules.get("torch")
    return torch is None or not torch.cuda.is_initialized()


class WarmLaunch:
    """``accelerate launch <launch_args>`` of one process, run in a fork of this one; waits for
    and signals it like :class:`subprocess.Popen`.

    ``launch_args`` are the launcher's arguments (flags, then ``-m module args``); ``env`` is
    the environment the launcher would have been started with.
    """

    def __init__(self, launch_args: Sequence[str], env: Mapping[str, str]) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        self.returncode: int | None = None
        self.pid = os.fork()
        if self.pid == 0:
            _launch_here(list(launch_args), dict(env))

    def poll(self) -> int | None:
        """The exit code once the child has finished, else None."""
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the child's exit code (:class:`subprocess.TimeoutExpired` after ``timeout``)."""
        if timeout is None:
            if self.returncode is None:
                self.returncode = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
            return self.returncode
        deadline = time.monotonic() + timeout
        while self.poll() is None:
            if time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"accelerate launch (pid {self.pid})", timeout)
            time.sleep(0.05)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        """Signal the child unless it has already been waited for."""
        if self.poll() is None:
            os.kill(self.pid, signum)


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """``python -m cosmoalign.inline_launch <accelerate launch arguments>``: one process, run
    in this interpreter."""
    _launch_here(list(sys.argv[1:] if argv is None else argv), dict(os.environ))


def _launch_here(launch_args: list[str], env: dict[str, str]) -> NoReturn:
    """Accelerate's one-process launch, except that the module runs in this interpreter
    instead of a new one; exits with the module's exit code."""
    code = 1
    first_own_finalizer = next(multiprocessing_util._finalizer_counter)
    try:
        # A forked child inherits its parent's handlers (a Dagster step's): SIGINT stops the run.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        command, child_env = _accelerate_environment(launch_args, env)
        os.environ.clear()
        os.environ.update(child_env)
        _use_thread_count(child_env)
        _use_python_path(child_env)
        module_at = command.index("-m") + 1
        sys.argv = [command[module_at], *command[module_at + 1 :]]
        runpy.run_module(command[module_at], run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else int(stop.code is not None)
        if isinstance(stop.code, str):
            print(stop.code, file=sys.stderr)
    except BaseException:
        traceback.print_exc()
    finally:
        _run_own_finalizers(first_own_finalizer)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _run_own_finalizers(first: int) -> None:
    """multiprocessing's exit clean-up (queue semaphores, pools) of what this process made
    since finalizer number ``first``, as a normal exit would run it: ``os._exit`` skips it (and
    must skip a forked parent's, which are not this process's to run). Without it the resource
    tracker warns of leaked semaphores (a data loader's queues) when the run ends."""
    own = [
        (key, finalizer)
        for key, finalizer in list(multiprocessing_util._finalizer_registry.items())
        if key[0] is not None and key[1] >= first
    ]
    for _, finalizer in sorted(own, key=lambda item: item[0], reverse=True):
        finalizer()


def _accelerate_environment(
    launch_args: list[str], env: dict[str, str]
) -> tuple[list[str], dict[str, str]]:
    """The command and environment ``accelerate launch`` would start its one process with,
    computed by Accelerate's own code (argument parser, checks, simple launcher)."""
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser
    from accelerate.utils.launch import prepare_simple_launcher_cmd_env

    os.environ.clear()
    os.environ.update(env)  # the launcher reads the environment it was started with
    args, _, _ = _validate_launch_command(launch_command_parser().parse_args(launch_args))
    if args.num_processes not in (None, 1) or args.multi_gpu or args.num_machines > 1:
        raise ValueError(f"an inline launch runs one process: {' '.join(launch_args)}")
    return prepare_simple_launcher_cmd_env(args)


def _use_thread_count(env: Mapping[str, str]) -> None:
    """A fresh interpreter's torch reads ``OMP_NUM_THREADS`` when imported; this one has been."""
    torch = sys.modules.get("torch")
    if torch is not None and env.get("OMP_NUM_THREADS"):
        torch.set_num_threads(int(env["OMP_NUM_THREADS"]))


def _use_python_path(env: Mapping[str, str]) -> None:
    """Put ``PYTHONPATH``'s folders first on ``sys.path``, as a fresh interpreter would."""
    folders = [folder for folder in env.get("PYTHONPATH", "").split(os.pathsep) if folder]
    sys.path[:0] = [folder for folder in folders if folder not in sys.path]


if __name__ == "__main__":
    main()
