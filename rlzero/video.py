"""Evaluation episodes as video: a GIF through Pillow, an mp4 through Gymnasium's ``RecordVideo``.

Frames are the env's ``rgb_array`` pictures, played with the deterministic policy of the evaluation
protocol on the protocol's seeds, so the video shows episodes that :func:`rlzero.evaluate` scores.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from PIL import Image

from rlzero.agents.files import atomic_path, write_error
from rlzero.episodes import EVAL_SEED, play_episodes

VIDEO_FORMATS = {
    ".gif": "Pillow's GIF writer (always installed)",
    ".mp4": "Gymnasium's RecordVideo (needs moviepy: pip install moviepy)",
}
"""File suffix -> the writer that makes it."""


def write_gif(frames: Sequence[np.ndarray], path: str | Path, fps: float) -> Path:
    """Write ``HxWx3`` uint8 frames as a looping GIF at ``fps`` frames per second."""
    images = [Image.fromarray(frame) for frame in frames]
    images[0].save(
        path, save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0, optimize=True
    )
    return Path(path)


def record_video(
    policy: Any,
    env_id: str,
    path: str | Path,
    n_episodes: int = 1,
    seed: int = EVAL_SEED,
    env_kwargs: dict[str, Any] | None = None,
) -> Path:
    """Record ``n_episodes`` deterministic episodes (seeds ``seed``, ``seed + 1``, ...) into one file.

    The suffix of ``path`` picks the writer (:data:`VIDEO_FORMATS`); the frame rate is the env's
    ``metadata["render_fps"]``. Raises ``ValueError`` for another suffix, or for ``.mp4`` without moviepy.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in VIDEO_FORMATS:
        raise ValueError(f"cannot write {path}: valid video suffixes are {', '.join(VIDEO_FORMATS)}")
    if n_episodes < 1:
        raise ValueError(f"n_episodes must be >= 1, got {n_episodes}")
    if suffix == ".mp4" and importlib.util.find_spec("moviepy") is None:
        raise ValueError(f"writing {path} needs moviepy (pip install moviepy); a .gif needs nothing more")
    path.parent.mkdir(parents=True, exist_ok=True)
    env = gym.make(env_id, render_mode="rgb_array", **(env_kwargs or {}))
    seeds = range(seed, seed + n_episodes)
    if suffix == ".gif":
        try:
            frames = play_episodes(policy, env, seeds)
        finally:
            env.close()
        with atomic_path(path, suffix=".gif") as tmp:  # no half-written GIF if interrupted
            write_gif(frames, tmp, env.metadata["render_fps"])
        return path
    with tempfile.TemporaryDirectory(dir=path.parent) as folder:
        clips = Path(folder) / "clips"  # a folder RecordVideo makes itself (it warns about one that exists)
        # One clip from the first reset until close: a snippet at least as long as every episode together.
        limit = getattr(env.unwrapped, "max_steps", None) or (env.spec and env.spec.max_episode_steps)
        longest = n_episodes * (int(limit or 1_000) + 1)  # ZeroOut's own step limit, or the env's
        recorder = gym.wrappers.RecordVideo(
            env,
            str(clips),
            episode_trigger=lambda episode: episode == 0,
            video_length=longest,
            name_prefix="clip",
        )
        try:
            play_episodes(policy, recorder, seeds, render=False)
        finally:
            recorder.close()
        clip = clips / "clip-episode-0.mp4"
        check_mp4(clip, path)
        os.replace(clip, path)
    return path


def check_mp4(clip: Path, path: Path) -> None:
    """Raise ``OSError`` naming ``path`` unless ``clip`` is a whole MP4 file: its top-level boxes fill the
    file exactly and include ``moov`` (the index a player needs, written last). moviepy's ffmpeg leaves a
    cut file without a word when the disk fills up."""
    try:
        data = clip.read_bytes()
    except FileNotFoundError:
        raise write_error(path, RuntimeError("no video was written")) from None
    boxes, offset = set(), 0
    while offset + 8 <= len(data):
        size, kind = int.from_bytes(data[offset : offset + 4], "big"), data[offset + 4 : offset + 8]
        if size == 1 and offset + 16 <= len(data):  # a 64-bit size follows the type
            size = int.from_bytes(data[offset + 8 : offset + 16], "big")
        if size < 8:
            break
        boxes.add(kind)
        offset += size
    if offset != len(data) or b"moov" not in boxes:
        raise write_error(path, RuntimeError(f"the video stops after {len(data):,} bytes (cut short)"))
