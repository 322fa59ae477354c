"""Demo files to the flat arrays learners train on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def flat_obs(obs: Mapping[str, np.ndarray], layout: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """Rows of the env's flat observation vector, assembled from per-key datasets by ``layout``."""
    return np.concatenate([np.asarray(obs[row["field"]]).reshape(len(obs[row["field"]]), -1) for row in layout], axis=1)
