"""`plugin`: a course-specific check written in Python, named from the registry.

The generic kinds cover most needs; a few checks need logic of their own (a CNN may
answer with logits, one sigmoid score or a raw score, so its loss must be judged in the
student's own convention). `plugin: NAME` names a judge its course package declares in
course.yaml (`plugin: package.module:Object` also works): an object with the same
`validate/requests/judge` methods as a kind; its own keys go under `with:`.
"""

from __future__ import annotations

import difflib
from typing import Any, Mapping

from .base import PROBLEM, Context, Reply, Request, Verdict, allowed_keys, check_ref, plain, resolve


def course_ref(value: str) -> str:
    """`plugin:` may name a judge its course declares (`CnnOutput`) or give its ref."""
    if ":" in value:
        return value
    from ..courses import judge_named

    found = judge_named(value)
    return found[1].ref if found else value


def implementation(ref: str) -> Any:
    """The named plugin: a class is instantiated (with no arguments), an object used as is."""
    impl = resolve(course_ref(ref))
    return impl() if isinstance(impl, type) else impl


def _undeclared(value: Any) -> PROBLEM | None:
    """A judge of a course package must be declared in its course.yaml (which lists the
    probes it uses, checked when the course loads); a plain name must be a declared judge."""
    from ..courses import all_judge_names, judge_named, known

    if not isinstance(value, str) or judge_named(value):
        return None
    if ":" not in value:
        names = all_judge_names()
        near = difflib.get_close_matches(value, names, n=1)
        return ("plugin", f"unknown judge `{value}`", f"did you mean `{near[0]}`?" if near else
                f"declare it under `judges:` in the course's course.yaml (known: {', '.join(names) or 'none'})")
    course = next((c for c in known() if value.startswith(c.name + ".")), None)
    if course is None:
        return None  # a TA's own module outside any course package: checked by importing it
    return ("plugin", f"`{value}` is not declared in {course.folder / 'course.yaml'}",
            f"add it under `judges:` with the probes it uses, e.g. {value.rpartition(':')[2]}: {{ref: \"{value}\", probes: [call]}}")


class PluginKind:
    name = "plugin"
    needs_sandbox = True

    def validate(self, params: Mapping[str, Any]) -> list[PROBLEM]:
        problems: list[PROBLEM] = []
        allowed_keys(params, ("plugin", "with"), problems)
        undeclared = _undeclared(params.get("plugin"))
        if undeclared:
            return problems + [undeclared]
        check_ref({"plugin": course_ref(params["plugin"])} if isinstance(params.get("plugin"), str) else params,
                  "plugin", problems)
        if problems:
            return problems
        impl = implementation(params["plugin"])
        validate = getattr(impl, "validate", None)
        if validate:
            problems += [(f"with.{k}", t, f) for k, t, f in validate(params.get("with") or {})]
        return problems

    def requests(self, check: Any, ctx: Context) -> dict[str, Request]:
        return implementation(check.params["plugin"]).requests(check, plain(check.params.get("with") or {}), ctx)

    def judge(self, check: Any, replies: Mapping[str, Reply], ctx: Context) -> Verdict:
        return implementation(check.params["plugin"]).judge(check, plain(check.params.get("with") or {}), replies, ctx)
