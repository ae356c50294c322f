"""Stable-Baselines3 and sb3-contrib on the ZeroOut ids, each built the way its own docs build it.

SB3's defaults ask for ``render_mode="rgb_array"`` (``PPO("MlpPolicy", id)``, ``make_vec_env(id)``), so
these tests also hold the rgb_array mode to what SB3 expects. Optional clients (sb3-contrib, moviepy for
the video recorders, pygame for ``HumanRendering``) are skipped where not installed.
"""

import os

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

import rlzero
from rlzero.envs import ENV_KWARGS
from rlzero.envs.render import frame_shape

gym.register_envs(rlzero)

ENV_IDS = list(ENV_KWARGS)
TINY_PPO = {"n_steps": 32, "batch_size": 32, "n_epochs": 1, "device": "cpu", "seed": 0}


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_ppo_from_an_env_id(env_id):
    model = PPO("MlpPolicy", env_id, **TINY_PPO)
    assert model.get_env().render_mode == "rgb_array"
    model.learn(total_timesteps=32)
    assert model.num_timesteps == 32
    obs = model.get_env().reset()
    actions, _ = model.predict(obs, deterministic=True)
    assert 0 <= int(actions[0]) < ENV_KWARGS[env_id]["size"]


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_make_vec_env_with_defaults(env_id):
    vec_env = make_vec_env(env_id, n_envs=4, seed=0)
    obs = vec_env.reset()
    size = ENV_KWARGS[env_id]["size"]
    assert obs.shape == (4, size) and obs.dtype == np.int64
    images = vec_env.get_images()
    assert len(images) == 4 and all(image.shape == frame_shape(size) for image in images)
    assert vec_env.render().dtype == np.uint8  # the tiled picture of the four boards
    _, rewards, dones, infos = vec_env.step(np.zeros(4, dtype=np.int64))
    assert rewards.shape == (4,) and dones.shape == (4,)
    assert all(info["action_mask"].shape == (size,) for info in infos)
    vec_env.close()


def test_maskable_ppo_picks_only_productive_slots():
    sb3_contrib = pytest.importorskip("sb3_contrib")
    from sb3_contrib.common.maskable.utils import get_action_masks

    model = sb3_contrib.MaskablePPO("MlpPolicy", "ZeroOutInOrder-v0", **TINY_PPO)
    model.learn(total_timesteps=64)
    vec_env = model.get_env()
    obs = vec_env.reset()
    for _ in range(30):
        masks = get_action_masks(vec_env)  # calls every sub-env's action_masks()
        actions, _ = model.predict(obs, action_masks=masks, deterministic=False)
        assert masks[0, actions[0]] == 1  # under in_order, one productive slot in ten
        obs, rewards, _, _ = vec_env.step(actions)
        assert rewards[0] == 1.0
    # On a single env made with gym.make, the mask is reached through the wrappers or the info.
    env = gym.make("ZeroOutInOrder-v0")
    obs, info = env.reset(seed=1)
    mask = env.get_wrapper_attr("action_masks")()
    assert np.array_equal(mask, info["action_mask"]) and np.array_equal(mask, env.unwrapped.action_masks())
    action, _ = model.predict(obs, action_masks=mask)
    assert mask[action] == 1


def test_vec_video_recorder_writes_an_mp4(tmp_path):
    pytest.importorskip("moviepy")
    from stable_baselines3.common.vec_env import VecVideoRecorder

    vec_env = VecVideoRecorder(
        make_vec_env("ZeroOut-v0", n_envs=2, seed=0),
        str(tmp_path),
        record_video_trigger=lambda step: step == 0,
        video_length=12,
        name_prefix="zero-out",
    )
    vec_env.reset()
    for _ in range(12):
        vec_env.step(np.array([0, 1]))
    vec_env.close()
    (video,) = tmp_path.glob("zero-out*.mp4")
    assert video.stat().st_size > 1000


def test_gymnasium_record_video_writes_an_mp4_per_episode(tmp_path):
    pytest.importorskip("moviepy")
    env = gym.wrappers.RecordVideo(
        gym.make("ZeroOut-v0", render_mode="rgb_array", size=3, max_value=2),
        str(tmp_path / "videos"),
        episode_trigger=lambda episode: True,
        name_prefix="zero-out",
    )
    for seed in (0, 1):
        env.reset(seed=seed)
        done = False
        while not done:
            _, _, terminated, truncated, _ = env.step(env.action_space.sample())
            done = terminated or truncated
    env.close()
    videos = sorted((tmp_path / "videos").glob("zero-out-episode-*.mp4"))
    assert [v.name for v in videos] == ["zero-out-episode-0.mp4", "zero-out-episode-1.mp4"]
    assert all(v.stat().st_size > 1000 for v in videos)


def test_human_rendering_opens_a_window(monkeypatch):
    pygame = pytest.importorskip("pygame")
    monkeypatch.setitem(os.environ, "SDL_VIDEODRIVER", "dummy")  # a window without a display
    env = gym.wrappers.HumanRendering(gym.make("ZeroOut-v0", render_mode="rgb_array"))
    try:
        env.reset(seed=0)
        env.step(0)
        assert env.window is not None
        assert env.window.get_size() == frame_shape(10)[1::-1]  # (width, height)
    finally:
        env.close()
    assert not pygame.display.get_init()
