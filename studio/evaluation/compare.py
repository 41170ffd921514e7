"""Two sets of pieces (or texts) compared statistic by statistic, the mgeval way (Yang & Lerch, 2018).

For one statistic, the reference set's intra-set distances (between two of its members) and the
inter-set distances (between a generated and a reference member) are two distributions; smoothed with a
Gaussian kernel, their overlap area and the KL divergence of one from the other say how alike the sets
are: a generated set drawn from the reference's own distribution lies as far from the reference as the
reference's members lie from each other. The reference side is the yardstick, as in the paper's tables;
the generated set's own intra-set distances against the same inter-set ones (mgeval's second pair) are
kept too: they fall apart when the generated set has collapsed, even onto the data's typical value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Union

import numpy as np
from scipy.spatial.distance import cdist, pdist
from scipy.stats import gaussian_kde

Value = Union[float, np.ndarray]
GRID = 512


@dataclass(frozen=True)
class Comparison:
    """How one statistic of a generated set compares with the reference set."""

    generated_mean: float  # mean of the statistic (its norm for vectors) over the generated set
    reference_mean: float
    overlap: float  # overlap area of intra-set(reference) and inter-set distance densities, in [0, 1]
    kl_divergence: float  # KL(intra-set(reference) || inter-set), in nats
    generated_overlap: float  # overlap area of intra-set(generated) and inter-set distance densities
    generated_kl_divergence: float  # KL(intra-set(generated) || inter-set), in nats

    def as_dict(self) -> dict[str, float]:
        """Plain data for reports."""
        return {
            "generated_mean": self.generated_mean,
            "reference_mean": self.reference_mean,
            "overlap": self.overlap,
            "kl_divergence": self.kl_divergence,
            "generated_overlap": self.generated_overlap,
            "generated_kl_divergence": self.generated_kl_divergence,
        }


def _vectors(values: Sequence[Value]) -> np.ndarray:
    return np.stack([np.atleast_1d(np.asarray(v, dtype=float)) for v in values])


def intra_set_distances(values: Sequence[Value]) -> np.ndarray:
    """Euclidean distances between every pair of members of one set (pair (0, 1), (0, 2), ... (1, 2), ...)."""
    return pdist(_vectors(values))


def inter_set_distances(first: Sequence[Value], second: Sequence[Value]) -> np.ndarray:
    """Euclidean distances between every member of one set and every member of the other."""
    return cdist(_vectors(first), _vectors(second)).reshape(-1)


def _density(samples: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """A Gaussian-kernel density on `grid`; a set of one repeated value becomes a narrow bump there."""
    if samples.size < 2 or np.ptp(samples) == 0:
        width = max(1e-3, (grid[-1] - grid[0]) / 100)
        density = np.exp(-0.5 * ((grid - samples.mean()) / width) ** 2)
    else:
        density = gaussian_kde(samples)(grid)
    return density / max(density.sum() * (grid[1] - grid[0]), 1e-300)


def overlap_and_kl(inside: np.ndarray, across: np.ndarray) -> tuple[float, float]:
    """Overlap area of two distance distributions, and KL(inside || across) in nats, on a shared grid."""
    low = min(inside.min(), across.min())
    high = max(inside.max(), across.max())
    pad = 0.1 * (high - low) + 1e-6
    grid = np.linspace(max(0.0, low - pad), high + pad, GRID)
    step = grid[1] - grid[0]
    p, q = _density(inside, grid), _density(across, grid)
    overlap = float(np.minimum(p, q).sum() * step)
    eps = 1e-12
    kl = float(np.sum(p * np.log((p + eps) / (q + eps))) * step)
    return min(1.0, overlap), max(0.0, kl)


def compare(generated: Sequence[Value], reference: Sequence[Value]) -> Comparison:
    """Compare one statistic of two sets (each needs at least two members)."""
    if len(generated) < 2 or len(reference) < 2:
        raise ValueError("each set needs at least two members to compare distances")
    across = inter_set_distances(generated, reference)
    overlap, kl = overlap_and_kl(intra_set_distances(reference), across)
    generated_overlap, generated_kl = overlap_and_kl(intra_set_distances(generated), across)
    return Comparison(
        float(np.mean([np.linalg.norm(np.atleast_1d(v)) for v in generated])),
        float(np.mean([np.linalg.norm(np.atleast_1d(v)) for v in reference])),
        overlap,
        kl,
        generated_overlap,
        generated_kl,
    )
