"""The torch twins of the bridge and the instrument body: the force of a string on its bridge
(what the kernels read out with pickup = `synth.kernels.formulas.BRIDGE`) and the body's
modes (`synth.kernels.body`, the same impulse-invariant response), differentiable in every
parameter, for fitting a body to recordings by gradient descent.

Parameters: log frequency (K,) in log Hz, log decay rate (K,) in log 1/s, gains (K, C). The
forward pass convolves the force with each mode's sampled impulse response T h_k(n T) by FFT
(the kernel runs the equivalent recursion sample by sample) and mixes the modes' velocities
into C microphones.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from synth.physics.modes import BRIDGE, readout, tension_readout


def bridge_force(q: torch.Tensor, gamma2, kappa,
                 modal_forces: torch.Tensor | None = None) -> torch.Tensor:
    """The force of the string's end on the bridge per unit tension, (...,) from modal
    displacements q (..., M) of a string with gamma^2 = gamma2 (1/s^2) and kappa (1/s):
    sum_m readout_m q_m (`synth.physics.modes.readout`), plus, for a nonlinear string, its
    extra tension's share sum_m tension_readout_m f_m from the modal nonlinear forces
    f = -nu^2 grad V(q) (..., M) (`synth.physics.modes.tension_readout`)."""
    m = torch.arange(1, q.shape[-1] + 1, dtype=q.dtype)
    force = q @ readout(m, BRIDGE, gamma2, kappa)
    if modal_forces is not None:
        force = force + modal_forces @ tension_readout(m, BRIDGE, gamma2)
    return force


def impulse_responses(frequencies: torch.Tensor, decays: torch.Tensor, fs: float,
                      length: int) -> torch.Tensor:
    """(K, length): T h_k(n T), n = 0..length-1, the velocity of modes at `frequencies` (K,)
    Hz with decay rates `decays` (K,) 1/s after a unit force impulse (T = 1 / fs)."""
    period = 1.0 / fs
    t = torch.arange(length, dtype=frequencies.dtype) * period
    omega = 2 * math.pi * frequencies[:, None]
    sigma = decays[:, None]
    return period * torch.exp(-sigma * t) * (torch.cos(omega * t)
                                             - sigma / omega * torch.sin(omega * t))


def heard(force: torch.Tensor, frequencies: torch.Tensor, decays: torch.Tensor,
          gains: torch.Tensor, fs: float) -> torch.Tensor:
    """What microphones with `gains` (K, C) hear, (..., N, C), of modes at `frequencies`
    Hz with `decays` 1/s (K,) driven by `force` (..., N) at fs Hz: the modes' impulse
    responses mixed by the gains, then one FFT convolution a microphone."""
    length = force.shape[-1]
    size = 2 * length
    mixed = gains.T @ impulse_responses(frequencies, decays, fs, length)  # (C, N)
    spectrum = torch.fft.rfft(force, size)[..., None, :] * torch.fft.rfft(mixed, size)
    return torch.fft.irfft(spectrum, size)[..., :length].transpose(-1, -2)


class BodyTwin(nn.Module):
    """frequencies (K,) Hz, decays (K,) 1/s, gains (K, C), at fs Hz."""

    def __init__(self, frequencies: np.ndarray, decays: np.ndarray, gains: np.ndarray,
                 fs: float) -> None:
        super().__init__()
        as_tensor = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float64))  # noqa: E731
        self.fs = float(fs)
        self.log_frequency = nn.Parameter(torch.log(as_tensor(frequencies)))
        self.log_decay = nn.Parameter(torch.log(as_tensor(decays)))
        self.gains = nn.Parameter(as_tensor(gains))

    def forward(self, force: torch.Tensor) -> torch.Tensor:
        """force (..., N) -> what the microphones hear (..., N, C)."""
        return heard(force, torch.exp(self.log_frequency), torch.exp(self.log_decay),
                     self.gains, self.fs)
