"""rl-zoo3 with rlzero's hyperparameter files (rlzero.zoo), run as rl-zoo3's docs run it."""

import subprocess
import sys

import pytest
import stable_baselines3 as sb3
from stable_baselines3.common.env_util import make_vec_env

from rlzero import zoo
from rlzero.registration import ENV_KWARGS

# Keys rl-zoo3 consumes itself rather than passing to the SB3 constructor.
ZOO_KEYS = {"n_timesteps", "n_envs", "policy", "normalize", "env_wrapper", "frame_stack", "callback"}


@pytest.mark.parametrize("algo", zoo.ALGOS)
def test_every_id_has_hyperparameters_sb3_accepts(algo):
    hyperparams = zoo.load(algo)
    assert set(hyperparams) == set(ENV_KWARGS)
    for env_id, params in hyperparams.items():
        assert params["policy"] == "MlpPolicy" and params["n_timesteps"] > 0
        kwargs = {key: value for key, value in params.items() if key not in ZOO_KEYS}
        if "policy_kwargs" in kwargs:  # rl-zoo3 evaluates this string
            kwargs["policy_kwargs"] = eval(kwargs["policy_kwargs"], {"dict": dict})
        # The SB3 constructor takes every key (a typo fails here, not an hour into a run).
        env = make_vec_env(env_id, n_envs=params.get("n_envs", 1))  # as rl-zoo3 builds it
        model = getattr(sb3, algo.upper())(params["policy"], env, device="cpu", **kwargs)
        assert model.gamma == params.get("gamma", model.gamma), env_id


def test_module_and_file_forms_agree():
    assert zoo.load("ppo") is not zoo.load("ppo")  # a fresh dict per call: rl-zoo3 edits what it gets
    from rlzero.zoo import ppo

    assert ppo.hyperparams == zoo.load("ppo")
    assert zoo.path("dqn").read_text().lstrip().startswith("#")
    with pytest.raises(ValueError, match=r"'sac'.*a2c, dqn, ppo"):
        zoo.path("sac")


def test_rl_zoo3_trains_with_our_file(tmp_path):
    """The module form of -conf; rl-zoo3 reads a .yml path (zoo.path) with the yaml.safe_load of zoo.load."""
    pytest.importorskip("rl_zoo3")
    conf = "rlzero.zoo.ppo"
    command = [
        *(sys.executable, "-m", "rl_zoo3.train", "--algo", "ppo", "--env", "ZeroOut-v0"),
        *("--gym-packages", "rlzero", "-conf", conf),
        *("-n", "64", "--seed", "0", "--device", "cpu", "--eval-freq", "-1", "-f", str(tmp_path)),
        *("-params", "n_envs:2", "n_steps:32"),  # a tiny budget: two updates
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert f"Loading hyperparameters from: {conf}" in run.stdout
    (saved,) = tmp_path.glob("ppo/ZeroOut-v0_1/ZeroOut-v0.zip")
    model = sb3.PPO.load(saved, device="cpu")  # our own file, just written: safe to unpickle
    assert model.num_timesteps == 64 and model.gamma == zoo.load("ppo")["ZeroOut-v0"]["gamma"]
