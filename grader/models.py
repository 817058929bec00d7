"""The data that flows between rooms: frozen, plain, JSON-able.

Every room takes these and returns new ones; nothing mutates them. `to_json()` gives the
stable dictionary the CLI prints with `--json` (keys are part of the public contract, see
the README), built with sorted, deterministic content so the same submission always
serialises byte for byte the same.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Any, Literal

from .schema import ManualItem  # noqa: F401 - the registry's, listed in every Grade

if TYPE_CHECKING:  # models stay import-light; the report class lives with the theory checker
    from .theory.spec import TheoryReport



class Status(StrEnum):
    """What one check says about the student's work (a `str`: `"pass" == Status.PASS`).

    - `pass`: full points; `partial`: some points; `fail`: the code ran and the answer is wrong.
    - `error`: the student's code could not be judged because *running it* went wrong: it
      raised, hung past its limit, crashed the child, or was never defined (the notebook
      failed before it). It says nothing about whether the idea was right; no points, and
      the message names what happened. A fault of the grader itself is never `error`: that
      is exit status 3 for the whole command.
    - `skipped`: not judged here (a self-check without this check's values, a notebook
      missing from the zip, a check the TAs grade by hand).
    """

    PASS = "pass"
    PARTIAL = "partial"
    FAIL = "fail"
    ERROR = "error"
    SKIPPED = "skipped"


class GradeVerdict(StrEnum):
    """What happened to a whole submission (`Grade.verdict`)."""

    GRADED = "graded"  # scored (penalties may apply)
    NOT_ACCEPTED = "not-accepted"  # later than the cut-off: score 0
    REJECTED = "rejected"  # the zip could not be graded (not a zip, hostile, too big): `reason` says why
    ERROR = "error"  # the grader crashed on this submission in a batch (a worker died): regraded next run


PenaltyRule = Literal["naming", "late", "execution", "integrity"]


ZIP_NAME = "zip-name"  # Problem.code of a zip whose name does not match the pattern


@dataclass(frozen=True)
class Problem:
    """Something wrong with the submission, said so the student can fix it."""

    file: str
    message: str
    fix: str = ""
    code: str = ""  # what kind of problem, for rules (e.g. ZIP_NAME); not part of the JSON, which is for people

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "message": self.message, "fix": self.fix}


@dataclass(frozen=True)
class FoundFile:
    """One required file and what intake found for it.

    `archive_name` is the entry in the zip it was matched to (None when missing);
    `path` is where it lies in the scratch folder; `exact` is False when it was matched by a
    forgiving rule (case, copy suffix, wrapping folder) and so costs the naming penalty.
    `valid` is False when the file is present but unusable (bad notebook JSON, empty PDF).
    """

    name: str
    kind: str  # "notebook" | "pdf" | "other"
    archive_name: str | None = None
    path: str | None = None
    exact: bool = True
    valid: bool = True
    detail: str = ""

    @property
    def present(self) -> bool:
        return self.archive_name is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "present": self.present,
            "archive_name": self.archive_name,
            "exact": self.exact,
            "valid": self.valid,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Submission:
    """A zip after intake: which required files were found, and what was wrong.

    `fatal` is set when the zip cannot be graded at all (not a zip, hostile, too big); the
    reason then becomes the verdict. `scratch` is the folder the files were extracted to;
    the caller owns it and removes it.
    """

    zip_name: str
    sha256: str
    student: str | None
    files: tuple[FoundFile, ...] = ()
    extra: tuple[str, ...] = ()
    litter: tuple[str, ...] = ()
    problems: tuple[Problem, ...] = ()
    naming_ok: bool = True
    fatal: str | None = None
    newest_entry_time: str | None = None  # ISO 8601, from the zip's entry times (untrusted)
    scratch: str | None = None
    # files of the registry's support folders the zip carried itself (name `res/plot_lib.py`,
    # path in the scratch folder); they replace the course's copies of those files
    support: tuple[FoundFile, ...] = ()

    def file(self, name: str) -> FoundFile | None:
        for f in self.files:
            if f.name == name:
                return f
        return None


@dataclass(frozen=True)
class Penalty:
    rule: str  # one of PenaltyRule
    percent: float
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "percent": self.percent, "reason": self.reason}


@dataclass(frozen=True)
class Lateness:
    """When the submission came in relative to its (possibly extended) deadline."""

    submitted_at: str | None  # ISO 8601 with offset
    deadline: str  # ISO 8601 with offset, after any extension
    hours_late: float
    accepted: bool
    source: str  # "option" | "timestamps-csv" | "zip-entries" | "none"
    trusted: bool


@dataclass(frozen=True)
class Measure:
    """The number a threshold check decided on, and its thresholds, for the calibration
    report: the margin of a verdict is the distance from `value` to the nearest bound.
    `bounds` are in the units of `value` (e.g. zero and full accuracy); `higher_is_better`
    says which way the value must move to earn points. Provenance, not contract: JSON
    shows it only with `--timings`, since its last digits may differ between machines."""

    value: float
    bounds: tuple[float, ...]
    higher_is_better: bool = True
    name: str = ""  # what value is, e.g. "accuracy on hidden data"

    @property
    def margin(self) -> float:
        return min((abs(self.value - b) for b in self.bounds), default=float("inf"))

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "bounds": list(self.bounds), "higher_is_better": self.higher_is_better,
                "name": self.name}


@dataclass(frozen=True)
class CheckResult:
    id: str
    notebook: str
    status: Status  # a plain string is accepted and checked
    points: float
    max_points: float
    message: str = ""
    seconds: float = 0.0
    public: bool = False
    measure: Measure | None = None  # threshold checks only

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", Status(self.status))  # a typo is an error here, not in a report

    def to_json(self, with_seconds: bool = False) -> dict[str, Any]:
        out = {
            "id": self.id,
            "notebook": self.notebook,
            "status": self.status,
            "points": self.points,
            "max_points": self.max_points,
            "message": self.message,
        }
        if with_seconds:
            out["seconds"] = self.seconds
            if self.measure is not None:
                out["measure"] = self.measure.to_json()
        return out


@dataclass(frozen=True)
class ManualScore:
    """Points a TA gave one hand-graded item (`batch --manual`), with the comment for the student."""

    id: str
    points: float
    max_points: float
    comment: str = ""


@dataclass(frozen=True)
class Grade:
    """One submission, graded. Renderers read it; they decide nothing.

    `score` = max(0, raw_score - sum(penalty percents) * max_score / 100), or 0 when the
    submission was not accepted. Manual items are not in raw_score: `auto_max` is what the
    automatic checks can give, `max_score` the assignment's total.
    """

    student: str | None
    assignment: str
    zip_name: str
    accepted: bool
    hours_late: float
    lateness: Lateness | None
    penalties: tuple[Penalty, ...]
    problems: tuple[Problem, ...]
    files: tuple[FoundFile, ...]
    checks: tuple[CheckResult, ...]
    manual: tuple[ManualItem, ...]
    raw_score: float
    score: float
    max_score: float
    auto_max: float
    verdict: GradeVerdict  # a plain string is accepted and checked
    reason: str = ""
    grader_version: str = ""
    registry_hash: str = ""
    submission_hash: str = ""
    timings: tuple[tuple[str, float], ...] = field(default=())
    theory: "TheoryReport | None" = None  # the theory PDF pre-graded against the key (`grader theory`)
    manual_scores: tuple["ManualScore", ...] = ()  # the TAs' points (`batch --manual`)

    @property
    def manual_points(self) -> float:
        return round(sum(m.points for m in self.manual_scores), 4)

    @property
    def final_score(self) -> float:
        """Automatic + the TAs' points - penalties (0 when not accepted): what goes to the LMS."""
        if not self.accepted:
            return 0.0
        percent = sum(p.percent for p in self.penalties)
        return round(max(0.0, self.raw_score + self.manual_points - percent * self.max_score / 100.0), 4)
    # numeric settings of the run (kernel variables, torch threads, the kernel set torch
    # picked): `grader.numerics`; shown with `--timings` only, like the timings
    provenance: tuple[tuple[str, Any], ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "verdict", GradeVerdict(self.verdict))

    def to_json(self, with_timings: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "student": self.student,
            "assignment": self.assignment,
            "zip": self.zip_name,
            "verdict": self.verdict,
            "reason": self.reason,
            "accepted": self.accepted,
            "hours_late": self.hours_late,
            "submitted_at": self.lateness.submitted_at if self.lateness else None,
            "time_source": self.lateness.source if self.lateness else "none",
            "time_trusted": self.lateness.trusted if self.lateness else False,
            "penalties": [p.to_json() for p in self.penalties],
            "problems": [p.to_json() for p in self.problems],
            "files": [f.to_json() for f in self.files],
            "raw_score": self.raw_score,
            "score": self.score,
            "max_score": self.max_score,
            "auto_max": self.auto_max,
            "checks": [c.to_json(with_seconds=with_timings) for c in self.checks],
            "manual": [asdict(m) for m in self.manual],
            "grader_version": self.grader_version,
            "registry_hash": self.registry_hash,
            "submission_hash": self.submission_hash,
        }
        if self.theory is not None:
            out["theory"] = self.theory.to_json()
        if self.manual_scores:
            out["manual_scores"] = [asdict(m) for m in self.manual_scores]
            out["final_score"] = self.final_score
        if with_timings:
            out["timings"] = dict(self.timings)
            out["provenance"] = dict(self.provenance)
            out["lateness"] = asdict(self.lateness) if self.lateness else None
            for c, check in zip(out["checks"], self.checks):
                c["public"] = check.public
        return out


@cache
def _grade_adapter() -> Any:
    """pydantic's schema of Grade and all it holds, built on first use; `Grade.theory`'s
    forward reference is resolved here (importing the theory package at the top would
    make every import of `models` pay for the PDF checker)."""
    from pydantic import TypeAdapter

    from .theory.spec import TheoryReport

    globals().setdefault("TheoryReport", TheoryReport)
    return TypeAdapter(Grade)


def grade_data(grade: Grade) -> dict[str, Any]:
    """A Grade as JSON-able data, every field kept (the batch cache and worker results):
    pydantic's own serialisation; `grade_from_data` is its inverse, by validation."""
    return _grade_adapter().dump_python(grade, mode="json")


def grade_from_data(data: Any) -> Grade:
    """The inverse of `grade_data` (raises pydantic's `ValidationError`, a `ValueError`)."""
    return _grade_adapter().validate_python(data)


def grade_from_json(data: dict[str, Any]) -> Grade:
    """Rebuild a Grade from the public JSON contract, `Grade.to_json(with_timings=True)`
    (e.g. a `grades.json` entry); internal round trips use `grade_data`."""
    lateness = None
    if data.get("lateness"):
        lateness = Lateness(**data["lateness"])
    return Grade(
        student=data["student"], assignment=data["assignment"], zip_name=data["zip"],
        accepted=data["accepted"], hours_late=data["hours_late"], lateness=lateness,
        penalties=tuple(Penalty(**p) for p in data["penalties"]),
        problems=tuple(Problem(**p) for p in data["problems"]),
        files=tuple(FoundFile(name=f["name"], kind=f["kind"], archive_name=f["archive_name"], exact=f["exact"],
                              valid=f["valid"], detail=f["detail"]) for f in data["files"]),
        checks=tuple(CheckResult(id=c["id"], notebook=c["notebook"], status=c["status"], points=c["points"],
                                 max_points=c["max_points"], message=c["message"], seconds=c.get("seconds", 0.0),
                                 public=c.get("public", False),
                                 measure=Measure(value=c["measure"]["value"], bounds=tuple(c["measure"]["bounds"]),
                                                 higher_is_better=c["measure"]["higher_is_better"],
                                                 name=c["measure"]["name"]) if c.get("measure") else None)
                      for c in data["checks"]),
        manual=tuple(ManualItem(**m) for m in data["manual"]),
        raw_score=data["raw_score"], score=data["score"], max_score=data["max_score"], auto_max=data["auto_max"],
        verdict=data["verdict"], reason=data["reason"], grader_version=data["grader_version"],
        registry_hash=data["registry_hash"], submission_hash=data["submission_hash"],
        timings=tuple((k, v) for k, v in (data.get("timings") or {}).items()),
        theory=_theory_from_json(data.get("theory")),
        manual_scores=tuple(ManualScore(**m) for m in data.get("manual_scores", ())),
        provenance=tuple((k, v) for k, v in (data.get("provenance") or {}).items()),
    )


def _theory_from_json(data: dict[str, Any] | None) -> "TheoryReport | None":
    if not data:
        return None
    from .theory.spec import report_from_json

    return report_from_json(data)
