"""`neural-strings bench physics`: the SAV kernel against the naive way, in one run.

It times the SAV kernel (exact potential) on one string at
96 kHz with 75 modes, one at 48 kHz with 40 modes, and a batch of 64 strings, against a
per-sample NumPy loop and a per-sample torch loop of the same scheme (the way research code
runs it). Everything runs on one core.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from synth.kernels import lanes, sav_voice
from synth.kernels.aligned import aligned_zeros, padded
from synth.kernels.formulas import AMP, LEN, PLUCK, SHAPE
from synth.kernels.sav import EPS, LAMBDA0, sav_block
from synth.kinds.sav_string import lanes_for
from synth.physics.modes import mode_shapes
from synth.physics.potentials import make_potential
from synth.physics.simulate import linear_part
from synth.physics.strings import StringParams

BLOCK = 4096  # samples per kernel call while benchmarking


@dataclass(frozen=True)
class Case:
    label: str
    fs: float
    n_modes: int
    batch: int
    seconds: float  # audio simulated per timed kernel run
    naive_steps: int  # steps per timed naive run
    goal: float | None  # real-time factor the issue asks for


@dataclass
class Strings:
    """Everything the kernel and the naive loops need for a batch of plucked strings."""

    fs: float
    n_modes: int
    n_active: np.ndarray
    omega2: np.ndarray
    sigma: np.ndarray
    decay: np.ndarray
    stiff: np.ndarray
    gain: np.ndarray
    nu2: np.ndarray
    phi_e: np.ndarray
    phi_o: np.ndarray
    amplitude: np.ndarray
    duration: np.ndarray  # excitation length in steps

    @classmethod
    def paper(cls, fs: float, n_modes: int, batch: int, seed: int = 1) -> Strings:
        """Strings drawn from the paper's training ranges (synth/configs/paper-train.toml)."""
        rng = np.random.default_rng(seed)
        rows = []
        for _ in range(batch):
            string = StringParams(rng.uniform(123.48, 174.62), rng.uniform(1.01, 1.05),
                                  rng.uniform(123.48, 174.62), 3.0, 2e-4)
            rows.append((string, linear_part(string, n_modes, fs, warp=False),
                         rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.9)))

        def stack(values):
            table = aligned_zeros((batch, padded(n_modes, np.float64)))[:, :n_modes]
            table[:] = values
            return table

        return cls(fs, n_modes,
                   np.array([lin.n_active for _, lin, _, _ in rows]),
                   stack([lin.omega2 for _, lin, _, _ in rows]),
                   stack([lin.sigma for _, lin, _, _ in rows]),
                   stack([lin.decay for _, lin, _, _ in rows]),
                   stack([lin.stiff for _, lin, _, _ in rows]),
                   stack([lin.gain for _, lin, _, _ in rows]),
                   np.array([s.nu**2 for s, _, _, _ in rows]),
                   stack([mode_shapes(x_e, n_modes) for _, _, x_e, _ in rows]),
                   stack([mode_shapes(x_o, n_modes) for _, _, _, x_o in rows]),
                   rng.uniform(2.5e4, 3.5e4, batch), rng.uniform(0.5e-3, 1.5e-3, batch) * fs)

    @property
    def batch(self) -> int:
        return len(self.nu2)

    def forces(self, n: int) -> np.ndarray:
        """Pluck force at the midpoint of step n for every string, shape (B,)."""
        t = (n + 0.5) / self.duration
        return np.where(t <= 1.0, 0.5 * self.amplitude * (1.0 - np.cos(np.pi * t)), 0.0)


def time_kernel(strings: Strings, seconds: float) -> float:
    """Wall time (s) for the Numba kernel to simulate `seconds` of every string from rest."""
    potential = make_potential("exact", strings.n_modes)
    scratch = potential.scratch()
    B, M = strings.batch, strings.n_modes
    q = aligned_zeros((B, padded(M, np.float64)))[:, :M]
    p = aligned_zeros((B, padded(M, np.float64)))[:, :M]
    psi = np.full(B, np.sqrt(EPS))
    elapsed = np.zeros(B)
    shape = np.full(B, float(PLUCK))
    out = np.zeros((B, BLOCK))
    voices = np.arange(B)
    remaining = int(seconds * strings.fs)
    start = time.perf_counter()
    while remaining > 0:
        chunk = out[:, :min(BLOCK, remaining)]
        sav_block(voices, q, p, psi, strings.n_active, strings.decay, strings.stiff,
                  strings.gain, strings.nu2, strings.phi_e, strings.phi_o, elapsed,
                  strings.amplitude, strings.duration, shape, 1.0 / strings.fs, LAMBDA0,
                  potential.tables, scratch, chunk)
        remaining -= chunk.shape[1]
    return time.perf_counter() - start


def time_lanes_kernel(strings: Strings, seconds: float) -> float:
    """Wall time (s) for the voice-lanes kernel (`synth.kernels.sav_voice.advance`) to
    simulate `seconds` of every string side by side, float64, from rest."""
    B = strings.batch
    voices = lanes_for(make_potential("exact", strings.n_modes), strings.fs, B, np.float64)
    coef = voices.coef
    coef[lanes.DECAY], coef[lanes.STIFF], coef[lanes.GAIN] = (
        strings.decay.T, strings.stiff.T, strings.gain.T)
    coef[lanes.DRIVE], coef[lanes.PICKUP] = strings.phi_e.T, strings.phi_o.T
    voices.per_lane[lanes.NU2] = strings.nu2
    exc = voices.exc
    exc[AMP], exc[LEN], exc[SHAPE] = strings.amplitude, strings.duration, PLUCK
    out = np.zeros((BLOCK, B))
    remaining = int(seconds * strings.fs)
    start = time.perf_counter()
    while remaining > 0:
        n = min(BLOCK, remaining)
        sav_voice.advance(voices, n, B, False, out)
        remaining -= n
    return time.perf_counter() - start


def time_numpy_loop(strings: Strings, n_steps: int) -> float:
    """Wall time (s) of `n_steps` of a per-sample NumPy loop, vectorised over the batch."""
    M = strings.n_modes
    n_points = M + 1
    beta = np.arange(1, M + 1) * np.pi
    x = (np.arange(n_points) + 0.5) / n_points
    table = np.sqrt(2.0) * beta[:, None] * np.cos(beta[:, None] * x[None, :])  # (M, N)
    active = np.arange(M)[None, :] < strings.n_active[:, None]
    k = 1.0 / strings.fs
    nu2 = strings.nu2[:, None]

    def potential(q):
        xi = q @ table
        a = xi * xi / (1.0 + np.sqrt(1.0 + xi * xi))
        grad = (2.0 * xi * a / np.sqrt(1.0 + xi * xi)) @ table.T / n_points
        return (a * a).sum(-1) / n_points, grad * active

    q = np.zeros((strings.batch, M))
    p = np.zeros_like(q)
    psi = np.full(strings.batch, np.sqrt(EPS))
    start = time.perf_counter()
    for n in range(n_steps):
        f = strings.forces(n)
        v_now, _ = potential(q)
        q_half = q + 0.5 * k * p
        v, grad = potential(q_half)
        drift = psi - np.sqrt(2.0 * v_now + EPS)
        g = grad / np.sqrt(2.0 * v + EPS)[:, None] \
            - LAMBDA0 * (drift / (np.abs(p).sum(-1) + EPS))[:, None] * np.sign(p)
        u = strings.gain * g
        h = 0.25 * k * nu2
        y = strings.decay * p - strings.stiff * q_half + strings.gain * strings.phi_e * f[:, None] \
            - (nu2 * psi[:, None] + h * (g * p).sum(-1, keepdims=True)) * u
        p_next = y - u * h * (g * y).sum(-1, keepdims=True) \
            / (1.0 + h * (g * u).sum(-1, keepdims=True))
        psi = psi + 0.5 * k * (g * (p + p_next)).sum(-1)
        q = q_half + 0.5 * k * p_next
        p = p_next
    return time.perf_counter() - start


def _median(fn: Callable[[], float], repeats: int) -> float:
    fn()  # warm-up: compilation, caches, allocator
    return statistics.median(fn() for _ in range(repeats))


def run(repeats: int = 7, quick: bool = False, torch_scheme: Callable | None = None) -> list[dict]:
    """Print the physics benchmark table and return its rows.

    torch_scheme(strings, n_steps) -> seconds times the per-sample torch loop; the command
    line passes `models.bench.time_torch_loop` when torch is installed.
    """
    scale = 0.1 if quick else 1.0
    cases = [Case("1 string, 75 modes, 96 kHz", 96000, 75, 1, 2.0 * scale, int(2000 * scale),
                  5.0),
             Case("1 string, 40 modes, 48 kHz", 48000, 40, 1, 4.0 * scale, int(2000 * scale),
                  25.0),
             Case("64 strings, 75 modes, 96 kHz", 96000, 75, 64, 0.25 * scale,
                  int(1000 * scale), None)]
    print(f"bench physics: SAV kernel, exact potential, float64, one core; medians of "
          f"{repeats} repeats (pid {os.getpid()})")
    header = (f"{'case':30} {'kernel':>12} {'real time':>10} {'NumPy loop':>12} {'x NumPy':>8}"
              f" {'torch loop':>12} {'x torch':>8}")
    print(header)
    rows = []
    for case in cases:
        strings = Strings.paper(case.fs, case.n_modes, case.batch)
        n_kernel = int(case.seconds * case.fs)
        timer = time_kernel if case.batch == 1 else time_lanes_kernel
        kernel = _median(partial(timer, strings, case.seconds), repeats) / n_kernel
        numpy_step = _median(partial(time_numpy_loop, strings, case.naive_steps), repeats) \
            / case.naive_steps
        torch_step = None
        if torch_scheme is not None:
            torch_step = _median(partial(torch_scheme, strings, case.naive_steps), repeats) \
                / case.naive_steps
        realtime = 1.0 / (kernel * case.fs)
        row = {"case": case.label, "kernel_s_per_step": kernel, "realtime": realtime,
               "numpy_s_per_step": numpy_step, "torch_s_per_step": torch_step,
               "goal": case.goal}
        rows.append(row)
        torch_text = (f"{torch_step * 1e6:9.1f} us {torch_step / kernel:7.0f}x"
                      if torch_step else f"{'(no torch)':>12} {'':>8}")
        goal = f"  (goal {case.goal:g}x)" if case.goal else ""
        print(f"{case.label:30} {kernel * 1e6:9.3f} us {realtime:9.1f}x "
              f"{numpy_step * 1e6:9.1f} us {numpy_step / kernel:7.0f}x {torch_text}{goal}")
    print("kernel and loops: time per step for the whole batch (the batch runs in the "
          "voice-lanes kernel, strings as SIMD lanes); real time = audio seconds simulated "
          "per wall second for the batch")
    return rows
