"""The composed text-to-video network and the guidance batch of text contexts."""

import pytest
import torch

from moviegen.configs.presets import video_debug
from moviegen.text.config import TextRole
from moviegen.text.interface import TextEmbeddings
from moviegen.video import TextToVideo


def _model():
    torch.manual_seed(0)
    model = TextToVideo(video_debug())
    model.init_weights()
    return model


def test_velocity_has_the_latent_shape():
    model = _model()
    text = model.encode_text(["a red circle", 'a blue star and the word "GO"'], fps=16, camera_motion="pan left")
    latent = torch.randn(2, 16, 2, 8, 8)
    assert model(latent, t_B=torch.rand(2), text=text).shape == latent.shape


def test_cat_pads_each_role_segment_and_keeps_rows_intact():
    model = _model()
    with torch.no_grad():
        cond = model.encode_text(['a long prompt with the word "HELLO" written on a wall'], fps=16)
        uncond = model.encode_text([""], fps=16)
    both = TextEmbeddings.cat([cond, uncond])
    assert both.batch_size == 2
    for seg_both, seg_cond, seg_uncond in zip(both.segments, cond.segments, uncond.segments, strict=True):
        assert seg_both.length == max(seg_cond.length, seg_uncond.length)
        for row, part, seg in ((0, cond, seg_cond), (1, uncond, seg_uncond)):
            got = both.tokens_BSD[row, seg_both.start : seg_both.start + seg.length]
            assert torch.equal(got, part.tokens_BSD[0, seg.start : seg.start + seg.length])
            assert not both.mask_BS[row, seg_both.start + seg.length : seg_both.start + seg_both.length].any()
    # Padding never changes what a row attends to: the unmasked token sets are the same as before.
    assert both.mask_BS[0].sum() == cond.mask_BS[0].sum() and both.mask_BS[1].sum() == uncond.mask_BS[0].sum()
    assert both.segment(TextRole.CHARACTER).length == cond.segment(TextRole.CHARACTER).length


def test_trainable_state_dict_round_trips_and_rejects_mismatches():
    model, other = _model(), TextToVideo(video_debug())
    state = model.trainable_state_dict()
    other.load_trainable_state_dict(state)
    assert all(torch.equal(v, other.trainable_state_dict()[k]) for k, v in state.items())
    state.pop(next(iter(state)))
    with pytest.raises(ValueError, match="missing"):
        other.load_trainable_state_dict(state)
