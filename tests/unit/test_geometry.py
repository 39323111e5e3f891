"""Latent/token geometry (SPEC 5.3 and 13 arithmetic)."""

import pytest

from moviegen.configs.geometry import num_frames_for, parse_size
from moviegen.configs.presets import MovieGenVideoConfig, video_30b, video_tiny
from moviegen.dit import dit_debug
from moviegen.tae.config import tae_16ch
from moviegen.text import text_debug


def test_paper_768px_16s_is_73728_tokens():
    geo = video_30b().geometry(width=768, height=768, num_frames=num_frames_for(seconds=16, fps=16))
    assert geo.num_frames == 256
    assert geo.latent_grid == (32, 96, 96)
    assert geo.token_grid == (32, 48, 48)
    assert geo.num_tokens == 73_728


def test_landscape_and_portrait_match_the_square_token_count():
    for width, height, grid in ((1024, 576, (32, 36, 64)), (576, 1024, (32, 64, 36))):
        geo = video_30b().geometry(width=width, height=height, num_frames=256)
        assert geo.token_grid == grid and geo.num_tokens == 73_728


@pytest.mark.parametrize(("frames", "latent_t"), [(1, 1), (8, 1), (9, 2), (128, 16), (192, 24), (250, 32)])
def test_frame_counts_round_up_to_whole_latent_frames(frames, latent_t):
    assert video_30b().geometry(width=256, height=256, num_frames=frames).latent_grid[0] == latent_t


def test_image_is_one_latent_frame_of_256_tokens_at_256px():
    geo = video_30b().geometry(width=256, height=256, num_frames=1)
    assert geo.token_grid == (1, 16, 16) and geo.num_tokens == 256


def test_bad_sizes_name_the_value_and_the_rule():
    with pytest.raises(ValueError, match=r"multiples of 16x16 .*got 1279x720"):
        video_30b().geometry(width=1279, height=720, num_frames=16)
    with pytest.raises(ValueError, match="num_frames must be >= 1, got 0"):
        video_tiny().geometry(width=128, height=128, num_frames=0)
    with pytest.raises(ValueError, match="WIDTHxHEIGHT"):
        parse_size("big")
    assert parse_size("1024x576") == (1024, 576) and parse_size("768") == (768, 768)


def test_parent_config_checks_shared_latent_channels():
    with pytest.raises(ValueError, match=r"dit.latent_channels \(16\) must equal tae.latent_channels \(32\)"):
        from moviegen.tae.config import tae_32ch

        MovieGenVideoConfig(tae=tae_32ch(), dit=dit_debug(), text=text_debug())
    assert MovieGenVideoConfig(tae=tae_16ch(), dit=dit_debug(), text=text_debug()).dit.latent_channels == 16
