"""What the gradient refinements of a fit minimise (docs/design.md, "Fitting a preset to
recordings"), in torch and differentiable in the render: a multi-resolution spectral loss in
log magnitudes (`spectral_distance`, `acoustics.log_spectral_distance` itself, dB) and in
linear ones (`spectral_convergence`), and how far a render's pitch track is from the
recording's (`pitch_distance`, cents).

The log distance hears every partial and the noise between them alike, down to 60 dB under
the loudest bin; the linear term hears what is loud, the strong partials of the attack, which
the log one weighs no more than a quiet one. The pitch track is each of the first partials'
frequency frame by frame: the signal is turned down by the recording's own partial
frequency (multiplied by exp(-2 pi i f t)), Hann frames TRACK_PERIODS periods of the
fundamental long are summed, and the phase advance from one frame to the next, over the hop,
is how far the partial sounds above that frequency. A frame that long passes a neighbouring
partial (one fundamental away, TRACK_PERIODS bins of the frame) 60 dB down, so one no louder
than the tracked partial cannot pull its track by more than a small fraction of a cent.
"""

from __future__ import annotations

import math

import torch

from synth import acoustics

LINEAR_WEIGHT = 1.0  # dB a unit of spectral convergence counts as in `loss` (docs/design.md:
# more weight made the held-out notes of `bench fit`'s piano further from their recordings)
PITCH_WEIGHT = 0.2  # dB a cent of pitch-track distance counts as in `loss`: a just-noticeable
# pitch difference (about 5 cents) as much as a just-noticeable level difference (about 1 dB)
TRACK_PERIODS = 8  # a pitch-track frame, in periods of the fundamental
TRACK_HOP_PERIODS = 2  # and its hop
TRACK_PARTIALS = 4  # the partials tracked: 1..4
TRACK_RANGE = 30.0  # dB: a frame counts where the recording's partial and the render's are
# within this of the recording's loudest frame of that partial


def _unit_rms(x: torch.Tensor) -> torch.Tensor:
    return x / x.pow(2).mean().sqrt().clamp_min(1e-300)


def _magnitudes(x: torch.Tensor, y: torch.Tensor, fs: float):
    """Each of `acoustics.SPECTRAL_FRAMES`' STFT magnitudes of x and y (N,), cut to the
    shorter and each at unit RMS, as `acoustics.log_spectral_distance` frames them."""
    length = min(x.shape[-1], y.shape[-1])
    x, y = _unit_rms(x[:length]), _unit_rms(y[:length])
    for size in acoustics.SPECTRAL_FRAMES:
        frame = min(max(round(size * fs / 48000.0), 16), length)
        window = torch.hann_window(frame, periodic=False, dtype=x.dtype)  # np.hanning's
        yield tuple(torch.stft(s, frame, hop_length=max(frame // 4, 1), window=window,
                               center=False, return_complex=True).abs() for s in (x, y))


def spectral_distance(x: torch.Tensor, y: torch.Tensor, fs: float) -> torch.Tensor:
    """`acoustics.log_spectral_distance` (dB) in torch, differentiable in x and y (N,)."""
    distances = []
    for magnitudes in _magnitudes(x, y, fs):
        levels = []
        for magnitude in magnitudes:
            level = 20 * torch.log10(magnitude.clamp_min(1e-300))
            levels.append(torch.maximum(level, level.max().detach()
                                        - acoustics.SPECTRAL_RANGE))
        sounding = ((levels[0] > levels[0].min()) | (levels[1] > levels[1].min())).detach()
        distances.append((levels[0] - levels[1]).abs()[sounding].mean())
    return torch.stack(distances).mean()


def spectral_convergence(x: torch.Tensor, y: torch.Tensor, fs: float) -> torch.Tensor:
    """The linear magnitudes' distance of x from y (N,), each at unit RMS: the mean over
    `acoustics.SPECTRAL_FRAMES` of || |X| - |Y| || / || |Y| || (Frobenius norms); 0 for the
    same sound, sqrt(2) for two that share no bin."""
    return torch.stack([(mx - my).norm() / my.norm().clamp_min(1e-300)
                        for mx, my in _magnitudes(x, y, fs)]).mean()


def _advances(x: torch.Tensor, fs: float, frequencies: torch.Tensor
              ) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Each partial's phase advance from one frame to the next as a complex number (P, J),
    the quieter of the two frames' power (P, J; of the windowed sum, not in dBFS) and the
    hop in samples: J + 1 frames of TRACK_PERIODS periods of frequencies[0] (partial 1),
    hop TRACK_HOP_PERIODS; J = 0 under two frames."""
    period = fs / float(frequencies[0])
    frame, hop = round(TRACK_PERIODS * period), round(TRACK_HOP_PERIODS * period)
    if x.shape[-1] < frame + hop:
        empty = x.new_zeros((len(frequencies), 0))
        return empty.to(torch.complex128), empty, hop
    t = torch.arange(x.shape[-1], dtype=x.dtype) / fs
    turned = x * torch.exp(-2j * math.pi * frequencies[:, None].to(x.dtype) * t)  # (P, N)
    window = torch.hann_window(frame, periodic=False, dtype=x.dtype)
    sums = (turned.unfold(-1, frame, hop) * window).sum(-1)  # (P, J + 1)
    power = sums.abs() ** 2
    return sums[:, 1:] * sums[:, :-1].conj(), torch.minimum(power[:, 1:], power[:, :-1]), hop


def _hertz(advance: torch.Tensor, fs: float, hop: int) -> torch.Tensor:
    """The frequency (Hz) a phase advance (radians over `hop` samples) adds."""
    return advance * fs / (2.0 * math.pi * hop)


def _cents(advance: torch.Tensor, fs: float, hop: int, frequencies: torch.Tensor
           ) -> torch.Tensor:
    """The frequency a phase advance (radians over `hop` samples) adds to `frequencies`
    (P, 1) Hz, in cents of them."""
    return 1200.0 * torch.log2(1.0 + _hertz(advance, fs, hop) / frequencies)


def pitch_track(x: torch.Tensor, fs: float, frequencies: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """How far each of the partials at `frequencies` (P,) Hz (partial 1 first: it sets the
    frame) sounds above that frequency in x (N,), between each two frames (the module
    docstring): cents (P, J), and the quieter frame's level in dB (P, J) of its windowed
    sum (not dBFS); (P, 0) under two frames. A track is unambiguous within a quarter of
    the fundamental of its frequency (the hop is 2 periods): +-386 cents on partial 1,
    +-105 on partial 4."""
    advance, power, hop = _advances(x, fs, frequencies)
    level = 10.0 * torch.log10(power.clamp_min(1e-300))
    return _cents(torch.angle(advance), fs, hop, frequencies[:, None]), level


def pitch_distance(x: torch.Tensor, y: torch.Tensor, fs: float,
                   frequencies: torch.Tensor) -> torch.Tensor:
    """How far x's pitch track is from the recording y's (both (N,) from their onsets), in
    cents: the mean magnitude of their difference over the partials at `frequencies` (P,)
    Hz (partial 1 first) and the frames where both sound (each within TRACK_RANGE of the
    recording's loudest frame of that partial; where the render's partial is missing its
    track is noise, and its gradient would grow as 1 / its magnitude), weighted by the
    recording's power there; 0 under two frames. The difference is taken between the
    phase advances (so unambiguous within a quarter of the fundamental, whatever each
    track is)."""
    length = min(x.shape[-1], y.shape[-1])
    ours, our_power, hop = _advances(x[:length], fs, frequencies)
    theirs, their_power, _ = _advances(y[:length], fs, frequencies)
    if theirs.shape[-1] == 0:
        return x.new_zeros(())
    theirs, their_power, our_power = theirs.detach(), their_power.detach(), our_power.detach()
    floor = their_power.max(-1, keepdim=True).values * 10.0 ** (-TRACK_RANGE / 10.0)
    weight = torch.where((their_power > floor) & (our_power > floor),
                         their_power / their_power.max().clamp_min(1e-300), 0.0)
    sounding = frequencies[:, None] + _hertz(torch.angle(theirs), fs, hop)
    apart = _cents(torch.angle(ours * theirs.conj()), fs, hop, sounding)
    return (apart.abs() * weight).sum() / weight.sum().clamp_min(1e-300)


def loss(x: torch.Tensor, y: torch.Tensor, fs: float, partials: torch.Tensor) -> torch.Tensor:
    """What a refinement minimises, of a render x against the recording y (N,) whose
    partials 1, 2, ... sound at `partials` Hz (the first TRACK_PARTIALS are tracked), in dB:
    the multi-resolution spectral loss (the log distance plus LINEAR_WEIGHT times the
    linear one) plus PITCH_WEIGHT times the pitch track's distance."""
    return (spectral_distance(x, y, fs) + LINEAR_WEIGHT * spectral_convergence(x, y, fs)
            + PITCH_WEIGHT * pitch_distance(x, y, fs, partials[:TRACK_PARTIALS]))
