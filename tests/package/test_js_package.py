"""
The JavaScript client as an npm package (`@authgate/client`): the package's files are the
files the service serves (one source, src/authgate/static/authgate/), `npm pack` packs
them, the packed package installs and imports in node with no TypeScript anywhere, its
`exports` map resolves the client and both adapters, and the hand-written declarations
type-check against real use (tsc from tests/js's devDependencies) and cover every method
a client object has.
"""

import json
import re
import shutil
import subprocess
import tarfile
import tomllib
from pathlib import Path

import pytest

from ..support.browser import in_ci

pytestmark = pytest.mark.single_pass

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "src" / "authgate" / "static" / "authgate"
MODULES = ("authgate.js", "axios.js", "react.js")
TSC = REPO / "tests" / "js" / "node_modules" / ".bin" / "tsc"


def require(tool, path=None):
    found = path if path and Path(path).exists() else shutil.which(tool) if not path else None
    if not found:
        reason = f"{tool} is not installed" + (" (npm ci --prefix tests/js)" if path else "")
        if in_ci():
            pytest.fail(f"{reason}; the npm package tests must run under CI=true", pytrace=False)
        pytest.skip(reason)
    return str(found)


def run(*args, cwd, **kwargs):
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=180, **kwargs)
    assert result.returncode == 0, f"{' '.join(map(str, args))} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    """(tarball, {path in the package: bytes}) of `npm pack`."""
    npm = require("npm")
    out = tmp_path_factory.mktemp("npm-pack")
    info = json.loads(run(npm, "pack", "--json", "--pack-destination", str(out), cwd=PACKAGE))[0]
    tarball = out / info["filename"]
    with tarfile.open(tarball) as tar:
        files = {m.name.removeprefix("package/"): tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    return tarball, files


@pytest.fixture(scope="module")
def installed(packed, tmp_path_factory):
    """A front-end project with the packed tarball installed from the file: no registry."""
    npm = require("npm")
    project = tmp_path_factory.mktemp("front-end")
    (project / "package.json").write_text(json.dumps({"name": "front-end", "private": True, "type": "module"}))
    run(npm, "install", str(packed[0]), "--no-audit", "--no-fund", "--no-package-lock", "--offline", cwd=project)
    return project


def test_the_package_is_the_served_files_and_nothing_else(packed):
    _, files = packed
    assert set(files) == {"package.json", "README.md", *MODULES, *(m.replace(".js", ".d.ts") for m in MODULES)}
    manifest = json.loads(files["package.json"])
    assert manifest["type"] == "module"
    assert not manifest.get("dependencies") and not manifest.get("scripts"), "no install step, no build step"
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert manifest["version"] == pyproject["project"]["version"], "the client and the app are released together"
    for entry in manifest["exports"].values():
        if isinstance(entry, dict):
            assert entry["types"].removeprefix("./") in files and entry["default"].removeprefix("./") in files


def test_the_service_serves_the_packed_bytes(packed, client):
    _, files = packed
    for name in MODULES:
        response = client.get(f"/static/authgate/{name}")
        assert response.status_code == 200, name
        served = b"".join(response.streaming_content) if response.streaming else response.content
        assert served == files[name], f"/static/authgate/{name} differs from the npm package's {name}"


IMPORT_SCRIPT = """
import * as client from "@authgate/client";
import * as axios from "@authgate/client/axios";
import * as react from "@authgate/client/react";
import manifest from "@authgate/client/package.json" with { type: "json" };

const memory = new Map();
const storage = { getItem: (k) => memory.get(k) ?? null, setItem: (k, v) => memory.set(k, v), removeItem: (k) => memory.delete(k) };
const c = client.createClient({ storage, fetch: async () => new Response("{}"), locks: null,
                                BroadcastChannel: null, eventTarget: null, indexedDB: null });
console.log(JSON.stringify({
  client: Object.keys(client).sort(), axios: Object.keys(axios).sort(), react: Object.keys(react).sort(),
  methods: Object.keys(c).sort(), version: manifest.version, isDefault: client.default === client.createClient,
}));
"""


def test_the_package_imports_in_node_without_typescript(installed):
    node = require("node")
    (installed / "imports.mjs").write_text(IMPORT_SCRIPT)
    found = json.loads(run(node, "imports.mjs", cwd=installed))
    assert found["client"] == ["AuthError", "createClient", "default", "errorFromResponse"]
    assert found["axios"] == ["attachAxios", "default"]
    assert found["react"] == ["default", "makeUseAuth", "useAuth"]
    assert found["isDefault"]
    assert not (installed / "node_modules" / "typescript").exists(), "TypeScript is not needed to use the package"
    # Every method of a client object is declared (a method added to authgate.js needs its type).
    declared = _interface_members((PACKAGE / "authgate.d.ts").read_text(), "AuthgateClient")
    assert set(found["methods"]) <= declared, f"not in authgate.d.ts: {sorted(set(found['methods']) - declared)}"


def _interface_members(source, name):
    body = re.search(rf"export interface {name} \{{(.*?)\n\}}", source, flags=re.S)[1]
    return set(re.findall(r"^\s+(?:readonly\s+)?(\w+)\??[(:<]", body, flags=re.M))


CONSUMER = """
import createClient, { AuthError, type AuthgateClient, type MfaChallenge, type Session, type User } from "@authgate/client";
import { attachAxios, type AxiosLike } from "@authgate/client/axios";
import { makeUseAuth, type UseAuthResult } from "@authgate/client/react";

export async function use(axios: AxiosLike, React: Parameters<typeof makeUseAuth>[0]): Promise<string> {
  const auth: AuthgateClient = createClient({ mode: "cookie", baseUrl: "https://api.example.com/api/auth/" });
  const off = auth.onLogout(({ reason, source }) => console.log(reason, source));
  try {
    const { user, session_id } = await auth.login({ username: "ada", password: "pw", device: "laptop" });
    const me: User = await auth.me();
    const sessions: Session[] = await auth.sessions();
    await auth.requestPasswordReset({ email: "ada@example.com" });
    const events = await auth.activity({ page: 1 });
    console.log(events.count, events.results[0]?.kind);
    await auth.endSession(sessions[0].id);
    console.log(user.username, session_id, me.email);
  } catch (err) {
    if (err instanceof AuthError && err.code === "throttled") return `wait ${err.retryAfter ?? 0}s`;
    if (err instanceof AuthError && err.code === "mfa_required") {
      const step = err.body as MfaChallenge;
      const signedIn = step.webauthn
        ? await auth.verifyMfa({ mfa_token: step.mfa_token ?? "", publicKey: step.webauthn.publicKey })
        : await auth.verifyMfa({ mfa_token: step.mfa_token ?? "", code: "123456" });
      console.log(signedIn.session_id);
    }
    throw err;
  }
  const { methods, recovery_codes_remaining } = await auth.mfaStatus();
  const { qr_svg } = await auth.setupTotp();
  const { recovery_codes } = await auth.confirmTotp({ code: "123456" });
  const added = await auth.addPasskey({ name: "YubiKey" });
  await auth.reauthenticate({ password: "pw" });
  await auth.removePasskey(added.id);
  await auth.loginWithPasskey({ device: "laptop" });
  console.log(methods[0]?.type, recovery_codes_remaining, qr_svg.length, recovery_codes.length, added.recovery_codes);
  const response: Response = await auth.fetch("/api/protected/", { method: "GET" });
  const detach: () => void = attachAxios(axios, auth);
  const hook: UseAuthResult = makeUseAuth(React)(auth);
  detach();
  off();
  return `${response.status} ${hook.isAuthenticated} ${auth.getState().mode}`;
}
"""
WRONG = """
import { createClient } from "@authgate/client";
createClient({ mode: "session" });
createClient().login({ user: "ada" });
createClient().verifyMfa({ mfa_token: "t", code: "1", publicKey: { challenge: "c" } });
"""
TSCONFIG = {
    "compilerOptions": {
        "strict": True,
        "noEmit": True,
        "target": "es2022",
        "lib": ["es2022", "dom"],
        "module": "nodenext",
        "moduleResolution": "nodenext",
        "skipLibCheck": False,
        "types": [],
    },
}


def test_the_declarations_type_check(installed):
    tsc = require("tsc", TSC)
    (installed / "consumer.ts").write_text(CONSUMER)
    (installed / "tsconfig.json").write_text(json.dumps({**TSCONFIG, "files": ["consumer.ts"]}))
    run(tsc, "-p", "tsconfig.json", cwd=installed)
    # And they do constrain: a wrong mode and wrong login fields are errors.
    (installed / "wrong.ts").write_text(WRONG)
    (installed / "tsconfig.wrong.json").write_text(json.dumps({**TSCONFIG, "files": ["wrong.ts"]}))
    result = subprocess.run(
        [tsc, "-p", "tsconfig.wrong.json"], cwd=installed, capture_output=True, text=True, timeout=180
    )
    assert result.returncode != 0
    assert '"session"' in result.stdout and "user" in result.stdout, result.stdout
