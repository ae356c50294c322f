"""Evaluation episodes as video: rlzero.video and ``python -m rlzero.eval --video``."""

import gymnasium as gym
import numpy as np
import pytest
from PIL import Image

import rlzero
from rlzero import eval as eval_cli
from rlzero.agents import DQN
from rlzero.envs.render import frame_shape
from rlzero.episodes import play_episodes
from rlzero.video import record_video

gym.register_envs(rlzero)


def leftmost_nonzero(obs: np.ndarray) -> np.ndarray:
    """A scripted policy that solves every ZeroOut board: pick the leftmost nonzero slot."""
    return np.argmax(obs != 0, axis=1)


def episode_frames(seeds: list[int], env_id: str = "ZeroOut-v0") -> int:
    return len(play_episodes(leftmost_nonzero, gym.make(env_id, render_mode="ansi"), seeds))


def test_gif_holds_every_frame_of_the_episodes(tmp_path):
    path = tmp_path / "out" / "two.gif"  # the folder is made too
    assert record_video(leftmost_nonzero, "ZeroOutLarge-v0", path, n_episodes=2, seed=3) == path
    with Image.open(path) as gif:
        assert gif.n_frames == episode_frames([3, 4], "ZeroOutLarge-v0")
        assert gif.size == frame_shape(20)[1::-1]
        assert gif.info["loop"] == 0 and gif.info["duration"] == 250  # render_fps = 4


def test_mp4_through_record_video(tmp_path):
    moviepy = pytest.importorskip("moviepy")
    path = record_video(leftmost_nonzero, "ZeroOut-v0", tmp_path / "one.mp4", seed=7)
    assert list(tmp_path.iterdir()) == [path]  # RecordVideo's folder is gone
    clip = moviepy.VideoFileClip(str(path))
    try:
        assert clip.n_frames == episode_frames([7]) and clip.fps == 4
    finally:
        clip.close()


def test_unknown_suffix_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"\.avi.*\.gif, \.mp4"):
        record_video(leftmost_nonzero, "ZeroOut-v0", tmp_path / "out.avi")
    assert not (tmp_path / "out.avi").exists()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return DQN("ZeroOut-v0", seed=0, device="cpu").save(tmp_path_factory.mktemp("ckpt") / "model.pt")


@pytest.mark.slow
def test_eval_cli_writes_the_video(checkpoint, tmp_path, capsys):
    video = tmp_path / "episodes.gif"
    argv = ["--checkpoint", str(checkpoint), "--episodes", "2", "--device", "cpu"]
    assert eval_cli.main([*argv, "--video", str(video), "--video-episodes", "2"]) == 0
    captured = capsys.readouterr()
    assert f"wrote {video}" in captured.err and captured.out.startswith("dqn on ZeroOut-v0:")
    with Image.open(video) as gif:
        assert gif.n_frames >= 4  # two episodes, each a start frame and at least one step


def test_eval_cli_bad_video_suffix_exits_2(checkpoint, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        eval_cli.main(["--checkpoint", str(checkpoint), "--video", str(tmp_path / "x.webm")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "x.webm" in err and ".gif, .mp4" in err
