"""The example plugin's own tests: the Numba kernel against its torch original, the closed
form of the linear string it starts from, its shipped preset, and training through the
unchanged neural-strings loop (run with the plugin installed: pip install ./examples/...)."""

import math
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ns_modal.family import LearnedModal  # noqa: E402
from ns_modal.kind import KIND, render  # noqa: E402

from models.strings import StringBatch  # noqa: E402
from synth.physics.simulate import SimulationSpec, simulate  # noqa: E402
from synth.physics.strings import StringParams  # noqa: E402
from synth.presets import Preset, find_preset, load_preset  # noqa: E402

HERE = Path(__file__).resolve().parents[1]
STRING = StringParams(gamma=150.0, kappa=1.03, nu=150.0, sigma0=3.0, sigma1=2e-4)
N_MODES, FS = 24, 48000.0


def spec(duration=0.05, x_e=0.3, x_o=0.7, amplitude=2e4, t_e=1e-3) -> SimulationSpec:
    return SimulationSpec.from_dict({
        **STRING.as_dict(), "x_e": x_e, "x_o": x_o, "amplitude": amplitude, "t_e": t_e,
        "excitation": "pluck", "fs": FS, "duration": duration, "n_modes": N_MODES,
        "nonlinearity": "linear", "warp": True})


def preset_of(network: LearnedModal) -> Preset:
    return Preset(name="test", kind=KIND.name, n_modes=N_MODES, model={}, string=STRING,
                  reference_note=40.0, excitation_type="pluck", pluck_position=0.3,
                  excitation_width_ms=1.0, amplitude=2e4, pickup=0.7, output_gain=1.0,
                  tensors=network.export())


def test_the_kernel_matches_its_torch_original():
    torch.manual_seed(1)
    network = LearnedModal(STRING, N_MODES, FS)
    with torch.no_grad():  # any learned values
        network.log_frequency.normal_(0.0, 0.02)
        network.log_decay.normal_(0.0, 0.3)
        network.gain.normal_(0.0, 1.0)
    preset = preset_of(network)
    for x_e, x_o, t_e in ((0.3, 0.7, 1e-3), (0.81, 0.13, 0.61e-3)):
        played = spec(x_e=x_e, x_o=x_o, t_e=t_e)
        q, w = render(preset, played)
        strings = StringBatch.from_params([played.to_dict()])
        with torch.no_grad():
            reference = network.predict(strings, torch.tensor([x_e], dtype=torch.float64),
                                        torch.arange(played.n_steps))[0].numpy()
        scale = np.abs(reference).max()
        assert scale > 0 and np.abs(q - reference).max() < 1e-10 * scale
        w_reference = reference @ strings.phi_o[0].numpy()
        assert np.abs(w - w_reference).max() < 1e-10 * np.abs(w_reference).max()


def test_untrained_it_is_the_linear_string():
    """a = b = 0, g = -i: after the pluck every mode is a damped sinusoid at the string's own
    damped frequency omega_d and decay rate sigma, so its samples obey exactly
    q(n + 1) = 2 r cos(theta) q(n) - r^2 q(n - 1), r = exp(-sigma k), theta = omega_d k; and
    the output is the linear string's (the SAV scheme's, warped to the same poles; the force
    enters each differently, hence the tolerance)."""
    preset = preset_of(LearnedModal(STRING, N_MODES, FS))
    played = spec(duration=0.2)
    q, w = render(preset, played)
    k = 1.0 / FS
    for m in range(1, N_MODES + 1):
        beta2 = (m * math.pi) ** 2
        sigma = STRING.sigma0 + STRING.sigma1 * beta2
        omega_d = math.sqrt(STRING.gamma ** 2 * beta2 + STRING.kappa ** 2 * beta2 ** 2
                            - sigma ** 2)
        r, theta = math.exp(-sigma * k), omega_d * k
        x = q[100:, m - 1]  # the pulse is over
        residual = x[2:] - 2 * r * math.cos(theta) * x[1:-1] + r * r * x[:-2]
        assert np.abs(residual).max() <= 1e-9 * np.abs(x).max()
    exact = simulate(played)
    assert np.sqrt(np.mean((w - exact.w) ** 2) / np.mean(exact.w ** 2)) < 2e-2


def test_the_shipped_preset_loads_and_beats_the_linear_string_on_held_out_plucks():
    preset = load_preset(find_preset("modal-string"))
    assert preset.kind == "learned-modal" and preset.path.parent == HERE / "ns_modal" / "presets"
    metrics = preset.provenance["metrics"]["modal-string-test@48000Hz"]
    assert metrics["model"]["w_0.1s"]["mean"] < 0.5 * metrics["linear"]["w_0.1s"]["mean"]
    assert (HERE / "ns_modal" / "recipes" / "modal-string.toml").exists()


def test_it_trains_through_the_neural_strings_loop(tmp_path):
    from models.recipe import Recipe
    from models.train import load_run, train

    config = (HERE / "ns_modal" / "recipes" / "modal-string-train.toml").read_text()
    config = config.replace("count = 48", "count = 4").replace("duration = 0.3",
                                                               "duration = 0.12")
    (tmp_path / "tiny.toml").write_text(config.replace('"modal-string-train"', '"tiny"'))
    (tmp_path / "recipe.toml").write_text(f"""
name = "tiny-modal"
dataset = "tiny.toml"
dataset_root = "{tmp_path / 'datasets'}"
dtype = "float64"
[model]
family = "learned-modal"
n_modes = 40
[pretrain]
steps = 60
batch = 4
lr = 2e-2
[train]
segment_ms = 100.0
batch = 4
epochs = 1
steps_per_epoch = 10
validation = 4
""")
    run = train(Recipe.load(tmp_path / "recipe.toml"), runs=tmp_path / "runs", progress=False)
    state, network = load_run(run)
    rows = [r.split(",") for r in (run / "log.csv").read_text().splitlines()[1:]]
    losses = [float(r[3]) for r in rows if r[1] == "force"]
    assert np.mean(losses[-2:]) < 0.8 * np.mean(losses[:2])  # it learns
    assert isinstance(network, LearnedModal) and np.isfinite(state["best_validation"])
