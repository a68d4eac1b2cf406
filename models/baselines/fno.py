"""A Fourier neural operator on the string's state, rolled out autoregressively (tutorial).

The state is the displacement u and velocity v on a grid of N points across the string,
u(x_i) = sum_m q_m Phi_m(x_i) (and v from p likewise). One operator step maps the state now,
plus the excitation as CHUNK forcing channels (the force's impulse at each of the next CHUNK
samples, spread as the modal truncation of a point force at x_e), to the states at each of the
next CHUNK samples:

    lift (u, v, CHUNK forcings, x -> W) -> L Fourier layers -> project (W -> 2 CHUNK)

A Fourier layer is GELU(K(z) + W z), K the spectral convolution (Li et al., 2021) that
multiplies the lowest M + 1 spatial frequencies of the FFT by learned complex W x W matrices.
The FFT runs over the odd extension of the grid (the string mirrored with its sign flipped),
whose period is twice the string: the string's mode sin(m pi x) is then exactly frequency
bin m, as the fixed ends ask, where a plain periodic FFT would smear every mode over all
bins. The operator predicts increments of the state; the last state of a chunk starts the
next. The grid states map back to modal q, p by least squares, so training and evaluation
compare the same modal quantities as every other family.

Its family, "fno", trains through `models.train`: first single chunks, then segments of
several chunks (backpropagation through the rollout), from recorded states.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from models.family import Family
from models.schemes import SegmentTraining
from synth.physics.modes import mode_shapes

CHUNK = 16  # samples per operator step
GRID = 64  # points across the string


class SpectralConv(nn.Module):
    """The spectral convolution of a Fourier layer: (B, W, N) -> (B, W, N)."""

    def __init__(self, width: int, modes: int, dtype) -> None:
        super().__init__()
        scale = 1.0 / width
        self.modes = modes
        self.weight = nn.Parameter(scale * torch.randn(2, width, width, modes, dtype=dtype))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        n = z.shape[-1]
        odd = torch.cat([z, -z.flip(-1)], -1)  # period 2L: sin(m pi x / L) is bin m
        spectrum = torch.fft.rfft(odd)
        kept = spectrum[..., :self.modes]
        weight = torch.complex(self.weight[0], self.weight[1])
        mixed = torch.einsum("bin,ion->bon", kept, weight)
        out = torch.zeros_like(spectrum)
        out[..., :self.modes] = mixed
        return torch.fft.irfft(out, n=2 * n)[..., :n]


class FourierOperator(nn.Module):
    """The operator over M modes: `width` channels, `layers` Fourier layers; the scales of
    u, v and the forcing come from `calibrate`."""

    def __init__(self, n_modes: int, width: int = 32, layers: int = 4,
                 dtype=torch.float32) -> None:
        super().__init__()
        grid = (np.arange(GRID) + 0.5) / GRID
        shapes = mode_shapes(grid, n_modes)  # (N, M)
        self.register_buffer("to_grid", torch.as_tensor(shapes.T, dtype=dtype))  # (M, N)
        self.register_buffer("to_modes", torch.as_tensor(np.linalg.pinv(shapes).T,
                                                         dtype=dtype))  # (N, M)
        self.register_buffer("grid", torch.as_tensor(grid, dtype=dtype))
        self.register_buffer("scales", torch.ones(3, dtype=dtype))  # u, v, forcing
        self.lift = nn.Conv1d(3 + CHUNK, width, 1, dtype=dtype)
        self.spectral = nn.ModuleList(SpectralConv(width, n_modes + 1, dtype)
                                      for _ in range(layers))
        self.pointwise = nn.ModuleList(nn.Conv1d(width, width, 1, dtype=dtype)
                                       for _ in range(layers))
        self.project = nn.Sequential(nn.Conv1d(width, 4 * width, 1, dtype=dtype), nn.GELU(),
                                     nn.Conv1d(4 * width, 2 * CHUNK, 1, dtype=dtype))
        with torch.no_grad():
            self.project[-1].weight.mul_(0.01)
            self.project[-1].bias.zero_()

    @torch.no_grad()
    def calibrate(self, q: torch.Tensor, p: torch.Tensor, strings) -> None:
        """Scales from recorded q, p (..., M) and the largest one-sample impulse the strings
        (a StringBatch) can give."""
        impulse = strings.amplitude[:, None] * strings.k * strings.phi_e
        for i, value in enumerate((q, p, impulse)):
            self.scales[i] = (value @ self.to_grid).abs().max().clamp_min(1e-12)

    def step(self, u: torch.Tensor, v: torch.Tensor,
             forcing: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """States (B, CHUNK, N) after each of the next CHUNK samples from u, v (B, N) under
        `forcing` (B, CHUNK, N), the impulse at each sample."""
        x = self.grid.expand(u.shape[0], -1)
        z = self.lift(torch.cat([torch.stack([u / self.scales[0], v / self.scales[1], x], 1),
                                 forcing / self.scales[2]], 1))
        for spectral, pointwise in zip(self.spectral, self.pointwise, strict=True):
            z = nn.functional.gelu(spectral(z) + pointwise(z))
        delta = self.project(z).view(u.shape[0], 2, CHUNK, -1)
        return u[:, None] + delta[:, 0] * self.scales[0], v[:, None] + delta[:, 1] * self.scales[1]


class FNOScheme(nn.Module):
    """The rollout, with the interface of the segment schemes (`models.train.SCHEMES`):
    `run(q0, p0, forces)` from modal states (B, M) under per-step forces (B, L)."""

    def __init__(self, network: FourierOperator, phi_e: torch.Tensor, k: float) -> None:
        super().__init__()
        self.network, self.k = network, k
        self.spread = phi_e @ network.to_grid  # (B, N): the point force's modal shape

    @classmethod
    def for_strings(cls, network: FourierOperator, strings) -> FNOScheme:
        return cls(network, strings.phi_e, strings.k)

    def impulses(self, forces: torch.Tensor) -> torch.Tensor:
        """Each sample's force impulse by chunk (B, chunks, CHUNK): forces (B, L) padded to
        whole chunks."""
        chunks = math.ceil(forces.shape[1] / CHUNK)
        padded = nn.functional.pad(forces, (0, chunks * CHUNK - forces.shape[1]))
        return padded.view(forces.shape[0], chunks, CHUNK) * self.k

    def run(self, q: torch.Tensor, p: torch.Tensor,
            forces: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """States after each of len(forces[0]) steps: q, p (B, L, M)."""
        network = self.network
        u, v = q @ network.to_grid, p @ network.to_grid
        us, vs = [], []
        for impulse in self.impulses(forces).unbind(1):
            u_chunk, v_chunk = network.step(u, v, impulse[:, :, None] * self.spread[:, None])
            us.append(u_chunk)
            vs.append(v_chunk)
            u, v = u_chunk[:, -1], v_chunk[:, -1]
        length = forces.shape[1]
        u_all, v_all = torch.cat(us, 1)[:, :length], torch.cat(vs, 1)[:, :length]
        return u_all @ network.to_modes, v_all @ network.to_modes


def free_run(network: FourierOperator, strings, n_steps: int) -> dict:
    """Run `strings` (a StringBatch) from rest for n_steps under their excitations, without
    gradients: w (B, N) and q (B, N, M), sample n the state after n + 1 steps."""
    scheme = FNOScheme.for_strings(network, strings)
    rest = torch.zeros_like(strings.phi_e)
    with torch.no_grad():
        forces = strings.forces(torch.arange(n_steps)[None, :].expand(rest.shape[0], -1))
        q, _ = scheme.run(rest, rest, forces)
    return {"q": q, "w": (q * strings.phi_o[:, None, :]).sum(-1)}


FAMILY = Family(
    name="fno", title="Fourier neural operator on the string's grid state (offline baseline)",
    options={"hidden": 128},
    network=lambda recipe, dtype: FourierOperator(recipe.n_modes, width=recipe.option("hidden"),
                                                  dtype=dtype),
    scheme=SegmentTraining(FNOScheme, force_matching=False, first_steps=CHUNK),
    free_run=free_run)
