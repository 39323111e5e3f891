"""Media I/O through PyAV and Pillow: round trips, atomic writes, and clear errors for broken files."""

import numpy as np
import pytest

from moviegen.io import MediaError, atomic_path, read_image, read_video, write_image, write_video


def _frames(t=8, h=32, w=48):
    frames = np.full((t, h, w, 3), 128, np.uint8)
    for i in range(t):
        frames[i, 8:24, 4 + 2 * i : 20 + 2 * i] = (220, 40, 40)  # a red square moving right
    return frames


def test_video_with_audio_round_trips(tmp_path):
    sr = 48000
    audio = (0.3 * np.sin(2 * np.pi * 440 * np.arange(sr // 2) / sr))[None].astype(np.float32)
    path = write_video(tmp_path / "a.mp4", _frames(), fps=16, audio_CN=audio, sample_rate=sr)
    clip = read_video(path)
    assert clip.frames_THWC.shape == (8, 32, 48, 3) and clip.fps == 16.0
    # Flat colours survive H.264 at crf 18 to a few levels inside the square.
    assert np.abs(clip.frames_THWC[3, 16, 14].astype(int) - (220, 40, 40)).max() <= 6
    assert clip.sample_rate == sr and clip.audio_CN.shape[0] == 1
    assert abs(clip.audio_CN.shape[1] - sr // 2) <= 2048  # AAC priming/padding adds at most two frames
    assert read_video(path, sample_rate=16000).audio_CN.shape[1] == pytest.approx(clip.audio_CN.shape[1] / 3, abs=64)
    assert read_video(path, audio=False, max_frames=3).frames_THWC.shape[0] == 3


def test_video_without_audio_reads_none(tmp_path):
    clip = read_video(write_video(tmp_path / "v.mp4", _frames(), fps=24))
    assert clip.audio_CN is None and clip.sample_rate is None and clip.fps == 24.0


@pytest.mark.parametrize(
    "content, reason",
    [(b"", "empty"), (b"not a video at all" * 20, "cannot read"), (None, "no such file")],
)
def test_unreadable_files_raise_media_error_naming_the_file(tmp_path, content, reason):
    path = tmp_path / "broken.mp4"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(MediaError, match=reason) as info:
        read_video(path)
    assert "broken.mp4" in str(info.value)


def test_truncated_video_raises(tmp_path):
    good = write_video(tmp_path / "g.mp4", _frames(), fps=16).read_bytes()
    (tmp_path / "t.mp4").write_bytes(good[: len(good) // 3])
    with pytest.raises(MediaError, match="t.mp4"):
        read_video(tmp_path / "t.mp4")


def test_bad_write_arguments_leave_no_file(tmp_path):
    with pytest.raises(MediaError, match="even height and width"):
        write_video(tmp_path / "odd.mp4", np.zeros((2, 31, 32, 3), np.uint8), fps=16)
    with pytest.raises(MediaError, match="sample_rate"):
        write_video(tmp_path / "sr.mp4", _frames(), fps=16, audio_CN=np.zeros((1, 100), np.float32), sample_rate=12345)
    with pytest.raises(MediaError, match="uint8"):
        write_video(tmp_path / "f.mp4", _frames().astype(np.float32), fps=16)
    with pytest.raises(MediaError, match="does not exist"):
        write_video(tmp_path / "missing" / "x.mp4", _frames(), fps=16)
    assert list(tmp_path.iterdir()) == []


def test_atomic_path_keeps_the_old_file_when_the_writer_fails(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("partial")
        raise RuntimeError("crash mid-write")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_image_round_trip_and_errors(tmp_path):
    frame = _frames()[0]
    assert np.array_equal(read_image(write_image(tmp_path / "a.png", frame)), frame)  # PNG is lossless
    (tmp_path / "b.png").write_bytes(b"garbage")
    with pytest.raises(MediaError, match="b.png"):
        read_image(tmp_path / "b.png")
