"""FSDP2, tensor/sequence parallel and context parallel against a single process, on CPU with gloo (SPEC 6).

Each torchrun launch runs several cases of ``worker.py``; ``moviegen train`` runs are compared with a single-process
run step by step, including a resume on a different layout of ranks (DCP resharding).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import kill_after_first_checkpoint

from moviegen.cli import main
from moviegen.io.media import read_video
from moviegen.train.checkpoint import load_checkpoint

pytestmark = pytest.mark.distributed
WORKER = Path(__file__).with_name("worker.py")


def torchrun(nproc: int, *args: str, timeout: int = 300) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", *args]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-4000:]


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("two_ranks")
    torchrun(2, str(WORKER), "--out", str(out), "cp_attention", "fsdp", "tp", "cp", "fsdp_ac", "tae_fsdp")
    return out


@pytest.fixture(scope="module")
def four_ranks(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("four_ranks")
    torchrun(4, str(WORKER), "--out", str(out), "fsdp_tp", "cp_tp", "fsdp_cp", "audio_fsdp_tp", "audio_cp_tp")
    return out


def check_case(out: Path, name: str) -> None:
    report = json.loads((out / f"{name}.json").read_text())
    if name != "tae_fsdp":  # (the TAE's log-variance head is unused by a mean encode)
        assert report["smallest_grad"] > 1e-6  # every weight takes part: the comparison below is not vacuous
    assert report["loss"] < 1e-5, report
    assert report["grad_norm"] < 1e-5, report
    assert report["grad"] < 1e-5 * report["grad_scale"] + 1e-7, report
    assert report["weights"] < 1e-4, report  # after 3 AdamW steps
    assert report["ref_losses"][0] != report["ref_losses"][1]  # the weights moved


@pytest.mark.parametrize("case", ["fsdp", "tp", "cp", "fsdp_ac", "tae_fsdp"])
def test_two_ranks_match_one_process(two_ranks, case):
    check_case(two_ranks, case)


@pytest.mark.parametrize("case", ["fsdp_tp", "cp_tp", "fsdp_cp", "audio_fsdp_tp", "audio_cp_tp"])
def test_four_ranks_match_one_process(four_ranks, case):
    check_case(four_ranks, case)


def test_context_parallel_attention_equals_full_attention(two_ranks):
    diffs = json.loads((two_ranks / "cp_attention.json").read_text())
    assert set(diffs) == {"out", "grad_q", "grad_k", "grad_v"}
    assert max(diffs.values()) < 1e-5, diffs


def test_saved_on_two_ranks_loads_in_one_process(two_ranks):
    from safetensors.torch import load_file

    expected = load_file(str(two_ranks / "weights_at_save.safetensors"))
    ckpt = load_checkpoint(two_ranks / "run")
    assert ckpt.step == 3 and ckpt.trainer_state["parallel"] == {"world_size": 2, "dp": 2, "cp": 1, "tp": 1}
    assert set(ckpt.model_state) == set(expected)
    for key, value in expected.items():
        assert torch.equal(ckpt.model_state[key], value), key
    assert ckpt.ema_state is not None and set(ckpt.ema_state) == set(expected)


# -- moviegen train under torchrun -------------------------------------------------------------------------------------


def _metrics(run_dir: Path) -> dict[int, dict[str, float]]:
    out: dict[int, dict[str, float]] = {}
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        row = json.loads(line)
        out.setdefault(row["step"], {}).update(row)
    return out


def _train(world: Path, tae_file: Path, run_dir: Path, steps: int, *flags: str) -> list[str]:
    return ["train", "t2v-debug", "--data", str(world), "--tae", str(tae_file), "-o", str(run_dir),
            "--steps", str(steps), "--no-progress", *flags]


def test_torchrun_training_reproduces_one_process_and_resumes_after_a_kill_on_another_layout(
    world, tae_file, tmp_path
):
    assert main(_train(world, tae_file, tmp_path / "single", 4)) == 0
    single = _metrics(tmp_path / "single")

    # FSDP on 2 ranks (moviegen train starts torchrun itself), killed with SIGKILL once its first checkpoint lands,
    # then resumed with TP x CP on 4 ranks: DCP reshards, the data position and RNG continue.
    repo = str(Path(__file__).parents[2])
    os.environ["PYTHONPATH"] = os.pathsep.join([repo, os.environ.get("PYTHONPATH", "")])
    run_dir = tmp_path / "dist"
    kill_after_first_checkpoint(
        [sys.executable, "-m", "moviegen", *_train(world, tae_file, run_dir, 1000, "--dp", "2")], run_dir,
        env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=180,
    )
    killed_at = load_checkpoint(run_dir).step
    assert load_checkpoint(run_dir).trainer_state["parallel"]["dp"] == 2 and 1 <= killed_at < 4
    assert main(_train(world, tae_file, run_dir, 4, "--tp", "2", "--cp", "2", "--resume")) == 0
    dist = _metrics(run_dir)
    assert sorted(dist) == sorted(single)
    for step, row in single.items():
        for key in ("loss", "grad_norm", "val/loss", "val_ema/loss"):
            if key in row:
                assert dist[step][key] == pytest.approx(row[key], rel=1e-5, abs=1e-6), (step, key)

    # the DCP checkpoint reads as full weights in one process, equal to the single-process run's
    a, b = load_checkpoint(tmp_path / "single"), load_checkpoint(run_dir)
    assert b.trainer_state["parallel"] == {"world_size": 4, "dp": 1, "cp": 2, "tp": 2}
    for key, value in a.model_state.items():
        torch.testing.assert_close(b.model_state[key], value, rtol=0, atol=1e-5)

    # model averaging reads it too
    assert main(["average", str(tmp_path / "single"), str(run_dir), "-o", str(tmp_path / "avg.safetensors")]) == 0
    from safetensors.torch import load_file

    averaged = load_file(str(tmp_path / "avg.safetensors"))
    for key, value in a.model_state.items():
        torch.testing.assert_close(averaged[key], (value + b.model_state[key]) / 2)

    # export it, then sample with context parallelism on 2 ranks: the same video as one process
    assert main(["export", "--t2v", str(run_dir), "--tae", str(tae_file), "-o", str(tmp_path / "export")]) == 0
    outputs = {}
    for cp in (1, 2):
        outputs[cp] = tmp_path / f"cp{cp}.mp4"
        args = ["generate", "a square moves right", "--checkpoint", str(tmp_path / "export"), "-o", str(outputs[cp]),
                "--no-audio", "--seed", "3", "--steps", "8", "--no-progress", "--cp", str(cp)]
        assert main(args) == 0
    one, two = read_video(outputs[1]).frames_THWC, read_video(outputs[2]).frames_THWC
    assert one.shape == two.shape and one.std() > 0
    assert np.abs(one.astype(int) - two.astype(int)).max() <= 1


def test_the_30b_preset_shards_on_the_meta_device_for_6144_ranks():
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("meta_30b.py"))], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout)
    assert out["dims"] == [768, 2, 4] and out["meta"] and out["all_dtensors"]
    assert 28e9 < out["params"] < 31e9
    assert out["wq_shape"] == [6144, 6144] and out["wq_mesh"] == ["dp_cp", "tp"] and out["wq_mesh_shape"] == [1536, 4]
    # The planner's count of a rank's share of the weights agrees with the sharded model. It counts the mean share;
    # rank 0 holds the rounded-up rows of unevenly split weights (w1/w3: 4096 rows over 1536 ranks), 4% more here.
    from moviegen.train.parallel_dims import ACMode
    from moviegen.train.planner import PlanRequest, evaluate, model_shape

    shape = model_shape("video-30b")
    assert shape.params == out["params"]
    plan = evaluate(shape, PlanRequest(preset="video-30b", gpus=6144, seq_len=73728), tp=4, cp=2, ac=ACMode.FULL)
    assert plan.numbers["local_params"] == pytest.approx(out["local_params"], rel=0.05)


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--tp", "3"], "does not divide"),
        (["--dp", "2", "--tp", "2", "--cp", "2"], "world size"),
    ],
)
def test_bad_degrees_are_named(flags, message, world, tae_file, tmp_path, monkeypatch, capsys):
    # As torchrun would start rank 0 of a 2-process job; the error comes before any process group is joined.
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("LOCAL_RANK", "0")
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", "29555")
    assert main(_train(world, tae_file, tmp_path / "r", 1, *flags)) == 2
    assert message in capsys.readouterr().err


# -- GPUs: the same cases with NCCL, and bf16 compute ------------------------------------------------------------------


@pytest.mark.gpu
@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs 2 CUDA devices")
def test_nccl_ranks_match_one_process(tmp_path):
    cases = ("cp_attention", "fsdp", "tp", "cp", "fsdp_bf16")
    torchrun(2, str(WORKER), "--device", "cuda", "--out", str(tmp_path), *cases)
    for case in ("fsdp", "tp", "cp"):
        report = json.loads((tmp_path / f"{case}.json").read_text())
        # GPU kernels are not bitwise deterministic across layouts (TF32 off by default for fp32 matmuls)
        assert report["loss"] < 1e-4 and report["weights"] < 1e-3, (case, report)
    bf16 = json.loads((tmp_path / "fsdp_bf16.json").read_text())
    assert bf16["loss"] < 5e-2 * bf16["ref_losses"][0], bf16  # bf16 parameters against an fp32 reference
    assert max(json.loads((tmp_path / "cp_attention.json").read_text()).values()) < 1e-4


def test_torchrun_audio_training_reproduces_one_process(tmp_path):
    from moviegen.world import WorldConfig, write_world

    world = tmp_path / "world"
    config = WorldConfig(buckets=((64, 64),), bucket_weights=(1.0,), durations=(2,), image_fraction=0.1,
                         heldout_fraction=0.25, sample_rate=16000)
    write_world(world, num=12, seed=3, config=config, progress=False)
    codec = tmp_path / "codec"
    assert main(["train", "audio-codec-debug", "--data", str(world), "-o", str(codec), "--steps", "2",
                 "--no-progress"]) == 0
    repo = str(Path(__file__).parents[2])
    os.environ["PYTHONPATH"] = os.pathsep.join([repo, os.environ.get("PYTHONPATH", "")])
    runs = {}
    for name, flags in (("single", []), ("cp2", ["--cp", "2"])):
        runs[name] = tmp_path / name
        args = ["train", "audio-debug", "--data", str(world), "--codec", str(codec), "-o", str(runs[name]),
                "--steps", "4", "--no-progress", *flags]
        assert main(args) == 0
    single, cp2 = _metrics(runs["single"]), _metrics(runs["cp2"])
    assert sorted(single) == sorted(cp2) == [1, 2, 3, 4]
    for step, row in single.items():
        for key in ("loss", "grad_norm", "val_ema/loss"):
            if key in row:
                assert cp2[step][key] == pytest.approx(row[key], rel=1e-5, abs=1e-6), (step, key)
