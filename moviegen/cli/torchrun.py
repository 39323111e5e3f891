"""Start a command again under torchrun on this machine, one process per rank (``--dp/--tp/--cp`` outside torchrun)."""

import os
import subprocess
import sys


def relaunch_under_torchrun(argv: list[str], *, nproc: int, module: str) -> int:
    """Run ``python -m MODULE ARGV`` as ``nproc`` torchrun processes (``--standalone``); returns torchrun's status.

    ``OMP_NUM_THREADS`` defaults to 1 per process so that the ranks do not oversubscribe the cores.
    """
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           "-m", module, *argv]
    print(f"starting {nproc} processes: {' '.join(cmd[1:])}", file=sys.stderr)
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    return subprocess.call(cmd, env=env)
