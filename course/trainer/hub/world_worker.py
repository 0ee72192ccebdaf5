"""One world worker of the quiz service: reads ``{"assignment", "seed"}`` lines on stdin, answers
each with one line ``{"view": ...}`` or ``{"error": "..."}`` (``course.trainer.hub.keyring.world_view``).

    python -m course.trainer.hub.world_worker --root <course root>

``course.trainer.hub.worlds`` starts it in the sandbox. It ends when its stdin closes (the service
stopped). Whatever the course's code prints goes to stderr: stdout carries answers only.
"""
from __future__ import annotations

import argparse
import json
import os
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", required=True, help="the course folder holding source/")
    args = parser.parse_args(argv)
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # the course's prints cannot garble an answer
    sys.stdout = sys.stderr

    import pandas  # noqa: F401 - loaded before the first world, not during it

    from course.trainer.hub.keyring import world_view

    for line in sys.stdin:
        try:
            job = json.loads(line)
            reply = {"view": world_view(args.root, str(job["assignment"]), int(job["seed"]))}
        except Exception as err:  # noqa: BLE001 - one world that fails is that world's error only
            reply = {"error": f"{type(err).__name__}: {err}"[:500]}
        answers.write(json.dumps(reply, ensure_ascii=False) + "\n")
        answers.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
