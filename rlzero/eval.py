"""``python -m rlzero.eval``: score a saved agent with the evaluation protocol of :mod:`rlzero.evaluation`.

The command is not called ``rlzero.evaluate``: a submodule of that name would replace the function
``rlzero.evaluate`` on the package as soon as anything imported it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

from rlzero.agents import load_agent
from rlzero.agents.device import DEVICE_CHOICES
from rlzero.cli import ArgumentParser, fail, positive_int, seed_int
from rlzero.evaluation import EVAL_SEED, evaluate, format_result, render_episode
from rlzero.video import VIDEO_FORMATS, record_video


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m rlzero.eval``: evaluate a checkpoint on the env it was trained on."""
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
            fail(parser, f"--video {args.video}: cannot write there ({exc.strerror or exc})")
        print(f"wrote {path}", file=sys.stderr)
    result = evaluate(agent, agent.env_id, args.episodes, args.seed, agent.env_kwargs)
    if args.json:
        print(json.dumps({"env_id": agent.env_id, "agent": agent.name, **result.to_dict()}))
    else:
        print(f"{agent.name} on {agent.env_id}: {format_result(result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
