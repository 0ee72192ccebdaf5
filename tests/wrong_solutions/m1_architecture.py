"""m1_architecture: plausible wrong solutions and other right ones (see wrong_solutions/__init__.py)."""
from mutation import Alternative, Mutation  # noqa: F401

MUTATIONS: list = []
ALTERNATIVES: list = []
