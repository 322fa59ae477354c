"""The socket's orientation from the pan-tilt angles (pan about z, then tilt about y; hole along +x)."""

from __future__ import annotations

import math

import numpy as np


def socket_quat(pan: float, tilt: float) -> np.ndarray:
    """Unit quaternion (w, x, y, z), w >= 0, of R_z(pan) R_y(tilt) R_y(pi/2), as the sim's socket body."""
    qz = np.array([math.cos(pan / 2), 0.0, 0.0, math.sin(pan / 2)])
    qy = np.array([math.cos((tilt + math.pi / 2) / 2), 0.0, math.sin((tilt + math.pi / 2) / 2), 0.0])
    q = _mul(qz, qy)
    return q if q[0] >= 0 else -q


def _mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    w1, x1, y1, z1 = a
    w2, x2, y2, z2 = b
    return np.array(
        [
            w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
            w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
            w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
            w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2,
        ]
    )
