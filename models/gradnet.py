"""The convex gradient network (C-GradNet) potential in torch (DESIGN.md section 6).

V(q) = sum_j exp(s_out_j) A(exp(s_in_j) (W q)_j + b_j), with A(z) = z max(z, 0.01 z) / 2 the
antiderivative of LeakyReLU(0.01): V >= 0 and convex, and its gradient
W^T [exp(s_out) exp(s_in) LeakyReLU(exp(s_in) W q + b)] shares W q with V.
"""

from __future__ import annotations

import torch
from torch import nn

LEAK = 0.01


class GradNetPotential(nn.Module):
    """V and grad V of a C-GradNet over n_modes modal displacements with `hidden` units."""

    def __init__(self, n_modes: int, hidden: int, log_scale_std: float = 1e-2,
                 dtype=torch.float64, generator: torch.Generator | None = None) -> None:
        super().__init__()
        weight = torch.empty(hidden, n_modes, dtype=dtype)
        nn.init.kaiming_normal_(weight, a=LEAK, generator=generator)
        self.weight = nn.Parameter(weight)
        self.bias = nn.Parameter(torch.zeros(hidden, dtype=dtype))
        self.log_scale_in = nn.Parameter(
            log_scale_std * torch.randn(hidden, dtype=dtype, generator=generator))
        self.log_scale_out = nn.Parameter(
            log_scale_std * torch.randn(hidden, dtype=dtype, generator=generator))

    def forward(self, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(V (B,), grad V (B, M)) for q (B, M)."""
        scale_in = self.log_scale_in.exp()
        scale_out = self.log_scale_out.exp()
        z = (q @ self.weight.T) * scale_in + self.bias
        slope = torch.where(z > 0, torch.ones_like(z), torch.full_like(z, LEAK))
        value = (scale_out * 0.5 * slope * z * z).sum(-1)
        grad = (scale_out * scale_in * slope * z) @ self.weight
        return value, grad

    def export(self) -> dict:
        """The raw parameters as float64 numpy arrays, for `synth` presets and kernels."""
        return {name: getattr(self, name).detach().to(torch.float64).cpu().numpy()
                for name in ("weight", "bias", "log_scale_in", "log_scale_out")}
