"""Check kinds: each builds the requests the sandbox child runs and judges the replies.

Kinds are looked up by the registry's `kind:` value; `PARAM_VALIDATORS` lets the registry
validate each check's own keys when it loads a file, so a typo is reported up front.
"""

from __future__ import annotations

from typing import Any, Mapping

from .base import CheckKind, Context, Measure, NotebookFacts, Reply, Request, Verdict, result_from
from .behaviour import BehaviourKind
from .function import FunctionKind
from .integrity import IntegrityKind
from .module import ModuleKind
from .plugin import PluginKind
from .train import TrainKind

KINDS: dict[str, CheckKind] = {k.name: k for k in (
    FunctionKind(), ModuleKind(), BehaviourKind(), TrainKind(), IntegrityKind(), PluginKind())}


def _validator(kind: CheckKind):
    def validate(params: Mapping[str, Any]) -> list[tuple[str, str, str]]:
        return kind.validate(params)
    return validate


PARAM_VALIDATORS = {name: _validator(kind) for name, kind in KINDS.items()}

__all__ = ["KINDS", "PARAM_VALIDATORS", "CheckKind", "Context", "Measure", "NotebookFacts", "Reply", "Request", "Verdict",
           "result_from"]
