"""The training recipes: every preset builds, overrides apply, and each experiment differs from its control in the
one field it names."""

import pytest


def test_recipes_are_valid_and_overridable():
    from dataclasses import replace

    from moviegen.train.recipes import RECIPES, TAERecipe, get_recipe, with_overrides

    for name, preset in RECIPES.items():
        recipe = preset()
        assert recipe.name == name and recipe.description
    recipe = with_overrides(get_recipe("tae-tiny"), steps=7, batch_size=3, lr=5e-4)
    assert isinstance(recipe, TAERecipe)
    assert (recipe.train.steps, recipe.train.batch_size, recipe.optim.lr) == (7, 3, 5e-4)
    with pytest.raises(ValueError, match="unknown recipe 'nope'"):
        get_recipe("nope")
    # The 32-channel experiment and its control differ in the latent alone.
    more, control = get_recipe("tae-tiny-clip-32ch"), get_recipe("tae-tiny-clip-encoder")
    assert (more.tae.latent_channels, control.tae.latent_channels) == (32, 16)
    assert not more.decoder_only and not control.decoder_only
    assert replace(more, name=control.name, description=control.description, tae=control.tae) == control
    assert replace(more.tae, latent_channels=16) == control.tae
    deeper = get_recipe("tae-tiny-clip-deep")  # and the 2-ResNet experiment from its control in the depth alone
    assert (deeper.tae.layers_per_block, control.tae.layers_per_block) == (2, 1)
    assert replace(deeper, name=control.name, description=control.description, tae=control.tae) == control
    assert replace(deeper.tae, layers_per_block=1) == control.tae
    motion = get_recipe("tae-tiny-clip-motion")  # and the motion-crop experiment in its crops alone
    assert replace(motion, name=control.name, description=control.description, crop=control.crop) == control
    assert replace(motion.crop, motion_fraction=0.0) == control.crop and motion.crop.motion_fraction == 0.5
    t4 = get_recipe("tae-tiny-clip-t4")  # and the 4x temporal compression experiment in its strides alone
    assert (t4.tae.temporal_compression, control.tae.temporal_compression) == (4, 8)
    assert replace(t4, name=control.name, description=control.description, tae=control.tae) == control
    assert replace(t4.tae, temporal_downsample=control.tae.temporal_downsample) == control.tae
    t2 = get_recipe("tae-tiny-clip-t2")  # and the 2x one likewise
    assert t2.tae.temporal_compression == 2 and t2.tae.temporal_downsample == (True, False, False)
    assert replace(t2, name=control.name, description=control.description, tae=control.tae) == control
    # Its transformer: the shifted stage on that TAE's latents, its temporal table twice as long (the same 4 s).
    t2v_t4, shifted = get_recipe("t2v-tiny-t4"), get_recipe("t2v-tiny-t2iv-shifted")
    assert t2v_t4.video.tae.temporal_downsample == t4.tae.temporal_downsample
    assert t2v_t4.video.dit.max_t == 2 * shifted.video.dit.max_t and t2v_t4.stage.init_from == shifted.name
    assert replace(t2v_t4, name=shifted.name, description=shifted.description, video=shifted.video,
                   stage=shifted.stage, train=shifted.train) == shifted
    assert with_overrides(get_recipe("t2v-debug"), uniform_t=0.25).flow.uniform_fraction == 0.25
    assert with_overrides(get_recipe("audio-debug"), uniform_t=0.5).flow.uniform_fraction == 0.5
    with pytest.raises(ValueError, match="--uniform-t applies to the flow-matching recipes .* not 'tae-tiny'"):
        with_overrides(get_recipe("tae-tiny"), uniform_t=0.2)
    shifted = with_overrides(get_recipe("t2v-debug"), logit_mean=-1.0, uniform_t=0.1)
    assert (shifted.flow.logit_mean, shifted.flow.uniform_fraction) == (-1.0, 0.1)
    with pytest.raises(ValueError, match="--logit-mean applies to the flow-matching recipes .* not 'tae-tiny'"):
        with_overrides(get_recipe("tae-tiny"), logit_mean=-1.0)


def test_small_chain_is_the_tiny_chain_with_a_larger_transformer_and_shifted_stage_3_times():
    from moviegen.configs.presets import count_parameters
    from moviegen.dit.model import DiT
    from moviegen.flow.config import FlowConfig
    from moviegen.train.recipes import SHIFTED_TIMES, get_recipe

    previous = None
    for stage in ("t2i-lowres", "t2iv-lowres", "t2iv"):
        tiny, small = get_recipe(f"t2v-tiny-{stage}"), get_recipe(f"t2v-small-{stage}")
        assert small.stage.init_from == previous
        previous = small.name
        assert (small.train, small.optim, small.stage.buckets) == (tiny.train, tiny.optim, tiny.stage.buckets)
        assert (small.video.tae, small.video.text) == (tiny.video.tae, tiny.video.text)
        tables = ("max_t", "max_h", "max_w")
        assert [getattr(small.video.dit, k) for k in tables] == [getattr(tiny.video.dit, k) for k in tables]
        assert (small.video.dit.dim, small.video.dit.num_layers) == (384, 8)
        assert tiny.flow == FlowConfig()
        assert small.flow == (SHIFTED_TIMES if stage == "t2iv" else FlowConfig())
    shifted = FlowConfig(logit_mean=-1.0, uniform_fraction=0.3)
    assert get_recipe("t2v-tiny-t2iv-shifted").flow == SHIFTED_TIMES == shifted
    small_params = count_parameters(lambda: DiT(get_recipe("t2v-small-t2iv").video.dit))
    assert 2.5 < small_params / count_parameters(lambda: DiT(get_recipe("t2v-tiny-t2iv").video.dit)) < 3.5


def test_tae_crops_are_whole_latents_or_single_frames():
    from dataclasses import replace

    from moviegen.train.recipes import get_recipe
    from moviegen.train.tae_recipes import CropConfig

    recipe = get_recipe("tae-tiny")
    frames = [replace(recipe, crop=CropConfig(frames=t, height=48, width=48)).crop.frames for t in (1, 8, 16)]
    assert frames == [1, 8, 16]  # one frame is an image-autoencoder crop; others are whole latent frames
    for t, h in ((4, 48), (16, 44)):
        with pytest.raises(ValueError, match=f"crop {t}x{h}x48 .* must divide by the TAE's compression 8x8x8"):
            replace(recipe, crop=CropConfig(frames=t, height=h, width=48))
