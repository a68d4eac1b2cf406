"""The voice lanes of the SAV kinds (real time) against the per-string kernel and torch."""

import numpy as np
import pytest

from synth.kernels import sav_voice
from synth.kernels.formulas import excitation_record
from synth.kinds.sav_string import lanes_for
from synth.physics.losses import scheme_losses
from synth.physics.modes import mode_shapes
from synth.physics.potentials import gradnet_potential, make_potential
from synth.physics.simulate import SimulationSpec, linear_part, simulate

BASE = dict(gamma=150.0, kappa=1.03, nu=150.0, sigma0=3.0, sigma1=2e-4, x_e=0.3, x_o=0.7,
            amplitude=3e4, t_e=1e-3, excitation="pluck", fs=48000, duration=0.05,
            n_modes=40, nonlinearity="exact", warp=True)


def random_gradnet(hidden=64, n_modes=40, seed=0):
    rng = np.random.default_rng(seed)
    return dict(weight=rng.standard_normal((hidden, n_modes)) * 0.3,
                bias=rng.standard_normal(hidden) * 0.01,
                log_scale_in=rng.standard_normal(hidden) * 0.01,
                log_scale_out=rng.standard_normal(hidden) * 0.01)


def run_lanes(params_list, potential, dtype, n_steps, block=128):
    """Strings side by side in lanes, set up by the kernels the engine uses (retune, excite)
    and advanced in blocks; returns w, shape (n_steps, B)."""
    specs = [SimulationSpec.from_dict(p) for p in params_list]
    fs, count = specs[0].fs, len(specs)
    voices = lanes_for(potential, fs, count, dtype)
    for v, spec in enumerate(specs):
        s, e = spec.string, spec.excitation
        sav_voice.reset(voices, v)
        sav_voice.retune(voices, v, s.gamma ** 2, s.kappa, scheme_losses(s.sigma0, s.sigma1),
                         s.nu ** 2, spec.pickup, 0)
        sav_voice.excite(voices, v, excitation_record(e.amplitude, e.duration * fs, e.shape,
                                                       e.position))
    out = np.zeros((n_steps, count), dtype)
    for start in range(0, n_steps, block):
        chunk = out[start:start + block]
        sav_voice.advance(voices, len(chunk), count, False, chunk)
    return out


@pytest.mark.parametrize("name", ["linear", "kc", "exact", "gradnet"])
@pytest.mark.parametrize("count", [3, 12])  # few lanes (per-voice paths) and many
def test_lanes_equal_the_per_string_kernel(name, count):
    potential = gradnet_potential(**random_gradnet()) if name == "gradnet" \
        else make_potential(name, 40)
    rng = np.random.default_rng(count)
    params = [{**BASE, "nonlinearity": "exact" if name == "gradnet" else name,
               "x_e": rng.uniform(0.1, 0.9), "x_o": rng.uniform(0.1, 0.9),
               "gamma": rng.uniform(120, 180), "amplitude": rng.uniform(2e4, 5e4)}
              for _ in range(count)]
    out = run_lanes(params, potential, np.float64, 2400)
    for i, p in enumerate(params):
        w = simulate(SimulationSpec.from_dict(p), potential=potential).w
        assert np.abs(out[:, i] - w).max() <= 1e-11 * np.abs(w).max()


def test_gradnet_lanes_equal_the_torch_scheme():
    torch = pytest.importorskip("torch")
    from models.gradnet import GradNetPotential
    from models.sav import SAVScheme

    torch.manual_seed(3)
    net = GradNetPotential(40, 32)
    with torch.no_grad():  # at the output scale trained strings reach
        net.bias.normal_(0.0, 0.05)
        net.log_scale_out.fill_(-6.0)
    potential = gradnet_potential(**net.export())
    params = [{**BASE, "x_e": x} for x in (0.21, 0.62)]
    out = run_lanes(params, potential, np.float64, 2400)
    specs = [SimulationSpec.from_dict(p) for p in params]
    lin = [linear_part(s.string, 40, 48000, True) for s in specs]
    tensor = lambda rows: torch.tensor(np.array(rows), dtype=torch.float64)  # noqa: E731
    scheme = SAVScheme(net, tensor([x.omega2 for x in lin]), tensor([x.sigma for x in lin]),
                       tensor([s.string.nu ** 2 for s in specs]),
                       tensor([mode_shapes(s.excitation.position, 40) for s in specs]),
                       1 / 48000)
    q = torch.zeros(2, 40, dtype=torch.float64)
    p, psi = torch.zeros_like(q), scheme.psi_of(q)
    phi_o = tensor([mode_shapes(s.pickup, 40) for s in specs])
    w = np.empty_like(out)
    with torch.no_grad():
        for n in range(2400):
            t = (n + 0.5) / (specs[0].excitation.duration * 48000)
            force = torch.tensor([0.5 * s.excitation.amplitude * (1 - np.cos(np.pi * t))
                                  if t <= 1 else 0.0 for s in specs], dtype=torch.float64)
            q, p, psi = scheme.step(q, p, psi, force)
            w[n] = (phi_o * q).sum(-1).numpy()
    assert np.sqrt(np.mean((out - w) ** 2) / np.mean(w**2)) < 1e-9
    linear = run_lanes(params, make_potential("linear", 40), np.float64, 2400)
    assert np.sqrt(np.mean((linear - w) ** 2) / np.mean(w**2)) > 1e-3  # really nonlinear


def test_float32_lanes_track_float64():
    params = [{**BASE, "x_e": x} for x in (0.2, 0.4, 0.7)]
    for name in ("kc", "exact"):
        potential = make_potential(name, 40)
        w64 = run_lanes([{**p, "nonlinearity": name} for p in params], potential,
                        np.float64, 4800)
        w32 = run_lanes([{**p, "nonlinearity": name} for p in params], potential,
                        np.float32, 4800)
        assert np.abs(w32 - w64).max() < 2e-3 * np.abs(w64).max()
