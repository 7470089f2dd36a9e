"""
The documentation runs: every code sample in README.md and docs/ is checked by a test.

- ```python blocks are executed. A block whose first line names a file of a new project
  (`# mysite/settings.py`, `# mysite/urls.py`, `# mysite/views.py`) is what a reader pastes
  into that file: settings fragments are executed on top of a pristine `startproject`
  settings module, and the files together are pasted verbatim into a brand-new
  `django-admin startproject`, migrated and served (gunicorn), and the seed flow is run against that
  server: register, login, the protected view, logout, and the old access token refused.
- ```json blocks are parsed, ```js blocks are parsed by node (`node --check`), ```sh
  blocks by bash (`bash -n`).
- Every key of `authgate.settings.DEFAULTS` is documented in docs/settings.md, and the API
  reference page renders every operation of the service's OpenAPI schema.
"""

import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from authgate.settings import DEFAULTS

from ..support.browser import _die_with_parent

pytestmark = pytest.mark.single_pass

REPO = Path(__file__).resolve().parents[2]
DOCS = [
    REPO / "README.md",
    *sorted((REPO / "docs").rglob("*.md")),
    REPO / "src" / "authgate" / "static" / "authgate" / "README.md",  # the npm package's
]
PROJECT = "mysite"
FILE_HEADER = re.compile(rf"^# {PROJECT}/(\w+\.py)\b")
FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[\w+-]*)\s*$")
STARTUP_TIMEOUT = 90


def code_blocks(path):
    """(language, code, line number) of each fenced block of a Markdown file; blocks
    indented in a list lose that indentation."""
    blocks, current = [], None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        match = FENCE.match(line)
        if current is None:
            if match and match["lang"]:
                current = (match["lang"], len(match["indent"]), number, [])
            elif match:
                raise AssertionError(f"{path.name}:{number}: a code block without a language")
        elif match and not match["lang"]:
            lang, indent, start, lines = current
            blocks.append((lang, "\n".join(line[indent:] for line in lines) + "\n", start))
            current = None
        else:
            current[3].append(line)
    assert current is None, f"{path.name}: unclosed code block"
    return blocks


def all_blocks(*languages):
    return [
        pytest.param(code, path, id=f"{path.relative_to(REPO)}:{start}")
        for path in DOCS
        for lang, code, start in code_blocks(path)
        if lang in languages
    ]


def project_file(code):
    match = FILE_HEADER.match(code)
    return match[1] if match else None


def project_files(path):
    """{file name: [code, ...]} of the blocks of one document that go into the project."""
    files = {}
    for lang, code, _start in code_blocks(path):
        if lang == "python" and project_file(code):
            files.setdefault(project_file(code), []).append(code)
    return files


# -- each sample on its own ----------------------------------------------------------------


@pytest.fixture(scope="module")
def startproject_dir(tmp_path_factory):
    """A brand-new `django-admin startproject mysite`, untouched."""
    root = tmp_path_factory.mktemp("startproject")
    subprocess.run(
        [sys.executable, "-m", "django", "startproject", PROJECT, str(root)],
        check=True,
        capture_output=True,
        env=_project_env(root),
    )
    return root


@pytest.mark.parametrize("code, path", all_blocks("python"))
def test_python_sample_runs(code, path, startproject_dir):
    compiled = compile(code, str(path), "exec")
    target = project_file(code)
    if target == "settings.py":
        # A settings fragment: executed where the reader puts it, after a new project's settings.
        namespace = {"__file__": str(startproject_dir / PROJECT / "settings.py")}
        exec(compile((startproject_dir / PROJECT / "settings.py").read_text(), "settings.py", "exec"), namespace)
        exec(compiled, namespace)
        assert "rest_framework" in namespace["INSTALLED_APPS"] or path.name != "README.md"
    elif target is None:
        exec(compiled, {"__name__": "docs_sample"})
    # urls.py and views.py import each other relatively: the project tests below run them.


@pytest.mark.parametrize("code, path", all_blocks("json"))
def test_json_sample_parses(code, path):
    json.loads(code)


@pytest.mark.parametrize("code, path", all_blocks("js", "javascript"))
def test_js_sample_parses(code, path, tmp_path):
    if not shutil.which("node"):
        pytest.skip("node is not installed")
    sample = tmp_path / "sample.mjs"
    sample.write_text(code)
    result = subprocess.run(["node", "--check", str(sample)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("code, path", all_blocks("sh", "bash"))
def test_shell_sample_parses(code, path):
    result = subprocess.run(["bash", "-n"], input=code, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_docs_use_known_languages_only():
    known = {"python", "json", "js", "javascript", "sh", "bash", "text", "mermaid"}
    for path in DOCS:
        for lang, _code, start in code_blocks(path):
            assert lang in known, f"{path.name}:{start}: ```{lang} is not checked by a test"


def test_mermaid_diagrams_start_with_a_diagram_kind_and_name_only_declared_participants():
    for path in DOCS:
        for lang, code, start in code_blocks(path):
            if lang != "mermaid":
                continue
            lines = [line.strip() for line in code.strip().splitlines()]
            assert lines[0] in {"sequenceDiagram", "flowchart TD", "flowchart LR"}, f"{path.name}:{start}"
            if lines[0] == "sequenceDiagram":
                declared = {line.split()[1] for line in lines if line.startswith("participant ")}
                for line in lines[1:]:
                    arrow = re.match(r"(\w+)-{1,2}>>(\w+):", line)
                    if arrow:
                        assert set(arrow.groups()) <= declared, f"{path.name}:{start}: {line}"


def test_docs_stand_on_their_own():
    """No words a reader of the repository cannot follow: the contract's section
    numbers, issue numbers, or a path outside the repository."""
    for path in [*DOCS, REPO / "SECURITY.md"]:
        text = path.read_text(encoding="utf-8")
        for pattern in (r"§", r"\bSPEC\b", r"\.\./shared", r"\bissue \d+"):
            assert not re.search(pattern, text, flags=re.I), f"{path.name}: {pattern!r}"


# -- reference pages stay complete -------------------------------------------------------


def test_every_setting_is_documented():
    text = (REPO / "docs" / "settings.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([A-Z_]+)` \|", text, flags=re.M))
    assert not set(DEFAULTS) - documented, f"undocumented settings: {sorted(set(DEFAULTS) - documented)}"
    assert not documented - set(DEFAULTS), f"documented but unknown: {sorted(documented - set(DEFAULTS))}"


def _hooks():
    spec = importlib.util.spec_from_file_location("mkdocs_hooks", REPO / "scripts" / "mkdocs_hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_api_reference_renders_every_operation():
    hooks = _hooks()
    page = (REPO / "docs" / "api.md").read_text(encoding="utf-8")
    assert hooks.OPENAPI_MARKER in page
    schema = hooks.load_schema()
    rendered = hooks.render_openapi(schema)
    for path, item in schema["paths"].items():
        for method in hooks.METHODS:
            if method in item:
                assert f"`{method.upper()} {path}`" in rendered
    for name in schema["components"]["schemas"]:
        assert f"### {name}\n" in rendered


def test_includes_resolve():
    """Every `<!-- include FILE#section -->` of the docs names something that exists."""
    hooks = _hooks()
    for path in DOCS:
        for name, section in hooks.INCLUDE.findall(path.read_text(encoding="utf-8")):
            assert hooks.included(name, section or None).strip()


# -- the embedding snippets, pasted into a brand-new project -----------------------------


def _project_env(root):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AUTHGATE_", "DJANGO_")) and k not in {"DATABASE_URL", "REDIS_URL"}
    }
    env.update(PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1")
    env.pop("PYTHONPATH", None)  # the project must import authgate as installed, not from the repo
    return env


def _call(base, method, path, body=None, token=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            status, ctype = response.status, response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as error:
        raw, status, ctype = error.read(), error.code, error.headers.get("Content-Type", "")
    return status, (json.loads(raw) if raw and "json" in ctype else raw.decode("utf-8", "replace"))


class NewProject:
    """A brand-new `startproject` with documented blocks pasted in, served by gunicorn."""

    def __init__(self, root, documents, python=sys.executable):
        self.root = root
        self.python = str(python)  # another venv's: a project on an installed wheel
        self.env = _project_env(root)
        self.proc = None
        subprocess.run(
            [self.python, "-m", "django", "startproject", PROJECT, str(root)],
            check=True,
            capture_output=True,
            env=self.env,
        )
        package = root / PROJECT
        for document in documents:
            for name, codes in project_files(document).items():
                for code in codes:
                    if name == "settings.py":  # "add to the end of mysite/settings.py"
                        with open(package / name, "a", encoding="utf-8") as settings:
                            settings.write("\n" + code)
                    else:  # urls.py is replaced, views.py is new
                        (package / name).write_text(code, encoding="utf-8")

    def manage(self, *args):
        result = subprocess.run(
            [self.python, "manage.py", *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=STARTUP_TIMEOUT,
        )
        assert result.returncode == 0, f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def serve(self):
        """gunicorn on a socket this test bound first (port chosen by the kernel), so the
        server answering can only be this project's, whatever else runs on the machine.
        Static files are served as runserver would (Django's StaticFilesHandler)."""
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.base = "http://127.0.0.1:%d" % self.sock.getsockname()[1]
        (self.root / "docs_test_wsgi.py").write_text(
            "from django.contrib.staticfiles.handlers import StaticFilesHandler\n"
            f"from {PROJECT}.wsgi import application as project\n"
            "application = StaticFilesHandler(project)\n"
        )
        self.log = open(self.root / "server.log", "wb")
        fd = self.sock.fileno()
        self.proc = subprocess.Popen(
            [
                self.python,
                "-m",
                "gunicorn",
                "--bind",
                f"fd://{fd}",
                "--workers",
                "1",
                "--timeout",
                "60",
                "--access-logfile",
                "-",
                "docs_test_wsgi:application",
            ],
            cwd=self.root,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            pass_fds=(fd,),
            preexec_fn=_die_with_parent,
        )
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:  # the socket accepts at once; wait for an answer
            assert self.proc.poll() is None, f"the server exited:\n{self.server_log()}"
            try:
                urllib.request.urlopen(self.base + "/api/auth/login/", timeout=5).close()
                return
            except urllib.error.HTTPError:
                return  # 405 for a GET: Django answered
            except OSError:
                time.sleep(0.1)  # polling the server's start-up, not synchronising the test
        raise AssertionError(f"the server did not start:\n{self.server_log()}")

    def server_log(self):
        return (self.root / "server.log").read_text(errors="replace")[-4000:]

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()
            self.sock.close()

    def call(self, method, path, body=None, token=None):
        return _call(self.base, method, path, body, token)


VARIANTS = {
    "readme-minimum": [REPO / "README.md"],
    "quickstart-fuller": [REPO / "README.md", REPO / "docs" / "quickstart.md"],
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_embedding_in_a_new_project(variant, tmp_path):
    documents = VARIANTS[variant]
    assert {"settings.py", "urls.py", "views.py"} <= set(project_files(documents[0])), (
        "the README shows the settings, the protected view and the routes"
    )
    project = NewProject(tmp_path, documents)
    project.manage("check")
    project.manage("migrate", "--noinput")
    project.manage("createcachetable")
    project.serve()
    try:
        _seed_flow(project)
        status, page = project.call("GET", "/")
        assert status == 200 and "authgate.js" in page, "the account page is mounted"
        status, script = project.call("GET", "/static/authgate/authgate.js")
        assert status == 200 and "export function createClient" in script
        if variant == "quickstart-fuller":
            _fuller_extras(project)
        project.stop()
        log = (project.root / "server.log").read_text(errors="replace")
        assert "Traceback" not in log, "the server logged an error"
    except (AssertionError, OSError) as error:
        raise AssertionError(f"{error!r}\nserver log:\n{project.server_log()}") from None
    finally:
        project.stop()


def _seed_flow(project):
    password = "correct-horse-battery-9"
    status, body = project.call(
        "POST", "/api/auth/register/", {"username": "ada", "email": "ada@example.com", "password": password}
    )
    assert status == 201, (status, body)
    status, body = project.call("POST", "/api/auth/login/", {"username": "ada", "password": password})
    assert status == 200, (status, body)
    access, refresh = body["access"], body["refresh"]
    status, body = project.call("GET", "/api/hello/", token=access)
    assert (status, body) == (200, {"message": "Hello ada"})
    status, body = project.call("POST", "/api/auth/token/refresh/", {"refresh": refresh})
    assert status == 200 and body["access"], (status, body)
    status, body = project.call("POST", "/api/auth/logout/", token=access)
    assert (status, body) == (200, {"detail": "Successfully logged out."})
    status, body = project.call("GET", "/api/hello/", token=access)
    assert status == 401, (status, body)
    assert body["detail"], body  # with authgate's exception handler also "code" and "reason"
    status, body = project.call("GET", "/api/hello/")
    assert status == 401, (status, body)


def _fuller_extras(project):
    password = "correct-horse-battery-9"
    # Login by email (UsernameOrEmailBackend) and a static token for a script.
    status, body = project.call("POST", "/api/auth/login/", {"username": "ada@example.com", "password": password})
    assert status == 200, (status, body)
    status, body = project.call("POST", "/api/auth/tokens/", {"username": "ada", "password": password, "name": "ci"})
    assert status == 201, (status, body)
    request = urllib.request.Request(project.base + "/api/hello/", headers={"Authorization": f"Token {body['token']}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert json.loads(response.read()) == {"message": "Hello ada"}
    # authgate's exception handler: a reason on token errors.
    status, body = project.call("GET", "/api/hello/", token="not-a-jwt")
    assert status == 401 and body["code"] == "token_not_valid" and body["reason"] == "malformed", (status, body)
    # The API docs, with Swagger UI served by the project itself.
    status, page = project.call("GET", "/api/docs/")
    assert status == 200 and "swagger-ui" in page
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert assets and all(a.startswith("/") for a in assets), assets
    for asset in assets:
        assert project.call("GET", asset)[0] == 200, asset
    status, schema = project.call("GET", "/api/schema/?format=json")
    assert status == 200 and "/api/auth/login/" in schema["paths"]
    status, metadata = project.call("GET", "/.well-known/oauth-authorization-server")
    assert status == 200 and metadata["jwks_uri"].endswith("/api/auth/.well-known/jwks.json")


def test_pages_missing_from_the_nav_are_still_listed(tmp_path):
    """A page added under docs/ is built and reachable without an edit of mkdocs.yml."""
    (tmp_path / "listed.md").write_text("# Listed\n")
    (tmp_path / "new-page.md").write_text("# A new page\n\nText.\n")
    config = {"nav": [{"Listed": "listed.md"}], "docs_dir": str(tmp_path)}
    _hooks().on_config(config)
    assert config["nav"] == [{"Listed": "listed.md"}, {"More": [{"A new page": "new-page.md"}]}]
