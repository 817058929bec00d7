"""hw2-grader: grade deep-learning homework submissions (zips of notebooks and a PDF).

The package is split into rooms a submission passes through in one direction:
registry -> intake -> rules -> sandbox -> checks -> grading -> report.
"""

__version__ = "0.1.0"
