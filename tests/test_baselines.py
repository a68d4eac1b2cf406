"""The tutorial's offline baselines: the PINN's inverse problem on the damped oscillator, and
the Stormer-Verlet neural ODE trained through the shared training loop."""

import numpy as np
import pytest

pytest.importorskip("torch")

from models.baselines.pinn import Oscillator, PinnConfig, fit_inverse


def test_the_oscillator_closed_form_solves_its_equation():
    osc = Oscillator(omega0=20.0, sigma=2.0)
    h = 1e-4
    t = np.linspace(0.1, 0.9, 50)
    x, xp, xm = osc.solution(t), osc.solution(t + h), osc.solution(t - h)
    velocity, acceleration = (xp - xm) / (2 * h), (xp - 2 * x + xm) / h ** 2
    residual = acceleration + 2 * osc.sigma * velocity + osc.omega0 ** 2 * x
    assert np.max(np.abs(residual)) < 1e-4 * osc.omega0 ** 2
    assert osc.solution(np.array([0.0]))[0] == 1.0
    assert abs((osc.solution(np.array([h])) - osc.solution(np.array([-h])))[0]) < 1e-9
    with pytest.raises(ValueError, match="underdamped"):
        Oscillator(omega0=1.0, sigma=2.0)


def test_the_pinn_recovers_frequency_and_damping_within_one_percent():
    """From 30 samples, starting 25 % (omega0) and 50 % (sigma) off the truth."""
    result = fit_inverse(Oscillator(omega0=20.0, sigma=2.0), PinnConfig())
    assert result["omega0_error"] < 0.01, result
    assert result["sigma_error"] < 0.01, result
    assert result["relmse"] < 1e-3, result


def test_the_verlet_step_with_the_exact_force_tracks_the_reference_string():
    """With F = grad V of the exact potential the Verlet neural ODE is the explicit twin of
    the SAV scheme: over 50 ms at 48 kHz the two outputs agree to O(k^2)."""
    from models.sav import ExactPotential
    from models.strings import StringBatch
    from models.verlet import free_run
    from synth.physics.simulate import SimulationSpec, simulate

    params = {"gamma": 150.0, "kappa": 1.03, "nu": 150.0, "sigma0": 3.0, "sigma1": 2e-4,
              "x_e": 0.3, "x_o": 0.8, "amplitude": 3e4, "t_e": 1e-3, "fs": 48000,
              "duration": 0.05, "n_modes": 40, "nonlinearity": "exact",
              "excitation": "pluck", "warp": True}
    reference = simulate(SimulationSpec.from_dict(params)).w
    exact = ExactPotential(40)

    class ExactForce:
        def force(self, q):
            return exact(q)[1]

    w = free_run(ExactForce(), StringBatch.from_params([params]), len(reference))["w"][0]
    error = np.mean((w.numpy() - reference) ** 2) / np.mean(reference ** 2)
    assert error < 1e-4
    linear = simulate(SimulationSpec.from_dict({**params, "nonlinearity": "linear"})).w
    assert error < 1e-3 * np.mean((linear - reference) ** 2) / np.mean(reference ** 2)


def test_a_verlet_neural_ode_trains_through_the_shared_loop(tmp_path):
    from test_training import write_recipe

    from models.export import export_preset
    from models.recipe import Recipe
    from models.train import read_checkpoint, train
    from synth.errors import ParameterError

    path = write_recipe(tmp_path)
    path.write_text(path.read_text().replace("[model]", '[model]\nfamily = "verlet-node"'))
    recipe = Recipe.load(path)
    assert recipe.family == "verlet-node"
    run = train(recipe, runs=tmp_path / "runs", progress=False)
    state = read_checkpoint(run / "checkpoint.pt")
    assert state["recipe"]["family"] == "verlet-node" and np.isfinite(state["best_validation"])
    rows = (run / "log.csv").read_text().splitlines()[1:]
    losses = [float(r.split(",")[3]) for r in rows if r.split(",")[1] == "force"]
    assert losses[-1] < losses[0]  # force matching learns
    with pytest.raises(ParameterError, match="offline baseline"):
        export_preset(run, tmp_path / "x.safetensors")
    # GradNet recipes keep the digests their runs and presets were made with
    from synth.presets import SHIPPED, find_preset, load_preset

    shipped = Recipe.load(SHIPPED / "recipes" / "stretch-128.toml")
    stored = load_preset(find_preset("stretch-128")).provenance["recipe_digest"]
    assert "family" not in shipped.as_dict() and shipped.digest() == stored
