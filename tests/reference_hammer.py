"""An independent check of the hammer: a piano string struck by a felt hammer, simulated by
finite differences in space and time (leapfrog, as in Chaigne & Askenfelt's paper I), with
no modes, no auxiliary variable and nothing shared with `synth`. Lossless, simply supported,
the hammer a point; SI units throughout."""

import numpy as np


def finite_difference_strike(length, density, tension, bending, mass, stiffness, exponent,
                             position, speed, duration, segments=200, dt=2.5e-7):
    """The felt's force K max(y - u(x0), 0)^p (N) at every time step (dt s) for `duration` s:
    string of length (m), linear density (kg/m), tension (N), bending stiffness E I (N m^2);
    hammer of mass (kg) and felt (stiffness N/m^p, exponent), striking at `position` (a
    fraction of the length) at `speed` (m/s)."""
    h = length / segments
    node = round(position * segments)
    u, u_old = np.zeros(segments + 1), np.zeros(segments + 1)
    y, y_old = 0.0, -speed * dt
    forces = np.zeros(round(duration / dt))
    second = np.zeros(segments + 1)
    fourth = np.zeros(segments + 1)
    for n in range(forces.size):
        force = stiffness * max(y - u[node], 0.0) ** exponent
        forces[n] = force
        second[1:-1] = (u[2:] - 2.0 * u[1:-1] + u[:-2]) / h ** 2  # u_xx = 0 at the ends
        fourth[1:-1] = (second[2:] - 2.0 * second[1:-1] + second[:-2]) / h ** 2
        acceleration = (tension * second - bending * fourth) / density
        acceleration[node] += force / (density * h)
        u_new = 2.0 * u - u_old + dt * dt * acceleration
        u_new[0] = u_new[-1] = 0.0
        y_new = 2.0 * y - y_old - dt * dt * force / mass
        u_old, u, y_old, y = u, u_new, y, y_new
    return forces
