"""Laplace releases through OpenDP, with the noise scale reported beside every answer.

OpenDP samples the noise (exactly, on a discretized grid, so floating-point attacks on textbook Laplace do not apply)
and its privacy map says what a release costs: the scale is chosen as sensitivity / epsilon and then checked against
OpenDP's own accounting, so a release never spends more than it was given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import opendp.prelude as dp

dp.enable_features("contrib")


@dataclass(frozen=True)
class NoiseInfo:
    mechanism: str
    epsilon: float
    sensitivity: float
    scale: float  # Laplace b: the noise's standard deviation is b·√2
    parts: dict[str, NoiseInfo] = field(default_factory=dict)  # AVG: the sum's and the count's releases

    @property
    def std(self) -> float:
        return self.scale * math.sqrt(2)

    def with_parts(self, **parts: NoiseInfo) -> NoiseInfo:
        return replace(self, mechanism="laplace (sum / count)", parts=parts)

    def as_dict(self) -> dict:
        out = {
            "mechanism": self.mechanism,
            "epsilon": self.epsilon,
            "sensitivity": self.sensitivity,
            "scale": self.scale,
            "std": self.std,
        }
        if self.parts:
            out["parts"] = {name: part.as_dict() for name, part in self.parts.items()}
        return out


def laplace_mechanism(*, sensitivity: float, epsilon: float):
    """An OpenDP measurement adding Laplace noise to a vector whose L1 sensitivity is ``sensitivity``."""
    if not epsilon > 0 or not sensitivity > 0:
        raise ValueError("epsilon and sensitivity must be positive")
    space = dp.vector_domain(dp.atom_domain(T=float, nan=False)), dp.l1_distance(T=float)
    scale = sensitivity / epsilon
    for _ in range(60):  # OpenDP rounds its accounting conservatively: widen the scale until it fits the budget
        measurement = dp.m.make_laplace(*space, scale=scale)
        if measurement.map(sensitivity) <= epsilon:
            return measurement, scale
        scale *= 1 + 1e-9
    raise ValueError("could not fit the Laplace scale to the budget")  # pragma: no cover - OpenDP rounds by ulps


def laplace_release(values: np.ndarray, *, sensitivity: float, epsilon: float) -> tuple[np.ndarray, NoiseInfo]:
    measurement, scale = laplace_mechanism(sensitivity=sensitivity, epsilon=epsilon)
    noisy = np.asarray(measurement([float(v) for v in values]), dtype=float)
    return noisy, NoiseInfo("laplace", epsilon=epsilon, sensitivity=sensitivity, scale=scale)
