"""Support folders: course folders a notebook's registry entry names (`support: [...]`).

A notebook of some terms imports helper modules shipped beside it (a folder such as the
course's `res/`). The registry names such folders relative to the YAML file that writes
them (a base's path stays relative to the base), the engine copies them next to the
notebook before it runs, and a zip's own copy of a file wins over the course's. This
module holds the pure parts: remembering which file wrote a path, resolving it, listing
a folder's files, and the digest of their contents (a changed stand-in changes what a
notebook runs, so it changes the registry hash).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Callable, Iterable


class SupportPath(str):
    """A `support:` entry as written (hashed as written), with the folder of its YAML file."""

    base: str = ""


def mark_support(data: Any, folder: Path) -> None:
    """Tag every `submission.files[*].support` entry of one file's data with its folder."""
    sub = data.get("submission") if isinstance(data, dict) else None
    files = sub.get("files") if isinstance(sub, dict) else None
    for item in files if isinstance(files, list) else ():
        if isinstance(item, dict) and isinstance(item.get("support"), list):
            marked = []
            for entry in item["support"]:
                if isinstance(entry, str) and not isinstance(entry, SupportPath):
                    entry = SupportPath(entry)
                    entry.base = str(folder)
                marked.append(entry)
            item["support"] = marked


def resolve_support(data: dict[str, Any], add: Callable[..., None]) -> dict[str, Any]:
    """A copy of `data` whose support entries are absolute folders; a missing folder or two
    folders with one name are problems (reported through `add(path, problem, fix)`)."""
    sub = data.get("submission")
    files = sub.get("files") if isinstance(sub, dict) else None
    if not isinstance(files, list):
        return data
    out_files = []
    for i, item in enumerate(files):
        raw = item.get("support") if isinstance(item, dict) else None
        if not isinstance(raw, list):
            out_files.append(item)
            continue
        resolved: list[Any] = []
        for j, entry in enumerate(raw):
            if not isinstance(entry, str) or not entry:
                resolved.append(entry)  # the schema words the type error
                continue
            folder = (Path(getattr(entry, "base", "") or ".") / entry).resolve()
            key = ("submission", "files", i, "support", j)
            if not folder.is_dir():
                add(key, f"no folder `{entry}` (looked for {folder})", "name a folder relative to the YAML file that lists it")
            elif folder.name in (Path(f).name for f in resolved if isinstance(f, str)):
                add(key, f"two support folders named `{folder.name}`", "keep one")
            else:
                resolved.append(str(folder))
        out_files.append({**item, "support": resolved})
    return {**data, "submission": {**sub, "files": out_files}}


def support_listing(folders: Iterable[str]) -> dict[str, str]:
    """`res/plot_lib.py` -> its path, for every file under each folder (caches and hidden
    files left out), in sorted order."""
    out: dict[str, str] = {}
    for folder in folders:
        root = Path(folder)
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root).parts
            if path.is_file() and not any(p == "__pycache__" or p.startswith(".") for p in rel):
                out["/".join((root.name,) + rel)] = str(path)
    return out


def support_digest(data: dict[str, Any]) -> str:
    """SHA-256 of the contents of every resolved support folder ("" when there are none)."""
    sub = data.get("submission")
    files = sub.get("files") if isinstance(sub, dict) else None
    h, any_folder = hashlib.sha256(), False
    for item in files if isinstance(files, list) else ():
        folders = item.get("support") if isinstance(item, dict) else None
        for name, path in support_listing(f for f in folders or () if isinstance(f, str)).items():
            any_folder = True
            h.update(f"\0{item.get('name')}\0{name}\0".encode() + Path(path).read_bytes())
    return h.hexdigest() if any_folder else ""
