"""Windows from the onset: the training samples of the sequence families (Koopman, SSM).

These families map an excitation to a whole trajectory, so a sample is a string seen at
random sample indices in its first `window` samples (recorded sample n is the state after
n + 1 steps), with, for the Koopman latent consistency, the same string a random lag later.
Every string of a batch is seen at the same indices, so lambda^n is computed once per batch.
In a window longer than FIRST samples, half the indices fall in the first FIRST: the onset,
where the pitch glides and the ear (and the accuracy metric) listen hardest, keeps its weight.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch

from models.strings import StringBatch
from synth.dataset import DatasetConfig, StoredDataset
from synth.errors import ParameterError
from synth.physics.strings import StringParams

TIMES = 512  # sample indices per batch
FIRST = 4800  # samples (0.1 s at 48 kHz): half of a longer window's indices fall in these
MAX_LAG = 4800  # samples: the latent consistency looks up to this far ahead


@dataclass(frozen=True)
class Windows:
    """A batch: strings (B) with excitation positions (B,), sample indices `steps` (T,),
    recorded q, p (B, T, M), and q_later, p_later (B, T, M) at steps + lag (T,)."""

    strings: StringBatch
    position: torch.Tensor
    steps: torch.Tensor
    q: torch.Tensor
    p: torch.Tensor
    lag: torch.Tensor
    q_later: torch.Tensor
    p_later: torch.Tensor


class WindowSampler:
    """Draws `Windows` of `window` samples from the strings of a stored dataset."""

    def __init__(self, directory, window: int, dtype=torch.float64, times: int = TIMES) -> None:
        self.data = StoredDataset(directory)
        self.dtype, self.times = dtype, times
        self.strings = StringBatch.from_params(self.data.strings, dtype=dtype)
        self.positions = torch.as_tensor([s["x_e"] for s in self.data.strings], dtype=dtype)
        items = [self.data[i] for i in range(len(self.data))]
        # in memory: random rows of a memory-mapped file cost a page fault each
        self.q = np.stack([np.asarray(item.q) for item in items])  # (N, S, M)
        self.p = np.stack([np.asarray(item.p) for item in items])
        self.n_samples = self.q.shape[1]
        if window < 1:
            raise ValueError(f"a window needs at least one sample, got {window}")
        self.window = min(window, self.n_samples)

    def with_window(self, window: int) -> WindowSampler:
        """The same strings (sharing memory) with another window."""
        other = copy.copy(self)
        other.window = min(max(window, 1), self.n_samples)
        return other

    @property
    def n_strings(self) -> int:
        return self.q.shape[0]

    def sample(self, batch: int, generator: np.random.Generator) -> Windows:
        """`batch` random strings at `times` random indices in the window."""
        which = generator.integers(0, self.n_strings, batch)
        half = self.times // 2 if self.window > FIRST else 0
        steps = np.sort(np.concatenate([generator.integers(0, FIRST, half),
                                        generator.integers(0, self.window, self.times - half)]))
        later = np.minimum(steps + generator.integers(1, MAX_LAG + 1, self.times),
                           self.n_samples - 1)
        q, p = self._read(which, steps)
        q_later, p_later = self._read(which, later)
        as_index = lambda a: torch.as_tensor(a, dtype=torch.int64)  # noqa: E731
        return Windows(self.strings.select(as_index(which)), self.positions[which],
                       as_index(steps), q, p, as_index(later - steps), q_later, p_later)

    def _read(self, which: np.ndarray, steps: np.ndarray) -> tuple[torch.Tensor, ...]:
        rows = (which[:, None], steps[None, :])
        return (torch.as_tensor(self.q[rows], dtype=self.dtype),
                torch.as_tensor(self.p[rows], dtype=self.dtype))


def one_string(config: DatasetConfig) -> tuple[StringParams, float, float, float]:
    """(string, fs, amplitude scale, width scale in s) of a dataset of one string and many
    excitations, which the families trained on windows need (they learn one string's
    dynamics); the scales are the largest amplitude and width it holds."""
    keys = ("gamma", "kappa", "nu", "sigma0", "sigma1")
    varying = [key for key in keys if np.ptp(config.ranges[key]) > 0]
    if varying:
        raise ParameterError(f"dataset {config.name!r} varies {', '.join(varying)}: this "
                             "family learns one string (give each a single value)")
    largest = {key: float(np.max(config.ranges[key])) for key in (*keys, "amplitude", "t_e")}
    string = StringParams(**{key: largest[key] for key in keys})
    return string, float(config.settings["fs"]), largest["amplitude"], largest["t_e"]
