"""Parallelise the 30B preset on the meta device for the paper's 768 px layout, in one process.

PyTorch's fake process group stands in for 6,144 ranks (this process is rank 0), so the real TP/CP/FSDP code paths
run and shard the real parameter shapes without allocating a weight. Prints JSON for the test to check.
"""

import json
import sys

import torch
import torch.distributed as dist
from torch.distributed.tensor import DTensor
from torch.testing._internal.distributed.fake_pg import FakeStore

from moviegen.dit.config import dit_30b
from moviegen.dit.model import DiT
from moviegen.train.parallel_dims import ACMode, ParallelConfig, ParallelDims
from moviegen.train.parallelize import parallelize

WORLD = 6144
dist.init_process_group("fake", store=FakeStore(), rank=0, world_size=WORLD)
pcfg = ParallelConfig(tp=4, cp=2, ac=ACMode.FULL, param_dtype="bfloat16")
dims = ParallelDims.resolve(pcfg, world_size=WORLD)
with torch.device("meta"):
    model = DiT(dit_30b())
parallelize(model, dims=dims, cfg=pcfg, mesh=dims.build_mesh("cpu"))
wq = model.layers["0"]._checkpoint_wrapped_module.attention.wq.weight
json.dump(
    {
        "dims": [dims.dp, dims.cp, dims.tp],
        "params": sum(p.numel() for p in model.parameters()),
        "local_params": sum(p.to_local().numel() if isinstance(p, DTensor) else p.numel() for p in model.parameters()),
        "wq_shape": list(wq.shape),
        "wq_mesh": list(wq.device_mesh.mesh_dim_names),
        "wq_mesh_shape": list(wq.device_mesh.shape),
        "all_dtensors": all(isinstance(p, DTensor) for p in model.parameters()),
        "meta": all(p.is_meta for p in model.parameters()),
    },
    sys.stdout,
)
dist.destroy_process_group()
