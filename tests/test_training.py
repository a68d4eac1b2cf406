"""`neural-strings train`: recipes, checkpoints, exact resumption, DDP on 2 CPU processes, and
export of a run to a playable preset (a tiny dataset and model, so it runs in seconds)."""

import csv
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import die_with_parent

torch = pytest.importorskip("torch")

from models.export import export_preset, load_checkpoint  # noqa: E402
from models.recipe import Recipe  # noqa: E402
from models.train import train  # noqa: E402
from synth.errors import ParameterError  # noqa: E402

TINY_DATA = """
name = "tiny-train"
seed = 3
count = 3
fs = 44100
duration = 0.05
n_modes = 12
nonlinearity = "exact"
excitation = "pluck"
[ranges]
gamma = [123.48, 174.62]
kappa = [1.01, 1.05]
nu = [123.48, 174.62]
sigma0 = 3.0
sigma1 = 2e-4
x_e = [0.1, 0.9]
x_o = [0.1, 0.9]
amplitude = [2.5e4, 3.5e4]
t_e = [0.5e-3, 1.5e-3]
"""


def write_recipe(directory: Path, pretrain_steps: int = 20, epochs: int = 2) -> Path:
    (directory / "tiny-train.toml").write_text(TINY_DATA)
    recipe = directory / "recipe.toml"
    recipe.write_text(f"""
name = "tiny"
seed = 1
dataset = "{directory / 'tiny-train.toml'}"
dataset_root = "{directory / 'datasets'}"
dtype = "float64"
[model]
hidden = 32
n_modes = 12
[pretrain]
steps = {pretrain_steps}
batch = 256
lr = 1e-2
[train]
segment_ms = 0.5
batch = 8
epochs = {epochs}
steps_per_epoch = 5
lr = 1e-3
validation = 8
""")
    return recipe


def command(*args: str, runner: tuple[str, ...] = (sys.executable, "-m", "synth")):
    return [*runner, *args]


def log_rows(run: Path) -> list[dict]:
    return list(csv.DictReader((run / "log.csv").read_text().splitlines()))


def test_train_writes_checkpoint_log_and_curves_and_learns(tmp_path):
    recipe = write_recipe(tmp_path, pretrain_steps=300)
    result = subprocess.run(command("train", str(recipe), "--runs", str(tmp_path / "runs"),
                                    "--threads", "1"),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    run = tmp_path / "runs" / "tiny"
    assert "trained tiny" in result.stdout
    assert (run / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = log_rows(run)
    steps = [int(r["step"]) for r in rows]
    assert steps == sorted(set(steps)) and steps[-1] == 300 + 2 * 5
    force = [float(r["loss"]) for r in rows if r["phase"] == "force"]
    assert force[-1] < 0.5 * force[0]  # force matching learns
    assert [r["epoch"] for r in rows if r["validation"]] == ["1", "2"]
    state, _ = load_checkpoint(run)
    assert state["step"] == 310 and np.isfinite(state["best_validation"])


def test_an_interrupted_run_resumes_exactly(tmp_path):
    recipe = write_recipe(tmp_path, pretrain_steps=3000, epochs=1)
    straight = train(Recipe.load(recipe), runs=tmp_path / "straight", progress=False, threads=1)
    runs = tmp_path / "interrupted"
    process = subprocess.Popen(command("train", str(recipe), "--runs", str(runs), "--threads",
                                       "1", "--quiet"),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               preexec_fn=die_with_parent)
    log = runs / "tiny" / "log.csv"
    deadline = time.monotonic() + 120
    while not (log.exists() and len(log.read_text().splitlines()) > 3):
        assert process.poll() is None and time.monotonic() < deadline, process.stdout.read()
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 130, output
    assert "checkpoint saved" in output
    stopped_at = load_checkpoint(runs / "tiny")[0]["step"]
    assert 0 < stopped_at < 3005
    resumed = subprocess.run(command("train", str(recipe), "--runs", str(runs), "--threads",
                                     "1", "--quiet"), capture_output=True, text=True,
                             timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming tiny at step {stopped_at}" in resumed.stdout
    a, b = load_checkpoint(straight, "final")[1], load_checkpoint(runs / "tiny", "final")[1]
    for name, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[name]), name
    steps = [int(r["step"]) for r in log_rows(runs / "tiny")]
    assert steps == sorted(set(steps)) and steps[-1] == 3005


def test_a_run_directory_refuses_another_recipe(tmp_path):
    recipe = write_recipe(tmp_path, pretrain_steps=2, epochs=0)
    train(Recipe.load(recipe), runs=tmp_path / "runs", progress=False)
    recipe.write_text(recipe.read_text().replace("seed = 1", "seed = 2"))
    with pytest.raises(ParameterError, match="different recipe"):
        train(Recipe.load(recipe), runs=tmp_path / "runs", progress=False)


@pytest.mark.parametrize("edit, message", [
    (("hidden = 32", "hidden = 0"), "model.hidden must be an integer >= 1"),
    (('dtype = "float64"', 'dtype = "half"'), "dtype must be one of"),
    (("[train]", "[train]\nmomentum = 0.9"), "unknown key(s) in [train]: momentum"),
    (("seed = 1", "seed = 1\nepochs = 3"), "unknown key(s) epochs"),
    (("lr = 1e-3", "lr = -1"), "train.lr must be a number >= 0"),
    (("[train]", '[train]\noptimiser = "lbfgs"'), "train.optimiser must be one of"),
    (("hidden = 32", "hidden = 32\ncopies = 4"), "unknown key(s) in [model] for family "
                                                  "'gradnet': copies"),
    (("hidden = 32", 'hidden = 32\nfamily = "wavetable"'), "model.family must be one of"),
    (("hidden = 32", 'hidden = "wide"'), "model.hidden must be of type int"),
])
def test_bad_recipes_are_refused_clearly(tmp_path, edit, message):
    recipe = write_recipe(tmp_path)
    recipe.write_text(recipe.read_text().replace(*edit))
    result = subprocess.run(command("train", str(recipe)), capture_output=True, text=True)
    assert result.returncode == 2
    assert message in result.stderr and str(recipe) in result.stderr


def test_a_relative_dataset_path_is_the_recipe_folders_not_the_current_ones(tmp_path,
                                                                           monkeypatch):
    recipe = write_recipe(tmp_path)
    absolute = str(tmp_path / "tiny-train.toml")
    recipe.write_text(recipe.read_text().replace(f'"{absolute}"', '"tiny-train.toml"'))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    loaded = Recipe.load(Path("..") / "recipe.toml")
    assert loaded.dataset == "tiny-train.toml"  # as written: the digest does not move
    assert loaded.dataset_config().name == "tiny-train"
    assert Path(loaded.dataset_file()).resolve() == tmp_path / "tiny-train.toml"


def test_the_same_command_trains_under_torchrun_with_two_processes(tmp_path):
    torchrun = shutil.which("torchrun")
    assert torchrun, "torchrun comes with torch"
    recipe = write_recipe(tmp_path, pretrain_steps=20, epochs=1)
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [torchrun, "--standalone", "--nproc_per_node=2", "-m", "synth", "train",
         str(recipe), "--runs", str(tmp_path / "runs"), "--quiet"],
        capture_output=True, text=True, timeout=120, env=environment)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("trained tiny") == 1  # rank 0 reports and writes
    state, potential = load_checkpoint(tmp_path / "runs" / "tiny", "final")
    assert state["step"] == 25
    assert all(torch.isfinite(v).all() for v in potential.state_dict().values())


def test_export_makes_a_playable_preset_with_provenance(tmp_path):
    from synth.engine import Engine
    from synth.presets import load_preset

    recipe = write_recipe(tmp_path, pretrain_steps=40, epochs=1)
    run = train(Recipe.load(recipe), runs=tmp_path / "runs", progress=False)
    out = export_preset(run, tmp_path / "tiny.safetensors", metrics={"check": 1})
    preset = load_preset(out)
    assert preset.kind == "sav-gradnet" and preset.n_modes == 12
    assert preset.provenance["training"]["steps"] == 45
    assert preset.provenance["recipe"]["hidden"] == 32
    assert preset.provenance["dataset"]["name"] == "tiny-train"
    assert preset.provenance["metrics"] == {"check": 1}
    engine = Engine(preset, fs=48000, polyphony=2)
    engine.note_on(round(preset.reference_note), 100)
    audio = engine.process(24000)
    peak_db = 20 * np.log10(np.abs(audio).max())
    assert np.isfinite(audio).all() and -13.0 < peak_db < -11.0


def test_a_file_that_is_not_a_checkpoint_is_refused_in_one_line(tmp_path, capsys):
    from synth.cli import main

    foreign = tmp_path / "notes.pt"
    foreign.write_bytes(b"\x80\x04K\x05." + b"not a zip")
    assert main(["export", str(foreign), str(tmp_path / "x.safetensors")]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: {foreign}: not a neural-strings training checkpoint")
    assert error.count("\n") == 1 and not (tmp_path / "x.safetensors").exists()
