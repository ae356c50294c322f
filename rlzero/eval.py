"""``python -m rlzero.eval``: score a saved agent with the evaluation protocol of :mod:`rlzero.episodes`.

The command is not called ``rlzero.evaluate``: a submodule of that name would replace the function
``rlzero.evaluate`` on the package as soon as anything imported it.
"""

from __future__ import annotations

import signal
import sys

if __name__ == "__main__":  # a Ctrl-C while the imports below load ends the command quietly
    signal.signal(signal.SIGINT, lambda signum, frame: sys.exit(130))

import json
from collections.abc import Sequence

from rlzero.agents import load_agent
from rlzero.agents.device import DEVICE_CHOICES
from rlzero.cli import (
    WRITE_FAILURES,
    ArgumentParser,
    fail,
    positive_int,
    seed_int,
    write_failed,
)
from rlzero.diagnostics import diagnose
from rlzero.episodes import EVAL_SEED, evaluate, format_result, render_episode
from rlzero.video import VIDEO_FORMATS, record_video


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m rlzero.eval``: evaluate a checkpoint on the env it was trained on; Ctrl-C exits 130 (it
    has nothing to save: a video is written whole or not at all)."""
    try:
        return evaluate_checkpoint(argv)
    except KeyboardInterrupt:
        return 130


def evaluate_checkpoint(argv: Sequence[str] | None) -> int:
    parser = ArgumentParser(
        prog="python -m rlzero.eval",
        description="Evaluate a saved agent with the rlzero protocol (deterministic actions, fresh seeds).",
    )
    parser.add_argument("--checkpoint", required=True, help="model.pt written by rlzero.train")
    parser.add_argument("--episodes", type=positive_int, default=100, help="episodes (default 100)")
    parser.add_argument("--seed", type=seed_int, default=EVAL_SEED, help=f"first episode seed ({EVAL_SEED})")
    parser.add_argument("--device", default="auto", choices=DEVICE_CHOICES, help="where to run the policy")
    parser.add_argument(
        "--render", choices=["ansi"], default=None, help="print the first episode, a board per line"
    )
    writers = "; ".join(f"{suffix}: {writer}" for suffix, writer in VIDEO_FORMATS.items())
    parser.add_argument(
        "--video",
        metavar="PATH",
        default=None,
        help=f"record the first --video-episodes episodes (rgb_array frames) to PATH, by suffix ({writers})",
    )
    parser.add_argument(
        "--video-episodes", type=positive_int, default=1, help="episodes in the video (default 1)"
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    try:
        agent = load_agent(args.checkpoint, device=args.device)
    except (ValueError, FileNotFoundError) as exc:
        fail(parser, str(exc))
    if args.render:
        try:
            print(render_episode(agent, agent.env_id, args.seed, agent.env_kwargs))
        except ValueError as exc:
            fail(parser, f"--render {args.render}: {exc}")
    if args.video:
        try:
            path = record_video(
                agent, agent.env_id, args.video, args.video_episodes, args.seed, agent.env_kwargs
            )
        except ValueError as exc:
            fail(parser, str(exc))
        except OSError as exc:
            if exc.errno not in WRITE_FAILURES:  # a path that cannot be written to: a misused flag
                fail(parser, f"--video {args.video}: cannot write there ({exc.strerror or exc})")
            return write_failed(parser.prog, OSError(exc.errno, exc.strerror or str(exc), args.video), None)
        print(f"wrote {path}", file=sys.stderr)
    diagnostics = diagnose(agent, agent.env_id, agent.env_kwargs)[0]
    try:
        result = evaluate(agent, agent.env_id, args.episodes, args.seed, agent.env_kwargs)
    except ValueError as exc:
        fail(parser, f"--episodes {args.episodes}: {exc}")
    if args.json:
        print(json.dumps({"env_id": agent.env_id, "agent": agent.name, **result.to_dict(), **diagnostics}))
    else:
        print(f"{agent.name} on {agent.env_id}: {format_result(result)}")
        if diagnostics:
            figures = ", ".join(f"{k.removeprefix('diagnostics/')} {v:.3f}" for k, v in diagnostics.items())
            print(f"against the optimum (held-out boards): {figures}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
