"""An independent plain-NumPy implementation of the SAV string, for checking the kernels.

It shares no code with `synth`: the modal data are recomputed here, the exact potential uses
FFT-based orthonormal DCTs (the kernels use symmetric cosine tables), and p' is found with a
dense linear solve (the kernels use Sherman-Morrison). Only float64, one string, slow.
"""

import numpy as np

EPS = 1e-12


def dct2_ortho(x):
    """Orthonormal DCT-II along the last axis, via a length-N FFT (Makhoul's reordering)."""
    n = x.shape[-1]
    v = np.concatenate([x[..., 0::2], x[..., 1::2][..., ::-1]], axis=-1)
    spectrum = np.fft.fft(v, axis=-1)
    k = np.arange(n)
    y = np.real(spectrum * np.exp(-1j * np.pi * k / (2 * n)))
    scale = np.full(n, np.sqrt(2.0 / n))
    scale[0] = np.sqrt(1.0 / n)
    return y * scale


def dct3_ortho(y):
    """Orthonormal DCT-III (the inverse of `dct2_ortho`), via an inverse FFT."""
    n = y.shape[-1]
    scale = np.full(n, np.sqrt(2.0 / n))
    scale[0] = np.sqrt(1.0 / n)
    c = y / scale  # unnormalised DCT-II coefficients X_k
    k = np.arange(n)
    c_mirror = np.concatenate([[0.0], c[1:][::-1]])  # X_{N-k}, with X_N = 0
    v = np.real(np.fft.ifft(np.exp(1j * np.pi * k / (2 * n)) * (c - 1j * c_mirror)))
    x = np.empty(n)
    half = (n + 1) // 2
    x[0::2] = v[:half]
    x[1::2] = v[half:][::-1]
    return x


class ExactPotential:
    """V = (1/N) sum G(xi), xi = sqrt(N) DCT-III([0, beta q]), as in docs/design.md."""

    def __init__(self, n_modes):
        self.beta = np.arange(1, n_modes + 1) * np.pi
        self.n = n_modes + 1

    def slopes(self, q):
        return np.sqrt(self.n) * dct3_ortho(np.concatenate([[0.0], self.beta * q]))

    # sqrt(1 + xi^2) - 1 is written xi^2 / (1 + sqrt(1 + xi^2)) so tiny slopes keep their digits.

    def value(self, q):
        xi = self.slopes(q)
        return np.sum((xi**2 / (1.0 + np.sqrt(1.0 + xi**2))) ** 2) / self.n

    def gradient(self, q):
        xi = self.slopes(q)
        root = np.sqrt(1.0 + xi**2)
        dg = 2.0 * xi * (xi**2 / (1.0 + root)) / root  # G' = 2 xi (1 - 1 / sqrt(1 + xi^2))
        return self.beta * dct2_ortho(dg)[1:] / np.sqrt(self.n)


class KirchhoffCarrierPotential:
    def __init__(self, n_modes):
        self.beta2 = (np.arange(1, n_modes + 1) * np.pi) ** 2

    def value(self, q):
        return 0.125 * np.sum(self.beta2 * q**2) ** 2

    def gradient(self, q):
        return 0.5 * np.sum(self.beta2 * q**2) * self.beta2 * q


def modal_data(params, warp):
    """omega_s^2, sigma_s, kept-mode count, Phi_e and Phi_o from a simulate-style dict."""
    m = np.arange(1, params["n_modes"] + 1)
    beta = m * np.pi
    omega = np.sqrt(params["gamma"] ** 2 * beta**2 + params["kappa"] ** 2 * beta**4)
    sigma = params["sigma0"] + params["sigma1"] * beta**2
    k = 1.0 / params["fs"]
    keep = omega <= 0.45 * 2 * np.pi * params["fs"]
    if warp:
        # Poles of the exact damped oscillator, exp(k(-sigma +- i omega_d)): solve the scheme's
        # characteristic equation |z|^2 = (1-a)/(1+a), 2|z|cos = (2-b)/(1+a) for a and b.
        r = np.exp(-sigma * k)
        omega_d = np.sqrt(omega.astype(complex) ** 2 - sigma**2)
        cos_theta = np.real(np.cos(omega_d * k))
        a = (1 - r**2) / (1 + r**2)
        b = 2.0 - 2.0 * r * cos_theta * (1 + a)
        omega2, sigma_s = b / k**2, a / k
    else:
        keep &= k * omega < 2.0
        omega2, sigma_s = omega**2, sigma
    n_keep = int(np.argmin(keep)) if not keep.all() else len(keep)
    phi_e = np.sqrt(2) * np.sin(beta * params["x_e"])
    phi_o = np.sqrt(2) * np.sin(beta * params["x_o"])
    return omega2[:n_keep], sigma_s[:n_keep], n_keep, phi_e[:n_keep], phi_o[:n_keep]


def force(params, t):
    shape = {"pluck": 1.0, "strike": 2.0}[params["excitation"]]
    if 0.0 <= t <= params["t_e"]:
        return 0.5 * params["amplitude"] * (1.0 - np.cos(shape * np.pi * t / params["t_e"]))
    return 0.0


def simulate_reference(params, lambda0=1e3):
    """Run the SAV step of docs/design.md step by step; returns q, p (M, N), psi, w (N,)."""
    warp = params.get("warp", False)
    omega2, sigma, n_keep, phi_e, phi_o = modal_data(params, warp)
    n_modes = params["n_modes"]
    potential = {"exact": ExactPotential, "kc": KirchhoffCarrierPotential}.get(
        params["nonlinearity"])
    k = 1.0 / params["fs"]
    nu2 = params["nu"] ** 2
    n_steps = int(np.floor(params["duration"] * params["fs"] + 1e-9))
    q, p = np.zeros(n_keep), np.zeros(n_keep)
    psi = np.sqrt(EPS)
    full_potential = potential(n_modes) if potential else None

    def v_and_grad(x):
        padded = np.zeros(n_modes)
        padded[:n_keep] = x
        return full_potential.value(padded), full_potential.gradient(padded)[:n_keep]

    out_q, out_p = np.zeros((n_modes, n_steps)), np.zeros((n_modes, n_steps))
    out_psi, out_w = np.zeros(n_steps), np.zeros(n_steps)
    eye = np.eye(n_keep)
    for n in range(n_steps):
        f = force(params, (n + 0.5) * k)
        q_half = q + 0.5 * k * p
        if full_potential is None:
            g = np.zeros(n_keep)
        else:
            v_half, grad = v_and_grad(q_half)
            v_now, _ = v_and_grad(q)
            drift = psi - np.sqrt(2.0 * v_now + EPS)
            g = grad / np.sqrt(2.0 * v_half + EPS) \
                - lambda0 * drift * np.sign(p) / (np.sum(np.abs(p)) + EPS)
        # (p' - p)/k = -omega^2 q_half - sigma (p' + p) - nu^2 g (psi + k/4 g.(p + p')) + phi_e f
        matrix = eye * (1.0 + k * sigma)[:, None] + 0.25 * k * k * nu2 * np.outer(g, g)
        rhs = (1.0 - k * sigma) * p - k * omega2 * q_half - k * nu2 * g * psi \
            - 0.25 * k * k * nu2 * g * (g @ p) + k * phi_e * f
        p_next = np.linalg.solve(matrix, rhs)
        psi = psi + 0.5 * k * g @ (p + p_next)
        q = q_half + 0.5 * k * p_next
        p = p_next
        out_q[:n_keep, n], out_p[:n_keep, n] = q, p
        out_psi[n], out_w[n] = psi, phi_o @ q
    return out_q, out_p, out_psi, out_w


def contact_weights(n_keep, x_h, half_width):
    """Phi_m(x_h) times the raised-cosine contact's transform, by numerical quadrature."""
    beta = np.arange(1, n_keep + 1) * np.pi
    if half_width == 0.0:
        return np.sqrt(2) * np.sin(beta * x_h)
    s = np.linspace(-half_width, half_width, 4001)
    window = (1.0 + np.cos(np.pi * s / half_width)) / (2.0 * half_width)
    shapes = np.sqrt(2) * np.sin(beta[:, None] * (x_h + s[None, :]))
    return np.trapezoid(window[None, :] * shapes, s, axis=1)


def simulate_struck_reference(params, hammer, n_steps, lambda0=1e3):
    """The string of `params` (as `simulate_reference`, without its force pulse) struck at
    rest by a hammer: hammer = {"mass" (ratio r), "felt", "exponent", "velocity", "position",
    "half_width"} in normalised units. Both potentials get their own auxiliary variable, and
    (p', v') comes from one dense solve of the (M + 1) system. Returns the force on the string
    (N,), w (N,), and the discrete energy E_string + 1/2 r v^2 + 1/2 psi_h^2 before each
    step (N,). psi_h has no drift control; out of contact it is set back to sqrt(eps)."""
    omega2, sigma, n_keep, _, phi_o = modal_data({**params, "x_e": hammer["position"]},
                                                 params.get("warp", False))
    phi_h = contact_weights(n_keep, hammer["position"], hammer["half_width"])
    r, felt, exponent = hammer["mass"], hammer["felt"], hammer["exponent"]
    potential = {"exact": ExactPotential, "kc": KirchhoffCarrierPotential}.get(
        params["nonlinearity"])
    full = potential(params["n_modes"]) if potential else None
    k, nu2 = 1.0 / params["fs"], params["nu"] ** 2

    def v_and_grad(x):
        if full is None:
            return 0.0, np.zeros(n_keep)
        padded = np.zeros(params["n_modes"])
        padded[:n_keep] = x
        return full.value(padded), full.gradient(padded)[:n_keep]

    def felt_energy(c):
        return felt * max(c, 0.0) ** (exponent + 1) / (exponent + 1)

    q, p = np.zeros(n_keep), np.zeros(n_keep)
    y, v = 0.0, hammer["velocity"]
    psi, psi_h = np.sqrt(EPS), np.sqrt(EPS)
    forces, out_w, energy = np.zeros(n_steps), np.zeros(n_steps), np.zeros(n_steps)
    for n in range(n_steps):
        energy[n] = 0.5 * np.sum(p * p * (1.0 - k * k * omega2 / 4.0)) \
            + 0.5 * np.sum(omega2 * q * q) + 0.5 * nu2 * psi ** 2 + 0.5 * r * v * v \
            + 0.5 * psi_h ** 2
        q_half, y_half = q + 0.5 * k * p, y + 0.5 * k * v
        v_half, grad = v_and_grad(q_half)
        g = grad / np.sqrt(2.0 * v_half + EPS)
        if full is not None and lambda0 > 0.0:
            v_now, _ = v_and_grad(q)
            g = g - lambda0 * (psi - np.sqrt(2.0 * v_now + EPS)) * np.sign(p) \
                / (np.sum(np.abs(p)) + EPS)
        c_half = y_half - phi_h @ q_half
        s = felt * max(c_half, 0.0) ** exponent / np.sqrt(2.0 * felt_energy(c_half) + EPS)
        forces[n] = felt * max(c_half, 0.0) ** exponent
        # unknowns x = (p', v'); gradients of the two potentials over (q, y): G = (g, 0) and
        # H = s (-phi_h, 1); mass diag(1 + k sigma, r)
        big_g = np.concatenate([g, [0.0]])
        big_h = s * np.concatenate([-phi_h, [1.0]])
        old = np.concatenate([p, [v]])
        matrix = np.diag(np.concatenate([1.0 + k * sigma, [r]])) \
            + 0.25 * k * k * nu2 * np.outer(big_g, big_g) + 0.25 * k * k * np.outer(big_h, big_h)
        rhs = np.concatenate([(1.0 - k * sigma) * p - k * omega2 * q_half, [r * v]]) \
            - k * nu2 * big_g * (psi + 0.25 * k * big_g @ old) \
            - k * big_h * (psi_h + 0.25 * k * big_h @ old)
        new = np.linalg.solve(matrix, rhs)
        psi += 0.5 * k * big_g @ (old + new)
        psi_h += 0.5 * k * big_h @ (old + new)
        if s == 0.0 and abs(psi_h) > np.sqrt(EPS):  # out of contact: the felt at rest
            psi_h = np.sqrt(EPS)
        p, v = new[:-1], new[-1]
        q, y = q_half + 0.5 * k * p, y_half + 0.5 * k * v
        out_w[n] = phi_o @ q
    return forces, out_w, energy
