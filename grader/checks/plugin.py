"""`plugin`: a course-specific check written in Python, named from the registry.

The generic kinds cover most needs; a few checks need logic of their own (HW2's CNN may
answer with logits, one sigmoid score or a raw score, so its loss must be judged in the
student's own convention). `plugin: package.module:Object` names an object with the
same `validate/requests/judge` methods as a kind; its own keys go under `with:`.
"""

from __future__ import annotations

from typing import Any, Mapping

from .base import PROBLEM, Context, Reply, Request, Verdict, allowed_keys, check_ref, plain, resolve


def implementation(ref: str) -> Any:
    """The named plugin: a class is instantiated (with no arguments), an object used as is."""
    impl = resolve(ref)
    return impl() if isinstance(impl, type) else impl


class PluginKind:
    name = "plugin"
    needs_sandbox = True

    def validate(self, params: Mapping[str, Any]) -> list[PROBLEM]:
        problems: list[PROBLEM] = []
        allowed_keys(params, ("plugin", "with"), problems)
        check_ref(params, "plugin", problems)
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
