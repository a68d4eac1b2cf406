"""`neural-strings compare` end to end on a tiny configuration: a tiny Koopman preset, the
shipped SAV-GradNet, tiny Verlet and FNO baselines trained by the command, one table."""

import json
import subprocess
import sys

import numpy as np
import pytest
from test_bank import N_MODES, one_string_recipe
from test_learned_string import tiny_config

torch = pytest.importorskip("torch")

from models.baselines.fno import (  # noqa: E402
    CHUNK,
    GRID,
    FNOScheme,
    FourierOperator,
    SpectralConv,
)
from models.export import export_preset  # noqa: E402
from models.strings import StringBatch  # noqa: E402
from models.train import train  # noqa: E402
from synth.physics.modes import mode_shapes  # noqa: E402


def baseline_recipe(directory, family: str, data) -> str:
    recipe = one_string_recipe(directory, family, data)
    text = recipe.source and open(recipe.source).read()
    text = text.replace("steps = 150", "steps = 20").replace("segment_ms = 60.0",
                                                             "segment_ms = 1.0")
    path = directory / f"{family}-baseline.toml"
    path.write_text(text.replace(f'name = "{family}"', f'name = "{family}-baseline"'))
    return path.name


def test_compare_runs_end_to_end_on_a_tiny_configuration(tmp_path):
    koopman = one_string_recipe(tmp_path, "koopman", tmp_path)
    preset = export_preset(train(koopman, runs=tmp_path / "runs", progress=False),
                           tmp_path / "tiny-koopman.safetensors")
    test_set = tiny_config(tmp_path, "compare-test", "tiny-compare-test", count=2,
                           duration=0.15, n_modes=N_MODES)
    config = tmp_path / "compare.toml"
    config.write_text(f"""
test_set = "{test_set}"
dataset_root = "{tmp_path / 'datasets'}"
stability_seconds = 0.4
stability_strings = 1
speed_blocks = 3
[pinn]
steps = 50
[[model]]
label = "SAV-GradNet"
preset = "stretch-128"
[[model]]
label = "Koopman"
preset = "{preset}"
[[model]]
label = "Verlet neural ODE"
recipe = "{baseline_recipe(tmp_path, 'verlet-node', tmp_path)}"
[[model]]
label = "FNO"
recipe = "{baseline_recipe(tmp_path, 'fno', tmp_path)}"
""")
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, "-m", "synth", "compare", str(config), "--out",
                             str(out), "--runs", str(tmp_path / "runs"), "--quiet"],
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "compare.json").read_text())
    rows = {row["label"]: row for row in report["rows"]}
    assert list(rows) == ["linear", "SAV-GradNet", "Koopman", "Verlet neural ODE", "FNO"]
    assert rows["SAV-GradNet"]["w_0.1s"]["mean"] < rows["linear"]["w_0.1s"]["mean"]
    for label in ("SAV-GradNet", "Koopman"):
        assert rows[label]["voices"] >= 1 and rows[label]["ns_per_sample"] > 0
        assert rows[label]["stable"]
    for label in ("Verlet neural ODE", "FNO"):
        assert rows[label]["voices"] is None and rows[label]["training_seconds"] > 0
    table = (out / "compare.md").read_text()
    assert "| Koopman | koopman |" in table and "PINN" in table
    assert (out / "compare.png").read_bytes()[:4] == b"\x89PNG"


def test_the_fno_rollout_covers_every_step_and_feels_the_force():
    torch.manual_seed(0)
    params = {"gamma": 150.0, "kappa": 1.03, "nu": 150.0, "sigma0": 3.0, "sigma1": 2e-4,
              "x_e": 0.3, "x_o": 0.7, "amplitude": 2e4, "t_e": 1e-3, "fs": 48000,
              "duration": 0.01, "n_modes": N_MODES, "excitation": "pluck", "warp": True,
              "nonlinearity": "exact"}
    strings = StringBatch.from_params([params], dtype=torch.float32)
    network = FourierOperator(N_MODES)
    rest = torch.zeros(1, N_MODES)
    network.calibrate(rest + 1e-3, rest + 1.0, strings)
    scheme = FNOScheme.for_strings(network, strings)
    length = 3 * CHUNK + 5  # not a whole number of chunks
    forces = strings.forces(torch.arange(length)[None, :])
    q, _ = scheme.run(rest, rest, forces)
    assert q.shape == (1, length, N_MODES) and torch.isfinite(q).all()
    unforced, _ = scheme.run(rest, rest, torch.zeros_like(forces))
    moved = (q - unforced).abs().amax(-1)[0]  # what the pluck changed, per step
    assert moved[:CHUNK].max() > 0  # within the first step: the force enters at once


def test_the_spectral_convolution_sees_each_string_mode_as_one_frequency():
    """Over the odd extension, sin(m pi x) is FFT bin m: with identity weights the spectral
    convolution passes any sum of the first M modes unchanged, and a weight on one bin acts
    on one mode alone (a periodic FFT would smear them)."""
    conv = SpectralConv(1, N_MODES + 1, torch.float64)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0, 0, 0] = 1.0
    grid = (np.arange(GRID) + 0.5) / GRID
    shapes = torch.as_tensor(mode_shapes(grid, N_MODES))  # (N, M)
    q = torch.randn(3, N_MODES, dtype=torch.float64)
    u = (q @ shapes.T)[:, None, :]  # (B, 1, N)
    torch.testing.assert_close(conv(u), u, rtol=0, atol=1e-12)
    with torch.no_grad():
        conv.weight[0, 0, 0, 3] = 0.0  # drop bin 3: mode 3 alone goes
    dropped = q.clone()
    dropped[:, 2] = 0.0  # mode m = 3 is column 2
    torch.testing.assert_close(conv(u), (dropped @ shapes.T)[:, None, :], rtol=0, atol=1e-12)
