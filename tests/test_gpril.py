"""GPRIL: the flows, the predecessor sampling, and learning from final states alone."""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import sigkill_when

from robot_il.algos.actors import ActorPool, EnvFactory
from robot_il.algos.common import DemoData
from robot_il.algos.gpril import CHECKPOINT_FILE, LIVE_POLICY_FILE, GPRILConfig, train_gpril
from robot_il.algos.replay import TrajectoryReplay
from robot_il.checkpoint import load_policy
from robot_il.envs.toy import GOAL, goal_states
from robot_il.errors import ConfigError
from robot_il.nn.flows import conditional_maf
from robot_il.nn.policy import GaussianPolicy, MixturePolicy
from robot_il.policies import act_mode

# A tiny GPRIL for the 2-D reaching task (robot_il/PointReach-v0).
TOY = GPRILConfig(
    beta_pi=0.0,
    flow_hidden=(64, 64),
    flow_steps=50,
    policy_steps=50,
    flow_lr=1e-3,
    flow_l2=0.0,
    policy_hidden=(64, 64),
    policy_lr=1e-3,
    sigma_max=0.05,
    generated_pool=2048,
    replay_size=5000,
    iterations=120,
    episodes_per_iteration=2,
    eval_every=20,
    eval_episodes=20,
    num_actors=0,
)
TOY_FACTORY = EnvFactory("robot_il/PointReach-v0")


def toy_demos(n: int = 25) -> DemoData:
    """Final states only: 25 points inside the goal region, no actions."""
    bound = np.full(2, 0.1, dtype=np.float32)
    goals = goal_states(n, np.random.default_rng(0))
    return DemoData(states=[g[None] for g in goals], action_low=-bound, action_high=bound, dense=False)


def test_flow_learns_a_known_conditional_density() -> None:
    """x | c ~ N(A c + b, diag(s²)): the flow's held-out log-likelihood approaches the true one."""
    torch.manual_seed(0)
    a = torch.tensor([[0.8, -0.5], [0.3, 0.9]])
    b = torch.tensor([0.5, -1.0])
    s = torch.tensor([0.3, 0.6])

    def sample(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        c = torch.randn(n, 2)
        return c @ a.T + b + s * torch.randn(n, 2), c

    def true_logp(x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return torch.distributions.Normal(c @ a.T + b, s).log_prob(x).sum(-1)

    flow = conditional_maf(2, 2, hidden=(64, 64), min_sigma=0.05)
    opt = torch.optim.Adam(flow.parameters(), lr=3e-3)
    for _ in range(1500):
        x, c = sample(256)
        loss = -flow(c).log_prob(x).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    x, c = sample(20_000)
    with torch.no_grad():
        gap = float(true_logp(x, c).mean() - flow(c).log_prob(x).mean())
    assert abs(gap) < 0.05, f"flow log-likelihood is {gap:.3f} nats below the true density"


def test_flow_sigma_floor_holds() -> None:
    """Trained on a near-deterministic target, the flow's spread cannot fall below its floor."""
    torch.manual_seed(0)
    flow = conditional_maf(1, 1, hidden=(32, 32), mades=1, min_sigma=0.2)
    opt = torch.optim.Adam(flow.parameters(), lr=1e-2)
    for _ in range(500):
        c = torch.randn(256, 1)
        loss = -flow(c).log_prob(2 * c + 1e-4 * torch.randn(256, 1)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        spread = float((flow(torch.zeros(5000, 1)).sample()).std())
    assert spread >= 0.2 * 0.95, f"spread {spread:.3f} below the 0.2 floor"


def _chain_replay(episodes: int = 400, length: int = 50) -> TrajectoryReplay:
    """States hold their own chronological position, so offsets can be read back."""
    replay = TrajectoryReplay(episodes * (length + 1), 1, 1)
    pos = 0
    for _ in range(episodes):
        replay.add_episode(np.arange(pos, pos + length + 1, dtype=np.float32)[:, None], np.ones((length, 1)))
        pos += length + 1
    return replay


def test_geometric_offsets_have_the_right_statistics() -> None:
    gamma = 0.9
    replay = _chain_replay()
    batch = replay.sample(200_000, gamma, np.random.default_rng(0))
    k = batch.offsets  # j + 1
    np.testing.assert_array_equal(batch.targets[:, 0] - batch.states[:, 0], k)
    assert k.min() == 1
    assert k.mean() == pytest.approx(1 / (1 - gamma), rel=0.02)  # E[j + 1] = 1 / (1 - gamma)
    assert np.mean(k == 1) == pytest.approx(1 - gamma, abs=0.005)  # P(j = 0) = 1 - gamma
    assert np.mean(k == 3) == pytest.approx((1 - gamma) * gamma**2, abs=0.005)
    assert k.var() == pytest.approx(gamma / (1 - gamma) ** 2, rel=0.05)


def test_predecessor_triples_cross_into_the_next_episode_but_never_past_the_newest_state() -> None:
    replay = _chain_replay(episodes=3, length=5)  # positions 0..17; terminal states at 5, 11, 17
    batch = replay.sample(50_000, 0.9, np.random.default_rng(1))
    starts = batch.states[:, 0]
    assert not np.isin(starts, [5, 11, 17]).any(), "a terminal state (no action) was drawn as s_t"
    assert batch.targets.max() <= 17
    crossing = (starts < 5) & (batch.targets[:, 0] > 5)
    assert crossing.any(), "no target lies beyond the terminal state (the artificial terminal -> initial link)"


def test_replay_ring_overwrites_the_oldest_states() -> None:
    replay = TrajectoryReplay(20, 1, 1)
    for e in range(5):
        replay.add_episode(np.full((6, 1), e, dtype=np.float32), np.zeros((5, 1)))
    assert len(replay) == 20 and replay.oldest == 10
    batch = replay.sample(5000, 0.5, np.random.default_rng(0))
    assert batch.states.min() >= 1  # episode 0 (positions 0..5) was overwritten


def test_clamped_targets_stop_at_their_episodes_terminal_state() -> None:
    replay = _chain_replay(episodes=3, length=5)  # positions 0..17; terminal states at 5, 11, 17
    batch = replay.sample(50_000, 0.9, np.random.default_rng(1), clamp_terminal=True)
    s, target = batch.states[:, 0], batch.targets[:, 0]
    terminal = (s // 6) * 6 + 5
    assert np.all(target <= terminal), "a clamped target crossed into the next episode"
    assert np.all(target - s == batch.offsets)
    # The offset mass past the end lands on the terminal state: from position 4 nearly all of it (P(k >= 1)).
    from_4 = target[s == 4]
    assert np.all(from_4 == 5) and len(from_4) > 1000


def test_episode_stratified_sampling_weighs_short_and_long_episodes_alike() -> None:
    """A 4-step success between 40-step failures: uniform states give it 4/124 of the draws, episodes 1/3."""
    replay = TrajectoryReplay(10_000, 1, 1)
    for ep, length in enumerate((40, 4, 40)):
        replay.add_episode(np.full((length + 1, 1), ep, dtype=np.float32), np.zeros((length, 1)))
    uniform = replay.sample(30_000, 0.5, np.random.default_rng(0)).states[:, 0]
    stratified = replay.sample(30_000, 0.5, np.random.default_rng(0), by_episode=True).states[:, 0]
    assert np.mean(uniform == 1) < 0.06
    assert np.mean(stratified == 1) == pytest.approx(1 / 3, abs=0.02)
    # After the ring overwrites part of the first episode, only what is held of it is drawn, and the
    # index survives a checkpoint.
    small = TrajectoryReplay(60, 1, 1)
    for ep, length in enumerate((40, 4, 40)):
        small.add_episode(np.arange(length + 1, dtype=np.float32)[:, None] + 100 * ep, np.zeros((length, 1)))
    restored = TrajectoryReplay(60, 1, 1)
    restored.load_state_dict(small.state_dict())
    for replay_ in (small, restored):
        drawn = replay_.sample(20_000, 0.5, np.random.default_rng(2), by_episode=True, clamp_terminal=True)
        s = drawn.states[:, 0]
        # 87 states written, 60 held: episode 0 (positions 0..40) is held from position 27 on.
        assert set(np.unique(s[s < 100])) == set(range(27, 40)), "not every held state with an action drawn"
        assert np.bincount((s // 100).astype(int)) / len(s) == pytest.approx([1 / 3] * 3, abs=0.02)
        assert np.all(drawn.targets[:, 0] // 100 == s // 100), "a clamped target left its episode"
    a = small.sample(500, 0.5, np.random.default_rng(3), by_episode=True)
    b = restored.sample(500, 0.5, np.random.default_rng(3), by_episode=True)
    np.testing.assert_array_equal(a.targets, b.targets)


def test_state_only_config_needs_no_actions_and_refuses_beta_pi() -> None:
    with pytest.raises(ConfigError, match="beta_pi"):
        from robot_il.algos.gpril import GPRIL

        GPRIL(dataclasses.replace(TOY, beta_pi=1.0), toy_demos(), TOY_FACTORY, {})
    with pytest.raises(ConfigError, match="both 0"):
        GPRILConfig(beta_pi=0.0, beta_d=0.0)


def test_gpril_learns_from_final_states_alone(tmp_path: Path) -> None:
    """BC has nothing to learn from final states (no actions); GPRIL reaches the goal from them."""
    summary = train_gpril(toy_demos(), {"obs_layout": []}, TOY_FACTORY, tmp_path, TOY, progress=False)
    first, last = summary["curve"][0], summary["curve"][-1]
    assert first["eval_success"] <= 0.1, f"the untrained policy already succeeds {first['eval_success']:.0%}"
    assert last["eval_success"] >= 0.8, f"GPRIL from final states: {last['eval_success']:.0%} success"
    policy, _ = load_policy(tmp_path)
    with torch.no_grad():
        mu, _ = policy(torch.tensor([[-0.8, 0.3]]))
    heading = mu[0].numpy() / np.linalg.norm(mu[0].numpy())
    to_goal = (GOAL - [-0.8, 0.3]) / np.linalg.norm(GOAL - [-0.8, 0.3])
    assert heading @ to_goal > math.cos(0.5), f"the policy heads {heading}, the goal lies along {to_goal}"
    assert (tmp_path / "learning_curve.png").stat().st_size > 10_000
    log = json.loads((tmp_path / "train_log.json").read_text())
    assert {"episodes", "wall_s", "eval_success"} <= set(log["curve"][-1])
    # The best evaluation's policy is kept beside the last one (the latest of equal successes).
    evals = [(c["eval_success"], c["iteration"]) for c in log["curve"][1:]]
    best = max(evals)
    assert (log["counters"]["best_eval_success"], log["counters"]["best_iteration"]) == best
    best_policy, meta = load_policy(tmp_path / "policy_best.pt")
    assert meta["algo"] == "gpril"
    if best[1] == log["counters"]["iteration"]:
        for name, value in policy.state_dict().items():
            assert torch.equal(best_policy.state_dict()[name], value), name


def _grant_twice(pool: ActorPool, spec: dict) -> list:
    torch.manual_seed(3)
    first, second = GaussianPolicy(**spec), GaussianPolicy(**spec)
    pool.grant(0, 3, 1, first.state_dict())
    episodes = pool.gather(timeout=120)
    pool.grant(3, 2, 2, second.state_dict())
    return episodes + pool.gather(timeout=120)


def test_actors_run_exactly_the_granted_episodes_the_same_in_any_process() -> None:
    """The fixed data budget: granted episodes come back in order, with their seeds and policy versions, and an
    actor process gives bit for bit what the learner's own process gives (a function of the seed, not of load)."""
    bound = np.full(2, 0.1, dtype=np.float32)
    spec = {"obs_dim": 2, "act_dim": 2, "action_low": -bound, "action_high": bound, "hidden": (8,)}
    runs = []
    for n in (0, 1):
        pool = ActorPool(n, TOY_FACTORY, spec, base_seed=5)
        try:
            runs.append(_grant_twice(pool, spec))
        finally:
            pool.close()
    local, remote = runs
    assert [ep.index for ep in remote] == [0, 1, 2, 3, 4]
    assert [ep.seed for ep in remote] == [5, 6, 7, 8, 9]
    assert [ep.policy_version for ep in remote] == [1, 1, 1, 2, 2]
    for a, b in zip(local, remote, strict=True):
        np.testing.assert_array_equal(a.states, b.states)
        np.testing.assert_array_equal(a.actions, b.actions)


SWITCHES = {
    "replay_sampling": "episode",
    "clamp_terminal": True,
    "skip_initial_targets": True,
    "ema_decay": 0.9,
    "sample_actions": True,
}
"""The departures from the paper that the fast preset turns on (#13), each drawing on the run's seeded generators."""


@pytest.mark.parametrize(
    "switches",
    [{}, SWITCHES, {**SWITCHES, "policy_components": 2, "num_actors": 1}],
    ids=["paper", "fast_switches", "mixture_head_in_an_actor"],
)
def test_a_run_is_a_function_of_its_seed(tmp_path: Path, switches: dict) -> None:
    """Two runs with the same seed and config give the same curve and the same policy, exactly: with the
    paper's sampling, with the switches on (episode draws, sampled evaluation, the moving average), and with a
    mixture head that an actor process builds from the learner's spec."""
    cfg = dataclasses.replace(TOY, iterations=6, eval_every=3, eval_episodes=4, **switches)
    logs = []
    for name in ("a", "b"):
        train_gpril(toy_demos(), {}, TOY_FACTORY, tmp_path / name, cfg, progress=False)
        logs.append(json.loads((tmp_path / name / "train_log.json").read_text()))
    strip = [{k: v for k, v in p.items() if k not in ("wall_s",)} for p in logs[0]["curve"]]
    assert strip == [{k: v for k, v in p.items() if k not in ("wall_s",)} for p in logs[1]["curve"]]
    files = ["policy.pt"] + [LIVE_POLICY_FILE] * bool(switches)  # with ema_decay, also the trained weights
    for file in files:
        a, _ = load_policy(tmp_path / "a" / file)
        b, _ = load_policy(tmp_path / "b" / file)
        for name, value in a.state_dict().items():
            assert torch.equal(b.state_dict()[name], value), f"{file}: {name}"
        assert isinstance(a, MixturePolicy) == (switches.get("policy_components", 1) > 1)


def test_a_finished_run_extended_to_more_iterations_is_the_longer_run(tmp_path: Path) -> None:
    """Resumed with more iterations, a finished run trains on exactly as if given them from the start; fewer
    iterations, or any other change, is refused naming the field."""
    cfg = dataclasses.replace(TOY, iterations=6, eval_every=3, eval_episodes=4, **SWITCHES)
    train_gpril(toy_demos(), {}, TOY_FACTORY, tmp_path / "long", cfg, progress=False)
    train_gpril(toy_demos(), {}, TOY_FACTORY, tmp_path / "ext", dataclasses.replace(cfg, iterations=3), progress=False)
    with pytest.raises(ConfigError, match="iterations") as refused:
        train_gpril(
            toy_demos(), {}, TOY_FACTORY, tmp_path / "ext", dataclasses.replace(cfg, iterations=2), progress=False
        )
    assert "extended, not shortened" in str(refused.value)
    with pytest.raises(ConfigError, match="policy_lr"):
        train_gpril(
            toy_demos(), {}, TOY_FACTORY, tmp_path / "ext", dataclasses.replace(cfg, policy_lr=1e-2), progress=False
        )
    train_gpril(toy_demos(), {}, TOY_FACTORY, tmp_path / "ext", cfg, progress=False)
    logs = [json.loads((tmp_path / name / "train_log.json").read_text()) for name in ("long", "ext")]
    curves = [[{k: v for k, v in p.items() if k != "wall_s"} for p in log["curve"]] for log in logs]
    assert [p["iteration"] for p in curves[1]] == [0, 3, 6]
    assert curves[0] == curves[1]
    a, _ = load_policy(tmp_path / "long" / "policy.pt")
    b, _ = load_policy(tmp_path / "ext" / "policy.pt")
    for name, value in a.state_dict().items():
        assert torch.equal(b.state_dict()[name], value), name


@pytest.mark.parametrize("actors", [0, 1])
def test_killed_gpril_run_resumes(tmp_path: Path, actors: int) -> None:
    """SIGKILL the learner after a checkpoint; its actors exit, and a rerun resumes where it stopped."""
    script = tmp_path / "run.py"
    tests_dir, run_dir = str(Path(__file__).parent), str(tmp_path / "run")
    script.write_text(
        "import dataclasses, sys\n"
        f"sys.path.insert(0, {tests_dir!r})\n"
        "from test_gpril import TOY, TOY_FACTORY, toy_demos\n"
        "from robot_il.algos.gpril import train_gpril\n"
        "if __name__ == '__main__':\n"
        f"    cfg = dataclasses.replace(TOY, iterations=60, eval_every=10, eval_episodes=5, num_actors={actors})\n"
        f"    train_gpril(toy_demos(), {{'obs_layout': []}}, TOY_FACTORY, {run_dir!r}, cfg, progress=False)\n"
    )
    ckpt = tmp_path / "run" / CHECKPOINT_FILE
    children: list[int] = []

    def ready() -> bool:
        children[:] = _children_of_newest_python(script)
        return ckpt.exists()

    sigkill_when([sys.executable, str(script)], ready=ready)
    deadline = time.monotonic() + 30
    while any(_running(pid) for pid in children):
        assert time.monotonic() < deadline, f"processes {children} outlived their killed learner"
        time.sleep(0.2)
    state = torch.load(ckpt, weights_only=True)
    counters = json.loads(state["counters"])
    assert 0 < counters["iteration"] < 60 and state["replay"]["count"] > 0
    subprocess.run([sys.executable, str(script)], check=True, capture_output=True, timeout=600)
    log = json.loads((tmp_path / "run" / "train_log.json").read_text())
    iterations = [p["iteration"] for p in log["curve"]]
    assert iterations[0] == 0 and iterations[-1] == 60 and iterations == sorted(set(iterations))
    assert log["counters"]["episodes"] > counters["episodes"]


def test_an_actor_exits_when_its_learner_is_killed_while_publishing_weights(tmp_path: Path) -> None:
    """A learner killed mid-way through writing a policy's weights leaves half a message in the pipe; its
    actor, blocked reading the rest, still exits (it was found alive 27 minutes after such a kill)."""
    script = tmp_path / "learner.py"
    script.write_text(
        "import os, signal, struct, sys\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "import numpy as np\n"
        "from test_gpril import TOY_FACTORY\n"
        "from robot_il.algos.actors import ActorPool\n"
        "if __name__ == '__main__':\n"
        "    bound = np.full(2, 0.1, dtype=np.float32)\n"
        "    spec = {'obs_dim': 2, 'act_dim': 2, 'action_low': -bound, 'action_high': bound, 'hidden': (8,)}\n"
        "    pool = ActorPool(1, TOY_FACTORY, spec, base_seed=0)\n"
        "    # the header of a 1 MiB weights message and its first 100 bytes, then death\n"
        "    pool._weights_qs[0]._writer._send(struct.pack('!i', 1 << 20) + bytes(100))\n"
        "    pool._permits_q.put((0, 0, 0))  # an episode that needs those weights\n"
        f"    open({str(tmp_path / 'actor.pid')!r}, 'w').write(str(pool._procs[0].pid))\n"
        "    import time; time.sleep(3)  # the actor is reading the cut-off message by now\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    # Not capturing output: the actor would hold the pipes open and the wait would be for it, not the learner.
    subprocess.run([sys.executable, str(script)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
    actor = int((tmp_path / "actor.pid").read_text())
    deadline = time.monotonic() + 30
    while _running(actor):
        assert time.monotonic() < deadline, f"actor {actor} outlived its learner killed while publishing weights"
        time.sleep(0.2)


def _children_of_newest_python(script: Path) -> list[int]:
    """Pids of the child processes (actors, multiprocessing helpers) of the process running ``script``."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if str(script) in (proc / "cmdline").read_text():
                    pids.append(int(proc.name))
            except OSError:
                continue
    children = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid in pids:
                children.append(int(proc.name))
    return children


def _running(pid: int) -> bool:
    """Alive and not a zombie (an exited child nobody has reaped yet)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_final_state_demos_are_normalised_with_the_first_practice_episodes() -> None:
    """25 goal states barely vary; scaling practice by their spread would blow states up by 10-100x.
    With norm_episodes the normaliser is refitted once on demos + the first practice, for flows and
    policy alike, and a checkpoint carries it."""
    from robot_il.algos.gpril import GPRIL

    cfg = dataclasses.replace(TOY, norm_episodes=3, episodes_per_iteration=1, flow_steps=2, policy_steps=2)
    learner = GPRIL(cfg, toy_demos(), TOY_FACTORY, {})
    demo_std = learner.obs_norm.std.clone()
    actors = ActorPool(0, TOY_FACTORY, learner.net_spec, base_seed=1)
    try:
        assert learner.iteration(actors) == {} and learner.iteration(actors) == {}, "learnt before 3 episodes"
        assert torch.equal(learner.obs_norm.std, demo_std)
        assert learner.iteration(actors), "did not learn once 3 episodes had arrived"
    finally:
        actors.close()
    practice = learner.replay.states[: len(learner.replay)]
    both = np.concatenate([toy_demos().all_states, practice])
    np.testing.assert_allclose(learner.obs_norm.std.numpy(), both.std(0), rtol=1e-4)
    assert torch.all(learner.obs_norm.std > 3 * demo_std), "practice did not widen the statistics"
    assert torch.equal(learner.policy.normalizer.std, learner.obs_norm.std)
    np.testing.assert_allclose(learner.target_states.numpy(), learner._norm_s(toy_demos().all_states).numpy())

    restored = GPRIL(cfg, toy_demos(), TOY_FACTORY, {})
    restored.load_state_dict(learner.state_dict())
    assert restored.norm_fitted and torch.equal(restored.obs_norm.mean, learner.obs_norm.mean)
    assert torch.equal(restored.target_states, learner.target_states)


def test_moving_average_of_the_weights_is_what_is_evaluated_and_deployed(tmp_path: Path) -> None:
    """ema_decay: policy.pt is the average, policy_trained.pt the trained weights, and the average trails them."""
    cfg = dataclasses.replace(TOY, iterations=4, eval_every=2, eval_episodes=2, ema_decay=0.9, sample_actions=True)
    train_gpril(toy_demos(), {}, TOY_FACTORY, tmp_path, cfg, progress=False)
    assert act_mode(load_policy(tmp_path / "policy.pt")[1]) == "sample"  # evaluated and deployed by sampling
    deployed, meta = load_policy(tmp_path / "policy.pt")
    trained, _ = load_policy(tmp_path / "policy_trained.pt")
    assert meta["config"]["ema_decay"] == 0.9
    state = torch.load(tmp_path / CHECKPOINT_FILE, weights_only=True)
    for name, avg in deployed.state_dict().items():
        if name.startswith("body"):
            now, ema = trained.state_dict()[name], state["policy_ema"][name]
            assert torch.equal(avg, ema), name
            assert not torch.equal(avg, now), f"{name}: the average equals the trained weights"
    with pytest.raises(ConfigError, match="ema_decay"):
        GPRILConfig(ema_decay=1.0)


def test_initial_states_can_be_left_out_of_the_targets() -> None:
    from robot_il.algos.gpril import GPRIL

    bound = np.full(2, 0.1, dtype=np.float32)
    states = [np.arange(6, dtype=np.float32).reshape(3, 2) + 10 * i for i in range(4)] + [np.ones((1, 2))]
    demos = DemoData(states=states, action_low=-bound, action_high=bound, dense=False)
    keep = GPRIL(TOY, demos, TOY_FACTORY, {})
    skip = GPRIL(dataclasses.replace(TOY, skip_initial_targets=True), demos, TOY_FACTORY, {})
    assert len(keep.target_states) == 13
    # Each 3-state demo loses its first state; a one-state demo (its final state) keeps it.
    assert skip.target_raw.tolist() == [row for x in states for row in (x[1:] if len(x) > 1 else x).tolist()]
    assert len(skip.demo_states) == 13  # the normaliser still sees every demonstrated state


def test_a_run_stops_after_enough_evaluations_in_a_row_at_the_level(tmp_path: Path, monkeypatch) -> None:
    """stop_at_success with stop_after=2: one lucky evaluation (0.95 between 0.5s) does not end the run; two in
    a row do, and the run's last evaluation is the deployed policy's."""
    from robot_il.algos.common import RunDir
    from robot_il.algos.gpril import reached

    scores = iter([0.0, 0.95, 0.5, 0.95, 0.95, 0.95, 0.95])
    monkeypatch.setattr(RunDir, "evaluate", lambda self, policy, index=0: next(scores))
    cfg = dataclasses.replace(TOY, iterations=20, eval_every=1, eval_episodes=2, stop_at_success=0.9, stop_after=2)
    summary = train_gpril(toy_demos(), {}, TOY_FACTORY, tmp_path, cfg, progress=False)
    assert [p["eval_success"] for p in summary["curve"]] == [0.0, 0.95, 0.5, 0.95, 0.95]
    assert summary["counters"]["iteration"] == 4
    assert reached(summary["curve"], 0.9, 2) and not reached(summary["curve"][:-1], 0.9, 2)
    assert not reached(summary["curve"], 0.0, 1), "level 0 means run every iteration"
    with pytest.raises(ConfigError, match="stop_after"):
        GPRILConfig(stop_after=0)


def test_rotating_evaluations_play_new_poses_each_time(tmp_path: Path) -> None:
    """eval_rotate: each evaluation plays the next eval_episodes seeds (the curve says which), wrapping within
    the window so they never reach the benchmarks' held-out 20000..; off, every evaluation plays the same."""
    from robot_il.algos.common import EVAL_SEED_WINDOW, RunDir

    cfg = dataclasses.replace(TOY, iterations=3, eval_every=1, eval_episodes=2, eval_rotate=True)
    summary = train_gpril(toy_demos(), {}, TOY_FACTORY, tmp_path / "run", cfg, progress=False)
    assert [p["eval_first_seed"] for p in summary["curve"]] == [10_000, 10_002, 10_004, 10_006]
    last = EVAL_SEED_WINDOW // 3
    rotating = RunDir(tmp_path / "r", "gpril", dataclasses.replace(cfg, eval_episodes=3), {})
    assert rotating.evaluation_seeds(last) == [19_999, 10_000, 10_001]
    fixed = RunDir(tmp_path / "f", "gpril", TOY, {})
    assert fixed.evaluation_seeds(0) == fixed.evaluation_seeds(7) == list(range(10_000, 10_000 + TOY.eval_episodes))


LAYOUT = [
    {"field": "position", "name": "x", "start": 0, "stop": 1},
    {"field": "joint_efforts", "name": "tau", "start": 1, "stop": 2},
]


def test_the_policy_is_blind_to_the_fields_it_ignores() -> None:
    """policy_ignores: what the ignored field reads (a demo's range or 1000x beyond it) does not move the policy's
    output; the other field does. An unknown field, or demos without a layout, is refused by name."""
    from robot_il.algos.gpril import GPRIL

    blind = GPRIL(dataclasses.replace(TOY, policy_ignores=("joint_efforts",)), toy_demos(), TOY_FACTORY,
                  {"obs_layout": LAYOUT})  # fmt: skip
    seeing = GPRIL(TOY, toy_demos(), TOY_FACTORY, {"obs_layout": LAYOUT})
    for learner, moves in ((blind, False), (seeing, True)):
        obs = torch.tensor([[0.05, 0.05], [0.05, 50.0]])
        with torch.no_grad():
            mean = learner.policy.distribution(obs).mean
        assert (not torch.allclose(mean[0], mean[1], atol=1e-6)) == moves
        with torch.no_grad():
            other = learner.policy.distribution(torch.tensor([[0.05, 0.05], [0.09, 0.05]])).mean
        assert not torch.allclose(other[0], other[1], atol=1e-6), "the field it sees does not move it"
    with pytest.raises(ConfigError, match=r"\['effort'\] are not observation fields; the fields are"):
        GPRIL(dataclasses.replace(TOY, policy_ignores=("effort",)), toy_demos(), TOY_FACTORY, {"obs_layout": LAYOUT})
    with pytest.raises(ConfigError, match="no observation layout"):
        GPRIL(dataclasses.replace(TOY, policy_ignores=("joint_efforts",)), toy_demos(), TOY_FACTORY, {})


def test_the_clip_preset_is_fast_blind_to_the_clip_cells_efforts_with_a_light_demo_term() -> None:
    """The clip preset differs from fast only in what the policy ignores and in β_π (0.1: the demonstrated actions
    weigh a tenth of the generated pairs; states only is still β_π = 0), and what it ignores is a field of the
    clip cell's observation (so GPRIL does not refuse it on the clip demos)."""
    from robot_il.algos.gpril import PRESETS, ignored_dims
    from robot_il.envs import make_task_env

    clip, fast = PRESETS["clip"], PRESETS["fast"]
    assert clip.beta_pi == 0.1 and fast.beta_pi == 1.0
    assert dataclasses.replace(clip, policy_ignores=(), beta_pi=1.0) == fast
    env = make_task_env("clip")
    try:
        layout = env.env_args()["obs_layout"]
    finally:
        env.close()
    dims = ignored_dims(layout, clip.policy_ignores)
    assert len(dims) == 6, dims  # one effort per joint of the simulated Jaco


def test_practice_runs_under_its_own_time_limit() -> None:
    """practice_seconds: practice episodes end at that limit; the env evaluation uses keeps its own."""
    from robot_il.algos.gpril import practice_factory

    factory = EnvFactory("robot_il/PegInsertion-v0")
    assert practice_factory(factory, TOY) is factory
    env = practice_factory(factory, dataclasses.replace(TOY, practice_seconds=1.0)).make()
    env.reset(seed=0)
    steps, truncated = 0, False
    while not truncated:
        *_, terminated, truncated, _ = env.step(np.zeros(env.action_space.shape))
        steps += 1
        assert not terminated
    assert steps == 20  # 1 s at 20 Hz
    env.close()


def test_flows_pretrained_on_the_demos_fit_their_predecessors_better() -> None:
    """flow_pretrain_steps: before any practice, B_s's likelihood of the demos' own (s, s̄) pairs rises; sparse
    demos (no consecutive states) are refused."""
    from robot_il.algos.gpril import GPRIL

    rng = np.random.default_rng(0)
    states = [np.cumsum(rng.normal(0.0, 0.01, (30, 2)), axis=0).astype(np.float32) for _ in range(6)]
    bound = np.full(2, 0.1, dtype=np.float32)
    demos = DemoData(states=states, action_low=-bound, action_high=bound, dense=True)
    learner = GPRIL(dataclasses.replace(TOY, flow_pretrain_steps=150), demos, TOY_FACTORY, {})
    replay = TrajectoryReplay(180, 2, 2)
    for x in states:
        replay.add_episode(x, np.zeros((len(x) - 1, 2), np.float32))
    batch = replay.sample(512, TOY.gamma, np.random.default_rng(1), clamp_terminal=True, by_episode=True)
    s, target = learner._norm_s(batch.states), learner._norm_s(batch.targets)

    def nll() -> float:
        with torch.no_grad():
            return float(-learner.flow_s(target).log_prob(s).mean())

    before = nll()
    learner.pretrain_flows(demos)
    assert learner.counters["pretrain_flow_steps"] == 150
    assert nll() < before - 0.5, f"NLL {before:.2f} -> {nll():.2f}"
    with pytest.raises(ConfigError, match="flow_pretrain_steps"):
        GPRIL(dataclasses.replace(TOY, flow_pretrain_steps=10), toy_demos(), TOY_FACTORY, {}).pretrain_flows(
            toy_demos()
        )
