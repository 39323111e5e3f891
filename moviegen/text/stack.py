"""The text-conditioning stack: prompts in, cross-attention context out (SPEC sections 4.1 and 2.4).

:meth:`TextStack.encode` does, per batch of prompts:

1. prefix each prompt with the FPS token and the camera-motion label (:func:`~moviegen.text.prompt.format_prompt`);
2. run the PROMPT and VISUAL encoders on the prefixed prompts, and the CHARACTER encoder on the quoted visual text
   only (an empty visual text gives an all-masked segment for that row);
3. project each role with its own Linear + LayerNorm and concatenate along the sequence
   (:class:`~moviegen.text.projection.TextConditioner`).

Steps 1-2 are :meth:`TextStack.encode_roles` (frozen encoders run without autograd; a trainable byte encoder keeps its
graph), step 3 is the conditioner. The conditioner may be the one owned by the DiT: pass it in so both share it.
"""

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TypeVar

import torch
from torch import nn

from moviegen.text.config import TextRole, TextStackConfig
from moviegen.text.encoders import build_text_encoder
from moviegen.text.interface import EncodedText, RoleEncodings, TextEmbeddings, TextEncoder
from moviegen.text.projection import TextConditioner
from moviegen.text.prompt import CameraMotion, format_prompt, parse_camera_motion, visual_text

_T = TypeVar("_T")


def _per_prompt(value: _T | Sequence[_T] | None, *, num_prompts: int, name: str) -> list[_T | None]:
    """Broadcast a scalar (or None) to one value per prompt; a list/tuple must have one value per prompt."""
    if isinstance(value, (list, tuple)):
        if len(value) != num_prompts:
            raise ValueError(f"{name} has {len(value)} values for {num_prompts} prompts: {value!r}")
        return list(value)
    return [value] * num_prompts


class TextStack(nn.Module):
    """One encoder per role plus the per-role projections.

    Args:
        cfg: the stack config.
        encoders: one encoder (an ``nn.Module`` satisfying :class:`~moviegen.text.interface.TextEncoder`) per role of
            ``cfg``, with the widths and max lengths the config declares.
        conditioner: the projections (built for ``cfg``).

    Raises:
        ValueError: encoders missing, extra or inconsistent with ``cfg``.
    """

    def __init__(
        self, cfg: TextStackConfig, *, encoders: Mapping[TextRole, TextEncoder], conditioner: TextConditioner
    ) -> None:
        super().__init__()
        if set(encoders) != set(cfg.roles):
            raise ValueError(
                f"TextStack needs one encoder per role {[r.value for r in cfg.roles]}, "
                f"got {[r.value for r in encoders]}"
            )
        for spec in cfg.encoders:
            encoder = encoders[spec.role]
            if not isinstance(encoder, nn.Module) or not isinstance(encoder, TextEncoder):
                raise ValueError(
                    f"encoder for role {spec.role.value!r} must be an nn.Module TextEncoder, got {encoder!r}"
                )
            if encoder.output_dim != spec.output_dim or encoder.max_length != spec.max_length:
                raise ValueError(
                    f"encoder for role {spec.role.value!r} has output_dim/max_length "
                    f"{encoder.output_dim}/{encoder.max_length}, config says {spec.output_dim}/{spec.max_length}"
                )
        if conditioner.cfg != cfg:
            raise ValueError("the conditioner was built for another TextStackConfig")
        self.cfg = cfg
        self.encoders = nn.ModuleDict({role.value: encoders[role] for role in cfg.roles})
        self.conditioner = conditioner

    @classmethod
    def from_config(
        cls,
        cfg: TextStackConfig,
        *,
        dim: int,
        text_dir: str | Path | None = None,
        conditioner: TextConditioner | None = None,
    ) -> "TextStack":
        """Build every role's encoder (see :func:`~moviegen.text.encoders.build_text_encoder`) and the projections.

        Args:
            cfg: the stack config.
            dim: D, the video model's width.
            text_dir: directory with one sub-directory per encoder name (``ul2/``, ``metaclip/``, ``byt5/``, ``byte/``);
                None builds fresh byte encoders and MiniLM from its wheel, and fails for the other pretrained kinds.
            conditioner: reuse these projections (e.g. the DiT's) instead of building and initialising new ones.

        Returns:
            The stack.
        """
        if conditioner is None:
            conditioner = TextConditioner(cfg, dim=dim)
            conditioner.init_weights()
        elif conditioner.dim != dim:
            raise ValueError(f"conditioner width {conditioner.dim} differs from dim={dim}")
        encoders = {
            spec.role: build_text_encoder(spec, text_dir=text_dir, padding=cfg.padding) for spec in cfg.encoders
        }
        return cls(cfg, encoders=encoders, conditioner=conditioner)

    def encoder(self, role: TextRole) -> TextEncoder:
        """The encoder filling ``role``."""
        return self.encoders[role.value]

    def encode_roles(
        self,
        prompts: Sequence[str],
        *,
        fps: int | Sequence[int | None] | None = None,
        camera_motion: CameraMotion | str | Sequence[CameraMotion | str | None] | None = None,
    ) -> RoleEncodings:
        """Prefix the prompts and run each role's encoder (no projection).

        Args:
            prompts: B prompts (an empty string is allowed, e.g. for CFG's unconditional branch).
            fps: one FPS for all prompts, one per prompt, or None (no FPS token).
            camera_motion: one camera motion for all prompts, one per prompt, or None (no label).

        Returns:
            The per-role encoder outputs.

        Raises:
            ValueError: an empty or non-list prompt batch, a non-string prompt, an fps outside its range, an unknown
                camera motion, or a per-prompt list of the wrong length.
        """
        if isinstance(prompts, str) or not isinstance(prompts, Sequence) or len(prompts) == 0:
            raise ValueError(f"prompts must be a non-empty list of str, got {prompts!r}")
        for i, prompt in enumerate(prompts):
            if not isinstance(prompt, str):
                raise ValueError(f"prompts[{i}] must be a str, got {type(prompt).__name__} {prompt!r}")
        fps_list = _per_prompt(fps, num_prompts=len(prompts), name="fps")
        motions = [
            parse_camera_motion(m) for m in _per_prompt(camera_motion, num_prompts=len(prompts), name="camera_motion")
        ]
        prefixed = [
            format_prompt(p, fps=f, camera_motion=m) for p, f, m in zip(prompts, fps_list, motions, strict=True)
        ]

        encoded: dict[TextRole, EncodedText] = {}
        for role in self.cfg.roles:
            if role is TextRole.CHARACTER:
                # The character-level encoder sees only the quoted visual text, without prefixes (SPEC 4.1).
                texts = [visual_text(p) for p in prompts]
                out = self.encoder(role).encode(texts)
                has_text_B = torch.tensor([bool(t) for t in texts], device=out.mask_BS.device)
                out = EncodedText(hidden_BSE=out.hidden_BSE, mask_BS=out.mask_BS & has_text_B[:, None])
            else:
                out = self.encoder(role).encode(prefixed)
            encoded[role] = out
        # Internal invariant: the PROMPT encoders always emit eos/cls, so no row of the context is empty.
        assert bool(encoded[TextRole.PROMPT].mask_BS.any(dim=1).all()), "PROMPT role produced an empty row"
        return RoleEncodings(
            prompt=encoded[TextRole.PROMPT],
            visual=encoded.get(TextRole.VISUAL),
            character=encoded.get(TextRole.CHARACTER),
        )

    def encode(
        self,
        prompts: Sequence[str],
        *,
        fps: int | Sequence[int | None] | None = None,
        camera_motion: CameraMotion | str | Sequence[CameraMotion | str | None] | None = None,
    ) -> TextEmbeddings:
        """Prompts to the cross-attention context (:meth:`encode_roles`, then the conditioner).

        Args:
            prompts: B prompts.
            fps: see :meth:`encode_roles`.
            camera_motion: see :meth:`encode_roles`.

        Returns:
            ``tokens_BSD``, ``mask_BS`` and the role segments.
        """
        return self.conditioner(self.encode_roles(prompts, fps=fps, camera_motion=camera_motion))
