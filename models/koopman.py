"""Deep Koopman string (`koopman` kind): an autoencoder whose latent evolves linearly.

The latent of a string is one complex number per oscillator of an `OscillatorBank` (M modes
x K copies), advanced each sample by its eigenvalue, z(n + 1) = lambda z(n) with |lambda| < 1.

- Excitation encoder (what the runtime runs, once per note-on): the pluck's amplitude A, width
  T_e and position x_e give the initial latent

      z0_mk = Phi_m(x_e) (J / omega_d,m) E(A, T_e, x_e)_mk,    J = A T_e / 2,

  E an MLP with complex outputs. The prefactor is the linear string's response to an impulse
  J at x_e, so E stays of order one for every mode (it starts at -i / K: exactly that response).
- State encoder (training only): a recorded state (q, p) (M each) gives
  z_mk = (q_m - i p_m / omega_d,m) (1 / K + S(a)_mk), S an MLP of the modes' amplitudes a.
- Decoder: q_m = sum_k Re z_mk, the modal displacements; the pickup makes w = Phi(x_o) . q,
  so the pickup position stays live.

The loss (per string, relative, then averaged) is prediction (decoded lambda^n z0 against
the recorded q(n)) + RECONSTRUCTION x (decoded state encoding against q) + CONSISTENCY x
latent consistency (the state encoding at n + j against lambda^j times the one at n, and at
n against lambda^n z0). Consistency trains the state encoder only (the eigenvalues and the
trajectory are held fixed in it): many latents decode to the same q, and pulling the played
trajectory towards one of them costs accuracy. With it, `encode_state` starts the model
from any recorded state, not only from rest. Time indices are drawn at random in a window
from the onset, and lambda^n is taken in closed form, so a long window costs no more than a
short one.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from models.family import Family
from models.oscillators import OscillatorBank, bank_arguments, bank_preset, export_mlp, mlp
from models.schemes import WindowTraining
from synth.physics.strings import StringParams

RECONSTRUCTION, CONSISTENCY = 0.1, 0.1  # loss weights (prediction: 1)
AUX_STRIDE = 8  # reconstruction and consistency use every 8th sample index of a batch


def relative_per_string(estimate: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean over the batch (first axis) of sum |estimate - target|^2 / sum |target|^2."""
    def power(x: torch.Tensor) -> torch.Tensor:
        x = torch.view_as_real(x) if x.is_complex() else x
        return x.square().sum(tuple(range(1, x.dim())))

    return (power(estimate - target) / power(target).clamp_min(1e-30)).mean()


class KoopmanString(nn.Module):
    """The model above for one string (`string` at `fs` Hz, M modes, K copies); features are
    scaled by the excitation's `amplitude_scale` (normalised force) and `width_scale` (s)."""

    def __init__(self, string: StringParams, n_modes: int, fs: float, copies: int = 8,
                 hidden: int = 256, amplitude_scale: float = 1.0, width_scale: float = 1e-3,
                 dtype=torch.float64, generator: torch.Generator | None = None) -> None:
        super().__init__()
        if generator is not None:
            torch.manual_seed(int(torch.randint(0, 2 ** 31, (1,), generator=generator)))
        self.bank = OscillatorBank(string, n_modes, fs, copies, dtype=dtype)
        self.k = 1.0 / fs
        self.amplitude_scale, self.width_scale = float(amplitude_scale), float(width_scale)
        latent = 2 * n_modes * copies
        self.encoder = mlp([3, hidden, hidden, latent], dtype)
        self.state_encoder = mlp([n_modes, hidden, latent], dtype)
        for network, imaginary in ((self.encoder, -1.0 / copies), (self.state_encoder, 0.0)):
            last = network[-1]
            with torch.no_grad():
                last.weight.mul_(0.1)
                last.bias.view(n_modes, copies, 2).zero_()
                last.bias.view(n_modes, copies, 2)[..., 1] = imaginary

    @property
    def omega_d(self) -> torch.Tensor:
        """Damped angular frequencies (M,), rad/s."""
        return self.bank.theta0[:, 0] / self.k

    def features(self, amplitude: torch.Tensor, width: torch.Tensor,
                 position: torch.Tensor) -> torch.Tensor:
        """The encoder's input (B, 3) from A (normalised force), T_e (s) and x_e, each (B,)."""
        return torch.stack([amplitude / self.amplitude_scale, width / self.width_scale,
                            position], -1)

    def initial_latent(self, amplitude: torch.Tensor, width: torch.Tensor,
                       position: torch.Tensor) -> torch.Tensor:
        """z0 (B, M, K), complex."""
        M, K = self.bank.n_modes, self.bank.copies
        raw = self.encoder(self.features(amplitude, width, position)).view(-1, M, K, 2)
        modes = torch.arange(1, M + 1, dtype=raw.dtype)
        drive = math.sqrt(2.0) * torch.sin(math.pi * position[:, None] * modes)
        prior = drive * (0.5 * amplitude * width)[:, None] / self.omega_d
        return torch.complex(raw[..., 0], raw[..., 1]) * prior[..., None]

    def encode_state(self, q: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        """z (..., M, K) of states q, p (..., M)."""
        M, K = self.bank.n_modes, self.bank.copies
        linear = torch.complex(q, -p / self.omega_d)
        size = linear.abs() * self.omega_d / (0.5 * self.amplitude_scale * self.width_scale)
        raw = self.state_encoder(size).view(*q.shape[:-1], M, K, 2)
        return linear[..., None] * (1.0 / K + torch.complex(raw[..., 0], raw[..., 1]))

    @staticmethod
    def decode(z: torch.Tensor) -> torch.Tensor:
        """q (..., M) of latents z (..., M, K)."""
        return z.real.sum(-1)

    def predict(self, amplitude, width, position, steps: torch.Tensor) -> torch.Tensor:
        """q (B, T, M) at sample indices `steps` (T,) after the onset (sample n: the state
        after n + 1 steps, as the datasets record it)."""
        z0 = self.initial_latent(amplitude, width, position)
        return torch.einsum("bmk,tmk->btm", z0, self.bank.powers(steps)).real

    def loss(self, batch) -> torch.Tensor:
        """The training loss of a `models.windows.Windows` batch; reconstruction and
        consistency look at every AUX_STRIDE-th of its sample indices."""
        strings = batch.strings
        width = strings.length * strings.k
        z0 = self.initial_latent(strings.amplitude, width, batch.position)
        powers = self.bank.powers(batch.steps)
        prediction = relative_per_string(torch.einsum("bmk,tmk->btm", z0, powers).real,
                                         batch.q)
        few = slice(None, None, AUX_STRIDE)
        encoded = self.encode_state(batch.q[:, few], batch.p[:, few])
        reconstruction = relative_per_string(self.decode(encoded), batch.q[:, few])
        later = self.encode_state(batch.q_later[:, few], batch.p_later[:, few])
        ahead = encoded * self.bank.powers(batch.lag[few]).detach()[None]
        path = (z0[:, None] * powers[few][None]).detach()  # (B, T / AUX_STRIDE, M, K)
        consistency = relative_per_string(ahead, later) + relative_per_string(encoded, path)
        return prediction + RECONSTRUCTION * reconstruction + CONSISTENCY * consistency

    def export(self) -> dict[str, np.ndarray]:
        """Float64 arrays for the preset: the eigenvalues and the excitation encoder."""
        return {**{f"bank.{k}": v for k, v in self.bank.export().items()},
                **export_mlp(self.encoder, "encoder")}


def _export(recipe, config, network: KoopmanString, name: str):
    return bank_preset("koopman", recipe, config, network, name,
                       f"a deep Koopman model (an excitation encoder and a latent of "
                       f"{recipe.n_modes} x {recipe.option('copies')} damped oscillators)")


FAMILY = Family(
    name="koopman", title="deep Koopman string: excitation encoder, linear latent of damped "
                          "oscillators (plays as koopman)",
    options={"hidden": 128, "copies": 8},
    network=lambda recipe, dtype: KoopmanString(**bank_arguments(recipe, dtype)),
    scheme=WindowTraining(), export=_export)
