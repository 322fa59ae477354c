"""Any arm: the arm's own description drives the tip, the limits and the safety filter, checked against oracles
that do not share robot-il's model: the makers' published kinematics written out here in numpy (UR's DH table,
Franka's modified DH parameters), and an independent arm peer's own record of the commands it received."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from robot_il.arm import ArmModel, DescriptionError, load_description, parse_urdf, sim_arm
from robot_il.errors import ConfigError

DATA = Path(__file__).parent / "data"
UR5E_JOINTS = (
    "shoulder_pan_joint",
    "shoulder_lift_joint",
    "elbow_joint",
    "wrist_1_joint",
    "wrist_2_joint",
    "wrist_3_joint",
)
FR3_JOINTS = tuple(f"fr3_joint{i}" for i in range(1, 8))
TOOL = 0.10  # the peg's length along the flange's z


def _dh(a: float, alpha: float, d: float, theta: float) -> np.ndarray:
    """Standard (distal) DH: Rz(theta) Tz(d) Tx(a) Rx(alpha)."""
    ct, st_, ca, sa = math.cos(theta), math.sin(theta), math.cos(alpha), math.sin(alpha)
    return np.array(
        [[ct, -st_ * ca, st_ * sa, a * ct], [st_, ct * ca, -ct * sa, a * st_], [0, sa, ca, d], [0, 0, 0, 1]]
    )


def _mdh(a: float, alpha: float, d: float, theta: float) -> np.ndarray:
    """Craig's modified DH: Rx(alpha) Tx(a) Rz(theta) Tz(d)."""
    ct, st_, ca, sa = math.cos(theta), math.sin(theta), math.cos(alpha), math.sin(alpha)
    return np.array(
        [[ct, -st_, 0, a], [st_ * ca, ct * ca, -sa, -d * sa], [st_ * sa, ct * sa, ca, d * ca], [0, 0, 0, 1]]
    )


def ur5e_tip(q: np.ndarray) -> np.ndarray:
    """UR5e: Universal Robots' DH table (d1 0.1625, a2 -0.425, a3 -0.3922, d4 0.1333, d5 0.0997, d6 0.0996). The
    table's Base frame is UR's ``base``, half a turn about z from ``base_link``."""
    d, a = (0.1625, 0, 0, 0.1333, 0.0997, 0.0996), (0, -0.425, -0.3922, 0, 0, 0)
    alpha = (math.pi / 2, 0, 0, math.pi / 2, -math.pi / 2, 0)
    t = np.diag([-1.0, -1.0, 1.0, 1.0])
    for i in range(6):
        t = t @ _dh(a[i], alpha[i], d[i], q[i])
    return (t @ np.array([0, 0, TOOL, 1.0]))[:3]


def fr3_tip(q: np.ndarray) -> np.ndarray:
    """FR3: Franka's modified DH parameters, flange 0.107 m past joint 7."""
    a, d = (0, 0, 0, 0.0825, -0.0825, 0, 0.088), (0.333, 0, 0.316, 0, 0.384, 0, 0)
    alpha = (0, -math.pi / 2, math.pi / 2, math.pi / 2, -math.pi / 2, math.pi / 2, math.pi / 2)
    t = np.eye(4)
    for i in range(7):
        t = t @ _mdh(a[i], alpha[i], d[i], q[i])
    return (t @ np.array([0, 0, 0.107 + TOOL, 1.0]))[:3]


def numeric_jacobian(tip, q: np.ndarray, h: float = 1e-6) -> np.ndarray:
    cols = []
    for i in range(len(q)):
        dq = np.zeros(len(q))
        dq[i] = h
        cols.append((tip(q + dq) - tip(q - dq)) / (2 * h))
    return np.array(cols).T


@dataclass(frozen=True)
class Arm:
    name: str
    urdf: Path
    joints: tuple[str, ...]
    tip: object  # the closed form
    tip_link: str
    base_link: str
    home: tuple[float, ...]
    fixture: tuple[float, float, float]
    box: tuple[tuple[float, float, float], tuple[float, float, float]]


ARMS = {
    "ur5e": Arm(
        "ur5e",
        DATA / "ur5e.urdf",
        UR5E_JOINTS,
        ur5e_tip,
        "tool0",
        "base_link",
        sim_arm("ur5e").home,
        sim_arm("ur5e").fixture,
        sim_arm("ur5e").workspace,
    ),
    "fr3": Arm(
        "fr3",
        DATA / "fr3.urdf",
        FR3_JOINTS,
        fr3_tip,
        "fr3_link8",
        "base",
        sim_arm("fr3").home,
        sim_arm("fr3").fixture,
        sim_arm("fr3").workspace,
    ),
}


def model_of(arm: Arm, **kw) -> ArmModel:
    return ArmModel(load_description(arm.urdf), arm.tip_link, (0, 0, TOOL, 0, 0, 0), arm.base_link, **kw)


# The model against the makers' kinematics, without ROS ---------------------------------------------------


@pytest.mark.parametrize("name", ARMS)
def test_the_tip_and_its_jacobian_match_the_makers_kinematics(name: str) -> None:
    """Both the description a driver publishes (tests/data) and the simulated arm's own URDF, over 200 poses."""
    arm = ARMS[name]
    models = [model_of(arm), sim_arm(name).model((0, 0, TOOL, 0, 0, 0))]
    rng = np.random.default_rng(0)
    worst_p = worst_j = 0.0
    for _ in range(200):
        q = rng.uniform(-math.pi, math.pi, len(arm.joints))
        truth = arm.tip(q)
        for model in models:
            position, _, jac = model.tip_frame(q)
            worst_p = max(worst_p, np.abs(position - truth).max())
            worst_j = max(worst_j, np.abs(jac[:3] - numeric_jacobian(arm.tip, q)).max())
    assert worst_p < 1e-4, f"{name}: the tip is {worst_p * 1e3:.4f} mm from the maker's kinematics"
    assert worst_j < 1e-6, f"{name}: the Jacobian is off by {worst_j:.2e} m/rad"


def test_the_simulated_arms_move_as_their_models_say() -> None:
    """The simulated cell's live tip is its arm model's tip: the physics and the filter's model are one arm."""
    from robot_il.hal import make_backend

    for name in ("jaco", "ur5e", "fr3"):
        backend = make_backend("sim:peg", {"arm": name})
        with backend:
            robot = backend.robot
            assert robot.spec.num_joints == sim_arm(name).num_joints == len(robot.spec.joint_names)
            model, cell = robot.kinematics, robot.cell
            rng = np.random.default_rng(1)
            for _ in range(20):
                q = np.asarray(cell.cfg.home) + rng.uniform(-0.3, 0.3, robot.spec.num_joints)
                cell.data.qpos[cell.index.arm_qpos] = q
                import mujoco

                mujoco.mj_kinematics(cell.model, cell.data)
                live = cell.data.site_xpos[cell.index.tip_site]
                assert np.abs(model.position(q) - live).max() < 1e-9, name


def test_joints_are_resolved_by_name_and_a_mismatch_is_named() -> None:
    ur5e, fr3 = load_description(DATA / "ur5e.urdf"), load_description(DATA / "fr3.urdf")
    shuffled = tuple(reversed(UR5E_JOINTS))
    model = ArmModel(ur5e, "tool0", (0, 0, TOOL, 0, 0, 0), "base_link", shuffled)
    q = np.linspace(-1, 1, 6)
    assert np.allclose(model.position(q[::-1]), ur5e_tip(q))
    with pytest.raises(DescriptionError, match=r"joint 'shoulder_pan' \(joint_names\) is not a joint of the desc"):
        ArmModel(ur5e, "tool0", joint_names=("shoulder_pan", *UR5E_JOINTS[1:]))
    with pytest.raises(DescriptionError, match=r"tip_link 'tool1' is not a link of the description"):
        ArmModel(ur5e, "tool1")
    with pytest.raises(DescriptionError, match=r"\['fr3_joint7'\].*not in joint_names \(6 listed, the arm has 7"):
        ArmModel(fr3, "fr3_link8", joint_names=FR3_JOINTS[:6])
    with pytest.raises(DescriptionError, match="base_link 'tool0' is not above tip_link 'base_link'"):
        ArmModel(ur5e, "base_link", base_link="tool0")


def test_descriptions_with_package_meshes_and_driver_tags_load(tmp_path) -> None:
    """UR's description names its meshes by package:// URI (not on this machine) and carries ros2_control,
    transmission and gazebo tags: the kinematics load without any of them."""
    text = (DATA / "ur5e.urdf").read_text()
    assert "package://ur_description" in text and "<ros2_control" in text
    description = parse_urdf(text, "/robot_description")
    assert description.name == "ur" and [j.name for j in description.joints] == list(UR5E_JOINTS)
    assert description.joint("elbow_joint").upper == pytest.approx(math.pi)
    with pytest.raises(DescriptionError, match="not valid XML"):
        parse_urdf("<robot name='x'><link name='a'>", "/robot_description")
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(DescriptionError, match="neither a URDF"):
        load_description(tmp_path / "x.txt")


# Limits within the description ----------------------------------------------------------------------------

CARTESIAN = """
cartesian_limits:
  workspace_min: [0.25, -0.35, 0.10]
  workspace_max: [0.80, 0.35, 0.65]
  max_ee_speed: 0.25
  max_force: 60.0
  max_torque: 8.0
"""


def _limits(text: str):
    from robot_il.safety.limits import limits_from_dict, read_limits_yaml

    description = load_description(DATA / "ur5e.urdf")
    return limits_from_dict(
        read_limits_yaml(text, "my_limits.yaml"),
        UR5E_JOINTS,
        "my_limits.yaml",
        [description.joint(n) for n in UR5E_JOINTS],
        "/robot_description",
    )


def test_urs_own_joint_limits_file_reads_in_degrees() -> None:
    limits = _limits((DATA / "ur5e_joint_limits.yaml").read_text() + CARTESIAN)
    assert limits.joints[0].max_velocity == pytest.approx(math.pi)
    assert limits.joints[2].min_position == pytest.approx(-math.pi)
    assert limits.joints[0].max_effort == 150.0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("max_velocity: !degrees  180.0", "max_velocity: 180", 1),
            r"shoulder_pan_joint\.max_velocity: 180 rad/s is not a plausible limit.*degrees given as radians",
        ),
        (
            ("max_velocity: !degrees  180.0", "max_velocity: 3.2", 1),
            r"shoulder_pan_joint\.max_velocity: 3\.2 rad/s is looser than the arm's own limit 3\.14159 rad/s "
            r"\(/robot_description\)",
        ),
        (("max_velocity: !degrees  180.0", "max_velocity: true", 1), r"max_velocity: must be a number, got True"),
        (("max_velocity: !degrees  180.0", "max_velocity: fast", 1), r"max_velocity: must be a number, got 'fast'"),
        (("max_velocity: !degrees  180.0", "max_velocity: .inf", 1), r"max_velocity: must be finite"),
        (("max_position: !degrees  180.0", "max_position: !degrees  200.0", 1), r"elbow_joint\.max_position.*looser"),
        (("max_effort: 150.0", "max_effort: 200.0", 1), r"shoulder_pan_joint\.max_effort: 200 N·m is looser"),
        (("max_ee_speed: 0.25", "max_ee_speed: .inf", 1), r"max_ee_speed: must be finite"),
        (("workspace_min: [0.25, -0.35, 0.10]", "workspace_min: [a, 0, 0]", 1), r"workspace_min\[0\]: must be a num"),
        (("workspace_min: [0.25, -0.35, 0.10]", "workspace_min: 0.25", 1), r"workspace_min: must be 3 coordinates"),
        (("max_velocity: !degrees  180.0", "max_velocity: !degrees fast", 1), r"not valid YAML: .*!degrees needs a"),
    ],
)
def test_a_limits_file_may_only_tighten_and_every_value_is_checked(change, message) -> None:
    old, new, count = change
    text = (DATA / "ur5e_joint_limits.yaml").read_text() + CARTESIAN
    assert old in text
    with pytest.raises(ConfigError, match=message):
        _limits(text.replace(old, new, count))


def test_the_descriptions_position_limits_hold_where_the_file_has_none() -> None:
    text = (DATA / "ur5e_joint_limits.yaml").read_text() + CARTESIAN
    elbow = text.index("elbow_joint:")
    loose = text[:elbow] + text[elbow:].replace("has_position_limits: true", "has_position_limits: false", 1)
    assert _limits(loose).joints[2].max_position == pytest.approx(math.pi)


def test_bad_limits_on_the_command_line_give_one_line_and_rc_2(tmp_path) -> None:
    from ros2_peer import robot_il

    from robot_il.checkpoint import save_policy
    from robot_il.envs.insertion import InsertionEnv
    from robot_il.nn.policy import GaussianPolicy

    env = InsertionEnv()
    net = GaussianPolicy(19, 6, env.action_space.low, env.action_space.high)
    save_policy(tmp_path / "policy.pt", net, algo="bc", config={}, env_args=env.env_args())
    env.close()
    bad = tmp_path / "limits.yaml"
    jaco = (Path(__file__).parents[1] / "robot_il" / "safety" / "arms" / "jaco.yaml").read_text()
    bad.write_text(jaco.replace("max_velocity: 0.6", "max_velocity: fast", 1) + CARTESIAN)
    proc = robot_il("deploy", "--policy", str(tmp_path / "policy.pt"), "--limits", str(bad), "--episodes", "1")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, err
    assert err.strip().count("\n") == 0 and "joint_1.max_velocity: must be a number, got 'fast'" in err, err


# Against an independent arm peer over ROS 2 --------------------------------------------------------------


@pytest.fixture
def peer_domain(ros2_domain: int, monkeypatch) -> int:
    """A ROS domain of the arm peer's own (the session's sim bridge publishes /joint_states on the other)."""
    domain = ros2_domain + 7
    monkeypatch.setenv("ROS_DOMAIN_ID", str(domain))
    return domain


def start_peer(arm: Arm, log: Path, *extra: str) -> subprocess.Popen:
    """The arm peer as its own process, returned once it says it is up (its publishers exist and the description
    is latched), so that a backend's short connect timeout measures the backend, not the peer's start on a
    loaded machine."""
    proc = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).parent / "arm_peer.py"),
            "--urdf",
            str(arm.urdf),
            "--joints",
            ",".join(arm.joints),
            "--home=" + ",".join(str(x) for x in arm.home),
            "--log",
            str(log),
            *extra,
        ],
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()  # blocks until "ready", or "" when the peer died
    if line.strip() != "ready":
        proc.kill()
        raise RuntimeError(f"the arm peer did not start: {proc.stderr.read()[-2000:]}")
    return proc


def stop_peer(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def peer_config(peer_arm: Arm, path: Path, limits: Path | None = None, **over) -> Path:
    """The ROS 2 backend's YAML for the peer: the description from the topic, no gate, no reset service."""
    import yaml

    arm = peer_arm
    cfg = {
        "arm": {
            "description": "topic",
            "tip_link": arm.tip_link,
            "base_link": arm.base_link,
            "tool_offset": [0, 0, TOOL, 0, 0, 0],
        },
        "controller": "forward_velocity_controller",
        "stop_controller": "scaled_joint_trajectory_controller",
        "command_gate_topic": "",
        "wrench_topic": "/force_torque_sensor_broadcaster/wrench",
        "wrench_frame": arm.tip_link,  # UR's driver stamps tool0_controller: the controller's tool0
        "home_joint_positions": list(arm.home),
        "cell": {
            "tilt_center": list(arm.fixture),
            "workspace_low": list(arm.box[0]),
            "workspace_high": list(arm.box[1]),
        },
        "connect_timeout": 5.0,
        **({"limits": str(limits)} if limits else {}),
        **over,
    }
    path.write_text(yaml.safe_dump(cfg))
    return path


def limits_file(arm: Arm, path: Path) -> Path:
    import yaml

    joints = {
        n: {"has_velocity_limits": True, "max_velocity": 0.8, "has_acceleration_limits": True, "max_acceleration": 4.0}
        for n in arm.joints
    }
    cart = {
        "workspace_min": list(arm.box[0]),
        "workspace_max": list(arm.box[1]),
        "max_ee_speed": 0.25,
        "max_force": 60.0,
        "max_torque": 8.0,
    }
    path.write_text(yaml.safe_dump({"joint_limits": joints, "cartesian_limits": cart, "soft_limit_margin": 0.1}))
    return path


@pytest.mark.slow
def test_the_ros2_backends_tip_is_the_ur5e_dh_tip(peer_domain, tmp_path) -> None:
    """The backend reads UR's description from /robot_description and computes the tip the DH table gives,
    within 0.1 mm, over 200 poses the peer is put in."""
    from sensor_msgs.msg import JointState

    from robot_il.hal import make_backend

    arm = ARMS["ur5e"]
    peer = start_peer(arm, tmp_path / "cmds.jsonl")
    try:
        backend = make_backend("ros2", str(peer_config(arm, tmp_path / "ur5e.yaml")))
        with backend:
            robot = backend.robot
            assert robot.spec.joint_names == UR5E_JOINTS and robot.spec.arm == "ur"
            hand = robot.link.node.create_publisher(JointState, "/arm_peer/set_joints", 10)
            rng = np.random.default_rng(3)
            worst = 0.0
            for _ in range(200):
                q = rng.uniform(-math.pi, math.pi, 6)
                hand.publish(JointState(name=list(UR5E_JOINTS), position=q.tolist()))
                deadline = time.monotonic() + 5
                while not np.allclose((obs := robot.observe()).joint_positions, q, atol=1e-12):
                    assert time.monotonic() < deadline, "the peer never reached the pose"
                    time.sleep(0.002)
                worst = max(worst, np.abs(obs.ee_position - ur5e_tip(q)).max())
        assert worst < 1e-4, f"the backend's tip is {worst * 1e3:.4f} mm from UR's DH tip"
    finally:
        stop_peer(peer)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ur5e", "fr3"])
def test_every_command_the_filter_passes_is_within_the_limits_of_the_true_arm(name, peer_domain, tmp_path) -> None:
    """The safety filter deploy builds, with the model the backend read from the peer's description, against the
    maker's kinematics: every command it lets out moves the true tip at most ``max_ee_speed`` and, from inside
    the box, keeps it inside for the period."""
    from robot_il.deploy.run import open_session
    from robot_il.safety import SafetyFilter

    arm = ARMS[name]
    peer = start_peer(arm, tmp_path / "cmds.jsonl")
    limits = limits_file(arm, tmp_path / "limits.yaml")
    try:
        with open_session("ros2", 20.0, None, peer_config(arm, tmp_path / "cell.yaml", limits)) as session:
            n, dt = len(arm.joints), session.safety.dt
            low, high = np.array(arm.box[0]), np.array(arm.box[1])
            cap = session.limits.cartesian.max_ee_speed
            v_max = np.array([j.max_velocity for j in session.limits.joints])
            worst = {"ratio": 0.0}

            @settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
            @given(
                st.lists(st.floats(-0.6, 0.6), min_size=n, max_size=n),
                st.lists(st.floats(-3.0, 3.0), min_size=n, max_size=n),
                st.lists(st.floats(-1.0, 1.0), min_size=n, max_size=n),
            )
            def check(dq, command, before) -> None:
                q = np.asarray(arm.home) + np.asarray(dq)
                f = SafetyFilter(session.limits, dt, session.kinematics.tip_linear)
                f.previous = np.clip(np.asarray(before), -v_max, v_max)  # the arm already moving
                v = f(np.asarray(command), q).velocities
                speed = float(np.linalg.norm(numeric_jacobian(arm.tip, q) @ v))
                worst["ratio"] = max(worst["ratio"], speed / cap)
                assert speed <= cap * (1 + 1e-6), f"the true tip moves at {speed:.4f} m/s, over {cap}"
                start = arm.tip(q)
                if np.all(start > low) and np.all(start < high):
                    end = arm.tip(q + v * dt)
                    assert np.all(end >= low) and np.all(end <= high), f"the true tip leaves the box: {end}"

            check()
            assert worst["ratio"] > 0.9, "no command came near the tip-speed cap: the test did not test it"
    finally:
        stop_peer(peer)


@pytest.mark.slow
def test_deploy_on_an_unseen_arm_the_peer_records_no_command_over_the_tip_speed(peer_domain, tmp_path) -> None:
    """`robot-il deploy --backend ros2` on the UR5e peer with a policy that asks for far too much: the peer's own
    record of what it received, through UR's kinematics, never exceeds the tip-speed limit."""
    import torch
    from ros2_peer import robot_il

    from robot_il.checkpoint import save_policy
    from robot_il.envs.insertion import InsertionEnv
    from robot_il.nn.policy import GaussianPolicy

    arm = ARMS["ur5e"]
    log = tmp_path / "cmds.jsonl"
    peer = start_peer(arm, log)
    try:
        env = InsertionEnv(config={"arm": "ur5e"})
        env_args = env.env_args()
        env.close()
        torch.manual_seed(0)
        net = GaussianPolicy(19, 6, np.full(6, -3.0), np.full(6, 3.0))
        with torch.no_grad():
            for p in net.parameters():
                p.mul_(40.0)  # saturating: every command at the ±3 rad/s bounds
        save_policy(tmp_path / "policy.pt", net, algo="bc", config={}, env_args=env_args)
        cfg = peer_config(
            arm, tmp_path / "cell.yaml", limits_file(arm, tmp_path / "limits.yaml"), max_joint_velocity=[3.0] * 6
        )
        proc = robot_il(
            "deploy",
            "--backend",
            "ros2",
            "--backend-config",
            str(cfg),
            "--policy",
            str(tmp_path / "policy.pt"),
            "--episodes",
            "1",
            "--max-steps",
            "40",
            "--seed",
            "3",
        )
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    finally:
        stop_peer(peer)
    received = [json.loads(line) for line in log.read_text().splitlines()]
    moving = [r for r in received if any(r["v"])]
    assert len(moving) > 20, f"the peer received only {len(moving)} moving commands"
    speeds = [np.linalg.norm(numeric_jacobian(ur5e_tip, np.array(r["q"])) @ np.array(r["v"])) for r in moving]
    asked = max(np.abs(r["v"]).max() for r in moving)
    # The peer evaluates each command at the pose it arrives at, up to a period after the pose the filter saw.
    assert max(speeds) <= 0.25 * 1.03, f"the UR5e's tip moved at {max(speeds):.3f} m/s (limit 0.25)"
    assert asked <= 0.8 + 1e-9, f"a joint was commanded {asked:.3f} rad/s (limit 0.8)"
    assert received[-1]["v"] == [0.0] * 6, "the last command the arm received was not zero"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("no_description", r"no arm description on /robot_description within 2\.0 s"),
        ("missing_joint", r"joint 'shoulder_pan' \(joint_names\) is not a joint of the description"),
        ("unknown_tip", r"tip_link 'tool1' is not a link of the description"),
        ("seven_under_six", r"\['fr3_joint7'\] between base and fr3_link8 are not in joint_names \(6 listed"),
        ("other_arm_policy", r"recorded on jaco with joints \['joint_1'.*; ur has joints \['shoulder_pan_joint'"),
    ],
)
def test_wrong_arm_setups_fail_with_one_line(case, message, peer_domain, tmp_path) -> None:
    """Each through `robot-il deploy --backend ros2`: exit code 2 and one line naming what is wrong."""
    from ros2_peer import robot_il

    from robot_il.checkpoint import save_policy
    from robot_il.envs.insertion import InsertionEnv
    from robot_il.nn.policy import GaussianPolicy

    arm = ARMS["fr3" if case == "seven_under_six" else "ur5e"]
    over: dict = {"connect_timeout": 2.0 if case == "no_description" else 10.0}
    if case == "missing_joint":
        over["joint_names"] = ["shoulder_pan", *UR5E_JOINTS[1:]]
    elif case == "unknown_tip":
        over["arm"] = {"description": "topic", "tip_link": "tool1"}
    elif case == "seven_under_six":
        over["joint_names"] = list(FR3_JOINTS[:6])
        over["home_joint_positions"] = list(arm.home[:6])
    policy_arm = "jaco" if case == "other_arm_policy" else arm.name
    env = InsertionEnv(config={"arm": policy_arm})
    net = GaussianPolicy(
        env.observation_space.shape[0], env.action_space.shape[0], env.action_space.low, env.action_space.high
    )
    save_policy(tmp_path / "policy.pt", net, algo="bc", config={}, env_args=env.env_args())
    env.close()
    peer = start_peer(arm, tmp_path / "cmds.jsonl", *(["--no-description"] if case == "no_description" else []))
    try:
        cfg = peer_config(arm, tmp_path / "cell.yaml", limits_file(arm, tmp_path / "limits.yaml"), **over)
        proc = robot_il(
            "deploy",
            "--backend",
            "ros2",
            "--backend-config",
            str(cfg),
            "--policy",
            str(tmp_path / "policy.pt"),
            "--episodes",
            "1",
            "--max-steps",
            "5",
        )
        _, err = proc.communicate(timeout=120)
    finally:
        stop_peer(peer)
    assert proc.returncode == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert __import__("re").search(message, lines[0]), lines[0]


def test_a_turned_fixture_is_seen_where_it_is_and_the_expert_still_inserts() -> None:
    """The fixture's mount is a full pose: the task's hole frame, the ROS 2 backend's socket orientation (from
    the pan-tilt angles and the mount) and the simulated socket agree, and the expert finds the hole."""

    from robot_il.cell.config import PegConfig
    from robot_il.envs.insertion import InsertionEnv
    from robot_il.ros2.geometry import socket_quat
    from robot_il.tasks import task_entry

    cfg = PegConfig(tilt_center=(0.73, 0.04, 0.37), fixture_rpy=(0.04, -0.05, 0.15), pan_range=(-0.3, 0.3))
    env = InsertionEnv(config=cfg)
    expert = task_entry("peg").make_expert(env.task.cfg)
    cell = env.backend.robot.cell
    wins = 0
    for seed in range(5):
        env.reset(seed=seed)
        obs = env.last_observation
        frame = env.task.hole_frame(obs)
        assert np.abs(frame.mouth - cell.data.site_xpos[cell.index.hole_site]).max() < 1e-6
        assert np.abs(frame.axis - cell.data.site_xmat[cell.index.hole_site].reshape(3, 3)[:, 2]).max() < 1e-6
        ros = socket_quat(*obs.pan_tilt, cfg.fixture_rotation)
        assert min(np.abs(ros - obs.socket_quat).max(), np.abs(ros + obs.socket_quat).max()) < 1e-6
        done = False
        while not done:
            *_, terminated, truncated, info = env.step(expert(env.last_observation))
            done = terminated or truncated
        wins += info["is_success"]
    env.close()
    assert wins == 5, f"the expert inserted {wins} of 5 on a turned fixture"


# Bring-up on the peer: the controller, the force sensor's frame, efforts' units ------------------------------


@pytest.mark.slow
def test_a_wrench_is_moved_from_its_frame_to_the_tool_tip_and_zeroed(peer_domain, tmp_path) -> None:
    """The peer's sensor reads 10 N along tool0's x in UR's tool0_controller frame; the tool-centre point is
    0.1 m out along tool0's z, so the tool feels 10 N along x and -1 N·m about y there (r x F, r = -0.1 z).
    Zeroed with the arm still, it reads nothing."""
    from robot_il.hal import make_backend

    arm = ARMS["ur5e"]
    peer = start_peer(arm, tmp_path / "cmds.jsonl", "--wrench=10,0,0,0,0,0")
    try:
        backend = make_backend("ros2", str(peer_config(arm, tmp_path / "ur5e.yaml", wrench_frame="tool0")))
        with backend:
            robot = backend.robot
            robot.observe()
            np.testing.assert_allclose(robot.wrench(), [10, 0, 0, 0, -1.0, 0], atol=1e-9)
            robot.zero_wrench()
            np.testing.assert_allclose(robot.wrench(), np.zeros(6), atol=1e-9)
        unnamed = make_backend("ros2", str(peer_config(arm, tmp_path / "unnamed.yaml", wrench_frame="")))
        with unnamed, pytest.raises(DescriptionError, match="frame_id 'tool0_controller' is not a link of the arm"):
            unnamed.robot.wrench()
    finally:
        stop_peer(peer)


@pytest.mark.slow
def test_a_silent_force_sensor_holds_the_arm(peer_domain, tmp_path) -> None:
    """A sensor that never publishes: connect refuses, naming its topic. One that goes quiet: every command of
    the loop is zero, named stale_wrench."""
    from robot_il.deploy.loop import control_loop
    from robot_il.deploy.run import open_session
    from robot_il.errors import NotConnectedError

    arm = ARMS["ur5e"]
    cfg = peer_config(arm, tmp_path / "cell.yaml", limits_file(arm, tmp_path / "limits.yaml"), connect_timeout=2.0)
    peer = start_peer(arm, tmp_path / "cmds.jsonl", "--no-wrench")
    try:
        with pytest.raises(NotConnectedError, match="no messages on /force_torque_sensor_broadcaster/wrench within"):
            open_session("ros2", 20.0, None, cfg)
    finally:
        stop_peer(peer)
    peer = start_peer(arm, tmp_path / "cmds.jsonl", "--wrench-for=6")
    try:
        with open_session("ros2", 20.0, None, peer_config(arm, tmp_path / "c.yaml", tmp_path / "limits.yaml")) as s:
            deadline = time.monotonic() + 20
            while s.robot.link.wrench is not None and time.monotonic() - s.robot.link.wrench[2] < 0.5:
                assert time.monotonic() < deadline, "the peer's sensor never went quiet"
                time.sleep(0.05)
            traj = control_loop(s.controller, lambda obs: np.full(6, 0.1), s.task, max_steps=5)
        assert all(not np.any(c) for c in traj.commands), "a command went out without force readings"
        # Every step held, for the quiet sensor (a loaded machine may also starve the 100 Hz joint states for a
        # period: held as stale_observation, which the loop checks first).
        assert traj.interventions["stale_wrench"] >= 1, traj.interventions
        assert sum(traj.interventions.values()) == 5, traj.interventions
        assert set(traj.interventions) <= {"stale_wrench", "stale_observation"}, traj.interventions
    finally:
        stop_peer(peer)


@pytest.mark.slow
def test_connect_refuses_when_no_velocity_controller_listens(peer_domain, tmp_path) -> None:
    from robot_il.errors import NotConnectedError
    from robot_il.hal import make_backend

    arm = ARMS["ur5e"]
    peer = start_peer(arm, tmp_path / "cmds.jsonl", "--controller", "scaled_joint_trajectory_controller")
    try:
        backend = make_backend("ros2", str(peer_config(arm, tmp_path / "ur5e.yaml", connect_timeout=2.0)))
        with pytest.raises(NotConnectedError) as err:
            backend.connect()
        assert (
            "nothing listens on /forward_velocity_controller/commands within 2.0 s: the arm's velocity controller "
            "'forward_velocity_controller' is not active; activate it with `ros2 control switch_controllers "
            "--activate forward_velocity_controller --deactivate scaled_joint_trajectory_controller`"
        ) in str(err.value)
    finally:
        stop_peer(peer)


@pytest.mark.slow
def test_a_policy_that_observes_torques_is_refused_on_an_arm_reporting_currents(peer_domain, tmp_path) -> None:
    """UR's driver reports motor currents as effort by default: a clip policy trained on joint torques would read
    amperes as N·m."""
    from ros2_peer import robot_il

    from robot_il.checkpoint import save_policy
    from robot_il.envs import make_task_env
    from robot_il.nn.policy import GaussianPolicy

    env = make_task_env("clip", config={"arm": "ur5e"})
    net = GaussianPolicy(env.observation_space.shape[0], 6, env.action_space.low, env.action_space.high)
    save_policy(tmp_path / "clip.pt", net, algo="bc", config={}, env_args=env.env_args())
    env.close()
    arm = ARMS["ur5e"]
    peer = start_peer(arm, tmp_path / "cmds.jsonl")
    try:
        cfg = peer_config(arm, tmp_path / "cell.yaml", limits_file(arm, tmp_path / "limits.yaml"), effort_unit="A")
        proc = robot_il("deploy", "--task", "clip", "--backend", "ros2", "--backend-config", str(cfg), "--policy",
                        str(tmp_path / "clip.pt"), "--episodes", "1")  # fmt: skip
        _, err = proc.communicate(timeout=120)
    finally:
        stop_peer(peer)
    assert proc.returncode == 2, err
    assert "trained on joint_efforts in N·m, this robot reports them in A: its inputs would mean something" in err
