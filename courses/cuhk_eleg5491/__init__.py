"""The CUHK ELEG 5491 (2017) HW2 course package: its assignment YAML, the theory-key builder
for problems 1 and 4 (``reference.key``) and the judges of problem 5's CIFAR-10 network
(``reference.judges``). It reuses the NYU package's worked theory references (Elman BPTT,
fully connected counting) rather than copying them."""
