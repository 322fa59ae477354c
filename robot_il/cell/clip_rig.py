"""The clip's force test rig and its calibration, after dm_control's Duplo ``autotune.py``.

The rig is the clip and the plug alone: the plug fixed, the clip on a carriage
that slides along the plug's axis, driven by a stiff position servo whose
target moves at a constant speed: in past the lips, a pause, then back out.
The servo's axial force, read by a gauge that averages over 20 ms, is the force
a hand (or the arm) needs: its peak on the way in is the *insertion force*, its
peak pull on the way out the *retention force* (the pull that tears the
latched clip out). Gravity is off, as the arm's
gravity compensation cancels it in the cell.

The insertion force grows with the legs' stiffness, the retention force with
the shoulder's angle as well; :func:`calibrate` fits the stiffness to the
insertion target, then the shoulder angle to the retention target, by bisection
on the measured forces (both are monotonic in their parameter).

    python -m robot_il.cell.clip_rig            # measure the default clip
    python -m robot_il.cell.clip_rig --fit      # refit its stiffness and shoulder angle
"""

from __future__ import annotations

import collections
import dataclasses
import math
from dataclasses import dataclass

import mujoco

from robot_il.cell.clip_config import ClipConfig
from robot_il.cell.clip_scene import LEGS, load_clip, load_plug

CARRIAGE_MASS = 1.0
"""kg: heavy enough that the stiff servo stays stable at a 2 ms step."""
SERVO_KP = 20_000.0
"""N/m: 1 mm of lag per 20 N."""
SERVO_KV = 200.0
"""N·s/m."""
SPEED = 0.01
"""Target speed of the carriage, m/s (a careful insertion)."""
STANDOFF = 0.004
"""The clip's tip starts this far in front of the mouth, m."""
GAUGE_WINDOW = 0.02
"""The force gauge averages over this long, s (a 50 Hz load cell): the peak forces are of the averaged force,
so that the brief contact impulse as a crest slips over a lip's edge, whose height depends on the step size,
does not stand in for the force that pushes the clip through."""


@dataclass(frozen=True)
class RigResult:
    insertion_force: float
    """Peak push on the way in, N."""
    retention_force: float
    """Peak pull on the way out, N."""
    deepest: float
    """Deepest the tip got past the mouth, m."""
    latched: bool
    """Whether the tip went past the latch depth (the barbs behind the lips)."""
    pulled_out: bool
    """Whether the pull tore the clip back out past the mouth."""
    max_flex: float
    """Largest inward flex of a leg, rad (positive)."""
    final_flex: float
    """Largest leg flex once latched and at rest before the pull, rad: ~0 if the legs sprang back."""


def build_rig(cfg: ClipConfig) -> mujoco.MjModel:
    """The plug fixed at the origin (+z into it) and the clip on a slide along z with a position servo."""
    from dm_control import mjcf

    root = mjcf.RootElement(model="clip_rig")
    root.option.timestep = cfg.physics_timestep
    root.option.gravity = (0, 0, 0)
    root.option.integrator = "implicitfast"
    root.option.cone = "elliptic"
    root.option.impratio = 10
    root.worldbody.add("site", name="plug_mount").attach(load_plug(cfg))
    carriage = root.worldbody.add("body", name="carriage", pos=(0, 0, -cfg.clip_length - STANDOFF))
    carriage.add("joint", name="slide", type="slide", axis=(0, 0, 1), damping=1.0)
    carriage.add("geom", name="mass", type="sphere", size=(0.005,), mass=CARRIAGE_MASS, contype=0, conaffinity=0)
    carriage.add("site", name="clip_mount").attach(load_clip(cfg, roll=0.0))
    root.actuator.add(
        "position", name="servo", joint="slide", kp=SERVO_KP, kv=SERVO_KV, ctrlrange=(-1, 1), forcerange=(-500, 500)
    )
    return mujoco.MjModel.from_xml_string(root.to_xml_string(), root.get_assets())


def run_rig(cfg: ClipConfig, pull: bool = True) -> RigResult:
    """Push the clip in past its latch, pause, then (``pull``) pull it back out; measure the servo's force."""
    model = build_rig(cfg)
    data = mujoco.MjData(model)
    slide = model.jnt_qposadr[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, "slide")]
    slide_dof = model.jnt_dofadr[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, "slide")]
    legs = [model.jnt_qposadr[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, f"clip/{leg}")] for leg in LEGS]
    dt = model.opt.timestep
    push_to = STANDOFF + cfg.latch_depth + 0.002  # travel of the target, m
    pull_to = push_to - 0.02  # far enough back to tear the clip out (the servo's force limit stops it otherwise)
    push_steps = round(push_to / SPEED / dt)
    pause_steps = round(0.3 / dt)
    pull_steps = round((push_to - pull_to) / SPEED / dt)
    push_peak = pull_peak = deepest = max_flex = 0.0
    final_flex = math.nan
    total = push_steps + pause_steps + (pull_steps if pull else 0)
    window = collections.deque(maxlen=max(1, round(GAUGE_WINDOW / dt)))
    for i in range(total):
        if i < push_steps:
            data.ctrl[0] = SPEED * dt * (i + 1)
        elif i >= push_steps + pause_steps:
            data.ctrl[0] = push_to - SPEED * dt * (i + 1 - push_steps - pause_steps)
        mujoco.mj_step(model, data)
        window.append(float(data.qfrc_actuator[slide_dof]))  # + pushes the clip in
        force = sum(window) / len(window)
        depth = float(data.qpos[slide]) - STANDOFF
        flex = -min(float(data.qpos[legs[0]]), float(data.qpos[legs[1]]), 0.0)
        if i < push_steps + pause_steps:
            push_peak = max(push_peak, force)
            deepest = max(deepest, depth)
            max_flex = max(max_flex, flex)
            if i == push_steps + pause_steps - 1:
                final_flex = flex
        else:
            pull_peak = max(pull_peak, -force)
    depth = float(data.qpos[slide]) - STANDOFF
    return RigResult(
        insertion_force=push_peak,
        retention_force=pull_peak,
        deepest=deepest,
        latched=deepest >= cfg.latch_depth,
        pulled_out=pull and depth < 0.0,
        max_flex=max_flex,
        final_flex=final_flex,
    )


def _bisect(measure, low: float, high: float, target: float, iterations: int) -> float:
    """The parameter in [low, high] where the increasing ``measure`` meets ``target``."""
    for _ in range(iterations):
        mid = (low + high) / 2
        if measure(mid) < target:
            low = mid
        else:
            high = mid
    return (low + high) / 2


def calibrate(cfg: ClipConfig | None = None, iterations: int = 12, rounds: int = 3) -> ClipConfig:
    """``cfg`` with ``leg_stiffness`` fitted to its insertion target and ``retention_angle`` to its retention
    target, in turns (``rounds`` of each): the stiffness sets both forces, the shoulder's angle mostly the
    retention (it moves the rounded crest the lips ride over going in only a little)."""
    cfg = cfg or ClipConfig()
    for _ in range(rounds):
        stiffness = _bisect(
            lambda k, c=cfg: run_rig(dataclasses.replace(c, leg_stiffness=k), pull=False).insertion_force,
            0.1,
            2.0,  # sqrt(k / armature) * 2 ms stays under 0.5
            cfg.insertion_force_target,
            iterations,
        )
        cfg = dataclasses.replace(cfg, leg_stiffness=stiffness)
        angle = _bisect(
            lambda b, c=cfg: run_rig(dataclasses.replace(c, retention_angle=b)).retention_force,
            cfg.lead_angle + 0.05,
            math.radians(80.0),
            cfg.retention_force_target,
            iterations,
        )
        cfg = dataclasses.replace(cfg, retention_angle=angle)
    return cfg


def main() -> None:
    import argparse
    import json

    parser = argparse.ArgumentParser(description="Measure (or --fit) the clip's insertion and retention forces.")
    parser.add_argument("--fit", action="store_true", help="refit leg_stiffness and retention_angle to the targets")
    parser.add_argument("--timestep", type=float, help="physics step, s (default: ClipConfig's)")
    args = parser.parse_args()
    cfg = ClipConfig() if args.timestep is None else ClipConfig(physics_timestep=args.timestep)
    if args.fit:
        cfg = calibrate(cfg)
        print(f"leg_stiffness={cfg.leg_stiffness:.4f} N·m/rad, retention_angle={cfg.retention_angle:.4f} rad")
    result = run_rig(cfg)
    print(
        json.dumps(
            {
                **dataclasses.asdict(result),
                "insertion_force_target": cfg.insertion_force_target,
                "retention_force_target": cfg.retention_force_target,
                "leg_stiffness": cfg.leg_stiffness,
                "retention_angle": cfg.retention_angle,
                "physics_timestep": cfg.physics_timestep,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
