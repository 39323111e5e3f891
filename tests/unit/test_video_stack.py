"""The pieces compose: prompts -> text stack -> DiT velocity -> flow loss, with gradients into the projections."""

import torch
from model_tests import perturb_

from moviegen.dit import DiT, dit_debug
from moviegen.flow import OTPath, Schedule, flow_matching_loss, guided_velocity_fn, inference_schedule, solve_ode
from moviegen.tae import TemporalAutoencoder, tae_debug
from moviegen.text import TextStack, text_debug


def test_prompt_to_loss_and_sample_through_every_component():
    torch.manual_seed(0)
    cfg = dit_debug()
    dit = DiT(cfg)
    dit.init_weights()
    perturb_(dit)  # adaLN-Zero init sends no gradient upstream of the zero output layer on the first step
    stack = TextStack.from_config(text_debug(), dim=cfg.dim)
    tae = TemporalAutoencoder(tae_debug()).eval()

    video = torch.rand(2, 3, 4, 16, 16) * 2 - 1
    with torch.no_grad():
        x1 = tae.encode(video, sample=False).latent_BCTHW  # [2, 16, 2, 8, 8]
    text = stack.encode(['a red circle and the word "GO"', "a blue star pans left"], fps=16, camera_motion="static")
    assert text.tokens_BSD.shape[-1] == cfg.dim and text.mask_BS.any(dim=1).all()

    def velocity(xt, t):
        return dit(xt, t_B=t, text_BSD=text.tokens_BSD, text_mask_BS=text.mask_BS)

    loss = flow_matching_loss(velocity, x1, path=OTPath(), generator=torch.Generator().manual_seed(0)).loss
    loss.backward()
    projections = list(stack.conditioner.parameters())
    assert projections and all(p.grad is not None and p.grad.abs().sum() > 0 for p in projections)
    byte_params = [p for p in stack.encoder(next(iter(stack.cfg.roles))).parameters() if p.requires_grad]
    assert byte_params and any(p.grad is not None and p.grad.abs().sum() > 0 for p in byte_params)

    # Sampling with guidance: conditional rows first, then the unconditional (empty-prompt) rows.
    with torch.no_grad():
        uncond = stack.encode(["", ""], fps=16)
        s = max(text.tokens_BSD.shape[1], uncond.tokens_BSD.shape[1])

        def pad(x, fill):
            widths = (0, 0, 0, s - x.shape[1]) if x.ndim == 3 else (0, s - x.shape[1])
            return torch.nn.functional.pad(x, widths, value=fill)

        tokens = torch.cat([pad(text.tokens_BSD, 0.0), pad(uncond.tokens_BSD, 0.0)])
        mask = torch.cat([pad(text.mask_BS, False), pad(uncond.mask_BS, False)])
        paired = lambda xt, t: dit(xt, t_B=t, text_BSD=tokens, text_mask_BS=mask)  # noqa: E731
        grid = inference_schedule(Schedule.LINEAR_QUADRATIC, num_steps=6, emulated_linear_steps=20)
        x = solve_ode(guided_velocity_fn(paired, scale=7.5), torch.randn_like(x1), t_grid=grid)
        frames = tae.decode(x, num_frames=4)
    assert frames.shape == video.shape and torch.isfinite(frames).all()
