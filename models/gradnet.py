"""The convex gradient network (C-GradNet) potential in torch (docs/design.md, "Model kinds"),
and the `gradnet` training family that fits it through the SAV scheme.

V(q) = sum_j exp(s_out_j) A(exp(s_in_j) (W q)_j + b_j), with A(z) = z max(z, 0.01 z) / 2 the
antiderivative of LeakyReLU(0.01): V >= 0 and convex, and its gradient
W^T [exp(s_out) exp(s_in) LeakyReLU(exp(s_in) W q + b)] shares W q with V.

Training conditioning: W is stored as `weight * column_scale`, with column_scale = beta_m (the
mode's wavenumber) by default, so a unit's input (W q)_j is a string slope of order one and
Adam's steps are relative to each column's natural size. The exported W includes the scale.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from models.family import Family
from models.sav import SAVScheme
from models.schemes import SegmentTraining
from synth.errors import ParameterError
from synth.kernels.potentials import ACTIVATIONS, LEAK
from synth.physics.strings import StringParams, frequency_note
from synth.presets import Preset


class GradNetPotential(nn.Module):
    """V and grad V of a C-GradNet over n_modes modal displacements with `hidden` units;
    activation "leaky" (the paper's LeakyReLU(0.01)) or "stretch" (A'(z) = z (1 - 1/sqrt(1 +
    z^2)), smooth, quartic at rest; see `synth.kernels.potentials`)."""

    def __init__(self, n_modes: int, hidden: int, log_scale_std: float = 1e-2,
                 dtype=torch.float64, generator: torch.Generator | None = None,
                 column_scale: torch.Tensor | None = None, activation: str = "leaky") -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be 'leaky' or 'stretch', got {activation!r}")
        self.activation = activation
        if column_scale is None:
            column_scale = torch.arange(1, n_modes + 1, dtype=torch.float64) * math.pi
        self.register_buffer("column_scale", column_scale.to(dtype))
        # Each unit starts as +-(string slope at a random point)/beta, so (W q)_j = +-u_x(x_j):
        # the geometric nonlinearity of a string is a function of its slopes.
        point = torch.rand(hidden, 1, dtype=torch.float64, generator=generator)
        sign = torch.where(torch.rand(hidden, 1, dtype=torch.float64, generator=generator)
                           < 0.5, -1.0, 1.0)
        mode = torch.arange(1, n_modes + 1, dtype=torch.float64)
        slope = sign * math.sqrt(2.0) * torch.cos(math.pi * mode * point)
        self.weight = nn.Parameter(slope.to(dtype))
        # leaky: knots spread over the slopes a string reaches, on the leaky side at rest;
        # stretch: centred, so each unit starts as the energy of one stretched element
        knots = -0.2 * torch.rand(hidden, dtype=dtype, generator=generator)
        self.bias = nn.Parameter(knots if activation == "leaky" else torch.zeros_like(knots))
        self.log_scale_in = nn.Parameter(
            log_scale_std * torch.randn(hidden, dtype=dtype, generator=generator))
        self.log_scale_out = nn.Parameter(
            log_scale_std * torch.randn(hidden, dtype=dtype, generator=generator))

    def forward(self, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(V (B,), grad V (B, M)) for q (B, M)."""
        scale_in = self.log_scale_in.exp()
        scale_out = self.log_scale_out.exp()
        weight = self.weight * self.column_scale
        z = (q @ weight.T) * scale_in + self.bias
        if self.activation == "stretch":
            s = torch.sqrt(1.0 + z * z)
            excess = z * z / (1.0 + s)  # s - 1 without cancellation, as the kernel has it
            value = (scale_out * 0.5 * z * z * excess / (s + 1.0)).sum(-1)
            grad = (scale_out * scale_in * z * excess / s) @ weight
            return value, grad
        slope = torch.where(z > 0, torch.ones_like(z), torch.full_like(z, LEAK))
        value = (scale_out * 0.5 * slope * z * z).sum(-1)
        grad = (scale_out * scale_in * slope * z) @ weight
        return value, grad

    def force(self, q: torch.Tensor) -> torch.Tensor:
        """grad V (B, M): the nonlinear force per unit nu^2, as the training loss asks."""
        return self(q)[1]

    @torch.no_grad()
    def calibrate(self, q: torch.Tensor, force: torch.Tensor) -> float:
        """Scale V (shift log_scale_out) so that grad V best fits `force` (B, M) at q (B, M)
        in least squares; returns the factor applied."""
        grad = self(q)[1]
        factor = float((grad * force).sum() / (grad * grad).sum().clamp_min(1e-300))
        if factor > 0.0:
            self.log_scale_out += math.log(factor)
        return factor

    def export(self) -> dict:
        """W (H, M), b, s_in and s_out (H,) as float64 numpy arrays, for `synth` presets."""
        tensors = {"weight": self.weight * self.column_scale, "bias": self.bias,
                   "log_scale_in": self.log_scale_in, "log_scale_out": self.log_scale_out}
        return {name: t.detach().to(torch.float64).cpu().numpy() for name, t in tensors.items()}

    @classmethod
    def from_export(cls, tensors: dict, dtype=torch.float64, activation: str = "leaky",
                    column_scale: torch.Tensor | None = None) -> GradNetPotential:
        """The potential with exported parameters, W stored over `column_scale` (M,)
        (default 1: W is taken as is)."""
        hidden, n_modes = tensors["weight"].shape
        scale = torch.ones(n_modes) if column_scale is None else column_scale
        net = cls(n_modes, hidden, dtype=dtype, column_scale=scale, activation=activation)
        with torch.no_grad():
            for name, value in tensors.items():
                getattr(net, name).copy_(torch.as_tensor(value, dtype=dtype))
            net.weight /= net.column_scale
        return net


def _network(recipe, dtype) -> GradNetPotential:
    generator = torch.Generator().manual_seed(recipe.seed)
    return GradNetPotential(recipe.n_modes, recipe.option("hidden"), dtype=dtype,
                            generator=generator, activation=recipe.option("activation"))


def _check(options: dict, where: str) -> None:
    if options["activation"] not in ACTIVATIONS:
        raise ParameterError(f"{where}: model.activation must be one of {tuple(ACTIVATIONS)}, got "
                             f"{options['activation']!r}")


def _export(recipe, config, potential: GradNetPotential, name: str) -> Preset:
    """A sav-gradnet preset whose string defaults are the centre of the training ranges."""
    string = StringParams(**{key: config.centre(key) for key in
                             ("gamma", "kappa", "nu", "sigma0", "sigma1")})
    return Preset(
        name=name, kind="sav-gradnet", n_modes=recipe.n_modes,
        model={"potential": "gradnet", "activation": potential.activation}, string=string,
        reference_note=frequency_note(string.gamma / 2.0), excitation_type="pluck",
        pluck_position=0.2, excitation_width_ms=1000.0 * config.centre("t_e"),
        amplitude=float(config.ranges["amplitude"][1]), pickup=0.8, output_gain=1.0,
        description=(f"A learned string: a {recipe.option('hidden')}-unit convex GradNet "
                     f"potential ({potential.activation} activation) trained through the SAV "
                     f"scheme on {config.name} (stable by construction; tension, stiffness "
                     "and damping stay live)."),
        tensors={f"gradnet.{key}": value for key, value in potential.export().items()})


FAMILY = Family(
    name="gradnet", title="SAV-GradNet: a convex GradNet potential trained through the SAV "
                          "scheme (plays as sav-gradnet)",
    options={"hidden": 128, "activation": "leaky"}, network=_network,
    scheme=SegmentTraining(SAVScheme), export=_export, check=_check)
