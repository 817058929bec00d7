"""Start-up cost of the command line: `grader --help`, `grader list` and `grader show` never
import torch (2-5 s on a loaded machine); grading launches the sandbox server before it
reads the registry, so the two start-ups overlap."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import sys
from click.testing import CliRunner
import grader.cli
for args in ({args}):
    r = CliRunner().invoke(grader.cli.main, list(args))
    assert r.exit_code == 0, (args, r.output)
assert 'torch' not in sys.modules, 'torch was imported'
print('ok')
"""


@pytest.mark.parametrize("args", [[["--help"]], [["list"]], [["show", "nyu-dl-hw2-2025"]]])
def test_light_commands_do_not_import_torch(args):
    out = subprocess.run([sys.executable, "-c", PROBE.format(args=repr(args[0]) + ",")], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-800:]


def test_the_server_is_launched_before_the_registry_is_read(monkeypatch, tmp_path):
    """The order the overlap needs: a bad registry id is reported after the server was launched
    (and the server is stopped again: no process left behind)."""
    from click.testing import CliRunner

    import grader.cli
    from grader.sandbox import client

    launched = []
    real_start = client.SandboxServer.start

    def start(self, wait=True):
        launched.append(wait)
        real_start(self, wait)

    monkeypatch.setattr(client.SandboxServer, "start", start)
    z = tmp_path / "abc1234.zip"
    z.write_bytes(b"PK\x05\x06" + b"\0" * 18)
    r = CliRunner().invoke(grader.cli.main, ["grade", str(z), "-a", "no-such-assignment"])
    assert r.exit_code == 2 and "no-such-assignment" in r.output
    assert launched == [False]


def test_the_server_is_launched_before_the_grading_code_loads(tmp_path):
    """`grade` launches the server before importing the checks and grading code (~0.3 s of CPU
    that now overlaps the server's own start-up). In a fresh process: the modules loaded at
    the launch are those the command line had already imported."""
    z = tmp_path / "abc1234.zip"
    z.write_bytes(b"PK\x05\x06" + b"\0" * 18)
    probe = f"""
import sys
from click.testing import CliRunner
import grader.cli
from grader.sandbox import client
seen = []
real_start = client.SandboxServer.start
def start(self, wait=True):
    seen.append(sorted(m for m in ("grader.grading", "grader.checks", "grader.registry", "torch") if m in sys.modules))
    real_start(self, wait)
client.SandboxServer.start = start
r = CliRunner().invoke(grader.cli.main, ["grade", {str(z)!r}, "-a", "no-such-assignment"])
assert r.exit_code == 2, r.output
print(seen)
"""
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "[[]]", (out.stdout, out.stderr[-800:])
