"""Pre-grading a theory PDF against a course's answer key (`grader theory`).

The engine is course-free: a key builder gives `ItemSpec`s (what kind of answer each
question expects), `check_pdf` gives a `TheoryReport` (right / wrong / not-found / by-hand
per question, with page, snippet and suggested points).
"""

from .judge import check_pdf, check_text
from .pdftext import PdfText, pdf_from_zip, read_pdf
from .spec import Alternative, ItemResult, ItemSpec, TheoryReport, report_from_json

__all__ = ["Alternative", "ItemResult", "ItemSpec", "PdfText", "TheoryReport", "check_pdf", "check_text",
           "pdf_from_zip", "read_pdf", "report_from_json"]
