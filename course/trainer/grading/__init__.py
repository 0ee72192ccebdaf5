"""The autograde pipeline: sandboxed kernels, trusted verdicts, the reference cache, the parallel grader, nbgrader preprocessors and configuration."""
