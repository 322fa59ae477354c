"""Configuration of the clip-insertion cell: the elastic clip, the plug it snaps into, physics and task rules.

The cell is the peg cell with another tool and another socket insert: the same
Jaco arm, the same pan-tilt unit, the same tool-centre point 0.10 m from the
flange (so hardware calibrated for the peg reports the same tip). The clip is
a stem with two legs on spring hinges; each leg ends in a barb with a lead-in
ramp and a steep retention shoulder. The plug's mouth is a pair of rounded lips
narrower than the barbs: the legs must flex inward to pass them and spring
back behind them, where the shoulders hold the clip in.

The legs' stiffness and the shoulders' angle are fitted to a target insertion
and retention force on a test rig (:mod:`robot_il.cell.clip_rig`, as
dm_control's Duplo ``autotune.py`` fits its press-fit); the defaults below are
that fit. Lengths in m, angles in rad, forces in N, stiffness in N·m/rad.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from robot_il.cell.config import CellConfigBase
from robot_il.config import require_non_negative, require_positive, require_range
from robot_il.errors import ConfigError

CLIP_ROLL = -0.9525
"""On the Jaco, the clip's legs spread along the flange's x axis turned by this angle about the tool axis, so
that at the home pose they spread along the plug's slot (vertical at zero pan and tilt). Other arms' rolls are
computed from their home pose (:meth:`ClipConfig.roll`)."""


@dataclass(frozen=True)
class ClipConfig(CellConfigBase):
    """The simulated clip-insertion task (defaults: the GPRIL paper's clip task)."""

    control_rate_hz: float = 20.0
    """Rate of joint-velocity commands; the physics runs sub-steps in between."""
    physics_timestep: float = 0.002
    """MuJoCo integration step, s. Must divide the control period."""
    pan_range: tuple[float, float] = (-0.8, 0.8)
    """Pan of the socket, drawn uniformly each episode, rad (paper: ±0.8)."""
    tilt_range: tuple[float, float] = (-0.2, 0.2)
    """Tilt of the socket, drawn uniformly each episode, rad (paper: ±0.2)."""
    episode_seconds: float = 50.0
    """Time limit of an episode (truncation), s."""
    arm: str = "jaco"
    """The simulated arm: jaco (Kinova Jaco, 6 joints), ur5e (Universal Robots, 6), fr3 (Franka Research 3, 7)."""
    workspace_low: tuple[float, float, float] | None = None
    """Lower corner of the box the clip's tip must stay in, base frame, m (None: the arm's default cell)."""
    workspace_high: tuple[float, float, float] | None = None
    """Upper corner of that box, m (None: the arm's default cell)."""
    tilt_center: tuple[float, float, float] | None = None
    """The fixture's mount position: where the pan and tilt axes meet, base frame, m (None: the arm's default
    cell)."""
    fixture_rpy: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """The fixture's mount orientation in the base frame (roll, pitch, yaw, rad), as PegConfig's."""
    hole_offset: float = 0.09
    """Distance from the tilt centre to the plug's mouth (towards the arm), m."""
    home_joint_positions: tuple[float, ...] | None = None
    """Joint angles of the home pose, rad (None: the arm's)."""
    max_joint_velocity: tuple[float, ...] | None = None
    """Symmetric joint-velocity bounds, rad/s (None: the arm's servo range)."""
    gravity_compensation: bool = True
    """Cancel gravity on the arm (and the clip), as a cobot's controller does."""

    clip_length: float = 0.10
    """Flange face to the legs' tips (the tool-centre point), m; the peg's length, so the tip is the same."""
    leg_length: float = 0.03
    """Hinge to tip of each leg, m; also how deep the clip goes before its head meets the plug's face."""
    leg_spacing: float = 0.004
    """Distance of each leg's hinge from the clip's axis, m."""
    leg_thickness: float = 0.003
    """Thickness of a leg in the spread direction, m."""
    leg_width: float = 0.008
    """Width of a leg across the spread direction, m."""
    barb_height: float = 0.0025
    """How far a barb stands out from its leg's outer face, m."""
    lead_angle: float = 0.5236
    """Angle of the barb's lead-in ramp to the clip's axis, rad (30°)."""
    retention_angle: float = 1.0676
    """Angle of the barb's retention shoulder to the clip's axis, rad (π/2: a flat, self-locking shoulder);
    fitted to ``retention_force_target``."""
    leg_stiffness: float = 1.2687
    """Spring stiffness of each leg's hinge, N·m/rad; fitted to ``insertion_force_target``."""
    leg_damping: float = 0.002
    """Damping of each leg's hinge, N·m·s/rad."""
    leg_armature: float = 4e-5
    """Armature (added rotor inertia) of each leg's hinge, kg·m²: keeps √(k/I)·dt below ~0.5, where MuJoCo's
    explicit spring stays stable at a 2 ms step."""
    leg_range: tuple[float, float] = (-0.35, 0.05)
    """Hinge range of each leg, rad; negative flexes it inward, 0 is its relaxed angle (springref)."""
    neck_clearance: float = 0.0005
    """Gap between a relaxed leg's outer face and the lip, each side, m."""
    slot_clearance: float = 0.0015
    """Gap between the legs and the slot's side walls, each side, m."""
    lip_thickness: float = 0.003
    """Thickness of the plug's lips along the axis (the mouth's depth), m."""
    lip_edge_radius: float = 0.0005
    """Radius of the rounding of the lips' edges, m."""
    cavity_depth: float = 0.035
    """Depth of the plug behind its mouth, m."""
    cavity_half_width: float = 0.011
    """Half-width of the cavity behind the lips (room for the barbs to spring back), m."""
    friction: float = 0.3
    """Sliding friction coefficient between clip and plug."""
    insertion_force_target: float = 12.0
    """Axial force that pushes the clip past the lips, N: what the calibration fits."""
    retention_force_target: float = 30.0
    """Axial pull that tears the latched clip back out, N: what the calibration fits."""
    latch_margin: float = 0.002
    """Depth beyond which the shoulders must be behind the lips to count as latched, m."""

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        self.validate_cell()
        for name in (
            "hole_offset",
            "clip_length",
            "leg_length",
            "leg_spacing",
            "leg_thickness",
            "leg_width",
            "barb_height",
            "leg_stiffness",
            "leg_armature",
            "lip_thickness",
            "lip_edge_radius",
            "cavity_depth",
            "cavity_half_width",
            "insertion_force_target",
            "retention_force_target",
        ):
            require_positive(name, getattr(self, name))
        for name in ("leg_damping", "neck_clearance", "slot_clearance", "friction", "latch_margin"):
            require_non_negative(name, getattr(self, name))
        if not 0.0 < self.lead_angle < self.retention_angle <= math.pi / 2:
            raise ConfigError(
                "retention_angle",
                f"need 0 < lead_angle ({self.lead_angle}) < retention_angle ({self.retention_angle}) <= pi/2: "
                "the shoulder must be steeper than the ramp",
            )
        require_range("leg_range", self.leg_range)
        if not self.leg_range[0] < 0.0 <= self.leg_range[1]:
            raise ConfigError("leg_range", f"must hold the relaxed angle 0 and allow flexing in, got {self.leg_range}")
        if self.leg_length >= self.clip_length - 0.03:
            raise ConfigError("leg_length", f"{self.leg_length} m leaves no stem on a {self.clip_length} m clip")
        if self.leg_spacing <= self.leg_thickness / 2:
            raise ConfigError("leg_spacing", "the legs overlap: leg_spacing must exceed half the leg_thickness")
        if self.barb_outer <= self.neck_half_width:
            raise ConfigError("barb_height", "the barbs clear the lips: nothing would hold the clip in")
        if self.cavity_half_width <= self.barb_outer:
            raise ConfigError("cavity_half_width", f"no room behind the lips for the barbs ({self.barb_outer} m)")
        if 2 * self.lip_edge_radius >= self.lip_thickness:
            raise ConfigError("lip_edge_radius", f"must be under half the lip_thickness ({self.lip_thickness} m)")
        if self.cavity_depth <= self.leg_length:
            raise ConfigError("cavity_depth", "the legs would hit the bottom before the head meets the face")
        if self.latch_depth >= self.leg_length:
            raise ConfigError("latch_margin", f"the latch depth {self.latch_depth} m is past the clip's stop")

    @property
    def leg_outer(self) -> float:
        """Distance of a relaxed leg's outer face from the axis, m."""
        return self.leg_spacing + self.leg_thickness / 2

    @property
    def barb_outer(self) -> float:
        """Distance of a relaxed barb's crest from the axis, m."""
        return self.leg_outer + self.barb_height

    @property
    def neck_half_width(self) -> float:
        """Half the gap between the lips, m."""
        return self.leg_outer + self.neck_clearance

    @property
    def slot_half_length(self) -> float:
        """Half the slot's length across the spread direction, m."""
        return self.leg_width / 2 + self.slot_clearance

    @property
    def ramp_length(self) -> float:
        """Axial length of a barb's lead-in ramp (from the leg's centre line to the crest), m."""
        return (self.leg_thickness / 2 + self.barb_height) / math.tan(self.lead_angle)

    @property
    def shoulder_length(self) -> float:
        """Axial length of a barb's retention shoulder (crest back to the leg's centre line), m."""
        return (self.leg_thickness / 2 + self.barb_height) / math.tan(self.retention_angle)

    @property
    def latch_depth(self) -> float:
        """Tip depth past the mouth at which the shoulders are behind the lips (the clip is latched), m."""
        return self.ramp_length + self.shoulder_length + self.lip_thickness + self.latch_margin

    @property
    def success_depth(self) -> float:
        """The depth the task counts as inserted: the latch depth (the expert's and the tests' target)."""
        return self.latch_depth

    @property
    def hole_half_width(self) -> float:
        """Half the mouth's narrowest width, m: the tip must be this close to the axis to go in."""
        return self.neck_half_width

    @property
    def roll(self) -> float:
        """The clip's turn about the tool axis, rad, that spreads its legs along the slot at the home pose."""
        if self.arm == "jaco":
            return CLIP_ROLL
        _, rotation, _ = self.sim_arm.model().tip_frame(np.asarray(self.home))
        up = rotation.T @ self.fixture_rotation[:, 2]  # the slot's direction at zero pan and tilt, flange frame
        return float(math.atan2(up[1], up[0]))

    @property
    def tool_offset(self) -> tuple[float, float, float, float, float, float]:
        """The clip's tip on the flange's axis, its frame turned by :attr:`roll` (x along the legs' spread)."""
        return (0.0, 0.0, self.clip_length, 0.0, 0.0, self.roll)
