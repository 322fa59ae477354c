"""``robot-il calibrate``: measure where the socket's fixture is, in the arm's base frame.

The fixture's mount pose (``tilt_center``, ``fixture_rpy``) is what the task computes the hole from; typed in by
eye it is off by millimetres and degrees. Here the tool-centre point (the peg's tip) touches known points on
the socket's front face: the four corners of a square around the mouth, at a few pan/tilt angles the unit is
sent to (the angles spread the points, so the fit also pins the mount's rotation). Each touch is read through
the arm's own model; a least-squares fit of the mount transform to the point pairs (Kabsch's SVD) gives the
pose, and the residual says how well it fits.

On a real cell the arm is hand-guided (freedrive, gravity compensation) and a key press takes each point;
nothing is commanded. In simulation ``--device scripted`` is a hand that knows where the fixture really is (the
simulated one), driving the tip to each point through the safety filter: a test of the whole procedure.
Calibrate with the peg's socket mounted; the mount's pose holds for the clip's plug too.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from robot_il.arm import matrix_rpy, rpy_matrix
from robot_il.errors import ConfigError
from robot_il.hal.base import Observation

POSES = ((0.0, 0.0), (0.3, 0.0), (-0.3, 0.0), (0.0, 0.08))
"""Pan and tilt angles (rad) at which the points are touched."""
FACE_MARGIN = 0.012
"""How far beyond the mouth's edge the touched corners lie, m: on the socket's face (its walls are 20 mm)."""


@dataclass(frozen=True)
class Target:
    name: str
    pan: float
    tilt: float
    point: np.ndarray
    """The point in the fixture's mount frame (the tilt centre its origin), m, with the unit at (pan, tilt)."""
    axis: np.ndarray
    """The hole's axis there (into the socket), mount frame: the direction to touch along."""


@dataclass(frozen=True)
class MountFit:
    tilt_center: tuple[float, float, float]
    fixture_rpy: tuple[float, float, float]
    residuals_mm: np.ndarray
    """Each touched point's distance from where the fitted fixture puts it, mm."""

    @property
    def rms_mm(self) -> float:
        return float(np.sqrt(np.mean(self.residuals_mm**2)))

    def describe(self) -> str:
        c, r = self.tilt_center, np.degrees(self.fixture_rpy)
        return (
            f"tilt_center [{c[0]:.4f}, {c[1]:.4f}, {c[2]:.4f}] m, fixture_rpy [{self.fixture_rpy[0]:.5f}, "
            f"{self.fixture_rpy[1]:.5f}, {self.fixture_rpy[2]:.5f}] rad ({r[0]:.2f}, {r[1]:.2f}, {r[2]:.2f} deg); "
            f"residual rms {self.rms_mm:.2f} mm, max {self.residuals_mm.max():.2f} mm over {len(self.residuals_mm)} "
            "points"
        )


def targets(cfg, poses: Sequence[tuple[float, float]] = POSES) -> list[Target]:
    """The points to touch on the socket's face of the cell ``cfg`` (a PegConfig), at each pan/tilt pose."""
    s = cfg.hole_half_width + FACE_MARGIN
    corners = {"upper left": (s, s), "upper right": (-s, s), "lower right": (-s, -s), "lower left": (s, -s)}
    out = []
    for pan, tilt in poses:
        turn = _rz(pan) @ _ry(tilt)  # the pan link turns about the mount's z, the tilt link about y
        for name, (y, z) in corners.items():
            point = turn @ np.array([-cfg.hole_offset, y, z])
            out.append(Target(f"{name} corner", pan, tilt, point, turn @ np.array([1.0, 0.0, 0.0])))
    return out


def solve_mount(points: np.ndarray, measured: np.ndarray) -> MountFit:
    """The mount transform (R, t) minimising sum |R p_i + t - m_i|^2 (Kabsch), from >= 3 points not on a line."""
    p, m = np.asarray(points, dtype=np.float64), np.asarray(measured, dtype=np.float64)
    if len(p) < 3 or np.linalg.matrix_rank(p - p.mean(axis=0), tol=1e-6) < 2:
        raise ConfigError("calibrate", f"need at least 3 points not on one line, got {len(p)}")
    pc, mc = p.mean(axis=0), m.mean(axis=0)
    u, _, vt = np.linalg.svd((p - pc).T @ (m - mc))
    d = np.sign(np.linalg.det(vt.T @ u.T))
    rotation = vt.T @ np.diag([1.0, 1.0, d]) @ u.T
    t = mc - rotation @ pc
    residuals = np.linalg.norm(p @ rotation.T + t - m, axis=1) * 1e3
    return MountFit(tuple(float(x) for x in t), tuple(float(x) for x in matrix_rpy(rotation)), residuals)


def calibrate(
    robot, pan_tilt, kinematics, cfg, touch: Callable[[Target], Observation], poses=POSES, say=print
) -> MountFit:
    """Send the unit to each pose, have ``touch`` bring the tip to each target (a person, or the scripted hand),
    read the tip through the arm's model, and fit the mount."""
    points, measured = [], []
    for target in targets(cfg, poses):
        if (target.pan, target.tilt) != tuple(pan_tilt.get()):
            pan_tilt.set(target.pan, target.tilt)
        obs = touch(target)
        tip = kinematics.position(obs.joint_positions)
        points.append(target.point)
        measured.append(tip)
        say(f"  {target.name} at pan {target.pan:+.2f}, tilt {target.tilt:+.2f}: tip at {np.round(tip, 4).tolist()}")
    return solve_mount(np.array(points), np.array(measured))


def scripted_hand(session, true_cfg) -> Callable[[Target], Observation]:
    """A hand that knows where the simulated fixture really is (``true_cfg``'s mount): it moves the tip to 20 mm in
    front of the target, touches it and backs off again, every command through the safety filter."""
    mount_r, mount_t = true_cfg.fixture_rotation, np.asarray(true_cfg.fixture_position)
    controller, kinematics = session.controller, session.kinematics

    def servo(goal: np.ndarray, axis: np.ndarray, tolerance: float, speed: float) -> Observation:
        obs = controller.observe()
        last, still = None, 0
        for _ in range(round(10.0 / controller.spec.control_period)):
            tip, rotation, jac = kinematics.tip_frame(obs.joint_positions)
            error = goal - tip
            if np.linalg.norm(error) < tolerance or still >= 5:  # there, or pressed against the face
                break
            v = 4.0 * error
            v *= min(1.0, speed / max(np.linalg.norm(v), 1e-9))
            w = 3.0 * np.cross(rotation[:, 2], axis)
            twist = np.concatenate([v, w])
            command = jac.T @ np.linalg.solve(jac @ jac.T + 1e-4 * np.eye(6), twist)
            controller.step(command, obs)
            obs = controller.observe()
            still = still + 1 if last is not None and np.linalg.norm(tip - last) < 1e-5 else 0
            last = tip
        controller.stop()
        return controller.observe()

    pose: list[tuple[float, float]] = []

    def touch(target: Target) -> Observation:
        """To 20 mm in front of the target, onto it, read, and back: the unit must never move against the tip.
        A new pan/tilt pose starts from home (the peg turns with the socket: no sweeping reorientation)."""
        if pose and pose[-1] != (target.pan, target.tilt):
            controller.return_home(session.robot.spec.home_joint_positions)
        pose.append((target.pan, target.tilt))
        point, axis = mount_r @ target.point + mount_t, mount_r @ target.axis
        servo(point - 0.02 * axis, axis, 5e-4, 0.05)
        touched = servo(point, axis, 5e-5, 0.01)
        servo(point - 0.02 * axis, axis, 2e-3, 0.05)
        return touched

    return touch


def hand_guided(say=print, read=input) -> Callable[[Target], Observation]:
    """A person guides the arm (freedrive) to each target and presses Enter; nothing is commanded."""

    def make(robot) -> Callable[[Target], Observation]:
        def touch(target: Target) -> Observation:
            answer = read(f"guide the peg tip to the socket face's {target.name}, then press Enter (q quits): ")
            if answer.strip().lower() == "q":
                raise KeyboardInterrupt("calibration abandoned")
            return robot.observe()

        return touch

    return make


def write_cell_yaml(path: str | Path, fit: MountFit, section: str | None = None) -> Path:
    """Put the fit's ``tilt_center`` and ``fixture_rpy`` into the YAML ``path`` (under ``section:``, as a
    backend config's ``cell:``), replacing the lines that were there and keeping every other line and comment."""
    path = Path(path)
    text = path.read_text() if path.exists() else ""
    values = {
        "tilt_center": "[" + ", ".join(f"{x:.5f}" for x in fit.tilt_center) + "]",
        "fixture_rpy": "[" + ", ".join(f"{x:.6f}" for x in fit.fixture_rpy) + "]",
    }
    note = f"  # robot-il calibrate: residual rms {fit.rms_mm:.2f} mm"
    lines = text.splitlines()
    if section is not None:
        start = next((i for i, line in enumerate(lines) if re.match(rf"{section}:\s*(#.*)?$", line)), None)
        if start is None:
            lines += [f"{section}:"]
            start = len(lines) - 1
        end = next((i for i in range(start + 1, len(lines)) if lines[i] and not lines[i][0].isspace()), len(lines))
        indent = "  "
    else:
        start, end, indent = -1, len(lines), ""
    for key, value in values.items():
        pattern = re.compile(rf"^{indent}{key}:")
        at = next((i for i in range(start + 1, end) if pattern.match(lines[i])), None)
        line = f"{indent}{key}: {value}{note}"
        if at is None:
            lines.insert(end, line)
            end += 1
        else:
            lines[at] = line
    path.write_text("\n".join(lines) + "\n")
    return path


def angle_between(r_a: np.ndarray, r_b: np.ndarray) -> float:
    """The rotation angle between two orientations, rad."""
    return float(math.acos(np.clip((np.trace(r_a.T @ r_b) - 1) / 2, -1.0, 1.0)))


def _rz(a: float) -> np.ndarray:
    return rpy_matrix(0.0, 0.0, a)


def _ry(a: float) -> np.ndarray:
    return rpy_matrix(0.0, a, 0.0)
