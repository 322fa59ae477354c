"""Neural network building blocks: normalisation, Gaussian policies, discriminators, forward models, flows."""

from robot_il.nn.policy import GaussianPolicy, Normalizer, mlp

__all__ = ["GaussianPolicy", "Normalizer", "mlp"]
