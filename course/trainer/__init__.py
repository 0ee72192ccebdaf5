"""Trainer-side tools: nbgrader preprocessors that seal quiz keys and clean feedback, the
nbgrader configuration helpers, and the answer-file audit. Never imported by a trainee's kernel.
"""
