"""The numeric settings of a run (grader.numerics) are provenance: in the JSON only with
`--timings`, and the default JSON stays byte for byte what it was."""

from __future__ import annotations

import json

from grader.models import grade_from_json
from grader.report.jsonout import grade_json

from .conftest import make_grade

PROVENANCE = (("ATEN_CPU_CAPABILITY", "avx2"), ("MKL_CBWR", None), ("ONEDNN_MAX_CPU_ISA", None),
              ("cpu_capability", "AVX2"), ("grader_cpu_capability", "AVX2"), ("torch_threads", 2))


def test_default_json_is_unchanged_by_provenance():
    plain, recorded = make_grade(), make_grade(provenance=PROVENANCE)
    assert grade_json(plain) == grade_json(recorded)
    assert "provenance" not in json.loads(grade_json(recorded))


def test_timings_json_records_provenance_and_reads_back():
    g = make_grade(provenance=PROVENANCE)
    data = json.loads(grade_json(g, with_timings=True))
    assert data["provenance"] == dict(PROVENANCE)
    assert grade_from_json(g.to_json(with_timings=True)).provenance == PROVENANCE  # the batch cache keeps it
