"""The training engine: LR schedule, decay groups, EMA, RNG state, checkpoints, averaging, the loop."""

import json
import math
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from moviegen.nn.embed import FactorizedPositionalEmbedding
from moviegen.train import checkpoint as checkpoint_mod
from moviegen.train.average import average_checkpoints
from moviegen.train.checkpoint import latest_checkpoint, list_checkpoints, load_checkpoint, save_checkpoint
from moviegen.train.config import LRSchedule, OptimConfig, TrainConfig
from moviegen.train.ema import EMA, ema_decay_at
from moviegen.train.loop import Trainer
from moviegen.train.optim import build_optimizer, lr_at, param_groups
from moviegen.train.state import capture_rng, restore_rng, step_generator


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(5, 4)
        self.pos = FactorizedPositionalEmbedding(dim=4, max_t=2, max_h=2, max_w=2)
        self.linear = nn.Linear(4, 4)
        self.norm = nn.LayerNorm(4)
        self.head = nn.Linear(4, 1, bias=False)
        self.frozen = nn.Linear(4, 4)
        self.frozen.requires_grad_(False)
        self.pos.init_weights()

    def forward(self, x_BD: torch.Tensor) -> torch.Tensor:
        return self.head(self.norm(self.linear(x_BD + self.pos((1, 1, 1))[0] + self.embed.weight[0])))


def _train_steps(model: nn.Module, optimizer: torch.optim.Optimizer, steps: int) -> None:
    gen = torch.Generator().manual_seed(0)
    for _ in range(steps):
        x = torch.randn(8, 4, generator=gen)
        loss = (model(x) - x.sum(1, keepdim=True)).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


# -- LR schedule and optimizer ------------------------------------------------------------------------------------


def test_lr_warmup_then_constant():
    cfg = OptimConfig(lr=1e-3, warmup_steps=4)
    assert [lr_at(s, cfg=cfg, total_steps=10) for s in range(6)] == pytest.approx(
        [2.5e-4, 5e-4, 7.5e-4, 1e-3, 1e-3, 1e-3]
    )


def test_lr_cosine_and_step_down():
    cos = OptimConfig(lr=1.0, min_lr=0.1, warmup_steps=2, schedule=LRSchedule.COSINE)
    assert lr_at(2, cfg=cos, total_steps=12) == pytest.approx(1.0)
    assert lr_at(7, cfg=cos, total_steps=12) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert lr_at(12, cfg=cos, total_steps=12) == pytest.approx(0.1)
    step = OptimConfig(lr=6e-5, schedule=LRSchedule.STEP_DOWN, step_milestones=(3, 5), step_factor=0.5)
    assert [lr_at(s, cfg=step, total_steps=8) for s in (0, 2, 3, 4, 5, 7)] == pytest.approx(
        [6e-5, 6e-5, 3e-5, 3e-5, 1.5e-5, 1.5e-5]
    )


def test_optim_config_rejects_bad_values():
    with pytest.raises(ValueError, match="min_lr"):
        OptimConfig(lr=1e-4, min_lr=1e-3)
    with pytest.raises(ValueError, match="step_milestones"):
        OptimConfig(step_milestones=(5, 3))
    with pytest.raises(ValueError, match="ema_decay"):
        TrainConfig(steps=1, batch_size=1, ema_decay=1.0)


def test_no_decay_on_norms_biases_embeddings_and_position_tables():
    model = Tiny()
    decay, no_decay = param_groups([model], weight_decay=0.1)
    names = {id(p): n for n, p in model.named_parameters()}
    assert sorted(names[id(p)] for p in decay["params"]) == ["head.weight", "linear.weight"]
    assert sorted(names[id(p)] for p in no_decay["params"]) == sorted(
        ["embed.weight", "pos.pos_t", "pos.pos_h", "pos.pos_w", "linear.bias", "norm.weight", "norm.bias"]
    )
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0  # frozen.* is in neither


# -- EMA and RNG ----------------------------------------------------------------------------------------------------


def test_ema_matches_a_hand_loop_and_swaps():
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    ema = EMA(model, decay=0.9)
    hand = {n: p.detach().clone() for n, p in model.named_parameters()}
    for update in range(1, 6):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p))
        ema.update(model, update=update)
        d = min(0.9, (1 + update) / (10 + update))
        assert d == ema_decay_at(update, decay=0.9)
        hand = {n: d * hand[n] + (1 - d) * p.detach() for n, p in model.named_parameters()}
    for name, value in hand.items():
        torch.testing.assert_close(ema.state_dict()[name], value)
    trained = model.weight.detach().clone()
    with ema.applied(model):
        torch.testing.assert_close(model.weight.detach(), hand["weight"])
    torch.testing.assert_close(model.weight.detach(), trained)


def test_rng_capture_restore_round_trip():
    torch.manual_seed(1), np.random.seed(2), random.seed(3)
    np.random.standard_normal()  # leave a cached gaussian in numpy's state
    state = capture_rng()
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    first = (torch.rand(3), np.random.rand(3), random.random(), random.gauss(0, 1), np.random.standard_normal())
    torch.manual_seed(9), np.random.seed(9), random.seed(9)
    restore_rng(state)
    second = (torch.rand(3), np.random.rand(3), random.random(), random.gauss(0, 1), np.random.standard_normal())
    torch.testing.assert_close(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    assert first[2:] == second[2:]


def test_step_generator_is_a_function_of_seed_step_stream():
    draw = lambda *a, **k: torch.rand(4, generator=step_generator(*a, **k))  # noqa: E731
    torch.testing.assert_close(draw(0, 5), draw(0, 5))
    assert not torch.equal(draw(0, 5), draw(0, 6))
    assert not torch.equal(draw(0, 5), draw(1, 5))
    assert not torch.equal(draw(0, 5), draw(0, 5, stream=1))


# -- checkpoints ----------------------------------------------------------------------------------------------------


def _save(run_dir: Path, step: int, model: nn.Module, optimizer: torch.optim.Optimizer, **kw) -> Path:
    return save_checkpoint(
        run_dir,
        step,
        model_state=model.state_dict(),
        ema_state=None,
        optimizer=optimizer,
        trainer_state={"data": {"epoch": 1, "position": step}},
        rng_state=capture_rng(),
        **kw,
    )


def test_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    model = Tiny()
    optimizer = build_optimizer([model], cfg=OptimConfig(lr=1e-2))
    _train_steps(model, optimizer, 3)
    rng = capture_rng()
    path = _save(tmp_path, 3, model, optimizer)
    assert path == tmp_path / "checkpoints" / "step_00000003" == latest_checkpoint(tmp_path)
    assert not list(path.glob("*.pt")) and not list(path.glob("*.pkl"))

    ckpt = load_checkpoint(tmp_path)
    fresh = Tiny()
    fresh.load_state_dict(ckpt.model_state)
    fresh_opt = build_optimizer([fresh], cfg=OptimConfig(lr=1e-2))
    fresh_opt.load_state_dict(ckpt.optimizer_state)
    for (name, a), b in zip(model.state_dict().items(), fresh.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
    for p, q in zip(model.parameters(), fresh.parameters(), strict=True):
        if p.requires_grad:
            for key in ("exp_avg", "exp_avg_sq", "step"):
                torch.testing.assert_close(optimizer.state[p][key], fresh_opt.state[q][key], rtol=0, atol=0)
    assert fresh_opt.param_groups[0]["betas"] == optimizer.param_groups[0]["betas"]
    for key, value in rng.items():
        torch.testing.assert_close(ckpt.rng_state[key], value, rtol=0, atol=0)
    assert ckpt.step == 3 and ckpt.trainer_state["data"] == {"epoch": 1, "position": 3}
    # Both copies continue identically.
    _train_steps(model, optimizer, 2)
    _train_steps(fresh, fresh_opt, 2)
    torch.testing.assert_close(model.linear.weight, fresh.linear.weight, rtol=0, atol=0)


def test_crash_inside_the_writer_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    model = Tiny()
    optimizer = build_optimizer([model], cfg=OptimConfig())
    _train_steps(model, optimizer, 1)
    _save(tmp_path, 1, model, optimizer)

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint_mod, "_save_json", crash)  # optimizer.safetensors is written, then the crash
    with pytest.raises(OSError, match="disk full"):
        _save(tmp_path, 2, model, optimizer)
    root = tmp_path / "checkpoints"
    assert (root / "latest").read_text().strip() == "step_00000001"
    assert sorted(p.name for p in root.iterdir()) == ["latest", "step_00000001"]
    assert load_checkpoint(tmp_path).step == 1


def test_keep_last_k(tmp_path):
    model = Tiny()
    optimizer = build_optimizer([model], cfg=OptimConfig())
    for step in (1, 2, 3, 4):
        _save(tmp_path, step, model, optimizer, keep=2)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step_00000003", "step_00000004"]
    assert latest_checkpoint(tmp_path).name == "step_00000004"


def test_average_is_the_mean_and_mismatches_are_named(tmp_path):
    a = {"w": torch.randn(3, 2), "b": torch.randn(2), "count": torch.tensor([4])}
    b = {"w": torch.randn(3, 2), "b": torch.randn(2), "count": torch.tensor([4])}
    save_file(a, tmp_path / "a.safetensors")
    save_checkpoint(tmp_path / "run", 7, model_state=b, ema_state=None, optimizer=None, trainer_state={})
    avg = average_checkpoints([tmp_path / "a.safetensors", tmp_path / "run"])  # a file and a run directory
    torch.testing.assert_close(avg["w"], (a["w"] + b["w"]) / 2)
    torch.testing.assert_close(avg["b"], (a["b"] + b["b"]) / 2)
    assert torch.equal(avg["count"], a["count"])
    weighted = average_checkpoints([tmp_path / "a.safetensors", tmp_path / "run"], weights=[3, 1])
    torch.testing.assert_close(weighted["w"], 0.75 * a["w"] + 0.25 * b["w"])

    # an exported float16 checkpoint with a float32 run: averaged, stored in the wider dtype
    save_file({**a, "w": a["w"].half(), "b": a["b"].half()}, tmp_path / "half.safetensors")
    mixed = average_checkpoints([tmp_path / "half.safetensors", tmp_path / "run"])
    assert mixed["w"].dtype == mixed["b"].dtype == torch.float32
    torch.testing.assert_close(mixed["w"], (a["w"].half().float() + b["w"]) / 2)
    save_file({**a, "count": a["count"].int()}, tmp_path / "int32.safetensors")
    with pytest.raises(ValueError, match="'count' differs"):
        average_checkpoints([tmp_path / "a.safetensors", tmp_path / "int32.safetensors"])

    save_file({"w": torch.randn(3, 3), "b": a["b"], "count": a["count"]}, tmp_path / "shape.safetensors")
    with pytest.raises(ValueError, match=r"'w' differs: \(3, 2\)"):
        average_checkpoints([tmp_path / "a.safetensors", tmp_path / "shape.safetensors"])
    save_file({"w": a["w"], "count": a["count"]}, tmp_path / "keys.safetensors")
    with pytest.raises(ValueError, match="'b' is missing"):
        average_checkpoints([tmp_path / "a.safetensors", tmp_path / "keys.safetensors"])
    with pytest.raises(ValueError, match="holds no model.safetensors"):
        average_checkpoints([tmp_path])


# -- the loop -------------------------------------------------------------------------------------------------------


class Regression:
    """A resumable stream of regression batches: batch i is a pure function of (seed, i)."""

    def __init__(self, seed: int = 0) -> None:
        self.seed, self.position = seed, 0

    def __iter__(self):
        return self

    def __next__(self) -> torch.Tensor:
        gen = torch.Generator().manual_seed(self.seed * 1000 + self.position)
        self.position += 1
        return torch.randn(8, 4, generator=gen)

    def state_dict(self) -> dict:
        return {"position": self.position}

    def load_state_dict(self, state: dict) -> None:
        self.position = state["position"]


def _loss(model, x, step):
    noise = torch.randn(x.shape[0], 1, generator=step_generator(0, step))
    loss = (model(x) - x.sum(1, keepdim=True) - 0.01 * noise).pow(2).mean()
    return loss, {"noise": noise.mean()}


def _trainer(run_dir: Path, steps: int, **cfg) -> Trainer:
    torch.manual_seed(0)
    return Trainer(
        Tiny(),
        loss_fn=_loss,
        batches=Regression(),
        cfg=TrainConfig(steps=steps, batch_size=8, ema_decay=0.9, checkpoint_every=3, log_every=2, **cfg),
        optim=OptimConfig(lr=0.1, warmup_steps=2),
        run_dir=run_dir,
        val_fn=lambda model: {"loss": model(torch.ones(2, 4)).pow(2).mean()},
        progress=False,
    )


def _losses(run_dir: Path) -> dict[int, float]:
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r["loss"] for r in records if "loss" in r}


def test_trainer_learns_logs_and_resumes_exactly(tmp_path):
    full = _trainer(tmp_path / "full", 8, val_every=4).run()
    assert full.step == 8 and not full.interrupted
    losses = _losses(tmp_path / "full")
    assert sorted(losses) == list(range(1, 9))
    assert len(set(losses.values())) == 8  # the weights move (each step sees a new batch and new weights)
    records = [json.loads(line) for line in (tmp_path / "full" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "val/loss" in r] == [4, 8]
    assert all("val_ema/loss" in r for r in records if "val/loss" in r)
    assert any((tmp_path / "full" / "tb").iterdir())
    assert [p.name for p in list_checkpoints(tmp_path / "full")] == ["step_00000003", "step_00000006", "step_00000008"]

    _trainer(tmp_path / "part", 5, val_every=4).run()  # checkpoints at 3 and 5; pretend it was killed after 5
    (tmp_path / "part" / "checkpoints" / "latest").write_text("step_00000003\n")  # ... and step 5 never finished
    with pytest.raises(ValueError, match="already holds a run"):
        _trainer(tmp_path / "part", 8).run()
    resumed = _trainer(tmp_path / "part", 8, val_every=4).run(resume=True)
    assert resumed.step == 8
    assert _losses(tmp_path / "part") == losses  # steps 4..5 were redone, identically, and not duplicated
    final_full, final_part = load_checkpoint(tmp_path / "full"), load_checkpoint(tmp_path / "part")
    for key, value in final_full.model_state.items():
        torch.testing.assert_close(final_part.model_state[key], value, rtol=0, atol=0)
    for key, value in final_full.ema_state.items():
        torch.testing.assert_close(final_part.ema_state[key], value, rtol=0, atol=0)


def test_resume_without_checkpoint_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match="no checkpoint to resume"):
        _trainer(tmp_path, 2).run(resume=True)


def test_sigterm_finishes_the_step_and_checkpoints(tmp_path):
    import os
    import signal

    def loss_then_signal(model, x, step):
        if step == 2:
            os.kill(os.getpid(), signal.SIGTERM)  # as a scheduler would; the handler only sets a flag
        return _loss(model, x, step)

    trainer = _trainer(tmp_path, 8)
    trainer.loss_fn = loss_then_signal
    result = trainer.run()
    assert result.interrupted and result.step == 3
    assert latest_checkpoint(tmp_path).name == "step_00000003"
    assert signal.getsignal(signal.SIGTERM) is not None  # the previous handler is back


# -- recipe pieces ----------------------------------------------------------------------------------------------------


def test_position_tables_expand_between_stages():
    from dataclasses import replace

    from moviegen.configs.presets import video_debug
    from moviegen.nn.embed import interpolate_table
    from moviegen.train.t2v import expand_position_tables
    from moviegen.video.model import TextToVideo

    big = video_debug()
    small = replace(big, dit=replace(big.dit, max_t=1, max_h=4, max_w=4))
    torch.manual_seed(0)
    model = TextToVideo(small)
    model.init_weights()
    state = expand_position_tables(model.trainable_state_dict(), cfg=big)
    pos_t, pos_h = state["dit.pos_embed.pos_t"], state["dit.pos_embed.pos_h"]
    assert pos_t.shape[0] == big.dit.max_t and pos_h.shape[0] == big.dit.max_h
    torch.testing.assert_close(pos_t, model.dit.pos_embed.pos_t.detach().expand(big.dit.max_t, -1))  # repeated
    torch.testing.assert_close(pos_h, interpolate_table(model.dit.pos_embed.pos_h.detach(), big.dit.max_h))
    expanded = TextToVideo(big)
    expanded.load_trainable_state_dict(state)  # every other weight carries over unchanged
    torch.testing.assert_close(expanded.dit.output.weight, model.dit.output.weight)
    with pytest.raises(ValueError, match="tables only grow"):
        expand_position_tables(expanded.trainable_state_dict(), cfg=small)


def test_a_grown_temporal_table_starts_its_frames_apart():
    """With a fresh model's tables, the 1-row image table grows into rows that differ (row 0 kept, the others
    offset by the fresh rows); the spatial tables are interpolated as without them."""
    from dataclasses import replace

    from moviegen.configs.presets import video_debug
    from moviegen.nn.embed import interpolate_table
    from moviegen.train.t2v import _POS_KEYS, expand_position_tables
    from moviegen.video.model import TextToVideo

    big = video_debug()
    big = replace(big, dit=replace(big.dit, pos_init_std=0.5))
    small = replace(big, dit=replace(big.dit, max_t=1, max_h=4, max_w=4))
    torch.manual_seed(0)
    image_model = TextToVideo(small)
    image_model.init_weights()
    torch.manual_seed(1)
    fresh_model = TextToVideo(big)
    fresh_model.init_weights()
    fresh = {k: v for k, v in fresh_model.trainable_state_dict().items() if k in _POS_KEYS}
    state = expand_position_tables(image_model.trainable_state_dict(), cfg=big, fresh=fresh)
    row_0 = image_model.dit.pos_embed.pos_t.detach()[0]
    pos_t = state["dit.pos_embed.pos_t"]
    torch.testing.assert_close(pos_t[0], row_0)
    torch.testing.assert_close(pos_t[1:], row_0 + fresh["dit.pos_embed.pos_t"][1:])
    assert float((pos_t[1:] - row_0).std()) == pytest.approx(0.5, rel=0.2)  # the fresh rows' std: pos_init_std
    torch.testing.assert_close(
        state["dit.pos_embed.pos_h"], interpolate_table(image_model.dit.pos_embed.pos_h.detach(), big.dit.max_h)
    )


def test_tae_random_crop_is_a_function_of_the_step():
    from moviegen.train.tae import random_crop
    from moviegen.train.tae_recipes import CropConfig

    video = torch.arange(2 * 3 * 8 * 12 * 12, dtype=torch.float32).reshape(2, 3, 8, 12, 12)
    crop = CropConfig(frames=4, height=8, width=8)
    a = random_crop(video, crop=crop, generator=step_generator(0, 3))
    b = random_crop(video, crop=crop, generator=step_generator(0, 3))
    assert a.shape == (2, 3, 4, 8, 8) and torch.equal(a, b)
    crops = {random_crop(video, crop=crop, generator=step_generator(0, s))[0, 0, 0, 0, 0].item() for s in range(20)}
    assert len(crops) > 3  # windows vary with the step
    image = random_crop(video[:, :, :1], crop=crop, generator=step_generator(0, 3))
    assert image.shape == (2, 3, 1, 8, 8)
    with pytest.raises(ValueError, match="larger than the clip"):
        random_crop(video, crop=CropConfig(frames=16, height=8, width=8), generator=step_generator(0, 0))


def test_motion_crops_find_the_moving_object_and_leave_uniform_crops_as_they_were():
    from dataclasses import replace

    from moviegen.train.tae import random_crop
    from moviegen.train.tae_recipes import CropConfig

    # A still textured background with one 4x4 square moving right along rows 40-43 of a 64x64 clip.
    gen = torch.Generator().manual_seed(0)
    video = (torch.rand(1, 1, 1, 64, 64, generator=gen) * 0.1).expand(1, 3, 8, 64, 64).clone()
    for t in range(8):
        video[:, :, t, 40:44, 4 * t : 4 * t + 4] = 1.0
    uniform = CropConfig(frames=8, height=16, width=16)
    moving = replace(uniform, motion_fraction=1.0)

    def holds_the_square(window: torch.Tensor) -> bool:
        return bool((window == 1.0).any())

    steps = range(40)
    hits = sum(holds_the_square(random_crop(video, crop=moving, generator=step_generator(0, s))) for s in steps)
    assert hits == len(steps)  # every window is drawn where the frames change
    chance = sum(holds_the_square(random_crop(video, crop=uniform, generator=step_generator(0, s))) for s in steps)
    assert chance < len(steps) // 2  # a uniform window mostly misses it
    # motion_fraction 0 draws nothing more: the uniform crop sequence (and a resumed run's) is unchanged.
    off = replace(uniform, motion_fraction=0.0)
    assert all(torch.equal(random_crop(video, crop=off, generator=step_generator(1, s)),
                           random_crop(video, crop=uniform, generator=step_generator(1, s))) for s in steps)
    half = replace(uniform, motion_fraction=0.5)
    mixed = sum(holds_the_square(random_crop(video, crop=half, generator=step_generator(0, s))) for s in steps)
    assert chance < mixed < len(steps)
    with pytest.raises(ValueError, match="motion_fraction must be in \\[0, 1\\], got 1.5"):
        CropConfig(frames=8, height=16, width=16, motion_fraction=1.5)


def test_motion_weights_follow_the_latent_change_between_frames():
    from dataclasses import replace

    from moviegen.train.recipes import get_recipe
    from moviegen.train.t2v import loss_weights

    x_BCTHW = torch.zeros(2, 3, 4, 2, 2)
    x_BCTHW[0, :, 2:, 0, 0] = 1.0  # sample 0: one of 16 latent positions changes, into frame 2
    x_BCTHW[1] = torch.arange(4.0)[None, :, None, None]  # sample 1: every position changes alike
    assert loss_weights(x_BCTHW) is None  # no weights asked: the plain mean
    w_B1THW = loss_weights(x_BCTHW, motion=4.0)
    assert w_B1THW.shape == (2, 1, 4, 2, 2)
    # a lone change is 16x the sample's mean change, capped at 10: weight 1 + 4 * 10; the rest weigh 1
    assert w_B1THW[0, 0, 2, 0, 0] == 41.0 and int((w_B1THW[0] == 1.0).sum()) == 15
    torch.testing.assert_close(w_B1THW[1], torch.full_like(w_B1THW[1], 5.0))  # uniform change: 1 + 4 everywhere
    with pytest.raises(ValueError, match="motion_weight must be >= 0"):
        replace(get_recipe("t2v-debug"), motion_weight=-1.0)


def test_object_weights_single_out_what_departs_from_the_background():
    from dataclasses import replace

    from moviegen.train.recipes import get_recipe
    from moviegen.train.t2v import loss_weights

    x_BCTHW = torch.full((2, 3, 1, 4, 4), 0.5)  # images: one latent frame of 16 positions on a flat background
    x_BCTHW[0, :, 0, 1, 2] = -1.5  # sample 0: a one-position object
    x_BCTHW[1, :, 0, :2] = 2.0  # sample 1: half the frame differs (the median sits on one of the two halves)
    w_B1THW = loss_weights(x_BCTHW, objects=2.0)
    assert w_B1THW.shape == (2, 1, 1, 4, 4)
    # the object departs 16x the mean departure, capped at 10: 1 + 2 * 10; the background weighs 1
    assert w_B1THW[0, 0, 0, 1, 2] == 21.0 and int((w_B1THW[0] == 1.0).sum()) == 15
    assert sorted(set(w_B1THW[1].flatten().tolist())) == [1.0, 5.0]  # one half departs 2x the mean: 1 + 2 * 2
    # both weights add; an image has no motion to weigh
    torch.testing.assert_close(loss_weights(x_BCTHW, motion=4.0, objects=2.0), w_B1THW)
    with pytest.raises(ValueError, match="object_weight must be >= 0"):
        replace(get_recipe("t2v-debug"), object_weight=-0.5)


def test_the_training_step_applies_the_object_weight_and_the_recipe_asks_for_it():
    from dataclasses import replace

    from moviegen.data.latent_cache import LatentBatch
    from moviegen.flow import OTPath
    from moviegen.train.recipes import SHIFTED_TIMES, get_recipe
    from moviegen.train.t2v import T2VStep
    from moviegen.video.model import TextToVideo

    plain = get_recipe("t2v-debug")
    torch.manual_seed(0)
    model = TextToVideo(plain.video)
    model.init_weights()
    channels = plain.video.dit.latent_channels

    def loss(recipe, latent_BCTHW):
        batch = LatentBatch(ids=["a", "b"], latent_BCTHW=latent_BCTHW, texts=["a red circle", "a blue square"],
                            fps=16, camera=["static", "static"], bucket=None)
        return float(T2VStep(cfg=recipe.video, path=OTPath(), recipe=recipe)(model, batch, 3)[0].detach())

    weighted = replace(plain, object_weight=4.0)
    flat = torch.ones(2, channels, 2, 4, 4)  # nothing departs from the background: every weight is 1
    assert loss(weighted, flat) == pytest.approx(loss(plain, flat), rel=1e-6)
    with_object = flat.clone()
    with_object[:, :, :, 1, 1] = 3.0
    assert loss(weighted, with_object) != pytest.approx(loss(plain, with_object), rel=1e-3)
    objects, base = get_recipe("t2v-tiny-t2iv-objects"), get_recipe("t2v-tiny-t2iv")
    assert (objects.object_weight, objects.flow, objects.stage.init_from) == (4.0, SHIFTED_TIMES, "t2v-tiny-t2iv")
    assert (objects.video, objects.train, objects.optim) == (base.video, base.train, base.optim)
