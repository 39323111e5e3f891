"""Flow matching against closed forms (SPEC 3; STYLE rules 12 and 30)."""

import pytest
import torch

from moviegen.flow import (
    SIGMA_MIN,
    ODESolver,
    OTPath,
    Schedule,
    TimestepSampling,
    cfg_combine,
    flow_matching_loss,
    guided_velocity_fn,
    inference_schedule,
    linear_quadratic_schedule,
    sample_timesteps,
    solve_ode,
    uniform_schedule,
)


def test_time_convention_t0_is_noise_t1_is_data():
    """Pins STYLE rule 12: t=0 noise, t=1 data, sigma_min = 1e-5."""
    assert SIGMA_MIN == 1e-5
    path = OTPath()
    x0, x1 = torch.randn(3, 4, dtype=torch.float64), torch.randn(3, 4, dtype=torch.float64)
    at0 = path.sample(x0=x0, x1=x1, t=torch.zeros(3, dtype=torch.float64))
    at1 = path.sample(x0=x0, x1=x1, t=torch.ones(3, dtype=torch.float64))
    torch.testing.assert_close(at0.xt, x0)
    torch.testing.assert_close(at1.xt, x1 + SIGMA_MIN * x0)


def test_path_matches_closed_form_and_target_is_its_derivative():
    path = OTPath(sigma_min=1e-3)
    x0, x1 = torch.randn(4, 2, 3, dtype=torch.float64), torch.randn(4, 2, 3, dtype=torch.float64)
    t = torch.tensor([0.0, 0.3, 0.7, 1.0], dtype=torch.float64)
    out = path.sample(x0=x0, x1=x1, t=t)
    tb = t[:, None, None]
    torch.testing.assert_close(out.xt, tb * x1 + (1 - (1 - 1e-3) * tb) * x0)
    torch.testing.assert_close(out.target, x1 - (1 - 1e-3) * x0)
    eps = 1e-6
    ahead = path.sample(x0=x0, x1=x1, t=t + eps).xt
    torch.testing.assert_close((ahead - out.xt) / eps, out.target, atol=1e-7, rtol=1e-7)


def test_path_validates_inputs():
    with pytest.raises(ValueError, match="sigma_min"):
        OTPath(sigma_min=1.5)
    with pytest.raises(ValueError, match=r"t must have shape \(2,\)"):
        OTPath().sample(x0=torch.zeros(2, 3), x1=torch.zeros(2, 3), t=torch.zeros(3))


def test_logit_normal_and_uniform_sampling():
    gen = torch.Generator().manual_seed(0)
    t = sample_timesteps(200_000, generator=gen)
    logit = torch.log(t / (1 - t))
    assert abs(logit.mean().item()) < 0.01 and abs(logit.std().item() - 1) < 0.01
    t2 = sample_timesteps(200_000, sampling=TimestepSampling.LOGIT_NORMAL, mean=0.5, std=0.5, generator=gen)
    assert abs(torch.log(t2 / (1 - t2)).mean().item() - 0.5) < 0.01
    u = sample_timesteps(100_000, sampling=TimestepSampling.UNIFORM, generator=gen)
    assert 0 <= u.min() and u.max() < 1 and abs(u.mean().item() - 0.5) < 0.01
    with pytest.raises(ValueError, match="batch_size"):
        sample_timesteps(0)


def test_uniform_fraction_trains_the_tails_and_leaves_plain_draws_unchanged():
    plain = sample_timesteps(64, generator=torch.Generator().manual_seed(3))
    same = sample_timesteps(64, uniform_fraction=0.0, generator=torch.Generator().manual_seed(3))
    assert torch.equal(plain, same)  # fraction 0 draws nothing extra: existing runs stay bit-identical
    gen = torch.Generator().manual_seed(0)
    t = sample_timesteps(400_000, uniform_fraction=0.3, generator=gen)
    # P(t > 0.95) = 0.3 * 0.05 + 0.7 * P(N(0,1) > logit 0.95 = 2.944) = 0.015 + 0.7 * 0.00162
    assert abs((t > 0.95).float().mean().item() - (0.015 + 0.7 * 0.00162)) < 0.001
    assert abs((t < 0.05).float().mean().item() - (0.015 + 0.7 * 0.00162)) < 0.001
    with pytest.raises(ValueError, match=r"uniform_fraction must be in \[0, 1\], got 1.5"):
        sample_timesteps(4, uniform_fraction=1.5)


@pytest.mark.parametrize(
    ("steps", "emulated", "linear"), [(50, 1000, None), (50, 250, None), (10, 100, 3), (64, 1000, 40)]
)
def test_linear_quadratic_matches_diffusers_mochi(steps, emulated, linear):
    """Independent implementation: diffusers' Mochi pipeline returns noise levels sigma = 1 - t, without t=1."""
    from diffusers.pipelines.mochi.pipeline_mochi import linear_quadratic_schedule as mochi_schedule

    lin = steps // 2 if linear is None else linear
    sigmas = mochi_schedule(steps, lin / emulated, linear_steps=lin)
    ref = 1.0 - torch.tensor([*sigmas, 0.0], dtype=torch.float64)
    ours = linear_quadratic_schedule(steps, emulated_linear_steps=emulated, linear_steps=linear)
    torch.testing.assert_close(ours, ref, atol=1e-12, rtol=0)


def test_linear_quadratic_starts_on_the_emulated_uniform_grid():
    t = linear_quadratic_schedule(50, emulated_linear_steps=250)
    torch.testing.assert_close(t[:26], uniform_schedule(250)[:26])  # first 25 steps of 250 uniform ones
    assert t[0] == 0 and t[-1] == 1 and bool((t.diff() > 0).all())
    steps = t.diff()
    assert steps[25:].diff().min() > 0  # the quadratic part takes growing steps


def test_schedule_errors_name_the_values():
    with pytest.raises(ValueError, match="emulated_linear_steps must exceed linear_steps=25"):
        linear_quadratic_schedule(50, emulated_linear_steps=20)
    with pytest.raises(ValueError, match="linear_steps must be in"):
        linear_quadratic_schedule(10, linear_steps=10)
    with pytest.raises(ValueError, match="num_steps must be >= 1, got 0"):
        uniform_schedule(0)
    assert inference_schedule(Schedule.UNIFORM, num_steps=4).tolist() == [0, 0.25, 0.5, 0.75, 1]


def test_euler_is_exact_for_constant_fields_and_first_order_on_3t2():
    x0 = torch.zeros(2, 1, dtype=torch.float64)
    const = solve_ode(lambda x, t: torch.full_like(x, 2.0), x0, t_grid=uniform_schedule(7))
    torch.testing.assert_close(const, torch.full_like(x0, 2.0))

    def field(x, t):
        return 3 * t[:, None] ** 2 * torch.ones_like(x)  # x(1) - x(0) = 1

    errors = [
        (solve_ode(field, x0, t_grid=uniform_schedule(n)) - 1).abs().max().item() for n in (10, 20, 40)
    ]
    assert errors[0] / errors[1] == pytest.approx(2, rel=0.1) and errors[1] / errors[2] == pytest.approx(2, rel=0.1)
    mid = [
        (solve_ode(field, x0, t_grid=uniform_schedule(n), solver=ODESolver.MIDPOINT) - 1).abs().max().item()
        for n in (10, 20)
    ]
    assert mid[0] == pytest.approx(1 / (4 * 10**2))  # midpoint rule error on t^2: h^2 / 4 in total
    assert mid[0] / mid[1] == pytest.approx(4, rel=1e-6)


def test_euler_on_linear_field_matches_compound_growth():
    x0 = torch.ones(1, 3, dtype=torch.float64)
    out = solve_ode(lambda x, t: x, x0, t_grid=uniform_schedule(16))
    torch.testing.assert_close(out, x0 * (1 + 1 / 16) ** 16)


def test_step_callback_sees_each_step_before_its_update_and_the_velocity_trace_is_exact():
    from moviegen.eval.sampler_study import VelocityChangeTrace

    seen = []
    x0 = torch.ones(1, 3, dtype=torch.float64)
    solve_ode(lambda x, t: x, x0, t_grid=uniform_schedule(4),
              callback=lambda i, t, x, v: seen.append((i, t, x.clone())))
    assert [(i, t) for i, t, _ in seen] == [(0, 0.0), (1, 0.25), (2, 0.5), (3, 0.75)]
    torch.testing.assert_close(seen[2][2], x0 * 1.25**2)  # the state at t_2, not after its update
    # v = a t^2: (v_{i+1} - v_i) / h = a (t_i + t_{i+1}) exactly, so the rms rate is rms(a) (t_i + t_{i+1})
    a = torch.tensor([[3.0, -4.0]], dtype=torch.float64)  # rms(a) = sqrt(12.5)
    trace = VelocityChangeTrace()
    solve_ode(lambda x, t: a * t[:, None] ** 2, torch.zeros(1, 2, dtype=torch.float64), t_grid=uniform_schedule(10),
              callback=trace)
    assert trace.times == pytest.approx([i / 10 for i in range(9)])
    assert trace.rates == pytest.approx([12.5**0.5 * (2 * i + 1) / 10 for i in range(9)])
    binned = trace.binned((0.0, 0.5, 1.0))  # t = 0 .. 0.4 and 0.5 .. 0.8
    assert binned == pytest.approx({"0-0.5": 12.5**0.5 * 0.5, "0.5-1": 12.5**0.5 * 1.4})


def test_solver_rejects_decreasing_grid():
    with pytest.raises(ValueError, match="strictly increasing"):
        solve_ode(lambda x, t: x, torch.zeros(1, 1), t_grid=torch.tensor([1.0, 0.0]))


def test_cfg_formula_and_batched_wrapper():
    v_c, v_u = torch.randn(2, 3), torch.randn(2, 3)
    torch.testing.assert_close(cfg_combine(v_c, v_u, scale=7.5), v_u + 7.5 * (v_c - v_u))
    torch.testing.assert_close(cfg_combine(v_c, v_u, scale=1.0), v_c)

    calls = []

    def paired(x, t):  # rows [0:B] are "conditional" (+1), rows [B:] "unconditional" (-1)
        calls.append(x.shape[0])
        sign = torch.cat([torch.ones(x.shape[0] // 2), -torch.ones(x.shape[0] // 2)])
        return x * t[:, None] + sign[:, None]

    x, t = torch.randn(2, 3), torch.tensor([0.2, 0.6])
    out = guided_velocity_fn(paired, scale=3.0)(x, t)
    torch.testing.assert_close(out, cfg_combine(x * t[:, None] + 1, x * t[:, None] - 1, scale=3.0))
    assert calls == [4]  # one network call with the doubled batch


def test_loss_draws_its_own_times_from_the_whole_flow_config():
    from moviegen.flow import FlowConfig

    x1 = torch.zeros(4000, 2)
    zero = lambda xt, tt: torch.zeros_like(xt)  # noqa: E731
    default = flow_matching_loss(zero, x1, path=OTPath(), generator=torch.Generator().manual_seed(0))
    shifted = flow_matching_loss(
        zero, x1, path=OTPath(), flow=FlowConfig(logit_mean=2.0, logit_std=0.5),
        generator=torch.Generator().manual_seed(0),
    )
    logit = lambda t: torch.log(t / (1 - t))  # noqa: E731
    assert abs(logit(default.t).mean().item()) < 0.1 and logit(shifted.t).mean().item() == pytest.approx(2.0, abs=0.05)
    assert logit(shifted.t).std().item() == pytest.approx(0.5, abs=0.05)


def test_loss_is_mse_to_target_and_zero_for_the_exact_velocity():
    path = OTPath()
    gen = torch.Generator().manual_seed(0)
    x1 = torch.randn(4, 2, 3, dtype=torch.float64)
    x0 = torch.randn(4, 2, 3, dtype=torch.float64)
    t = torch.tensor([0.1, 0.4, 0.6, 0.9], dtype=torch.float64)
    out = flow_matching_loss(lambda xt, tt: torch.zeros_like(xt), x1, path=path, t=t, x0=x0)
    target = x1 - (1 - SIGMA_MIN) * x0
    torch.testing.assert_close(out.loss_per_sample, target.pow(2).flatten(1).mean(1).float())

    def exact(xt, tt):  # the conditional velocity field of a known x1: recover x0 from xt, then v = x1 - (1-s) x0
        tb = tt[:, None, None]
        noise = (xt - tb * x1) / (1 - (1 - SIGMA_MIN) * tb)
        return x1 - (1 - SIGMA_MIN) * noise

    assert flow_matching_loss(exact, x1, path=path, generator=gen).loss < 1e-12
