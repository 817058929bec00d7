"""Reference solutions the grader compares student work against.

`reference.theory` holds the worked answers of the written (theory) part as plain numpy
functions; other sub-packages hold the reference notebooks. Nothing here imports the grader:
the grader imports these.
"""
