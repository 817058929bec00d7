"""CUHK ELEG 5491 (2017) HW2: the course's own key builder, notebooks and judges.

Self-contained (imports nothing from reference.hw2) so it can become its own course package:
`key.py` (theory problems 1-4), `notebooks.py` (solution/starter writers), `data.py` (the
CIFAR-like training data), `judges.py` (problem 5's network checks).
"""
