"""Self-check bundles (`grader bundle`, `grader check --bundle`) and private references
(`grader --references DIR`).

One small registry (written here) covers each way a public check can go: literal and
generated cases with alternatives (nyu_dl_hw2.reference.theory), a private reference kept in a
--references folder (`my_course_ref`), provided sources, a plugin that imports without the
private references (runs live, its reference replayed), and a private plugin and a private
metric (graded by the TAs). A hidden check and the hidden cases of a public one must stay
out of the bundle. The real nyu-dl-hw2-2025 bundle is built too (public checks only: no
training). Sandbox use is kept small: one shared runner in-process, one CLI run in a
subprocess where `reference` cannot be imported.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from grader import __version__, registry
from grader.bundle import _Arrays, call_key, decode, encode, open_bundle
from grader.checks import base
from grader.checks.base import Context, rng_for
from grader.cli import main
from grader.checks import NotebookFacts, Reply
from grader.grading import DEFAULT_SEED, Options, RunOutcome, grade
from tests.cli.conftest import submission

ROOT = Path(__file__).resolve().parent.parent
ON_TIME = "2025-02-25T20:00:00-05:00"
GENERATOR = "tests.cli.conftest:xcorr_case"

MY_COURSE_REF = '''\
"""Private references of a course, kept outside the grader package."""
import numpy as np


def solution(values):
    running_total_of_the_course = np.cumsum(np.asarray(values, dtype=np.float64))
    return running_total_of_the_course * 2.0  # the private answer


def nothing_visible():
    return False


def provided():
    return {"conv.ipynb": {"helper": "def helper(a):\\n    return a + 1\\n"}}


def blobs(rng, n=8):
    private_blob_centres = rng.normal(size=(n, 2))
    return {"x": private_blob_centres, "y": (rng.random(n) > 0.5).astype("int64")}


def broken(rng):
    raise RuntimeError("this generator is broken")


def accuracy(outputs, data):
    return float(np.mean(np.asarray(outputs).argmax(-1) == data["y"]))


class SecretJudge:
    def validate(self, params):
        return []

    def requests(self, check, params, ctx):
        from grader.checks.base import Request
        return {"call": Request("call", {"target": "helper", "args": [41], "kwargs": {}}, timeout=check.timeout)}

    def judge(self, check, params, replies, ctx):
        from grader.checks.base import Verdict
        reply = replies.get("call")
        secret_rule_of_the_course = reply is not None and reply.ok and reply.value == 42
        return Verdict(1.0 if secret_rule_of_the_course else 0.0, "helper(41)")
'''

REGISTRY = """\
id: bundle-demo
title: Bundle demo
max_score: 30
deadline: {at: "2025-02-25 23:59", timezone: America/New_York}
submission:
  zip_pattern: '(?P<student>[a-z]+[0-9]+)\\.zip'
  zip_example: abc1234.zip
  files:
    - {name: theory.pdf}
    - {name: conv.ipynb}
sandbox: {cell_seconds: 5, notebook_seconds: 30, memory_mb: 2048}
manual:
  - {id: theory, points: 5, file: theory.pdf, description: "by hand"}
checks:
  - id: conv.shape
    notebook: conv.ipynb
    kind: function
    points: 2
    public: true
    timeout: 5
    target: out_shape
    reference: "nyu_dl_hw2.reference.theory.shapes:conv1d_output_shape"
    cases: [{args: [[7, 11], 3], kwargs: {stride: 2}}]
    compare: {mode: exact}
  - id: conv.xcorr
    notebook: conv.ipynb
    kind: function
    points: 3
    public: true
    timeout: 5
    target: xcorr
    reference: "nyu_dl_hw2.reference.theory.conv:cross_correlate1d"
    generator: "tests.cli.conftest:xcorr_case"
    count: 3
    public_count: 1
    partial: {flipped: 0.5}
    alternatives: {flipped: {reference: "nyu_dl_hw2.reference.theory.conv:convolve1d"}}
  - id: conv.hidden
    notebook: conv.ipynb
    kind: function
    points: 3
    timeout: 5
    target: xcorr
    reference: "nyu_dl_hw2.reference.theory.conv:cross_correlate1d"
    generator: "tests.cli.conftest:xcorr_case"
    count: 2
    public_count: 0
  - id: conv.cumsum
    notebook: conv.ipynb
    kind: function
    points: 1
    public: true
    timeout: 5
    target: cumsum2
    reference: "my_course_ref:solution"
    cases: [{args: [[1, 2, 3.5]]}]
  - id: conv.isolated
    notebook: conv.ipynb
    kind: function
    points: 1
    public: true
    timeout: 5
    description: student code cannot import the private references
    target: can_see_references
    reference: "my_course_ref:nothing_visible"
    cases: [{args: []}]
    compare: {mode: exact}
  - id: conv.provided
    notebook: conv.ipynb
    kind: integrity
    points: 1
    public: true
    provided: "my_course_ref:provided"
    names: [helper]
  - id: conv.live
    notebook: conv.ipynb
    kind: plugin
    points: 1
    public: true
    timeout: 5
    plugin: "tests.bundle.live_plugin:LastTotal"
    with: {target: total2, reference: "my_course_ref:solution", values: [1, 2, 3]}
  - id: conv.secret
    notebook: conv.ipynb
    kind: plugin
    points: 1
    public: true
    timeout: 5
    plugin: "my_course_ref:SecretJudge"
  - id: conv.train
    notebook: conv.ipynb
    kind: train
    points: 2
    public: true
    timeout: 30
    model: {class: Net}
    train: {function: fit}
    data: {generator: "my_course_ref:blobs", args: {n: 16}}
    evaluate: {generator: "my_course_ref:blobs", args: {n: 8}, inputs: [x]}
    metric: "my_course_ref:accuracy"
    thresholds: {zero: 0.5, full: 0.9}
"""

IN_BUNDLE = ["conv.shape", "conv.xcorr", "conv.cumsum", "conv.isolated", "conv.provided", "conv.live"]
TA_ONLY = ["conv.secret", "conv.train"]

GOOD = textwrap.dedent("""\
    import importlib.util
    import numpy as np

    def out_shape(shape, k, stride=1):
        c, length = shape
        return (1, (length - k) // stride + 1)

    def xcorr(x, W):
        x, W = np.asarray(x, float), np.asarray(W, float)
        F, C, K = W.shape
        return np.array([[np.sum(x[:, i:i + K] * W[f]) for i in range(x.shape[1] - K + 1)] for f in range(F)])

    def cumsum2(values):
        return np.cumsum(np.asarray(values, dtype=float)) * 2

    def can_see_references():
        return importlib.util.find_spec("my_course_ref") is not None

    def helper(a):
        return a + 1

    def total2(values):
        return float(sum(values) * 2)
    """)
WRONG = (GOOD.replace("W[f])", "W[f][:, ::-1])").replace("// stride + 1", "// stride")
         .replace("* 2\n", "* 3\n").replace("return a + 1", "return a + 2"))


@contextlib.contextmanager
def references_scope(folder: Path | None = None):
    """Private references in use for the block only (sys.path, the grader's list, the module)."""
    saved_path, saved_refs = list(sys.path), list(base._REFERENCE_FOLDERS)
    sys.modules.pop("my_course_ref", None)
    try:
        if folder is not None:
            base.use_reference_folders([folder])
        yield
    finally:
        sys.path[:] = saved_path
        base._REFERENCE_FOLDERS[:] = saved_refs
        sys.modules.pop("my_course_ref", None)


def invoke(*args: str, env: dict[str, str] | None = None):
    with references_scope():
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo registry, its private references folder and its bundle (built by the CLI)."""
    root = tmp_path_factory.mktemp("bundle-demo")
    refs = root / "refs"
    refs.mkdir()
    (refs / "my_course_ref.py").write_text(MY_COURSE_REF)
    reg = root / "registry"
    reg.mkdir()
    (reg / "bundle-demo.yaml").write_text(REGISTRY)
    out = root / "demo-bundle.zip"
    result = invoke("--registry", str(reg), "--references", str(refs), "bundle", "bundle-demo", str(out), "--json")
    assert result.exit_code == 0, result.output
    return {"root": root, "refs": refs, "registry": reg, "bundle": out, "report": json.loads(result.output)}


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def bundle_arrays(files: dict[str, bytes]) -> list[np.ndarray]:
    return [np.load(io.BytesIO(data), allow_pickle=False) for name, data in files.items() if name.endswith(".npy")]


def source_lines(path: Path, public_text: str = "", min_length: int = 16) -> list[str]:
    """The distinctive lines of a Python file: long enough not to be boilerplate, and not
    part of what students get anyway (`public_text`: provided code, starter notebooks)."""
    out = []
    for line in path.read_text().splitlines():
        text = line.strip()
        if len(text) >= min_length and not text.startswith(("#", '"""', "from ", "import ")) and text not in public_text:
            out.append(text)
    return out


# --------------------------------------------------------------------------- what a bundle holds


def test_bundle_holds_data_only_the_public_checks_and_no_hidden_case(demo, tmp_path):
    report = demo["report"]
    assert report["checks"] == IN_BUNDLE
    assert [t["id"] for t in report["ta_only"]] == TA_ONLY
    reasons = {t["id"]: t["reason"] for t in report["ta_only"]}
    assert "private reference code (`my_course_ref:SecretJudge`)" in reasons["conv.secret"]
    assert "my_course_ref:accuracy" in reasons["conv.train"]
    assert report["problems"] == [] and report["grader_version"] == __version__

    files = members(demo["bundle"])
    assert not [n for n in files if n.endswith((".py", ".pyc", ".pyo", ".so"))]
    assert {"bundle.json", "registry.json", "calls.json", "README.txt"} <= set(files)
    assert all(n in ("bundle.json", "registry.json", "calls.json", "README.txt") or
               (n.startswith("arrays/") and n.endswith(".npy")) for n in files)
    manifest = json.loads(files["bundle.json"])
    assert manifest["grader_version"] == __version__ and manifest["assignment"] == "bundle-demo"
    assert manifest["live"] == ["tests.bundle.live_plugin:LastTotal"]
    data = json.loads(files["registry.json"])
    assert [c["id"] for c in data["checks"]] == IN_BUNDLE  # not conv.hidden, not the TA-only ones
    assert "solution" not in data and "theory" not in data

    text = "\n".join(data.decode("utf-8", "replace") for data in files.values())
    assert "conv.hidden" not in text
    # no private or reference source: every distinctive line of my_course_ref.py (but the
    # provided code, which students have) and of the reference functions used
    private = source_lines(demo["refs"] / "my_course_ref.py", public_text="def helper(a): return a + 1")
    assert "running_total_of_the_course = np.cumsum(np.asarray(values, dtype=np.float64))" in private
    reference = source_lines(ROOT / "courses" / "nyu_dl_hw2" / "reference" / "theory" / "conv.py")
    assert 'return np.einsum("gck,cik->gi", W, patches)' in reference
    leaked = [line for line in private + reference if line in text]
    assert leaked == []

    # the generator was called for the public case only; the private training data never
    calls = json.loads(files["calls.json"])["calls"]
    generated = [key for key, call in calls.items() if call["ref"] == GENERATOR]
    public_rng = rng_for(Context(seed=0), "conv.xcorr#0", public=True)
    assert generated == [call_key(GENERATOR, [public_rng], {})]
    assert calls[generated[0]]["checks"] == ["conv.xcorr"]
    assert not [c for c in calls.values() if c["ref"] == "my_course_ref:blobs"]
    from tests.cli.conftest import xcorr_case

    arrays = bundle_arrays(files)
    public_args = xcorr_case(rng_for(Context(seed=0), "conv.xcorr#0", public=True))["args"]
    assert any(np.array_equal(a, public_args[0]) for a in arrays)
    for seed in (DEFAULT_SEED, 7, 0):
        hidden = [xcorr_case(rng_for(Context(seed=seed), f"conv.xcorr#{i}", public=False))["args"] for i in (1, 2)]
        hidden += [xcorr_case(rng_for(Context(seed=seed), f"conv.hidden#{i}", public=False))["args"] for i in (0, 1)]
        for args in hidden:
            for a in args:
                assert not any(b.shape == a.shape and np.allclose(b, a) for b in arrays)

    # the same registry gives the same bytes
    again = tmp_path / demo["bundle"].name
    assert invoke("--registry", str(demo["registry"]), "--references", str(demo["refs"]), "bundle",
                  "bundle-demo", str(again)).exit_code == 0
    assert again.read_bytes() == demo["bundle"].read_bytes()


def test_values_round_trip_as_data_and_keep_their_call_key():
    arrays = _Arrays()
    value = {"shape": (1, 5), "x": np.arange(6, dtype=np.float32).reshape(2, 3), "n": np.int64(3),
             "f": np.float32(0.1), "inf": float("-inf"), "nested": [None, True, "s", {"$k": 1}], 7: "int key",
             "t": (np.zeros(2, dtype=np.int16), 2.5)}
    encoded = json.loads(json.dumps(encode(value, arrays)))
    stored = {n: np.load(io.BytesIO(_npy(a)), allow_pickle=False) for n, a in arrays.items.items()}
    back = decode(encoded, stored.__getitem__)
    assert back["shape"] == (1, 5) and isinstance(back["shape"], tuple)
    assert back["x"].dtype == np.float32 and np.array_equal(back["x"], value["x"])
    assert type(back["n"]) is np.int64 and type(back["f"]) is np.float32 and back["f"] == value["f"]
    assert back["inf"] == float("-inf") and back["nested"] == [None, True, "s", {"$k": 1}] and back[7] == "int key"
    assert back["t"][0].dtype == np.int16 and back["t"][1] == 2.5
    # a case made by a generator keys the same after a JSON round trip (tuples, numpy scalars)
    assert call_key("m:f", [value], {}) == call_key("m:f", [back], {})
    assert call_key("m:f", [(1, 2)], {}) == call_key("m:f", [[1, 2]], {}) != call_key("m:f", [[1.0, 2]], {})
    assert call_key("m:f", [np.random.default_rng(1)], {}) != call_key("m:f", [np.random.default_rng(2)], {})
    with pytest.raises(Exception, match="object"):
        encode({"o": object()}, arrays)
    # one codec: the sandbox wire's value format, in its exact mode
    import torch

    from grader.sandbox.wire import TensorArray, tensor

    arrays = _Arrays()
    more = {"torch": torch.arange(3, dtype=torch.float64), "marked": tensor(np.ones(2, dtype=np.float32))}
    data = json.loads(json.dumps(encode(more, arrays)))
    assert data["torch"] == {"$array": next(iter(arrays.items)), "torch": True} or data["torch"]["torch"] is True
    back = decode(data, {n: a for n, a in arrays.items.items()}.__getitem__)
    assert isinstance(back["torch"], torch.Tensor) and back["torch"].dtype == torch.float64
    assert type(back["marked"]) is TensorArray


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


# --------------------------------------------------------------------------- grading from a bundle


@pytest.fixture(scope="module")
def runner():
    from grader.sandbox_runner import open_runner

    with open_runner() as r:
        yield r


def test_a_bundle_grades_the_public_checks_like_the_registry(demo, runner, tmp_path):
    """Same status, points and message as `check` with the real registry, byte for byte."""
    bundle = open_bundle(demo["bundle"])
    good = submission(tmp_path / "good", "abc1234.zip", GOOD)
    wrong = submission(tmp_path / "wrong", "abc1234.zip", WRONG)
    options = Options(submitted_at=None, public_only=True)
    with references_scope(demo["refs"]):
        real = registry.load_file(demo["registry"] / "bundle-demo.yaml")
        expected = {z: grade(z, real, options, runner) for z in (good, wrong)}
    for z in (good, wrong):
        got = bundle.grade(z, options, runner)
        want = expected[z]
        assert [c.id for c in got.checks] == [c.id for c in want.checks]
        assert got.auto_max == want.auto_max and got.registry_hash == want.registry_hash
        for g, w in zip(got.checks, want.checks):
            if g.id in TA_ONLY:
                assert g.status == "skipped" and g.points == 0 and g.max_points == w.max_points
                assert g.message.startswith("graded by the TAs")
            else:
                assert (g.status, g.points, g.message) == (w.status, w.points, w.message), g.id
    by_id = {c.id: c for c in bundle.grade(good, options, runner).checks}
    assert all(by_id[i].status == "pass" for i in IN_BUNDLE), {i: by_id[i].message for i in IN_BUNDLE}
    wrong_ids = {c.id: c for c in bundle.grade(wrong, options, runner).checks}
    assert wrong_ids["conv.xcorr"].status == "partial" and "flipped" in wrong_ids["conv.xcorr"].message
    assert wrong_ids["conv.provided"].status == "fail"
    assert by_id["conv.isolated"].status == "pass"  # the child could not import my_course_ref


WRAPPER = r"""
import atexit, json, sys
BLOCKED = ("nyu_dl_hw2", "my_course_ref", "tests.cli")
def blocked(name):
    return any(name == b or name.startswith(b + ".") for b in BLOCKED)
class NotForStudents:
    def find_spec(self, name, path=None, target=None):
        if blocked(name):
            raise ImportError(f"{name} is not installed for students")
        return None
sys.meta_path.insert(0, NotForStudents())
SEEN = sys.argv[1]
def report():
    with open(SEEN, "w") as f:
        json.dump(sorted(m for m in sys.modules if blocked(m)), f)
atexit.register(report)
sys.argv = ["grader"] + sys.argv[2:]
from grader.cli import main
main()
"""


def test_check_with_a_bundle_never_imports_the_references(demo, tmp_path):
    """A student's machine: `reference`, the course's folder and the case generators'
    module cannot be imported; the public checks still run, from the bundle alone."""
    z = submission(tmp_path / "in", "abc1234.zip", GOOD)
    seen = tmp_path / "imported.json"
    env = {k: v for k, v in os.environ.items() if k not in ("HW2_GRADER_REFERENCES", "HW2_GRADER_PROBLEMS")}
    done = subprocess.run([sys.executable, "-c", WRAPPER, str(seen), "check", "--bundle", str(demo["bundle"]),
                           str(z), "--submitted-at", ON_TIME, "--json"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr + done.stdout
    data = json.loads(done.stdout)
    status = {c["id"]: c["status"] for c in data["checks"]}
    assert status == {**{i: "pass" for i in IN_BUNDLE}, **{i: "skipped" for i in TA_ONLY}}
    assert data["raw_score"] == 9 and data["registry_hash"] == json.loads(members(demo["bundle"])["bundle.json"])["registry_hash"]
    assert json.loads(seen.read_text()) == []


class AnswerEverything:
    """A runner that answers every probe with the same value: enough to reach the judges."""

    def run(self, notebook, scratch, mode, limits, requests):
        return RunOutcome(replies={k: Reply(True, [1, 5], status="ok") for k in requests}, facts=NotebookFacts())


def test_a_call_missing_from_the_bundle_is_that_checks_error(demo, tmp_path):
    files = members(demo["bundle"])
    calls = json.loads(files["calls.json"])["calls"]
    drop = {k for k, c in calls.items() if c["ref"] in ("nyu_dl_hw2.reference.theory.shapes:conv1d_output_shape",
                                                          "my_course_ref:provided")}
    assert len(drop) == 2
    files["calls.json"] = json.dumps({"calls": {k: c for k, c in calls.items() if k not in drop}}).encode()
    damaged = tmp_path / "damaged.zip"
    with zipfile.ZipFile(damaged, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    g = open_bundle(damaged).grade(submission(tmp_path / "in", "abc1234.zip", GOOD), Options(public_only=True),
                                   AnswerEverything())
    by_id = {c.id: c for c in g.checks}
    for cid in ("conv.shape", "conv.provided"):
        assert by_id[cid].status == "error" and by_id[cid].points == 0
        assert "this check's expected values are not in the bundle" in by_id[cid].message
    assert by_id["conv.cumsum"].status == "fail" and "not in the bundle" not in by_id["conv.cumsum"].message
    assert by_id["conv.live"].status == "fail" and "expected 12" in by_id["conv.live"].message


def test_a_bundle_of_another_version_or_no_bundle_is_a_usage_error(demo, tmp_path):
    z = submission(tmp_path / "in", "abc1234.zip", GOOD)
    files = members(demo["bundle"])
    manifest = json.loads(files["bundle.json"])
    files["bundle.json"] = json.dumps({**manifest, "grader_version": "0.0.1"}).encode()
    old = tmp_path / "old.zip"
    with zipfile.ZipFile(old, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    result = invoke("check", "--bundle", str(old), str(z), "--no-run")
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "grader 0.0.1" in lines[0] and f"grader {__version__}" in lines[0]
    not_bundle = invoke("check", "--bundle", str(z), str(z), "--no-run")
    assert not_bundle.exit_code == 2 and "not a grader bundle" in not_bundle.output
    other = invoke("check", "--bundle", str(demo["bundle"]), str(z), "-a", "nyu-dl-hw2-2025", "--no-run")
    assert other.exit_code == 2 and "bundle-demo" in other.output
    ok = invoke("check", "--bundle", str(demo["bundle"]), str(z), "--no-run", "--submitted-at", ON_TIME, "--json")
    assert ok.exit_code == 0, ok.output
    assert {c["id"]: c["status"] for c in json.loads(ok.output)["checks"]}["conv.provided"] == "pass"


def test_a_public_check_that_cannot_be_prepared_is_a_problem_exit_1(demo, tmp_path):
    folder = tmp_path / "registry"
    folder.mkdir()
    broken = ("  - {id: conv.broken, notebook: conv.ipynb, kind: function, points: 1, public: true, target: out_shape,\n"
              "     reference: 'my_course_ref:solution', generator: 'my_course_ref:broken', count: 1}\n")
    (folder / "broken.yaml").write_text(REGISTRY.replace("id: bundle-demo", "id: bundle-broken") + broken)
    out = tmp_path / "broken-bundle.zip"
    result = invoke("--registry", str(folder), "--references", str(demo["refs"]), "bundle", "bundle-broken", str(out))
    assert result.exit_code == 1, result.output
    assert "conv.broken: could not be prepared for the bundle: RuntimeError: this generator is broken" in result.output
    bundle = open_bundle(out)  # still written, with the broken check left to the TAs
    assert [c.id for c in bundle.assignment.checks] == IN_BUNDLE
    assert [t.id for t in bundle.ta_only] == TA_ONLY + ["conv.broken"]


# --------------------------------------------------------------------------- private references


def test_references_folder_makes_a_private_reference_importable(demo, tmp_path):
    yaml_file = demo["registry"] / "bundle-demo.yaml"
    missing = invoke("validate", "--no-self-test", str(yaml_file))
    assert missing.exit_code == 2
    assert "cannot import `my_course_ref:solution`" in missing.output and "--references" in missing.output
    found = invoke("--references", str(demo["refs"]), "validate", "--no-self-test", str(yaml_file))
    assert found.exit_code == 0, found.output
    joined = os.pathsep.join([str(tmp_path), str(demo["refs"])])
    by_env = invoke("validate", "--no-self-test", str(yaml_file), env={"HW2_GRADER_REFERENCES": joined})
    assert by_env.exit_code == 0, by_env.output
    nowhere = invoke("--references", str(tmp_path / "nope"), "validate", "--no-self-test", str(yaml_file))
    assert nowhere.exit_code == 2 and "no such folder" in nowhere.output
    # first on the grader's path: a course's module wins over an installed one of the same name
    with references_scope(demo["refs"]):
        assert sys.path[0] == str(demo["refs"].resolve())
        assert base.resolve("my_course_ref:solution")([1, 2]).tolist() == [2.0, 6.0]
    assert "my_course_ref" not in sys.modules and str(demo["refs"].resolve()) not in sys.path


# --------------------------------------------------------------------------- the real HW2 bundle


def test_the_nyu_hw2_2025_bundle(tmp_path):
    from nyu_dl_hw2.reference.hw2.notebooks import starter_notebooks, theory_pdf_bytes

    out = tmp_path / "hw2-bundle.zip"
    result = invoke("bundle", "nyu-dl-hw2-2025", str(out), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    # every public check travels: the judges of public checks are declared `public: true` in
    # course.yaml and import with only the course's public modules (data, metrics), never a solution
    public = [c for c in registry.load("nyu-dl-hw2-2025").checks if c.public]
    judged_by_code = {c.id: c.params.get("plugin") or c.params.get("metric") or c.params.get("behaviour")
                      for c in public if c.kind in ("plugin", "train") or (c.kind == "integrity" and "behaviour" in c.params)}
    assert len(public) == 17 and report["checks"] == [c.id for c in public] and report["ta_only"] == []
    assert {"rnn.provided", "seq.provided"} <= set(judged_by_code)  # by behaviour: nyu_dl_hw2.reference.hw2.provided
    assert "rnn.forward" in judged_by_code  # the student's input convention: nyu_dl_hw2.reference.hw2.judges:EchoForward
    assert {"cnn.output", "moe.gate"} <= set(judged_by_code) and not any(c.kind == "train" for c in public)

    files = members(out)
    assert not [n for n in files if n.endswith((".py", ".pyc"))]
    calls = json.loads(files["calls.json"])["calls"]
    assert {c["ref"] for c in calls.values()} == set()  # no generator ran, no reference source travels
    text = "\n".join(data.decode("utf-8", "replace") for data in files.values())
    starters = "\n".join(cell.source for nb in starter_notebooks().values() for cell in nb.cells)
    for distinctive in ("class GRUMemory", "def train_model", 'return np.einsum("gck,cik->gi", W, patches)'):
        assert distinctive not in text
    leaked = {str(p.relative_to(ROOT)): [line for line in source_lines(p, starters) if line in text]
              for p in sorted((ROOT / "courses" / "nyu_dl_hw2" / "reference").rglob("*.py"))}
    assert {k: v for k, v in leaked.items() if v} == {}

    # a student's starter notebooks: the provided-code checks are the TAs' (judged by behaviour)
    z = tmp_path / "abc1234.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for name, nb in starter_notebooks().items():
            import nbformat

            zf.writestr(name, nbformat.writes(nb))
        zf.writestr("hw2_theory.pdf", theory_pdf_bytes())
    checked = invoke("check", "--bundle", str(out), str(z), "--no-run", "--submitted-at", ON_TIME, "--json")
    assert checked.exit_code == 0, checked.output
    status = {c["id"]: c["status"] for c in json.loads(checked.output)["checks"]}
    assert status["rnn.provided"] == status["seq.provided"] == "skipped"
    assert status["cnn.output"] == status["moe.gate"] == "skipped"
