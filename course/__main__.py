"""``python -m course``: the trainer's command line (``course.trainer.cli``); see README.md."""
import sys

if __name__ == "__main__":
    from course.trainer.cli import main

    sys.exit(main())
