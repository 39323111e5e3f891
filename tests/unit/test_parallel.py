"""Parallel configs, the TP plan, batch sharding, activation checkpointing and the planner, in one process.

The multi-process equivalence tests (FSDP, TP, CP against one process) are in tests/distributed/.
"""

import copy
import json
import re
from dataclasses import dataclass, replace

import pytest
import torch
from torch.distributed.tensor.parallel import ColwiseParallel, RowwiseParallel, SequenceParallel

from moviegen.cli import main
from moviegen.dit.config import FFNKind, dit_debug, dit_tiny
from moviegen.dit.model import DiT
from moviegen.train.distributed import ShardedBatches, clip_grad_norm_, shard_batch
from moviegen.train.parallel_dims import ACMode, ParallelConfig, ParallelDims
from moviegen.train.parallelize import BlockInputs, dit_tp_plan, parallelize
from moviegen.train.planner import PlanRequest, activation_elements_per_token, evaluate, model_shape, search

# -- degrees -----------------------------------------------------------------------------------------------------------


def test_degrees_resolve_and_name_bad_values():
    expected = ParallelDims(dp=2, cp=2, tp=2, world_size=8)
    assert ParallelDims.resolve(ParallelConfig(tp=2, cp=2), world_size=8) == expected
    assert ParallelDims.resolve(ParallelConfig(dp=1, cp=4), world_size=4).fsdp_degree == 4
    with pytest.raises(ValueError, match="does not divide the world size 6"):
        ParallelDims.resolve(ParallelConfig(tp=4), world_size=6)
    with pytest.raises(ValueError, match="do not match the world size 8"):
        ParallelDims.resolve(ParallelConfig(dp=2, tp=2), world_size=8)
    with pytest.raises(ValueError, match="--tp must be >= 1, got 0"):
        ParallelConfig(tp=0)
    with pytest.raises(ValueError, match="--param-dtype"):
        ParallelConfig(param_dtype="float16")
    with pytest.raises(ValueError, match="num_heads=4"):
        ParallelDims(dp=1, cp=1, tp=3, world_size=3).check_model(dit_debug())
    ParallelDims(dp=1, cp=1, tp=4, world_size=4).check_model(dit_debug())  # 4 heads, width 64, FFN 128: fine


def test_the_tp_plan_is_a_visible_dict_of_styles():
    plan = dit_tp_plan(dit_debug())  # SwiGLU, q/k norm
    for name in ("wq", "wk", "wv"):
        assert isinstance(plan[f"layers.*.attention.{name}"], ColwiseParallel)
        assert isinstance(plan[f"layers.*.cross_attention.{name}"], ColwiseParallel)
    assert isinstance(plan["layers.*.attention.wo"], RowwiseParallel)
    assert isinstance(plan["layers.*.feed_forward.w2"], RowwiseParallel)
    assert {k for k in plan if k.startswith("layers.*.feed_forward.")} == {
        f"layers.*.feed_forward.{n}" for n in ("w1", "w2", "w3")
    }
    assert isinstance(plan["layers.*.attention.q_norm"], SequenceParallel)
    assert isinstance(plan["layers.*.ffn_norm"], SequenceParallel)
    assert isinstance(plan["layers.*"], BlockInputs)
    gelu = dit_tp_plan(replace(dit_debug(), ffn=FFNKind.GELU, qk_norm=False))
    assert {k for k in gelu if k.startswith("layers.*.feed_forward.")} == {
        "layers.*.feed_forward.fc1", "layers.*.feed_forward.fc2"
    }
    assert "layers.*.attention.q_norm" not in gelu
    # every planned name exists in the model
    names = {re.sub(r"layers\.\d+", "layers.*", n) for n, _ in DiT(dit_debug()).named_modules()}
    assert set(plan) <= names


# -- data --------------------------------------------------------------------------------------------------------------


@dataclass
class _Batch:
    ids: list[str]
    latent: torch.Tensor
    fps: int


def test_shard_batch_slices_rows_and_keeps_per_batch_values():
    batch = _Batch(ids=list("abcd"), latent=torch.arange(4.0)[:, None], fps=16)
    part = shard_batch(batch, rank=1, size=2)
    assert part.ids == ["c", "d"] and part.latent[:, 0].tolist() == [2.0, 3.0] and part.fps == 16
    assert shard_batch(batch, rank=0, size=1) is batch
    with pytest.raises(ValueError, match="4 samples does not split over dp=3"):
        shard_batch(batch, rank=0, size=3)

    class Source:
        def __init__(self):
            self.loaded = None

        def __iter__(self):
            yield batch

        def state_dict(self):
            return {"position": 7}

        def load_state_dict(self, state):
            self.loaded = state

    source = Source()
    sharded = ShardedBatches(source, rank=0, size=2)
    (size, first), = list(sharded)
    assert size == 4 and first.ids == ["a", "b"]
    assert sharded.state_dict() == {"position": 7}
    sharded.load_state_dict({"position": 3})
    assert source.loaded == {"position": 3}


# -- one process: activation checkpointing, gradient clipping --------------------------------------------------------


def _loss(model: DiT, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    latent = torch.randn(2, 16, 2, 8, 8, generator=g)
    out = model(latent, t_B=torch.rand(2, generator=g), text_BSD=torch.randn(2, 3, 64, generator=g),
                text_mask_BS=torch.ones(2, 3, dtype=torch.bool))
    return (out - latent).pow(2).mean()


@pytest.mark.parametrize("mode", [ACMode.FULL, ACMode.SELECTIVE])
def test_activation_checkpointing_keeps_the_maths_and_the_names(mode):
    torch.manual_seed(0)
    plain = DiT(dit_debug())
    plain.init_weights()
    with torch.no_grad():
        for p in plain.parameters():
            p.add_(0.05 * torch.randn(p.shape))
    wrapped = parallelize(copy.deepcopy(plain), dims=None, cfg=ParallelConfig(ac=mode, ac_every=2))
    kinds = [type(block).__name__ for block in wrapped.layers.values()]
    assert kinds == (["CheckpointWrapper"] * 2 if mode is ACMode.FULL else ["CheckpointWrapper", "TransformerBlock"])
    assert set(wrapped.state_dict()) == set(plain.state_dict())  # checkpoints keep the plain names
    a, b = _loss(plain), _loss(wrapped)
    a.backward()
    b.backward()
    assert torch.equal(a, b)
    named = dict(wrapped.named_parameters())
    for name, p in plain.named_parameters():
        wrapped_name = name.replace("layers.0.", "layers.0._checkpoint_wrapped_module.")
        if mode is ACMode.FULL:
            wrapped_name = wrapped_name.replace("layers.1.", "layers.1._checkpoint_wrapped_module.")
        torch.testing.assert_close(named[wrapped_name].grad, p.grad, rtol=0, atol=1e-7)


def test_parallelize_needs_a_transformer():
    with pytest.raises(ValueError, match="holds no DiT"):
        parallelize(torch.nn.Linear(2, 2), dims=None, cfg=ParallelConfig())


def test_clip_grad_norm_matches_torch_on_plain_tensors():
    torch.manual_seed(0)
    a, b = torch.nn.Linear(4, 3), torch.nn.Linear(4, 3)
    b.load_state_dict(a.state_dict())
    for m in (a, b):
        m(torch.randn(5, 4, generator=torch.Generator().manual_seed(1))).square().sum().backward()
    expected = torch.nn.utils.clip_grad_norm_(a.parameters(), 0.1)
    got = clip_grad_norm_(list(b.parameters()), 0.1)
    torch.testing.assert_close(got, expected)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(q.grad, p.grad)


# -- the planner -------------------------------------------------------------------------------------------------------


def test_the_paper_plan_fits_with_full_checkpointing():
    req = PlanRequest(preset="video-30b", gpus=6144, tp=4, cp=2, seq_len=73728)
    best, plans = search(req)
    assert (best.tp, best.cp, best.dp, best.ac) == (4, 2, 768, "full")
    assert best.fits and best.memory_per_gpu_gb < 80 * 0.9
    assert best.bottleneck == "compute" and best.step_time_s > best.time_s["compute"]
    by_ac = {p.ac: p for p in plans}
    assert not by_ac["none"].fits and not by_ac["selective"].fits  # hence full AC
    assert by_ac["none"].memory_gb["activations"] > by_ac["selective"].memory_gb["activations"] > best.memory_gb[
        "activations"]
    assert best.activations_gb["without_checkpointing_gb"] > 80
    # 2 samples per data-parallel group: 2 micro-steps of 1; 36,864 tokens per GPU
    assert best.numbers["micro_steps"] == 2 and best.numbers["tokens_per_gpu"] == 36864
    assert {"parameters", "gradients", "optimizer_state", "activations", "fsdp_buffers"} <= set(best.memory_gb)
    assert set(best.communication_gb) == {"fsdp", "tp", "cp"} and min(best.communication_gb.values()) > 0


def test_activation_terms_by_hand():
    shape = model_shape("video-30b")  # D 6144, F 16384, no q/k norm
    per = activation_elements_per_token(shape, tp=4, cp=2)
    assert per == {"gathered": 3 * 6144, "sharded": ((11 + 4) * 6144 + 4 * 16384) / 4}
    plan = evaluate(shape, PlanRequest(preset="video-30b", gpus=8, seq_len=8192, global_batch=8), tp=1, cp=1,
                    ac=ACMode.NONE)
    tokens = 8192
    block = tokens * 2 * (3 * 6144 + 13 * 6144 + 4 * 16384)
    assert plan.activations_gb["per_block_gb"] == pytest.approx(block / 1e9)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(preset="video-30b", gpus=8, seq_len=100, tp=3), "--tp 3 does not divide"),
        (dict(preset="nope", gpus=8, seq_len=100), "unknown preset 'nope'"),
        (dict(preset="tae-tiny", gpus=8, seq_len=100), "has no transformer"),
        (dict(preset="video-30b", gpus=6144, seq_len=73728, tp=1, cp=1), "no plan"),
        (dict(preset="video-30b", gpus=8, seq_len=100, gpu="tpu"), "--gpu 'tpu'"),
    ],
)
def test_planner_errors_name_the_bad_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        search(PlanRequest(**kwargs))


def test_moviegen_plan_cli(capsys):
    args = ["plan", "--preset", "video-30b", "--gpus", "6144", "--tp", "4", "--cp", "2", "--seq-len", "73728"]
    assert main([*args, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["fits"] and out["ac"] == "full" and out["tp"] == 4 and out["cp"] == 2
    assert 0 < out["memory_per_gpu_gb"] < 80 and out["step_time_s"] > 0
    assert "TP 4 x CP 2" in out["explanation"] and len(out["alternatives"]) == 2
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "bottleneck: compute" in text and "With AC none" in text
    assert main(["plan", "--preset", "video-tiny", "--gpus", "2", "--seq-len", "99", "--tp", "2"]) == 2
    assert "no plan" in capsys.readouterr().err


def test_tiny_presets_plan_without_tensor_parallel_surprises():
    best, _ = search(PlanRequest(preset="video-tiny", gpus=2, seq_len=512, global_batch=8))
    assert best.fits and best.memory_per_gpu_gb < 10
    assert model_shape("audio-13b").ffn_saved == 2 and model_shape("video-tiny").ffn_saved == 4
    assert dit_tiny().num_heads % best.tp == 0
