"""Gradescope's autograder: the zip a course uploads, and the run inside Gradescope's container.

- `package.build_autograder` writes the zip (`grader gradescope ID OUT.zip`): `setup.sh`,
  `run_autograder`, the grader's source, the registry, private references, the handout and
  `hw2-grader.json` (what to grade and how to show it).
- `run.run_autograder` is what `run_autograder` calls (`python -m grader gradescope-run`): it
  packs `/autograder/submission/` into a zip, reads `submission_metadata.json` for time,
  student and extension, grades, and always leaves a valid `results/results.json`.
- `metadata.read_metadata` turns Gradescope's submission metadata into the grader's inputs.

Specification followed: https://gradescope-autograders.readthedocs.io/en/latest/specs/ and
https://gradescope-autograders.readthedocs.io/en/latest/submission_metadata/ .
"""

ENV_ROOT = "HW2_GRADER_GRADESCOPE_ROOT"  # default /autograder; tests point it at a temp folder
DEFAULT_ROOT = "/autograder"
CONFIG_NAME = "hw2-grader.json"  # in source/: what run_autograder grades and how
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")  # Gradescope's four values
