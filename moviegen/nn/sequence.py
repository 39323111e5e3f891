"""Where a transformer's token sequence may be split across processes: the context-parallel extension point.

:class:`TokenShards` is the identity on one process. The DiT calls :meth:`TokenShards.shard` once after the token
embedding (the residual stream and its positional rows) and :meth:`TokenShards.gather` once on the output tokens;
``moviegen.train.parallelize.apply_cp`` swaps in a subclass that keeps each context-parallel rank's slice of the
sequence and all-gathers it back (STYLE rule 6: an explicit, documented extension point, no patched ``forward``).
"""

import torch
from torch import nn


class TokenShards(nn.Module):
    """Identity: the whole sequence lives on this process."""

    def shard(
        self, x_BLD: torch.Tensor, pos_LD: torch.Tensor, per_token_BLX: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """This process's part of the tokens ``x_BLD``, of their positional rows ``pos_LD`` and of an optional
        per-token tensor in the same order (the DiT's per-token modulation)."""
        return x_BLD, pos_LD, per_token_BLX

    def gather(self, x_BLP: torch.Tensor) -> torch.Tensor:
        """The whole sequence back from every process's part (inverse of :meth:`shard`)."""
        return x_BLP

    def forward(
        self, x_BLD: torch.Tensor, pos_LD: torch.Tensor, per_token_BLX: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        return self.shard(x_BLD, pos_LD, per_token_BLX)
