"""The ``moviegen`` CLI: listing, JSON output, geometry, help and errors."""

import json
import subprocess
import sys

import pytest

from moviegen.cli import main


def _models_json(capsys, *args):
    assert main(["models", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_models_json_lists_every_kind_with_integer_params(capsys):
    rows = _models_json(capsys)
    by_name = {row["name"]: row for row in rows}
    assert {row["kind"] for row in rows} == {"tae", "video", "text", "audio", "audio-codec"}
    assert all(isinstance(row["params"], int) and row["params"] > 0 for row in rows)
    assert 28e9 <= by_name["video-30b"]["params"] <= 31e9
    assert {"video-debug", "video-tiny", "video-small", "video-1b", "video-5b", "video-30b"} <= by_name.keys()
    assert {"tae-16ch", "tae-32ch", "ul2-20b-encoder", "byt5-small-encoder", "minilm-l6"} <= by_name.keys()
    assert 12e9 <= by_name["audio-13b"]["params"] <= 13.5e9 and by_name["audio-13b"]["kind"] == "audio"
    assert {"audio-tiny", "audio-codec-tiny", "audio-codec-48k"} <= by_name.keys()


def test_models_geometry_for_the_paper_clip(capsys):
    rows = _models_json(capsys, "--kind", "video", "--size", "768", "--seconds", "16", "--fps", "16")
    by_name = {row["name"]: row for row in rows}
    geo = by_name["video-30b"]["geometry"]
    assert geo["num_frames"] == 256 and geo["latent_grid"] == [32, 96, 96]
    assert geo["token_grid"] == [32, 48, 48] and geo["num_tokens"] == 73_728
    assert by_name["video-30b"]["fits_position_tables"] is True
    assert by_name["video-debug"]["fits_position_tables"] is False


def test_models_table_prints_tokens(capsys):
    assert main(["models", "--kind", "video", "--size", "1024x576", "--seconds", "16"]) == 0
    out = capsys.readouterr().out
    assert "256 frames" in out and "32x36x64 = 73,728" in out


def test_models_reports_bad_sizes_per_preset(capsys):
    rows = _models_json(capsys, "--kind", "video", "--size", "100")
    checked = [row for row in rows if row["name"] != "video-debug"]
    assert checked and all("geometry_error" in row and "got 100x100" in row["geometry_error"] for row in checked)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["models", "--size", "huge"], "size must be 'N' (square) or 'WIDTHxHEIGHT'"),
        (["models", "--seconds", "4"], "give its --size too"),
        (["models", "--size", "128", "--seconds", "2", "--fps", "0"], "fps > 0"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(capsys, args, message):
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_entry_point_help_teaches():
    out = subprocess.run(
        [sys.executable, "-m", "moviegen", "models", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "--size" in out and "examples:" in out and "meta device" in out
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
