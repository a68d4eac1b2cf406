"""torch access to datasets made by `neural-strings dataset` (see `synth.dataset`).

Files are memory-mapped: an item is read from disk only when it is used, so a dataset larger
than memory trains fine.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from synth.dataset import StoredDataset


class StringDataset(Dataset):
    """Whole strings: item i is a dict with the simulate parameters (`params`) and float
    tensors q, p (N, M), psi and w (N,), time-major, sample n being the state after n + 1
    steps. Each item is read from its file when requested."""

    def __init__(self, directory, dtype: torch.dtype = torch.float64) -> None:
        self.stored = StoredDataset(directory)
        self.dtype = dtype

    def __len__(self) -> int:
        return len(self.stored)

    def __getitem__(self, index: int) -> dict:
        item = self.stored[index]
        return {"params": item.params, **{name: self._tensor(getattr(item, name))
                                          for name in ("q", "p", "psi", "w")}}

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        """Read a mapped array into a tensor of the dataset's dtype."""
        return torch.from_numpy(np.array(array)).to(self.dtype)
