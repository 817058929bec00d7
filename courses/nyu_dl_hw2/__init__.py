"""The NYU Deep Learning HW2 course package: assignment YAML files (one per term), the
reference solutions (``reference``), the theory-key builder (``theory_key``) and the probes
the sandbox server loads before it forks (``probes``)."""
