"""Shared neural-network blocks used by more than one Movie Gen model.

Shape-suffix legend (used in every model file of the project; a file that redefines a letter says so at its top):

    B  batch                      C  channels (pixel or latent; the name prefix says which)
    T  frames                     H  height                  W  width
    L  video tokens               S  text tokens             D  model width
    N  attention heads            K  head dim                F  FFN hidden width
    E  text-encoder width         P  values per patch (C * pt * ph * pw)

Pixel and latent tensors share letters and are told apart by their prefix: ``video_BCTHW`` vs ``latent_BCTHW``.
``H`` always means height, so the head dim is ``K`` (torchtitan uses ``H`` for it).
"""
