"""Runs the test matrix that scripts/test-matrix.toml declares (what `make test` and CI run).

Invariants:
- The matrix file is the only place that says which tests run where; this script knows no
  test file, folder or marker of its own.
- Counts come from pytest's JUnit XML report and node's own closing lines, never from
  parsing pytest's terminal output.
- Under CI=true nothing may go green by not running: a service, an interpreter or a tool
  that is missing fails the run. Elsewhere the pass is skipped with the reason printed.
- pytest's exit 5 (nothing selected, e.g. arguments naming one file) is not a failure.
- The last line is "total: N passed, N failed, N skipped" (CI reads it), the exit status 0
  only when every pass and check passed.

Usage: scripts/run_matrix.py [pytest arguments...] — extra arguments go to every pytest
pass and skip the checks (node, docs, lint, types).
"""

from __future__ import annotations

import functools
import glob
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MATRIX = ROOT / "scripts" / "test-matrix.toml"
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


@dataclass
class Tally:
    """The summary: one line per pass or check, and the totals."""

    lines: list[str] = field(default_factory=list)
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    broken: bool = False

    def add(self, name: str, passed: int, failed: int, skipped: int, seconds: float, status: str) -> None:
        self.passed += passed
        self.failed += failed
        self.skipped += skipped
        self.lines.append(
            f"{name:<24} {passed:4} passed {failed:3} failed {skipped:3} skipped  {seconds:5.0f}s  {status}"
        )

    def not_run(self, name: str, reason: str) -> None:
        """A pass that could not run: said in the summary; a failure under CI=true."""
        print(f"run_matrix: {name}: {reason}", file=sys.stderr)
        if in_ci():
            self.failed += 1
            self.broken = True
            self.lines.append(f"{name:<24} NOT RUN (a failure under CI=true): {reason}")
        else:
            self.lines.append(f"{name:<24} not run: {reason}")


def service_up(name: str) -> bool:
    check = {"postgres": "check-postgres", "redis": "check-redis"}[name]
    return subprocess.run(["bash", "scripts/services.sh", check], cwd=ROOT).returncode == 0


def service_url(spec: dict[str, str]) -> str:
    return os.environ.get(spec["variable"]) or spec["default"]


# -- interpreters and their venvs ---------------------------------------------------------------
def find_interpreter(version: str) -> Path | None:
    """The newest pyenv-installed `version` (e.g. "3.13"), else python<version> on PATH."""
    roots = []
    pyenv = shutil.which("pyenv")
    if pyenv:
        out = subprocess.run([pyenv, "root"], capture_output=True, text=True)
        if out.returncode == 0 and out.stdout.strip():
            roots.append(Path(out.stdout.strip()))
    roots.append(Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")))
    for root in roots:
        found = sorted(
            glob.glob(str(root / "versions" / f"{version}.*" / "bin" / "python")),
            key=lambda p: [int(x) for x in Path(p).parent.parent.name.split(".") if x.isdigit()],
        )
        if found:
            return Path(found[-1])
    on_path = shutil.which(f"python{version}")
    return Path(on_path) if on_path else None


def line_python(name: str, line: dict[str, Any]) -> tuple[Path | None, str]:
    """The python of a line's venv, created or brought up to date (pyproject.toml and the
    install arguments are stamped); (None, reason) when it cannot be had."""
    interpreter = find_interpreter(line["interpreter"])
    if interpreter is None:
        return None, (
            f"Python {line['interpreter']} was not found (pyenv: `pyenv install {line['interpreter']}`, "
            f"or python{line['interpreter']} on PATH)"
        )
    venv = ROOT / line["venv"]
    python = venv / "bin" / "python"
    stamp = venv / ".installed"
    wanted = hashlib.sha256(
        (ROOT / "pyproject.toml").read_bytes() + repr((str(interpreter), line["install"])).encode()
    ).hexdigest()
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python, ""
    print(f"run_matrix: preparing {line['venv']} ({interpreter}, {' '.join(line['install'])})")
    if not python.exists():
        made = subprocess.run([str(interpreter), "-m", "venv", str(venv)], cwd=ROOT)
        if made.returncode != 0:
            return None, f"could not create {line['venv']} with {interpreter}"
    install = subprocess.run([str(python), "-m", "pip", "install", "--quiet", *line["install"]], cwd=ROOT)
    if install.returncode != 0:
        return None, f"pip could not install {' '.join(line['install'])} into {line['venv']}"
    stamp.write_text(wanted)
    return python, ""


def versions(python: Path) -> str:
    out = subprocess.run(
        [
            str(python),
            "-c",
            "import sys, django; print(f'Python {sys.version.split()[0]}, Django {django.__version__}')",
        ],
        capture_output=True,
        text=True,
    )
    return out.stdout.strip() or "versions unknown"


# -- running -------------------------------------------------------------------------------------
def junit_counts(report: Path) -> tuple[int, int, int]:
    """(passed, failed, skipped) from pytest's JUnit XML; errors count as failures."""
    if not report.exists():
        return 0, 0, 0
    root = ET.parse(report).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    tests = failures = errors = skipped = 0
    for suite in suites:
        tests += int(suite.get("tests", 0))
        failures += int(suite.get("failures", 0))
        errors += int(suite.get("errors", 0))
        skipped += int(suite.get("skipped", 0))
    return tests - failures - errors - skipped, failures + errors, skipped


def slowest(report: Path, count: int = 12) -> list[tuple[float, str]]:
    """The `count` slowest tests of a JUnit XML report, as (seconds, node id)."""
    if not report.exists():
        return []
    cases = ET.parse(report).getroot().iter("testcase")
    timed = [(float(c.get("time", 0)), f"{c.get('classname', '')}::{c.get('name', '')}") for c in cases]
    return sorted(timed, reverse=True)[:count]


@dataclass
class Job:
    """One pass or check, ready to start: its command, and what to do with its outcome."""

    name: str
    cmd: list[str]
    env: dict[str, str]
    heading: str
    finish: Any  # (rc, output or None, seconds) -> None
    output: Path | None = None  # where its output goes while it runs beside others
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0


def pytest_job(
    tally: Tally, spec: dict[str, Any], python: Path, markers: str, urls: dict[str, str], extra: list[str], tmp: Path
) -> Job:
    name = spec["name"]
    env = {k: v for k, v in os.environ.items() if k not in spec.get("unset", [])}
    env.update({k: v.format(**urls) for k, v in spec.get("env", {}).items()})
    report = tmp / f"{name.replace('/', '_')}.xml"
    cmd = [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", markers, f"--junitxml={report}"]
    cmd += [*spec.get("args", []), *extra]

    def finish(rc: int, output: str | None, seconds: float) -> None:
        if rc == 5:  # nothing selected: not a failure
            rc = 0
        passed, failed, skipped = junit_counts(report)
        print(f"-- slowest tests of {name}:")
        for took, test in slowest(report):
            print(f"   {took:7.1f}s  {test}")
        kept = ROOT / "test-results"
        kept.mkdir(exist_ok=True)
        if report.exists():
            shutil.copy(report, kept / report.name)
        if rc != 0:
            tally.broken = True
            failed = max(failed, 1)  # a crash before any report still fails the pass
        tally.add(name, passed, failed, skipped, seconds, f"exit {rc}")

    heading = f"\n== pytest ({name}; {versions(python)}) -m '{markers}' =="
    return Job(name, cmd, env, heading, finish)


def node_counts(output: str) -> tuple[int, int, int]:
    """node --test's own closing lines: "# pass N", "# fail N", "# skipped N"."""
    counts = {"pass": 0, "fail": 0, "skipped": 0}
    for text in output.splitlines():
        parts = text.strip().split()
        if len(parts) == 3 and parts[0] in {"#", "ℹ"} and parts[1] in counts and parts[2].isdigit():
            counts[parts[1]] = int(parts[2])
    return counts["pass"], counts["fail"], counts["skipped"]


def check_job(tally: Tally, spec: dict[str, Any], tmp: Path) -> Job | None:
    name = spec["name"]
    cmd = [part.format(tmp=tmp) for part in spec["command"]]
    if shutil.which(cmd[0]) is None and not (ROOT / cmd[0]).exists():
        tally.not_run(name, f"{cmd[0]} is not installed")
        return None
    env = {**os.environ, **spec.get("env", {})}

    def finish(rc: int, output: str | None, seconds: float) -> None:
        if spec.get("runner") == "node":
            passed, failed, skipped = node_counts(output or "")
            if rc != 0:
                failed = max(failed, 1)
        else:
            passed, failed, skipped = (1, 0, 0) if rc == 0 else (0, 1, 0)
        if rc != 0:
            tally.broken = True
        tally.add(name, passed, failed, skipped, seconds, f"exit {rc}")

    return Job(name, cmd, env, f"\n== {name}: {' '.join(cmd)} ==", finish)


def run_stage(jobs: list[Job], tmp: Path) -> None:
    """Runs `jobs` at the same time and lets each count its outcome. One alone streams its
    output as it goes; several write to files, each printed whole as soon as it has ended."""
    if len(jobs) == 1:
        (job,) = jobs
        print(job.heading, flush=True)
        job.started = time.monotonic()
        process = subprocess.Popen(job.cmd, cwd=ROOT, env=job.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert process.stdout is not None
        chunks = []
        for chunk in iter(functools.partial(process.stdout.read1, 65536), b""):
            sys.stdout.buffer.write(chunk)
            sys.stdout.flush()
            chunks.append(chunk)
        rc = process.wait()
        job.finish(rc, b"".join(chunks).decode(errors="replace"), time.monotonic() - job.started)
        return
    print(f"\n== running at once: {', '.join(job.name for job in jobs)} ==", flush=True)
    for job in jobs:
        job.output = tmp / f"{job.name.replace('/', '_').replace(' ', '_')}.out"
        job.started = time.monotonic()
        with open(job.output, "wb") as out:
            job.process = subprocess.Popen(job.cmd, cwd=ROOT, env=job.env, stdout=out, stderr=subprocess.STDOUT)
    running = list(jobs)
    while running:
        ended = [job for job in running if job.process is not None and job.process.poll() is not None]
        if not ended:
            time.sleep(0.5)
            continue
        for job in ended:
            running.remove(job)
            assert job.process is not None and job.output is not None
            seconds = time.monotonic() - job.started
            text = job.output.read_bytes().decode(errors="replace")
            print(job.heading + f" (ran beside the others; {seconds:.0f} s)", flush=True)
            sys.stdout.write(text)
            job.finish(job.process.returncode, text, seconds)
            sys.stdout.flush()


def prepare(tally: Tally) -> bool:
    """The machine's side: Chromium, the services under CI, the JS tests' packages."""
    if subprocess.run(["bash", "scripts/ensure-chromium.sh"], cwd=ROOT).returncode != 0:
        tally.broken = True
    if in_ci() and subprocess.run(["bash", "scripts/services.sh", "ensure"], cwd=ROOT).returncode != 0:
        print("run_matrix: ERROR: services unavailable under CI=true", file=sys.stderr)
        return False
    js = ROOT / "tests" / "js"
    if js.is_dir() and shutil.which("npm"):
        modules, lock = js / "node_modules", js / "package-lock.json"
        if not modules.is_dir() or lock.stat().st_mtime > modules.stat().st_mtime:
            npm = ["npm", "ci", "--prefix", str(js), "--no-audit", "--no-fund", "--loglevel=error"]
            if subprocess.run(npm, cwd=ROOT).returncode != 0:
                tally.broken = True
    return True


def main(extra: list[str]) -> int:
    matrix = tomllib.loads(MATRIX.read_text())
    tally = Tally()
    started = time.monotonic()
    if not prepare(tally):
        return 1
    up = {name: service_up(name) for name in ("postgres", "redis")}
    for name, answering in up.items():
        if not answering:
            print(f"run_matrix: {name} is not answering: the passes that need it do not run.")
    urls = {key: service_url(spec) for key, spec in matrix.get("services", {}).items()}
    with tempfile.TemporaryDirectory(prefix="authgate-test.") as tmp_name:
        tmp = Path(tmp_name)
        stages: dict[Any, list[Job]] = {}  # in the order they first appear
        for index, spec in enumerate(matrix["pytest"]):
            if any(up[s] for s in spec.get("unless", [])):
                continue
            missing = [s for s in spec.get("needs", []) if not up[s]]
            if missing:
                if in_ci():
                    tally.not_run(spec["name"], f"{', '.join(missing)} not answering")
                continue
            markers = spec["markers"]
            taken = [expr for service, expr in spec.get("absorbs", {}).items() if not up[service]]
            if taken:
                markers = " or ".join([f"({markers})", *(f"({expr})" for expr in taken)])
            python: Path | None = VENV_PYTHON
            if spec.get("python", "venv") != "venv":
                python, reason = line_python(spec["python"], matrix["line"][spec["python"]])
                if python is None:
                    tally.not_run(spec["name"], reason)
                    continue
            job = pytest_job(tally, spec, python, markers, urls, extra, tmp)
            stages.setdefault(spec.get("stage", f"pytest {index}"), []).append(job)
        if not extra:
            for index, spec in enumerate(matrix.get("check", [])):
                check = check_job(tally, spec, tmp)
                if check is not None:
                    stages.setdefault(spec.get("stage", f"check {index}"), []).append(check)
        for jobs in stages.values():
            run_stage(jobs, tmp)
    print(f"\n== summary ({time.monotonic() - started:.0f} s) ==")
    print("\n".join(tally.lines))
    print(f"total: {tally.passed} passed, {tally.failed} failed, {tally.skipped} skipped")
    return 1 if tally.broken or tally.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
