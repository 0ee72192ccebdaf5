"""Simulated ETP Express data: deterministic from a seed, written as raw text files.

Trainees have no Railway, Sentry or Discord; each generator here stands in for one of them.
The same seed gives the same bytes, so a trainee's run and ``nbgrader autograde`` see the
same data without shipping large files in ``release/``.
"""
