// The client's second-factor and passkey methods: which endpoint each calls with what, how
// a second step signs the client in, and how WebAuthn ceremonies are delegated. The real
// ceremonies (Chromium's virtual authenticator against the service) are in
// tests/mfa/test_webauthn_browser.py and the account page tests.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { createClient, AuthError } from "../../src/authgate/static/authgate/authgate.js";
import { sharedStorage } from "./fake-server.mjs";

const USER = { id: 1, username: "ada", email: "ada@example.com" };
const CREATION = { challenge: "c1", rp: { id: "example.com", name: "example.com" }, user: { id: "u", name: "ada", displayName: "ada" } };
const REQUEST = { challenge: "c2", rpId: "example.com", allowCredentials: [] };
const ASSERTION = { id: "k", rawId: "k", type: "public-key", response: { clientDataJSON: "x", authenticatorData: "y", signature: "z" } };
const ATTESTATION = { id: "k", rawId: "k", type: "public-key", response: { clientDataJSON: "x", attestationObject: "a" } };

let seq = 0;
// A scripted API: each path answers from `routes` ([status, body] or a function of the request).
function setup(routes, { mode = "bearer" } = {}) {
  const requests = [];
  const ceremonies = [];
  const fetch = async (url, init = {}) => {
    const path = new URL(url, "http://testserver").pathname.replace("/api/auth/", "");
    const body = init.body ? JSON.parse(init.body) : undefined;
    const headers = new Headers(init.headers || {});
    requests.push({ path, method: init.method || "GET", body, headers });
    const route = routes[`${init.method || "GET"} ${path}`];
    if (!route) return new Response(JSON.stringify({ detail: "no route", code: "not_found" }), { status: 404 });
    const [status, answer] = typeof route === "function" ? route(body) : route;
    return new Response(answer === null ? null : JSON.stringify(answer), { status, headers: { "Content-Type": "application/json" } });
  };
  const webauthn = {
    async create(publicKey) { ceremonies.push(["create", publicKey]); return ATTESTATION; },
    async get(publicKey) { ceremonies.push(["get", publicKey]); return ASSERTION; },
  };
  const client = createClient({
    mode, fetch, webauthn, storage: sharedStorage(), locks: null, eventTarget: null, BroadcastChannel: null,
    indexedDB: null, storageKey: `mfa-test-${++seq}`, csrfToken: () => "csrf",
  });
  return { client, requests, ceremonies };
}

const signedIn = { access: "A1", refresh: "R1", session_id: "s1", user: USER };
const mfaRequired = { detail: "Enter the code", code: "mfa_required", mfa_token: "mfa_T", methods: ["totp", "webauthn"], webauthn: { publicKey: REQUEST } };

describe("second step of a login", () => {
  test("a login that needs a second factor throws mfa_required with the token and the key's options", async () => {
    const { client } = setup({ "POST login/": [403, mfaRequired] });
    const err = await client.login({ username: "ada", password: "pw" }).catch((e) => e);
    assert.ok(err instanceof AuthError);
    assert.equal(err.code, "mfa_required");
    assert.equal(err.body.mfa_token, "mfa_T");
    assert.deepEqual(err.body.webauthn.publicKey, REQUEST);
    assert.equal(client.isAuthenticated(), false);
  });

  test("verifyMfa with a code posts it with the token and signs the client in", async () => {
    const { client, requests } = setup({ "POST mfa/verify/": [200, signedIn] });
    const data = await client.verifyMfa({ mfa_token: "mfa_T", code: "123456" });
    assert.equal(data.access, "A1");
    assert.deepEqual(requests.at(-1).body, { mfa_token: "mfa_T", code: "123456" });
    assert.equal(client.isAuthenticated(), true);
    assert.equal(client.getAccessToken(), "A1");
    assert.equal(client.getUser().username, "ada");
  });

  test("verifyMfa with request options asks the key and posts its answer", async () => {
    const { client, requests, ceremonies } = setup({ "POST mfa/verify/": [200, signedIn] });
    await client.verifyMfa({ mfa_token: "mfa_T", publicKey: REQUEST });
    assert.deepEqual(ceremonies, [["get", REQUEST]]);
    assert.deepEqual(requests.at(-1).body, { mfa_token: "mfa_T", credential: ASSERTION });
  });

  test("a wrong code is an AuthError invalid_code and leaves the client signed out", async () => {
    const { client } = setup({ "POST mfa/verify/": [401, { detail: "The code is invalid", code: "invalid_code" }] });
    const err = await client.verifyMfa({ mfa_token: "mfa_T", code: "000000" }).catch((e) => e);
    assert.equal(err.code, "invalid_code");
    assert.equal(client.isAuthenticated(), false);
  });
});

describe("passkeys", () => {
  test("loginWithPasskey runs begin, the key, complete — and in cookie mode asks for cookies", async () => {
    const { client, requests, ceremonies } = setup({
      "POST passkey/login/begin/": [200, { publicKey: REQUEST, challenge_id: "ch1" }],
      "POST passkey/login/complete/": [200, { session_id: "s9", user: USER }],
    }, { mode: "cookie" });
    await client.loginWithPasskey({ device: "Laptop" });
    assert.deepEqual(ceremonies, [["get", REQUEST]]);
    assert.deepEqual(requests.at(-1).body, { challenge_id: "ch1", credential: ASSERTION, device: "Laptop", cookies: true });
    assert.equal(requests.at(-1).headers.get("X-CSRFToken"), "csrf");
    assert.equal(client.isAuthenticated(), true);
    assert.equal(client.getSessionId(), "s9");
  });

  test("addPasskey sends the created credential and its name with the session's credential", async () => {
    const { client, requests, ceremonies } = setup({
      "POST login/": [200, signedIn],
      "POST mfa/webauthn/register/begin/": [200, { publicKey: CREATION }],
      "POST mfa/webauthn/register/complete/": [201, { id: "7", name: "YubiKey", recovery_codes: ["a", "b"] }],
    });
    await client.login({ username: "ada", password: "pw" });
    const added = await client.addPasskey({ name: "YubiKey" });
    assert.deepEqual(added, { id: "7", name: "YubiKey", recovery_codes: ["a", "b"] });
    assert.deepEqual(ceremonies, [["create", CREATION]]);
    const complete = requests.at(-1);
    assert.deepEqual(complete.body, { credential: ATTESTATION, name: "YubiKey" });
    assert.equal(complete.headers.get("Authorization"), "Bearer A1");
  });

  test("removePasskey deletes the key by id", async () => {
    const { client, requests } = setup({ "DELETE mfa/webauthn/7/": [204, null] });
    assert.equal(await client.removePasskey("7"), null);
    assert.equal(requests.at(-1).method, "DELETE");
  });

  test("without WebAuthn in the host the default ceremonies say so", async () => {
    const requests = [];
    const client = createClient({
      fetch: async (url, init) => {
        requests.push(url);
        return new Response(JSON.stringify({ publicKey: REQUEST, challenge_id: "c" }), { status: 200 });
      },
      storage: sharedStorage(), locks: null, eventTarget: null, BroadcastChannel: null, indexedDB: null, storageKey: "mfa-nowebauthn",
    });
    const err = await client.loginWithPasskey().catch((e) => e);
    assert.ok(err instanceof AuthError);
    assert.equal(err.code, "webauthn_unsupported");
    assert.equal(requests.length, 1, "nothing is completed without a credential");
  });
});

describe("factors and recent authentication", () => {
  test("each TOTP and recovery-code method calls its endpoint", async () => {
    const { client, requests } = setup({
      "GET mfa/": [200, { methods: [], recovery_codes_remaining: 0 }],
      "POST mfa/totp/": [200, { secret: "S", otpauth_url: "otpauth://totp/x", qr_svg: "<svg/>" }],
      "POST mfa/totp/confirm/": [200, { recovery_codes: ["r1"] }],
      "DELETE mfa/totp/": [204, null],
      "POST mfa/recovery-codes/": [200, { recovery_codes: ["r2"] }],
    });
    assert.equal((await client.mfaStatus()).recovery_codes_remaining, 0);
    assert.equal((await client.setupTotp()).secret, "S");
    assert.deepEqual(await client.confirmTotp({ code: "123456" }), { recovery_codes: ["r1"] });
    assert.equal(await client.disableTotp(), null);
    assert.deepEqual(await client.regenerateRecoveryCodes(), { recovery_codes: ["r2"] });
    assert.deepEqual(requests.map((r) => `${r.method} ${r.path}`), [
      "GET mfa/", "POST mfa/totp/", "POST mfa/totp/confirm/", "DELETE mfa/totp/", "POST mfa/recovery-codes/",
    ]);
    assert.deepEqual(requests[2].body, { code: "123456" });
  });

  test("a sensitive action answers reauthentication_required; reauthenticate proves it with the key", async () => {
    const challenge = { detail: "Confirm it's you", code: "reauthentication_required", methods: ["webauthn"], webauthn: { publicKey: REQUEST } };
    const { client, requests, ceremonies } = setup({
      "DELETE mfa/totp/": [403, challenge],
      "POST reauthenticate/": [200, { auth_time: 1700000000, amr: ["hwk", "mfa", "pwd"] }],
    });
    const err = await client.disableTotp().catch((e) => e);
    assert.equal(err.code, "reauthentication_required");
    const proved = await client.reauthenticate({ publicKey: err.body.webauthn.publicKey });
    assert.deepEqual(proved.amr, ["hwk", "mfa", "pwd"]);
    assert.deepEqual(ceremonies, [["get", REQUEST]]);
    assert.deepEqual(requests.at(-1).body, { credential: ASSERTION });
    await client.reauthenticate({ code: "654321" });
    assert.deepEqual(requests.at(-1).body, { code: "654321" });
    await client.reauthenticate({ password: "pw" });
    assert.deepEqual(requests.at(-1).body, { password: "pw" });
  });
});
