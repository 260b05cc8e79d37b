"""``runa-runner queue pause|resume QUEUE``: stop or restart reserving from a queue.

The flag lives in the queue's driver, so every worker process obeys it at its next
reserve; a paused queue still takes pushes and keeps its jobs. Pausing a paused queue
(or resuming a running one) changes nothing and says so.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..registry import Registry
from . import context

#: What each action prints, by (action, whether the queue was paused before).
MESSAGES = {
    ("pause", False): "queue '{}' paused",
    ("pause", True): "queue '{}' was already paused",
    ("resume", True): "queue '{}' resumed",
    ("resume", False): "queue '{}' was not paused",
}


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("queue", parents=[common], help="pause or resume a queue",
                       description="pause: no worker reserves from QUEUE until resume (it "
                                   "still takes pushes and keeps its jobs); resume: workers "
                                   "take its jobs again at once.")
    p.add_argument("action", choices=("pause", "resume"))
    p.add_argument("queue", metavar="QUEUE")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    registry = context.load(args, import_handlers=False)
    # A flag in an in-process driver would pause nothing: its workers live elsewhere.
    context.require_cross_process(
        registry, args.queue, ": its workers live in another process, which cannot see a "
                              "pause made here")
    was = context.run_with(registry, lambda r: _apply(r, args.action, args.queue))
    print(MESSAGES[(args.action, was)].format(args.queue))
    return 0


async def _apply(registry: Registry, action: str, queue: str) -> bool:
    if action == "pause":
        return await registry.pause(queue)
    return await registry.resume(queue)
