"""The SAV solver: closed forms, warping, tuning, convergence, energy, drift, reference parity."""

import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference_sav import simulate_reference

from synth.errors import ModesDroppedWarning
from synth.kernels.sav import EPS, LAMBDA0, sav_block
from synth.physics.excitation import Excitation
from synth.physics.modes import angular_frequencies, damped_frequencies, decay_rates, mode_shapes
from synth.physics.potentials import make_potential
from synth.physics.simulate import SimulationSpec, linear_part, simulate
from synth.physics.strings import StringParams, note_frequency, tuned

PAPER = dict(gamma=150.0, kappa=1.03, nu=150.0, sigma0=3.0, sigma1=2e-4, x_e=0.3, x_o=0.7,
             amplitude=3e4, t_e=1e-3, excitation="pluck", fs=96000, duration=0.2, n_modes=75,
             nonlinearity="exact")


def measured_frequency(x, fs):
    """Frequency (Hz) of a sampled damped sinusoid x_n = A r^n cos(theta n + phi), from the
    least-squares recurrence x_{n+1} = 2 r cos(theta) x_n - r^2 x_{n-1}."""
    design = np.stack([x[1:-1], x[:-2]], axis=1)
    (c1, c2), *_ = np.linalg.lstsq(design, x[2:], rcond=None)
    return np.arccos(c1 / (2.0 * np.sqrt(-c2))) * fs / (2.0 * np.pi)


def cents(f, reference):
    return 1200.0 * np.log2(f / reference)


def free_linear(string, fs, duration, n_modes, warp, q0, p0):
    spec = SimulationSpec(string, Excitation("pluck", 0.3, 0.0, 1e-3), 0.7, fs, duration,
                          n_modes, "linear", warp)
    return simulate(spec, q0=q0, p0=p0)


def exact_linear_solution(string, n_modes, q0, p0, t):
    """q_m(t) of the damped oscillator q'' + 2 sigma q' + omega^2 q = 0, shape (M, len(t))."""
    omega, sigma = angular_frequencies(string, n_modes), decay_rates(string, n_modes)
    wd = np.sqrt(omega**2 - sigma**2)[:, None]
    s = sigma[:, None]
    return np.exp(-s * t) * (q0[:, None] * np.cos(wd * t)
                             + ((p0 + sigma * q0)[:, None] / wd) * np.sin(wd * t))


LINEAR_STRING = StringParams(300.0, 2.0, 0.0, 2.0, 5e-4)
RNG = np.random.default_rng(0)
Q0 = RNG.standard_normal(20) / np.arange(1, 21) ** 2 * 1e-2
P0 = RNG.standard_normal(20) / np.arange(1, 21)


@pytest.mark.parametrize("fs", [48000, 96000])
def test_unwarped_linear_solution_matches_closed_form_within_its_phase_error(fs):
    # Free vibration from (q0, p0): the scheme's only error is its O(k^2) frequency error,
    # omega^3 k^2 / 24, which grows into a phase error; check the error is that and no more.
    duration, k = 0.1, 1.0 / fs
    sim = free_linear(LINEAR_STRING, fs, duration, 20, False, Q0, P0)
    t = np.arange(1, sim.spec.n_steps + 1) * k
    exact = exact_linear_solution(LINEAR_STRING, 20, Q0, P0, t)
    omega = angular_frequencies(LINEAR_STRING, 20)
    amplitude = np.abs(exact).max(axis=1)
    error = np.abs(sim.q - exact).max(axis=1) / amplitude
    phase_error = omega**3 * k**2 * duration / 24
    small = phase_error < 0.2
    assert small.sum() >= 5
    assert np.all(error[small] <= 1.1 * phase_error[small] + 0.1 * (omega[small] * k) ** 2)
    assert np.all(error[small] >= 0.5 * phase_error[small])


def test_warped_linear_solution_has_no_phase_drift():
    fs, duration = 48000, 0.2
    sim = free_linear(LINEAR_STRING, fs, duration, 20, True, Q0, P0)
    t = np.arange(1, sim.spec.n_steps + 1) / fs
    exact = exact_linear_solution(LINEAR_STRING, 20, Q0, P0, t)
    omega = angular_frequencies(LINEAR_STRING, 20)
    envelope = np.abs(exact).max(axis=1)
    error = np.abs(sim.q - exact)
    # Only an O((omega k)^2) mismatch of the initial condition remains, and it does not grow.
    assert np.all(error.max(axis=1) / envelope <= 0.25 * (omega / fs) ** 2)
    n = error.shape[1] // 10
    decay = np.exp(-decay_rates(LINEAR_STRING, 20) * duration)
    assert np.all(error[:, -n:].max(axis=1) <= 1.5 * error[:, :n].max(axis=1) / decay + 1e-15)


def test_linear_solution_converges_at_second_order():
    errors = []
    for fs in (24000, 48000, 96000):
        sim = free_linear(LINEAR_STRING, fs, 0.05, 20, False, Q0, P0)
        t = np.arange(1, sim.spec.n_steps + 1) / fs
        errors.append(np.abs(sim.q[:5] - exact_linear_solution(LINEAR_STRING, 20, Q0, P0, t)[:5])
                      .max())
    ratios = np.array(errors[:-1]) / np.array(errors[1:])
    assert np.all((ratios > 3.6) & (ratios < 4.4)), ratios


def test_warped_modes_ring_at_their_physical_frequency_up_to_045_fs():
    fs = 48000
    string = StringParams(400.0, 1.0, 0.0, 1.0, 1e-4)
    n_modes = 130
    spec = SimulationSpec(string, Excitation("pluck", 0.137, 5e4, 2e-4), 0.713, fs, 0.06,
                          n_modes, "linear", warp=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModesDroppedWarning)
        sim = simulate(spec)
    physical = damped_frequencies(string, n_modes)[:sim.n_active]
    assert physical[-1] > 0.44 * fs  # the kept modes reach up to 0.45 fs
    assert damped_frequencies(string, n_modes)[sim.n_active] > 0.45 * fs
    start = int(2e-4 * fs) + 2  # after the excitation
    measured = np.array([measured_frequency(sim.q[m, start:], fs) for m in range(sim.n_active)])
    assert np.abs(cents(measured, physical)).max() < 0.01


def test_unwarped_scheme_rings_sharp_and_drops_modes_above_fs_over_pi():
    fs = 48000
    string = StringParams(400.0, 1.0, 0.0, 1.0, 1e-4)
    spec = SimulationSpec(string, Excitation("pluck", 0.137, 5e4, 2e-4), 0.713, fs, 0.03, 130,
                          "linear", warp=False)
    with pytest.warns(ModesDroppedWarning, match="unstable without warping"):
        sim = simulate(spec)
    omega = angular_frequencies(string, 130)
    assert omega[sim.n_active - 1] / fs < 2.0 <= omega[sim.n_active] / fs
    top = sim.n_active - 1
    measured = measured_frequency(sim.q[top, 12:], fs)
    assert cents(measured, damped_frequencies(string, 130)[top]) > 100.0  # why warping exists


@pytest.mark.parametrize("note", [28, 45, 60, 76, 96, 108])
@pytest.mark.parametrize("kappa", [0.0, 1.5, 8.0])
def test_a_tuned_string_sounds_its_note(note, kappa):
    fs = 48000
    string = tuned(StringParams(100.0, kappa, 0.0, 1.5, 3e-4), note)
    q0 = np.zeros(10)
    q0[0] = 1e-3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModesDroppedWarning)  # high notes keep fewer modes
        sim = free_linear(string, fs, 0.05, 10, True, q0, np.zeros(10))
    assert abs(cents(measured_frequency(sim.q[0], fs), note_frequency(note))) < 0.1


def test_solver_agrees_with_the_independent_numpy_implementation():
    # The paper's setting (unwarped): 0.2 s at 96 kHz with 75 modes.
    reference = simulate_reference(PAPER)
    sim = simulate(SimulationSpec.from_dict(PAPER))
    q_ref, _, _, w_ref = reference
    assert np.abs(sim.q - q_ref).max() / np.abs(q_ref).max() < 1e-9
    assert np.abs(sim.w - w_ref).max() / np.abs(w_ref).max() < 1e-9


@pytest.mark.parametrize("variant", [{"nonlinearity": "kc"}, {"warp": True},
                                     {"excitation": "strike", "n_modes": 40, "fs": 48000}])
def test_solver_variants_agree_with_the_numpy_implementation(variant):
    params = {**PAPER, "duration": 0.05, **variant}
    q_ref, p_ref, psi_ref, w_ref = simulate_reference(params)
    sim = simulate(SimulationSpec.from_dict(params))
    for ours, theirs in ((sim.q, q_ref), (sim.p, p_ref), (sim.psi, psi_ref), (sim.w, w_ref)):
        assert np.abs(ours - theirs).max() / np.abs(theirs).max() < 1e-9


def test_nonlinear_solution_converges_at_second_order():
    params = {**PAPER, "n_modes": 20, "duration": 0.01, "excitation": "strike", "t_e": 1e-3,
              "amplitude": 5e4}
    runs = {}
    for fs in (24000, 48000, 96000, 192000, 768000):
        sim = simulate(SimulationSpec.from_dict({**params, "fs": fs}))
        step = fs // 24000
        runs[fs] = sim.q[:, step - 1::step]  # on the common 24 kHz grid
    errors = [np.abs(runs[fs] - runs[768000]).max() for fs in (24000, 48000, 96000, 192000)]
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all((orders > 1.8) & (orders < 2.3)), orders


def test_drift_stays_small_in_the_paper_setting():
    sim = simulate(SimulationSpec.from_dict({**PAPER, "duration": 0.5}))
    drift = sim.drift()
    assert drift.max() < 1e-2 * sim.psi.max()
    # Drift control pulls psi back: late drift is far below the peak.
    assert drift[-1000:].max() < 0.1 * drift.max()


def energy_is_non_increasing(sim):
    energy = sim.energy()
    spec = sim.spec
    free = int(np.ceil(spec.excitation.duration * spec.fs)) + 1  # first unforced step
    free_energy = energy[free:]
    scale = max(np.abs(energy).max(), 1e-300)
    return np.all(np.diff(free_energy) <= 1e-12 * scale), energy


@given(
    nonlinearity=st.sampled_from(["exact", "kc", "linear"]),
    warp=st.booleans(),
    excitation=st.sampled_from(["pluck", "strike"]),
    fs=st.sampled_from([16000, 44100, 48000, 96000]),
    n_modes=st.integers(1, 60),
    gamma=st.one_of(st.just(1e-3), st.floats(1.0, 3000.0), st.just(2e4)),
    kappa=st.one_of(st.just(0.0), st.floats(0.0, 50.0)),
    nu=st.one_of(st.just(0.0), st.floats(0.0, 2000.0), st.just(1e5)),
    sigma0=st.one_of(st.just(0.0), st.floats(0.0, 50.0)),
    sigma1=st.one_of(st.just(0.0), st.floats(0.0, 1e-2)),
    x_e=st.floats(1e-3, 1 - 1e-3),
    x_o=st.floats(1e-3, 1 - 1e-3),
    amplitude=st.one_of(st.just(0.0), st.floats(0.0, 1e5), st.just(1e7)),
    t_e=st.floats(1e-4, 3e-3),
)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_discrete_energy_never_grows_after_the_excitation(**params):
    spec = SimulationSpec.from_dict({**params, "duration": 0.01})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModesDroppedWarning)
        sim = simulate(spec)
    assert np.isfinite(sim.w).all() and np.isfinite(sim.q_t).all()
    ok, energy = energy_is_non_increasing(sim)
    assert ok, f"energy grew: max step {np.diff(energy).max()}"


def run_block(params_list, dtype, n_steps, block=256):
    """Run strings through `sav_block` (the real-time entry point) in blocks; returns (B, N)."""
    specs = [SimulationSpec.from_dict(p) for p in params_list]
    n_modes, fs = specs[0].n_modes, specs[0].fs
    linear = [linear_part(s.string, n_modes, fs, s.warp) for s in specs]
    potential = make_potential(specs[0].nonlinearity, n_modes, dtype)
    stack = lambda rows: np.array(rows, dtype=dtype)  # noqa: E731
    q = np.zeros((len(specs), n_modes), dtype)
    p = np.zeros_like(q)
    psi = np.full(len(specs), np.sqrt(EPS), dtype)
    elapsed = np.zeros(len(specs))
    out = np.zeros((len(specs), n_steps), dtype)
    scratch = potential.scratch()
    for start in range(0, n_steps, block):
        sav_block(np.arange(len(specs)), q, p, psi, np.array([lin.n_active for lin in linear]),
                  stack([lin.decay for lin in linear]), stack([lin.stiff for lin in linear]),
                  stack([lin.gain for lin in linear]), stack([s.string.nu**2 for s in specs]),
                  stack([mode_shapes(s.excitation.position, n_modes) for s in specs]),
                  stack([mode_shapes(s.pickup, n_modes) for s in specs]), elapsed,
                  np.array([s.excitation.amplitude for s in specs]),
                  np.array([s.excitation.duration * fs for s in specs]),
                  np.array([float(s.excitation.shape) for s in specs]), dtype(1.0 / fs),
                  dtype(LAMBDA0), potential.tables, scratch, out[:, start:start + block])
    return out


@pytest.mark.parametrize("nonlinearity", ["exact", "kc", "linear"])
def test_block_kernel_equals_offline_simulation(nonlinearity):
    params = [{**PAPER, "duration": 0.02, "nonlinearity": nonlinearity, "x_e": x, "gamma": g}
              for x, g in ((0.2, 130.0), (0.5, 170.0), (0.81, 150.0))]
    out = run_block(params, np.float64, 1920)
    for row, p in zip(out, params, strict=True):
        w = simulate(SimulationSpec.from_dict(p)).w
        assert np.abs(row - w).max() <= 1e-12 * np.abs(w).max()


def test_float32_kernel_tracks_the_float64_one():
    params = [{**PAPER, "duration": 0.1, "fs": 48000, "n_modes": 40, "warp": True}]
    w64 = run_block(params, np.float64, 4800)[0]
    w32 = run_block(params, np.float32, 4800)[0]
    assert np.isfinite(w32).all()
    assert np.abs(w32 - w64).max() < 1e-3 * np.abs(w64).max()


def test_block_kernel_allocates_nothing_per_step():
    # Numba counts heap allocations made by compiled code only when NUMBA_NRT_STATS is set
    # before it loads, hence the subprocess. Passing arrays in from Python costs one meminfo
    # each per call; the steps themselves must add nothing, so 16 and 4096 steps cost the same.
    script = """
import numpy as np
from numba.core.runtime import rtsys
from test_sav import PAPER, run_block
for name in ("exact", "kc", "linear"):
    params = [{**PAPER, "nonlinearity": name}] * 3
    run_block(params, np.float64, 16, block=16)  # compiles, and starts the runtime's counters
    counts = []
    for steps in (16, 16, 4096):
        before = rtsys.get_allocation_stats().alloc
        run_block(params, np.float64, steps, block=steps)
        counts.append(rtsys.get_allocation_stats().alloc - before)
    print(name, counts[1] == counts[2])
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=Path(__file__).parent, timeout=600,
                            env={**os.environ, "NUMBA_NRT_STATS": "1"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["exact", "True", "kc", "True", "linear", "True"]
