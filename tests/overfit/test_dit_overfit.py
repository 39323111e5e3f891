"""The debug transformer overfits one fixed batch (nanoGPT's sanity check as a test, STYLE rule 31)."""

import torch

from moviegen.dit import DiT, dit_debug
from moviegen.flow import OTPath, flow_matching_loss


def test_debug_dit_overfits_one_batch():
    torch.manual_seed(0)
    model = DiT(dit_debug())
    model.init_weights()
    gen = torch.Generator().manual_seed(0)
    x1 = torch.randn(2, 16, 2, 4, 4, generator=gen)
    x0 = torch.randn(2, 16, 2, 4, 4, generator=gen)
    t = torch.tensor([0.3, 0.7])
    text = torch.randn(2, 4, 64, generator=gen)
    mask = torch.ones(2, 4, dtype=torch.bool)
    path = OTPath()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)

    def velocity(xt, tt):
        return model(xt, t_B=tt, text_BSD=text, text_mask_BS=mask)

    losses = []
    for _ in range(300):
        loss = flow_matching_loss(velocity, x1, path=path, t=t, x0=x0).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.1 * losses[0], f"loss {losses[0]:.3f} -> {losses[-1]:.3f}"
