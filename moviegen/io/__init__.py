"""Media files in and out: video with its audio through PyAV, images through Pillow, written atomically."""

from moviegen.io.media import (
    MediaError,
    VideoClip,
    atomic_path,
    read_image,
    read_video,
    write_image,
    write_video,
)

__all__ = ["MediaError", "VideoClip", "atomic_path", "read_image", "read_video", "write_image", "write_video"]
