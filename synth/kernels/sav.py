"""The SAV step for the modal string (docs/design.md, "The string and its SAV step") as Numba
kernels.

State per string: modal displacements q and momenta p, shape (M,), and the scalar auxiliary
variable psi ~ sqrt(2 V(q) + eps). One step of length k:

    q_half = q + (k/2) p
    g      = grad V(q_half) / sqrt(2 V(q_half) + eps) + g_mod
    (p' - p)/k = -omega_s^2 q_half - sigma_s (p' + p) - nu^2 g psi_half + Phi_e f(t_{n+1/2})
    psi_half = psi + (k/4) g.(p + p'),  psi' = psi + (k/2) g.(p + p'),  q' = q_half + (k/2) p'

with drift control g_mod = -lambda0 (psi - sqrt(2 V(q) + eps)) sign(p) / (|p|_1 + eps) evaluated
at the step's start, as in the paper's code. The p' system is diagonal plus rank one and is
solved by Sherman-Morrison. The discrete energy

    E = 1/2 p.(1 - k^2 omega_s^2 / 4) p + 1/2 omega_s^2 q.q + 1/2 nu^2 psi^2

never grows without forcing, whatever g is, so the scheme is stable for any potential V >= 0.

Only the first n_act modes are advanced; the rest stay zero (dropped modes). Kernels work in
float32 or float64, following the dtype of the state arrays; scalars should match it. They
are compiled for the potential's tables (`synth.kernels.potentials`), so each potential gets
its own specialised loop.
"""

import numpy as np
from numba import njit

from synth.kernels.formulas import excitation_force
from synth.kernels.options import INLINE, INTERNAL, KERNEL
from synth.kernels.potentials import is_linear, potential

EPS = 1e-12  # regularises sqrt(2 V + eps) at rest
LAMBDA0 = 1e3  # drift-control rate (1/s), the paper's value

GRAD_ROW = 4  # scratch row this module uses (rows 0..3 belong to the potential)


@njit(**INLINE)
def sav_step(q, p, psi, n_act, decay, stiff, gain, nu2, phi_e, phi_o, force, k, lambda0,
             tables, scratch, grad):
    """Advance one string by one step in place and return (psi', w').

    q, p: state (M,), updated; psi: auxiliary scalar; n_act: modes advanced; decay, stiff,
    gain: per-mode coefficients from `linear.sav_coefficients` (M,); nu2: nu^2; phi_e, phi_o:
    excitation and pickup mode shapes (M,); force: f(t_{n+1/2}); k: time step (s); lambda0:
    drift-control rate (1/s, 0 disables it); tables: the potential's; scratch:
    (SCRATCH_ROWS, >= M + 1) work array; grad: its row GRAD_ROW, passed as a view made once
    per block. w' = phi_o . q' is the output displacement.
    """
    dt = q.dtype.type
    zero, one = dt(0.0), dt(1.0)
    two, quarter = dt(2.0), dt(0.25)
    eps = dt(EPS)
    half_k = dt(0.5) * k
    out = zero
    if is_linear(tables):
        for m in range(n_act):
            pn = decay[m] * p[m] - stiff[m] * q[m] - half_k * stiff[m] * p[m] \
                + gain[m] * phi_e[m] * force
            q[m] += half_k * (p[m] + pn)
            p[m] = pn
            out += phi_o[m] * q[m]
        return psi, out

    # Sherman-Morrison, folded: with base = decay p - stiff q_half + gain phi_e f, u = gain g
    # and coupling = nu^2 psi + h g.p, the solution is p' = base - shift u with
    # shift = (coupling + h g.base) / (1 + h g.u), so one pass after the gradient suffices.
    correction = zero
    v_now = zero
    if lambda0 > zero:
        v_now = potential(tables, q, n_act, scratch, grad, False)
    norm1 = zero
    for m in range(n_act):
        norm1 += abs(p[m])
        q[m] += half_k * p[m]  # q now holds q_half
    if lambda0 > zero:
        correction = -lambda0 * (psi - np.sqrt(two * v_now + eps)) / (norm1 + eps)
    v_half = potential(tables, q, n_act, scratch, grad, True)
    inv_root = one / np.sqrt(two * v_half + eps)
    g_dot_p = zero
    g_dot_u = zero
    g_dot_base = zero
    for m in range(n_act):
        # Branch-free sign(p) with sign(0) = 0 (np.sign branches and mispredicts).
        sign = (one if p[m] > zero else zero) - (one if p[m] < zero else zero)
        g = grad[m] * inv_root + correction * sign
        grad[m] = g
        base = decay[m] * p[m] - stiff[m] * q[m] + gain[m] * phi_e[m] * force
        g_dot_p += g * p[m]
        g_dot_u += g * gain[m] * g
        g_dot_base += g * base
    h = quarter * k * nu2
    coupling = nu2 * psi + h * g_dot_p
    shift = (coupling + h * g_dot_base) / (one + h * g_dot_u)  # coupling + rank-one term
    g_dot_pn = zero
    for m in range(n_act):
        pn = decay[m] * p[m] - stiff[m] * q[m] + gain[m] * phi_e[m] * force \
            - shift * gain[m] * grad[m]
        p[m] = pn
        g_dot_pn += grad[m] * pn  # from p' as computed, so the energy balance holds to rounding
        q[m] += half_k * pn
        out += phi_o[m] * q[m]
    return psi + half_k * (g_dot_p + g_dot_pn), out


@njit(**INTERNAL)
def _run(q, p, psi, n_act, decay, stiff, gain, nu2, phi_e, phi_o, elapsed, exc_amp, exc_len,
         exc_shape, k, lambda0, tables, scratch, out, record, q_rec, p_rec, psi_rec):
    """Advance one string len(out) steps; return psi. Writes w to out; if record, also
    writes every state to q_rec, p_rec (N, M), psi_rec (N,)."""
    grad = scratch[GRAD_ROW]
    for n in range(out.shape[0]):
        force = q.dtype.type(excitation_force(elapsed + n, exc_amp, exc_len, exc_shape))
        psi, out[n] = sav_step(q, p, psi, n_act, decay, stiff, gain, nu2, phi_e, phi_o, force,
                               k, lambda0, tables, scratch, grad)
        if record:
            for m in range(q.shape[0]):
                q_rec[n, m] = q[m]
                p_rec[n, m] = p[m]
            psi_rec[n] = psi
    return psi


@njit(**KERNEL)
def sav_block(voices, q, p, psi, n_act, decay, stiff, gain, nu2, phi_e, phi_o,
              exc_elapsed, exc_amp, exc_len, exc_shape, k, lambda0, tables, scratch, out):
    """Advance the strings listed in `voices` by out.shape[1] steps; write w to out[b, :].

    Per-string arrays are indexed by string b: q, p, decay, stiff, gain, phi_e, phi_o (B, M);
    psi, n_act, nu2, exc_* (B,). The excitation of string b starts exc_elapsed[b] steps ago
    (negative: starts later), lasts exc_len[b] steps and has amplitude exc_amp[b] and shape
    exc_shape[b]; exc_elapsed advances with the block. Nothing is allocated.
    """
    n_steps = out.shape[1]
    no_record = scratch[:1, :1]
    for i in range(voices.shape[0]):
        b = voices[i]
        psi[b] = _run(q[b], p[b], psi[b], n_act[b], decay[b], stiff[b], gain[b], nu2[b],
                      phi_e[b], phi_o[b], exc_elapsed[b], exc_amp[b], exc_len[b], exc_shape[b],
                      k, lambda0, tables, scratch, out[b], False, no_record, no_record,
                      no_record[0])
        exc_elapsed[b] += n_steps


@njit(**KERNEL)
def sav_record(q, p, psi, n_act, decay, stiff, gain, nu2, phi_e, phi_o,
               exc_elapsed, exc_amp, exc_len, exc_shape, k, lambda0, tables, scratch, q_rec,
               p_rec, psi_rec, w_rec):
    """Advance one string len(w_rec) steps, recording every state; return the final psi.

    q, p: state (M,), updated in place; q_rec, p_rec: (N, M) and psi_rec, w_rec: (N,), row n
    being the state after n + 1 steps (float32 or float64, whatever the state's dtype). Other
    arguments as in `sav_block`, for a single string.
    """
    return _run(q, p, psi, n_act, decay, stiff, gain, nu2, phi_e, phi_o, exc_elapsed, exc_amp,
                exc_len, exc_shape, k, lambda0, tables, scratch, w_rec, True, q_rec, p_rec,
                psi_rec)
