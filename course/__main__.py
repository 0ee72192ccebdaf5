"""``python -m course``: the trainer's command line (``course.trainer.cohort.cli``); see docs/trainer.md."""
import sys

if __name__ == "__main__":
    from course.trainer.cohort.cli import main

    sys.exit(main())
