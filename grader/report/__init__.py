"""Renderers: they read Grade objects and decide nothing.

- console:    rich renderables for one Grade and for the structural self-check
- jsonout:    deterministic JSON (`--json`)
- csvout:     the gradebook grades.csv
- gradescope: Gradescope's results.json
- feedback:   Markdown feedback for the student
- summary:    batch statistics (numbers, rich renderable, plain text)
- plots:      a PNG histogram (matplotlib is imported only when it is drawn)
"""

from __future__ import annotations

from .console import grade_view, selfcheck_view, submission_view
from .csvout import gradebook_csv, gradebook_rows, write_gradebook
from .feedback import feedback_markdown, md_escape
from .gradescope import gradescope_json, gradescope_results, write_results
from .jsonout import grade_json, grades_json
from .plots import histogram_png
from .summary import Summary, summarize, summary_text, summary_view

__all__ = [
    "grade_view",
    "selfcheck_view",
    "submission_view",
    "gradebook_csv",
    "gradebook_rows",
    "write_gradebook",
    "feedback_markdown",
    "md_escape",
    "gradescope_json",
    "gradescope_results",
    "write_results",
    "grade_json",
    "grades_json",
    "histogram_png",
    "Summary",
    "summarize",
    "summary_text",
    "summary_view",
]
