"""The local actor pool's way out: a dead actor must not keep the learner's process from exiting."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_a_learner_whose_actor_died_exits_instead_of_hanging(tmp_path):
    """Weights granted after an actor died sit in its queue's pipe (more than the pipe holds); closing the pool
    must let the process exit rather than block at interpreter exit on the feeder thread."""
    script = tmp_path / "learner.py"
    script.write_text(
        textwrap.dedent(
            """
            import os, signal, sys
            import numpy as np
            import torch
            from robot_il.algos.actors import ActorPool, EnvFactory
            from robot_il.nn.policy import GaussianPolicy

            if __name__ == "__main__":
                spec = dict(obs_dim=2, act_dim=2, action_low=-np.ones(2), action_high=np.ones(2), hidden=(300, 200))
                pool = ActorPool(1, EnvFactory("robot_il/PointReach-v0"), spec, base_seed=0)
                weights = GaussianPolicy(**spec).state_dict()
                pool.grant(0, 1, 0, weights)
                pool.gather(timeout=120)
                os.kill(pool._procs[0].pid, signal.SIGKILL)
                pool._procs[0].join(10)
                for version in range(1, 6):  # about 1.4 MB of weights into a pipe nobody reads
                    pool.grant(version, 1, version, weights)
                try:
                    pool.gather(timeout=5)
                except RuntimeError as err:
                    print("reported:", err, flush=True)
                pool.close()
                print("closed", flush=True)
            """
        )
    )
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "reported: actor process(es) robot-il-actor-0 died" in result.stdout
    assert "closed" in result.stdout
