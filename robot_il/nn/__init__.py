"""Neural network building blocks: normalisation, Gaussian policies."""

from robot_il.nn.policy import GaussianPolicy, Normalizer, mlp

__all__ = ["GaussianPolicy", "Normalizer", "mlp"]
