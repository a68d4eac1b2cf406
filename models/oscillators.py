"""A bank of damped complex oscillators anchored on one string's modes: the diagonal linear
dynamics that the Koopman and SSM families learn.

Each mode m gets `copies` oscillators (the nonlinearity glides a mode's pitch, which a few
detuned copies can carry). Copy j of mode m has the per-sample eigenvalue

    lambda_mj = exp(-exp(a_mj) + i theta_mj),   a_mj = log(sigma_m k) + e_mj,
                                                theta_mj = omega_d,m k (1 + delta_mj)

so |lambda| < 1 for every value of the parameters (the LRU parameterisation of magnitude and
phase), and at e = delta = 0 it is the linear string's own mode (omega_d,m the damped angular
frequency in rad/s, sigma_m the decay rate in 1/s, k the time step in s). delta starts spread
over [0, detune] (the glide only raises pitch), e at 0.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch
from torch import nn

from models.windows import one_string
from synth.physics.modes import angular_frequencies, decay_rates
from synth.physics.strings import StringParams, frequency_note
from synth.presets import Preset


def modal_anchor(string: StringParams, n_modes: int, fs: float) -> tuple[np.ndarray, ...]:
    """(omega_d k, sigma k), each (M,): the linear string's phase advance (rad) and decay
    (nepers) per sample at `fs` Hz."""
    omega, sigma = angular_frequencies(string, n_modes), decay_rates(string, n_modes)
    omega_d = np.sqrt(np.maximum(omega ** 2 - sigma ** 2, 0.0))
    return omega_d / fs, sigma / fs


class OscillatorBank(nn.Module):
    """The eigenvalues of M x K oscillators (see the module docstring); `detune` is the
    initial spread of the copies' relative pitch."""

    def __init__(self, string: StringParams, n_modes: int, fs: float, copies: int,
                 detune: float = 0.04, dtype=torch.float64) -> None:
        super().__init__()
        theta, decay = modal_anchor(string, n_modes, fs)
        self.register_buffer("theta0", torch.as_tensor(theta, dtype=dtype)[:, None])
        self.register_buffer("log_decay0", torch.as_tensor(np.log(np.maximum(decay, 1e-12)),
                                                           dtype=dtype)[:, None])
        spread = torch.linspace(0.0, detune, copies, dtype=dtype) if copies > 1 else \
            torch.zeros(1, dtype=dtype)
        self.delta = nn.Parameter(spread.repeat(n_modes, 1))
        self.e = nn.Parameter(torch.zeros(n_modes, copies, dtype=dtype))

    @property
    def n_modes(self) -> int:
        return self.delta.shape[0]

    @property
    def copies(self) -> int:
        return self.delta.shape[1]

    def log_eigenvalues(self) -> torch.Tensor:
        """log lambda (M, K), complex: real part < 0 always."""
        return torch.complex(-torch.exp(self.log_decay0 + self.e),
                             self.theta0 * (1.0 + self.delta))

    def powers(self, steps: torch.Tensor) -> torch.Tensor:
        """lambda^n for sample indices n (T,): (T, M, K), complex."""
        return torch.exp(self.log_eigenvalues()[None] * steps.to(self.theta0.dtype)[:, None,
                                                                                    None])

    def export(self) -> dict[str, np.ndarray]:
        """The eigenvalues as float64 arrays: "log_magnitude" and "phase", (M, K) each."""
        log_lambda = self.log_eigenvalues().detach().to(torch.complex128)
        return {"log_magnitude": log_lambda.real.numpy(), "phase": log_lambda.imag.numpy()}


def mlp(sizes: list[int], dtype=torch.float64) -> nn.Sequential:
    """Linear layers of `sizes` with GELU (exact, erf) between them, none after the last."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(a, b, dtype=dtype))
        if i < len(sizes) - 2:
            layers.append(nn.GELU())
    return nn.Sequential(*layers)


def export_mlp(network: nn.Sequential, prefix: str) -> dict[str, np.ndarray]:
    """The linear layers of an `mlp` as PREFIX.I.weight (out, in) and PREFIX.I.bias (out,)."""
    linears = [m for m in network if isinstance(m, nn.Linear)]
    out = {}
    for i, linear in enumerate(linears):
        out[f"{prefix}.{i}.weight"] = linear.weight.detach().numpy().astype(np.float64)
        out[f"{prefix}.{i}.bias"] = linear.bias.detach().numpy().astype(np.float64)
    return out


def bank_arguments(recipe, dtype) -> dict:
    """The arguments the Koopman and SSM strings share, for a recipe on a one-string dataset:
    the string, rate, sizes, and the excitation's amplitude and width scales."""
    string, fs, amplitude, width = one_string(recipe.dataset_config())
    return dict(string=string, n_modes=recipe.n_modes, fs=fs, copies=recipe.option("copies"),
                hidden=recipe.option("hidden"), amplitude_scale=amplitude, width_scale=width,
                dtype=dtype)


def bank_preset(kind: str, recipe, config, network, name: str, what: str) -> Preset:
    """The `kind` ("koopman" or "ssm") preset of a trained string, `what` saying what it is:
    the one string it learned, played from the middle of its training excitations."""
    string, fs, amplitude, width = one_string(config)
    model = {"potential": "none", "fs": fs, "copies": recipe.option("copies"),
             "hidden": recipe.option("hidden"),
             **({"rank": recipe.option("rank")} if "rank" in recipe.model else {}),
             "amplitude_scale": amplitude, "width_scale": width,
             "width_range": [float(config.ranges["t_e"][0]), width]}
    first = modal_anchor(string, recipe.n_modes, 1.0)[0][0] / (2.0 * np.pi)  # Hz
    return Preset(
        name=name, kind=kind, n_modes=recipe.n_modes, model=model, string=string,
        reference_note=frequency_note(first), excitation_type="pluck", pluck_position=0.2,
        excitation_width_ms=1000.0 * config.centre("t_e"), amplitude=amplitude, pickup=0.8,
        output_gain=1.0,
        description=(f"A learned string: {what}, trained on {config.name}. Tension and "
                     "damping scale its learned eigenvalues (pitch and decay); the "
                     "nonlinearity control has no effect."),
        tensors=network.export())
