"""``accelerate launch -m tests.deploy.ddp_probe OUT``: every process joins the process group
that Accelerate set up, all-gathers who it is, and the main process writes what it saw to OUT."""

import json
import os
import sys

import torch
import torch.distributed as dist
from accelerate import PartialState

if __name__ == "__main__":
    # As cosmoalign.train.loop.use_cpu decides (without importing the trainer's dependencies).
    state = PartialState(cpu=not torch.cuda.is_available())
    me = {
        "rank": state.process_index,
        "local_rank": state.local_process_index,
        "node_rank": int(os.environ.get("GROUP_RANK", "-1")),
    }
    everyone = [None] * state.num_processes
    dist.all_gather_object(everyone, me)
    if state.is_main_process:
        summary = {"world": state.num_processes, "backend": dist.get_backend(), "seen": everyone}
        with open(sys.argv[1], "w") as out:
            json.dump(summary, out)
    state.wait_for_everyone()
