"""Reference solutions the grader compares student work against.

`nyu_dl_hw2.reference.theory` holds the worked answers of the written (theory) part as plain numpy
functions; other sub-packages hold the reference notebooks. Nothing here imports the grader:
the grader imports these.
"""
