"""Per module (one file each, named after it): the plausible wrong solutions a trainee writes
(``MUTATIONS``) and other right ones (``ALTERNATIVES``), run by ``test_visible_checks.py``."""
