"""The socket's orientation from the pan-tilt angles and the fixture's mount (pan about the mount's z, then tilt
about y; the hole facing the mount's -x at zero pan and tilt)."""

from __future__ import annotations

import math

import numpy as np


def socket_quat(pan: float, tilt: float, mount: np.ndarray | None = None) -> np.ndarray:
    """Unit quaternion (w, x, y, z), w >= 0, of R_mount R_z(pan) R_y(tilt) R_y(pi/2), as the sim's socket body;
    ``mount`` is the fixture's mount rotation in the base frame (3 x 3; None: aligned with the base)."""
    qz = np.array([math.cos(pan / 2), 0.0, 0.0, math.sin(pan / 2)])
    qy = np.array([math.cos((tilt + math.pi / 2) / 2), 0.0, math.sin((tilt + math.pi / 2) / 2), 0.0])
    q = _mul(qz, qy)
    if mount is not None and not np.array_equal(mount, np.eye(3)):
        q = _mul(_mat_quat(np.asarray(mount, dtype=np.float64)), q)
    return q if q[0] >= 0 else -q


def _mat_quat(r: np.ndarray) -> np.ndarray:
    """The unit quaternion (w, x, y, z) of a rotation matrix (Shepperd's method)."""
    trace = r[0, 0] + r[1, 1] + r[2, 2]
    if trace > 0:
        s = 2.0 * math.sqrt(trace + 1.0)
        q = [0.25 * s, (r[2, 1] - r[1, 2]) / s, (r[0, 2] - r[2, 0]) / s, (r[1, 0] - r[0, 1]) / s]
    elif r[0, 0] > r[1, 1] and r[0, 0] > r[2, 2]:
        s = 2.0 * math.sqrt(1.0 + r[0, 0] - r[1, 1] - r[2, 2])
        q = [(r[2, 1] - r[1, 2]) / s, 0.25 * s, (r[0, 1] + r[1, 0]) / s, (r[0, 2] + r[2, 0]) / s]
    elif r[1, 1] > r[2, 2]:
        s = 2.0 * math.sqrt(1.0 + r[1, 1] - r[0, 0] - r[2, 2])
        q = [(r[0, 2] - r[2, 0]) / s, (r[0, 1] + r[1, 0]) / s, 0.25 * s, (r[1, 2] + r[2, 1]) / s]
    else:
        s = 2.0 * math.sqrt(1.0 + r[2, 2] - r[0, 0] - r[1, 1])
        q = [(r[1, 0] - r[0, 1]) / s, (r[0, 2] + r[2, 0]) / s, (r[1, 2] + r[2, 1]) / s, 0.25 * s]
    return np.array(q)


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
