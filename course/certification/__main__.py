"""``python -m course.certification [workspace]``: copy the checklist's notebook into the workspace.

Run it in your trainee folder (``workspace/`` with ``make start``): the notebook lands in
``m7_certification/`` beside your module folders, where it reads them. A copy already there is
kept, with whatever you wrote in it.
"""
import sys

from course.certification import copy_notebook


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    target = copy_notebook(args[0] if args else ".")
    print(f"Your certification checklist: {target} (open it in JupyterLab and run it)")


if __name__ == "__main__":
    main()
