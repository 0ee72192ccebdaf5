"""The trainer's commands (``python -m course``): demo, report, audit, feedback, certification, bundles, roster, deadlines."""
