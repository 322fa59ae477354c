"""The ROS 2 backend against the sim bridge over real DDS: faults, bad configuration, and the expert."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import numpy as np
import pytest

from robot_il.cell.config import PegConfig
from robot_il.config import load_yaml, to_dict
from robot_il.envs.insertion import PegInsertionEnv
from robot_il.errors import ConfigError, NotConnectedError, RobotILError, StaleStateError
from robot_il.hal import make_backend
from robot_il.rollout import evaluate
from robot_il.ros2.config import Ros2Config

CONFIG = Path(__file__).parents[1] / "robot_il" / "ros2" / "jaco_sim.yaml"


def _fresh_observation(robot, timeout: float = 10.0):
    """The first observation once the driver publishes again (however long a loaded machine takes)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return robot.observe()
        except StaleStateError:
            assert time.monotonic() < deadline, f"states still stale {timeout} s after the driver resumed"
            time.sleep(0.01)


def test_stale_joint_states_raise_a_clear_error(sim_bridge) -> None:
    backend = make_backend("ros2", str(CONFIG))
    with backend:
        backend.robot.observe()
        sim_bridge.send_signal(signal.SIGSTOP)  # the "driver" hangs: no more /joint_states
        try:
            time.sleep(0.4)
            with pytest.raises(StaleStateError, match=r"no /joint_states for \d+\.\d+ s"):
                backend.robot.observe()
        finally:
            sim_bridge.send_signal(signal.SIGCONT)
        assert np.all(np.isfinite(_fresh_observation(backend.robot).joint_positions))


def test_motion_on_stale_state_is_refused_at_the_hal_and_the_pan_tilt_goes_stale(sim_bridge) -> None:
    """A client that only sends commands (never observes) cannot move the arm once the states stop."""
    backend = make_backend("ros2", str(CONFIG))
    moving = np.array([0.2, 0, 0, 0, 0, 0])
    with backend:
        backend.robot.reset()
        backend.robot.send_action(moving)
        sim_bridge.send_signal(signal.SIGSTOP)  # joint and pan-tilt states stop
        try:
            time.sleep(0.3)
            with pytest.raises(StaleStateError, match=r"refusing to move the arm: no /joint_states for \d+\.\d+ s"):
                backend.robot.send_action(moving)
            assert not np.any(backend.robot.link.last_command[1]), "the refused command did not leave zero behind"
            backend.robot.send_action(np.zeros(6))  # stopping is never refused
            time.sleep(0.3)
            with pytest.raises(StaleStateError, match=r"no /pan_tilt/joint_states for \d+\.\d+ s"):
                backend.pan_tilt.get()
        finally:
            sim_bridge.send_signal(signal.SIGCONT)
        _fresh_observation(backend.robot)
        backend.robot.send_action(np.zeros(6))
        assert backend.pan_tilt.get() is not None


def test_joints_are_matched_by_name_and_unknown_names_fail(sim_bridge, released_gate) -> None:
    cfg = load_yaml(Ros2Config, CONFIG)
    import dataclasses

    names = tuple(f"joint_{i}" for i in range(1, 7))
    shuffled = dataclasses.replace(
        cfg, joint_names=tuple(reversed(names)), home_joint_positions=tuple(reversed(cfg.cell.home))
    )
    normal, reverse = make_backend("ros2", cfg), make_backend("ros2", shuffled)
    with normal, reverse:
        assert reverse.robot.spec.joint_names == tuple(reversed(names))
        np.testing.assert_allclose(
            reverse.robot.observe().joint_positions[::-1], normal.robot.observe().joint_positions, atol=1e-3
        )
    wrong = make_backend("ros2", dataclasses.replace(cfg, joint_names=("shoulder", *names[1:])))
    with pytest.raises(RobotILError, match=r"joint 'shoulder' \(joint_names\) is not a joint of the description"):
        wrong.connect()
    assert wrong.robot.link is None, "a refused connect left its node behind"


def test_connect_without_a_driver_names_the_topic(ros2_domain) -> None:
    from robot_il.ros2.config import ArmSource

    arm = ArmSource(description_topic="/nobody/robot_description", tip_link="flange")
    cfg = Ros2Config(arm=arm, simulated=True, joint_states_topic="/nobody/joint_states", connect_timeout=0.5)
    with pytest.raises(NotConnectedError, match=r"no arm description on /nobody/robot_description within 0\.5 s"):
        make_backend("ros2", cfg).connect()
    local = ArmSource(description=str(Path(__file__).parent / "data" / "ur5e.urdf"), tip_link="tool0")
    cfg = {"arm": to_dict(local), "simulated": True, "cell": {"arm": "ur5e"}, "connect_timeout": 0.5}
    with pytest.raises(NotConnectedError, match="no messages on /nobody/joint_states"):
        make_backend("ros2", {**cfg, "joint_states_topic": "/nobody/joint_states"}).connect()


def test_bad_ros2_config_names_the_field() -> None:
    arm = {"tip_link": "tool0"}
    with pytest.raises(ConfigError, match=r"^arm: required"):
        make_backend("ros2", {})
    with pytest.raises(ConfigError, match=r"^arm\.tip_link: name the link the tool is mounted on"):
        make_backend("ros2", {"arm": {}})
    with pytest.raises(ConfigError, match="qos_reliability"):
        make_backend("ros2", {"arm": arm, "qos_reliability": "sometimes"})
    with pytest.raises(ConfigError, match="max_joint_velocity"):
        make_backend("ros2", {"arm": arm, "joint_names": ["a", "b"], "max_joint_velocity": [1.0]})
    with pytest.raises(ConfigError, match=r"cell\.tilt_center: give the cell's layout in the arm's base frame"):
        make_backend("ros2", {"arm": arm})


def test_expert_through_ros2_succeeds_as_often_as_in_direct_simulation(sim_bridge, expert) -> None:
    seeds = range(500, 506)
    direct = PegInsertionEnv()
    sim = evaluate(direct, lambda obs, _v: expert(obs), seeds, progress=None)
    direct.close()
    env = PegInsertionEnv(make_backend("ros2", str(CONFIG)), PegConfig())
    over_ros = evaluate(env, lambda obs, _v: expert(obs), seeds, progress=None)
    env.close()
    rate_sim = np.mean([e.success for e in sim])
    rate_ros = np.mean([e.success for e in over_ros])
    assert rate_sim == 1.0
    assert rate_ros >= rate_sim - 1 / 6, f"expert over ROS 2: {rate_ros:.0%}, direct: {rate_sim:.0%}"
    durations = [e.duration_s for e in over_ros if e.success]
    assert np.mean(durations) < 10.0


def _joint_speed(robot) -> float:
    return float(np.abs(robot.observe().joint_velocities).max())


def test_a_dead_command_stream_is_stopped_by_our_watchdog(sim_bridge) -> None:
    backend = make_backend("ros2", str(CONFIG))
    with backend:
        backend.robot.reset()
        for _ in range(10):
            backend.robot.send_action(np.array([0.3, 0, 0, 0, 0, 0]))
        assert _joint_speed(backend.robot) > 0.25
        died = time.monotonic()  # the control loop stops sending; the controller would hold 0.3 rad/s forever
        while _joint_speed(backend.robot) > 0.01:
            assert time.monotonic() - died < 1.0, "the arm kept moving after the command stream died"
            time.sleep(0.005)
        stop_time = time.monotonic() - died
        assert backend.robot.link.watchdog_stops >= 1
    assert stop_time < 0.25, f"arm at rest {stop_time * 1000:.0f} ms after the last command"


@pytest.mark.parametrize("via", ["topic", "service"])
def test_estop_over_ros2_latches_the_filter_and_stops_the_arm(sim_bridge, released_gate, via: str) -> None:
    import rclpy
    from std_msgs.msg import Empty
    from std_srvs.srv import Trigger

    from robot_il.deploy import SafeController
    from robot_il.safety import SafetyFilter, default_limits

    backend = make_backend("ros2", str(CONFIG))
    kin = PegConfig().arm_model()
    with backend:
        robot = backend.robot
        robot.reset()
        safety = SafetyFilter(
            default_limits("peg", "jaco", robot.spec.joint_names),
            robot.spec.control_period,
            kin.tip_linear,
        )
        controller = SafeController(robot, safety)
        for _ in range(10):
            controller.step(np.array([0.3, 0, 0, 0, 0, 0]), robot.observe())
        context = rclpy.Context()
        rclpy.init(context=context)
        operator = rclpy.create_node("operator", context=context)
        from rclpy.executors import SingleThreadedExecutor

        executor = SingleThreadedExecutor(context=context)
        executor.add_node(operator)
        try:
            if via == "topic":  # wait for discovery, then press
                button = operator.create_publisher(Empty, "/robot_il/estop", 10)
                deadline = time.monotonic() + 5
                while button.get_subscription_count() == 0:
                    assert time.monotonic() < deadline, "the robot's e-stop subscription was never discovered"
                    executor.spin_once(timeout_sec=0.01)
                pressed = time.monotonic()
                button.publish(Empty())
            else:
                client = operator.create_client(Trigger, "/robot_il/estop")
                assert client.wait_for_service(timeout_sec=5)
                pressed = time.monotonic()
                client.call_async(Trigger.Request())
            while not safety.estopped:
                executor.spin_once(timeout_sec=0.01)
                assert time.monotonic() - pressed < 2.0, "the e-stop never arrived"
            while _joint_speed(robot) > 0.01:
                assert time.monotonic() - pressed < 2.0, "the arm kept moving after the e-stop"
                time.sleep(0.005)
            stop_time = time.monotonic() - pressed
            assert controller.step(np.array([0.3, 0, 0, 0, 0, 0]), robot.observe()).stopped
        finally:
            executor.shutdown()
            operator.destroy_node()
            context.try_shutdown()
    assert stop_time < 0.3, f"arm at rest {stop_time * 1000:.0f} ms after the e-stop"


class _Operator:
    """A second ROS node: injects faults into the bridge and watches the simulated arm's true speed."""

    def __init__(self) -> None:
        import threading

        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from sensor_msgs.msg import JointState
        from std_msgs.msg import String

        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node("fault_injector", context=self.context)
        self.speeds: list[tuple[float, float]] = []
        self.faults = self.node.create_publisher(String, "/sim_bridge/fault", 10)
        self.node.create_subscription(
            JointState,
            "/sim_bridge/ground_truth/joint_states",
            lambda m: self.speeds.append((time.monotonic(), float(np.abs(m.velocity).max()))),
            10,
        )
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 5
        while self.faults.get_subscription_count() == 0 or not self.speeds:
            assert time.monotonic() < deadline, "the bridge's fault topic or ground truth was never discovered"
            time.sleep(0.01)

    def inject(self, fault: str) -> float:
        from std_msgs.msg import String

        self.faults.publish(String(data=fault))
        return time.monotonic()

    def at_rest_after(self, t0: float) -> float:
        """Seconds from ``t0`` until the arm's true speed fell below 0.01 rad/s for good."""
        after = [(t, v) for t, v in self.speeds if t >= t0]
        moving = [t for t, v in after if v >= 0.01]
        return (moving[-1] if moving else t0) - t0 if after and after[-1][1] < 0.01 else float("inf")

    def close(self) -> None:
        self.inject("clear")
        self.executor.shutdown()
        self.node.destroy_node()
        self.context.try_shutdown()


@pytest.mark.parametrize("fault", ["freeze_joint_states", "wrench_spike", "nan", "raises"])
def test_faults_over_ros2_give_zero_velocity_and_stop_the_arm(sim_bridge, released_gate, fault: str) -> None:
    """Fault injection through the real ROS 2 path, the deploy loop in real time at 20 Hz."""
    from robot_il.deploy import SafeController, control_loop
    from robot_il.safety import SafetyFilter, default_limits
    from robot_il.tasks import PegInsertionTask

    fault_step, moving = 10, np.array([0.3, 0.0, 0.0, 0.0, 0.0, 0.0])
    kin = PegConfig().arm_model()
    backend = make_backend("ros2", str(CONFIG))
    operator = _Operator()
    injected: list[float] = []
    try:
        with backend:
            robot = backend.robot
            robot.reset()  # the bridge's reset also clears faults left by an earlier test
            safety = SafetyFilter(
                default_limits("peg", "jaco", robot.spec.joint_names),
                robot.spec.control_period,
                kin.tip_linear,
            )
            calls = iter(range(10**6))

            def policy(obs) -> np.ndarray:
                k = next(calls)
                if k == fault_step:
                    injected.append(
                        operator.inject(fault) if fault in ("freeze_joint_states", "wrench_spike") else time.monotonic()
                    )
                if k >= fault_step and fault == "nan":
                    return np.full(6, np.nan)
                if k >= fault_step and fault == "raises":
                    raise RuntimeError("policy crashed")
                return moving

            result = control_loop(SafeController(robot, safety), policy, PegInsertionTask(PegConfig()), max_steps=24)
            time.sleep(0.5)
    finally:
        operator.close()
    commands = np.array(result.commands)
    assert np.any(commands[fault_step - 1]), "the arm was not moving before the fault"
    zero = [k for k in range(fault_step, len(commands)) if not np.any(commands[k])]
    # A bridge fault reaches the loop over DDS after the command of its own period is out; stale states
    # count as stale one period after the last fresh one: so zero comes at most two commands later.
    assert zero and zero[0] <= fault_step + 2, f"first zero command at step {zero[:1]}, fault at {fault_step}"
    assert all(not np.any(c) for c in commands[zero[0] :]), "motion resumed after the stop"
    stop_time = operator.at_rest_after(injected[0])
    print(f"ros2 fault {fault}: zero command {zero[0] - fault_step} period(s) after, at rest {stop_time * 1e3:.0f} ms")
    assert stop_time < 0.3, f"{fault}: arm at rest {stop_time * 1000:.0f} ms after the fault"
