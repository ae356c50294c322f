"""rl-zoo3 with rlzero's hyperparameter files (rlzero.zoo), run as rl-zoo3's docs run it."""

import subprocess
import sys
from pathlib import Path

import pytest
import stable_baselines3 as sb3
from stable_baselines3.common.env_util import make_vec_env

from rlzero import zoo
from rlzero.envs import ENV_KWARGS

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


@pytest.mark.slow
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


@pytest.mark.parametrize("algo", ["dqn", "ppo", "a2c"])
def test_sb3_agents_run_rl_zoo3_s_tuned_entry_for_cartpole(algo):
    """The installed rl-zoo3's own entry, not a copy: its budget, its n_envs, its values as SB3 takes them."""
    rl_zoo3 = pytest.importorskip("rl_zoo3")
    import yaml

    from rlzero.agents.presets import make_agent, preset_for

    entry = yaml.safe_load((Path(rl_zoo3.__file__).parent / "hyperparams" / f"{algo}.yml").read_text())[
        "CartPole-v1"
    ]
    key, preset = preset_for(f"sb3-{algo}", "CartPole-v1")
    assert (
        key.startswith(f"rl-zoo3 {rl_zoo3.__version__}: {algo}.yml")
        and preset.total_timesteps == entry["n_timesteps"]
    )
    assert preset.hparams.get("num_envs") == entry.get("n_envs")
    assert {k: v for k, v in preset.hparams.items() if k != "num_envs"} == {
        k: v for k, v in entry.items() if k not in ("n_timesteps", "n_envs", "policy")
    }
    model = make_agent(f"sb3-{algo}", "CartPole-v1", device="cpu").model
    assert model.gamma == entry.get("gamma", model.gamma) and model.n_envs == entry.get("n_envs", 1)


def test_rl_zoo3_values_become_what_rl_zoo3_makes_of_them():
    from rlzero.agents.sb3 import sb3_kwargs

    kwargs = sb3_kwargs(
        {"learning_rate": "lin_0.001", "policy_kwargs": "dict(net_arch=[8])", "train_freq": [4, "step"]}
    )
    assert kwargs["learning_rate"](1.0) == pytest.approx(0.001) and kwargs["learning_rate"](
        0.25
    ) == pytest.approx(0.00025)
    assert kwargs["policy_kwargs"] == {"net_arch": [8]} and kwargs["train_freq"] == (4, "step")
    with pytest.raises(ValueError, match="only lin_<value> schedules"):
        sb3_kwargs({"clip_range": "exp_0.2"})
    with pytest.raises(ValueError, match="policy_kwargs: cannot read"):
        sb3_kwargs({"policy_kwargs": "__import__('os')"})  # no builtins: nothing but dict and nn


def test_an_entry_the_adapter_cannot_apply_is_refused_and_no_entry_means_sb3_s_defaults():
    pytest.importorskip("rl_zoo3")
    from rlzero.agents.presets import FALLBACK, preset_for

    with pytest.raises(ValueError, match="rl-zoo3's sb3-ppo entry for Acrobot-v1 needs normalize"):
        preset_for("sb3-ppo", "Acrobot-v1")
    assert preset_for("sb3-dqn", "Taxi-v3") == (FALLBACK, preset_for("sb3-dqn", "Taxi-v3")[1])
    assert preset_for("sb3-dqn", "Taxi-v3")[1].hparams == {}
