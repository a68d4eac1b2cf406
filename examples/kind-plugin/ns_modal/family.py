"""The `learned-modal` training family: the torch original of `ns_modal.kernels`, trained by
`neural-strings train` (registered through the entry point group "neural_strings.families")
on windows from the onset of a one-string dataset, and exported as a `learned-modal` preset.

Per mode m, with the linear string's per-sample phase advance theta_m = omega_d,m k and decay
s_m = sigma_m k, the learned eigenvalue is lambda_m = exp(-s_m e^{b_m} + i theta_m e^{a_m}) and
the input gain B_m = g_m Phi_m(x_e) k / omega_m (omega_m = theta_m e^{a_m} / k). A recorded
sample n (the state after n + 1 steps) is then, for a force pulse f of L samples,

    x_m(n) = lambda_m^n S_m(min(n, L - 1)),   S_m(t) = sum_{j <= t} lambda_m^-j B_m f(j),

in closed form, so a window of any length costs the same; the loss is the relMSE of
q_m = Re x_m per string (`models.koopman.relative_per_string`).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from models.family import Family
from models.koopman import relative_per_string
from models.oscillators import modal_anchor
from models.schemes import WindowTraining
from models.windows import one_string
from ns_modal.kind import NAME
from synth.physics.strings import StringParams, frequency_note
from synth.presets import Preset


class LearnedModal(nn.Module):
    """The linear modal string of one `string` at `fs` Hz over n_modes modes (module
    docstring); a = b = 0 and g = -i is the linear string itself."""

    def __init__(self, string: StringParams, n_modes: int, fs: float,
                 dtype=torch.float64) -> None:
        super().__init__()
        theta, decay = modal_anchor(string, n_modes, fs)
        self.k = 1.0 / fs
        self.register_buffer("theta0", torch.as_tensor(theta, dtype=dtype))
        self.register_buffer("decay0", torch.as_tensor(decay, dtype=dtype))
        self.log_frequency = nn.Parameter(torch.zeros(n_modes, dtype=dtype))
        self.log_decay = nn.Parameter(torch.zeros(n_modes, dtype=dtype))
        gain = torch.zeros(n_modes, 2, dtype=dtype)
        gain[:, 1] = -1.0
        self.gain = nn.Parameter(gain)

    def log_eigenvalues(self) -> torch.Tensor:
        """log lambda (M,), complex."""
        return torch.complex(-self.decay0 * self.log_decay.exp(),
                             self.theta0 * self.log_frequency.exp())

    def predict(self, strings, position: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
        """q (B, T, M) of a StringBatch's plucks at sample indices `steps` (T,)."""
        length = math.ceil(float(strings.length.max())) + 1  # the pulse, then a zero
        j = torch.arange(length)
        forces = strings.forces(j[None, :].expand(len(position), -1))  # (B, L)
        log_lambda = self.log_eigenvalues()
        theta = self.theta0 * self.log_frequency.exp()
        gain = torch.complex(self.gain[:, 0], self.gain[:, 1]) * (self.k * self.k / theta)
        drive = strings.phi_e[:, None, :] * forces[..., None]  # (B, L, M)
        unwind = torch.exp(-log_lambda[None] * j[:, None].to(theta.dtype))  # (L, M)
        partial = torch.cumsum(unwind[None] * gain * drive, 1)  # (B, L, M)
        held = partial[:, torch.clamp(steps, max=length - 1)]  # (B, T, M)
        powers = torch.exp(log_lambda[None] * steps.to(theta.dtype)[:, None])  # (T, M)
        return (held * powers[None]).real

    def loss(self, windows) -> torch.Tensor:
        """relMSE of q per string over a `models.windows.Windows` batch, averaged."""
        return relative_per_string(self.predict(windows.strings, windows.position,
                                                windows.steps), windows.q)

    def export(self) -> dict[str, np.ndarray]:
        """The preset's tensors, float64."""
        detach = lambda t: t.detach().to(torch.float64).numpy()  # noqa: E731
        return {"modal.log_frequency": detach(self.log_frequency),
                "modal.log_decay": detach(self.log_decay), "modal.gain": detach(self.gain)}


def _network(recipe, dtype) -> LearnedModal:
    string, fs, _, _ = one_string(recipe.dataset_config())
    return LearnedModal(string, recipe.n_modes, fs, dtype=dtype)


def _export(recipe, config, network: LearnedModal, name: str) -> Preset:
    string, _, amplitude, _ = one_string(config)
    first = modal_anchor(string, recipe.n_modes, 1.0)[0][0] / (2.0 * math.pi)  # Hz
    return Preset(
        name=name, kind=NAME, n_modes=recipe.n_modes, model={}, string=string,
        reference_note=frequency_note(first), excitation_type="pluck", pluck_position=0.2,
        excitation_width_ms=1000.0 * config.centre("t_e"), amplitude=amplitude, pickup=0.8,
        output_gain=1.0,
        description=(f"A learned linear string: the frequency, decay rate and excitation gain "
                     f"of each of its {recipe.n_modes} modes fitted to {config.name}. Every "
                     "physical control is live except the nonlinearity."),
        tensors=network.export())


FAMILY = Family(
    name=NAME, title="learned linear modal string (plugin example; plays as learned-modal)",
    options={}, network=_network, scheme=WindowTraining(), export=_export)
