"""Package data: the shipped weights of the embedded defaults, one checkpoint directory per model.

``video-tiny/`` holds the embedded Movie Gen Video default in the layout of :mod:`moviegen.video.checkpoint`
(``config.json``, ``tae.safetensors``, ``t2v.safetensors``, ``model_card.json``); find it with
:func:`moviegen.video.checkpoint.default_checkpoint_dir`. ``audio-tiny/`` holds the embedded Movie Gen Audio default
(``config.json``, ``codec.safetensors``, ``audio.safetensors``, ``model_card.json``, :mod:`moviegen.audio.checkpoint`);
find it with :func:`moviegen.audio.checkpoint.default_audio_checkpoint_dir`. ``camera-motion/`` holds the curation's
camera-motion classifier (``classifier.safetensors``, 5 x 6 weights, and ``classifier.json``, how it was trained and
its held-out accuracy; :func:`moviegen.curate.tags.load_camera_classifier`). The weights are trained by the project's
recipes on the synthetic world and committed here; a build without them reports so clearly instead of generating noise.
"""
