import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { createClient, AuthError } from "../../src/authgate/static/authgate/authgate.js";
import { createFakeServer, sharedStorage, fakeLocks, tick } from "./fake-server.mjs";

let channelSeq = 0;
// One "tab": a client over the fake server. Tabs of one origin share storage, locks and
// channel name (BroadcastChannel is real: node delivers between instances of one process).
function tab(server, { storage, locks, mode = "bearer", key, ...rest } = {}) {
  return createClient({
    mode,
    fetch: server.fetch,
    storage: storage || sharedStorage(),
    locks: locks === undefined ? null : locks,
    storageKey: key || `authgate-test-${++channelSeq}`,
    eventTarget: null,
    csrfToken: () => server.csrf,
    ...rest,
  });
}

describe("bearer mode", () => {
  test("login stores the tokens in storage under a namespaced key and emits login", async () => {
    const server = createFakeServer();
    const storage = sharedStorage();
    const c = tab(server, { storage, key: "ns" });
    const logins = [];
    const off = c.onLogin((e) => logins.push(e));
    const data = await c.login({ username: "alice", password: "secret", device: "Firefox on Linux" });
    assert.ok(data.access && data.refresh);
    const stored = JSON.parse(storage.getItem("ns:tokens"));
    assert.equal(stored.access, data.access);
    assert.equal(stored.refresh, data.refresh);
    assert.equal(stored.user.username, "alice");
    assert.equal(c.isAuthenticated(), true);
    assert.equal(c.getAccessToken(), data.access);
    assert.equal(c.getSessionId(), data.session_id);
    assert.equal(logins.length, 1);
    assert.equal(logins[0].user.username, "alice");
    assert.equal(server.requests[0].body.device, "Firefox on Linux");
    assert.equal(server.requests[0].body.cookies, undefined);
    off();
    await c.logout();
    await c.login({ username: "alice", password: "secret" });
    assert.equal(logins.length, 1, "unsubscribed listener is not called");
    c.close();
  });

  test("fetch adds the Bearer header", async () => {
    const server = createFakeServer();
    const c = tab(server);
    await c.login({ username: "alice", password: "secret" });
    const res = await c.fetch("/api/protected/");
    assert.equal(res.status, 200);
    const req = server.requests.at(-1);
    assert.equal(req.headers.get("Authorization"), `Bearer ${c.getAccessToken()}`);
    assert.equal(req.headers.get("X-CSRFToken"), null);
    c.close();
  });

  test("wrong password: AuthError with status, code, detail and body", async () => {
    const server = createFakeServer();
    const c = tab(server);
    await assert.rejects(c.login({ username: "alice", password: "nope" }), (err) => {
      assert.ok(err instanceof AuthError);
      assert.equal(err.status, 401);
      assert.equal(err.code, "invalid_credentials");
      assert.match(err.detail, /credentials/);
      assert.equal(err.body.code, "invalid_credentials");
      return true;
    });
    assert.equal(c.isAuthenticated(), false);
    c.close();
  });

  test("throttled login exposes retryAfter", async () => {
    const server = createFakeServer();
    const c = tab(server);
    await assert.rejects(c.login({ username: "throttled", password: "x" }), (err) => {
      assert.equal(err.status, 429);
      assert.equal(err.code, "throttled");
      assert.equal(err.retryAfter, 42);
      return true;
    });
    c.close();
  });

  test("register returns the user; field errors keep DRF shape on err.body", async () => {
    const server = createFakeServer();
    const c = tab(server);
    const u = await c.register({ username: "bob", email: "bob@example.com", password: "pw-long-enough" });
    assert.equal(u.username, "bob");
    await assert.rejects(c.register({ username: "bob", email: "b@example.com", password: "x" }), (err) => {
      assert.equal(err.status, 400);
      assert.deepEqual(err.body, { username: ["A user with that username already exists."] });
      assert.match(err.detail, /already exists/);
      return true;
    });
    c.close();
  });

  test("on 401 the client refreshes once and retries once", async () => {
    const server = createFakeServer();
    const c = tab(server);
    await c.login({ username: "alice", password: "secret" });
    const before = c.getAccessToken();
    server.expireAccess();
    const res = await c.fetch("/api/protected/");
    assert.equal(res.status, 200);
    assert.equal(server.count("/api/auth/token/refresh/"), 1);
    assert.equal(server.count("/api/protected/"), 2);
    assert.notEqual(c.getAccessToken(), before);
    const req = server.requests.at(-1);
    assert.equal(req.headers.get("Authorization"), `Bearer ${c.getAccessToken()}`);
    c.close();
  });

  test("a second 401 after the retry is returned, not retried again", async () => {
    const server = createFakeServer();
    const c = tab(server);
    await c.login({ username: "alice", password: "secret" });
    // every protected call answers 401 even with fresh tokens
    const inner = server.fetch;
    const fetch = async (url, init) => (String(url).includes("/api/protected/")
      ? (server.requests.push({ path: "/api/protected/" }), new Response('{"detail":"no","code":"token_not_valid"}', { status: 401 }))
      : inner(url, init));
    const c2 = tab(server, { fetch });
    await c2.login({ username: "alice", password: "secret" });
    const before = server.count("/api/protected/");
    const res = await c2.fetch("/api/protected/");
    assert.equal(res.status, 401);
    assert.equal(server.count("/api/protected/") - before, 2);
    assert.equal(server.count("/api/auth/token/refresh/"), 1);
    assert.equal(c2.isAuthenticated(), true, "a successful refresh keeps the session");
    c.close();
    c2.close();
  });

  test("ten concurrent 401s share one refresh (single flight)", async () => {
    const server = createFakeServer({ refreshDelay: 20 });
    const c = tab(server);
    await c.login({ username: "alice", password: "secret" });
    server.expireAccess();
    const results = await Promise.all(Array.from({ length: 10 }, () => c.fetch("/api/protected/")));
    assert.deepEqual(results.map((r) => r.status), Array(10).fill(200));
    assert.equal(server.count("/api/auth/token/refresh/"), 1);
    c.close();
  });

  test("a late 401 for a request sent with the old token does not rotate again", async () => {
    const server = createFakeServer();
    const c = tab(server);
    await c.login({ username: "alice", password: "secret" });
    server.expireAccess();
    // request 1 is held back until after another call refreshed
    let release;
    const gate = new Promise((r) => (release = r));
    const fetch = async (url, init) => {
      const res = await server.fetch(url, init);
      if (String(url).endsWith("/slow/")) await gate;
      return res;
    };
    const c2 = tab(server, { fetch, storage: undefined });
    await c2.login({ username: "alice", password: "secret" });
    server.expireAccess();
    const slow = c2.fetch("/api/protected/slow/");
    await tick(5);
    assert.equal((await c2.fetch("/api/protected/")).status, 200);
    assert.equal(server.count("/api/auth/token/refresh/"), 1);
    release();
    await slow; // 404 from fake after retry, but what matters is the refresh count
    assert.equal(server.count("/api/auth/token/refresh/"), 1, "stale 401 reused the newer tokens");
    c.close();
    c2.close();
  });

  test("two tabs: one refresh across tabs (lock + re-read storage)", async () => {
    const server = createFakeServer({ refreshDelay: 20 });
    const storage = sharedStorage();
    const locks = fakeLocks();
    const a = tab(server, { storage, locks, key: "two-tabs" });
    const b = tab(server, { storage, locks, key: "two-tabs" });
    await a.login({ username: "alice", password: "secret" });
    assert.equal(b.isAuthenticated(), true, "tab b sees tab a's tokens");
    server.expireAccess();
    const all = await Promise.all([
      ...Array.from({ length: 5 }, () => a.fetch("/api/protected/")),
      ...Array.from({ length: 5 }, () => b.fetch("/api/protected/")),
    ]);
    assert.deepEqual(all.map((r) => r.status), Array(10).fill(200));
    assert.equal(server.count("/api/auth/token/refresh/"), 1);
    assert.ok(locks.requests >= 2, "both tabs went through the lock");
    assert.equal(a.getAccessToken(), b.getAccessToken());
    a.close();
    b.close();
  });

  test("refresh failure (401) clears the tokens and emits logout", async () => {
    const server = createFakeServer();
    const storage = sharedStorage();
    const c = tab(server, { storage, key: "ended" });
    await c.login({ username: "alice", password: "secret" });
    const reasons = [];
    c.onLogout((e) => reasons.push(e.reason));
    server.endAll(); // e.g. "sign out everywhere" from another device
    const res = await c.fetch("/api/protected/");
    assert.equal(res.status, 401);
    assert.equal(server.count("/api/auth/token/refresh/"), 1);
    assert.equal(c.isAuthenticated(), false);
    assert.equal(storage.getItem("ended:tokens"), null);
    assert.deepEqual(reasons, ["session_ended"]);
    await assert.rejects(c.me(), (err) => err.status === 401);
    assert.deepEqual(reasons, ["session_ended"], "logout is emitted once");
    c.close();
  });

  test("a 5xx from refresh keeps the session", async () => {
    const server = createFakeServer();
    const inner = server.fetch;
    let fail = true;
    const fetch = (url, init) => (String(url).includes("token/refresh") && fail
      ? Promise.resolve(new Response('{"detail":"down","code":"service_unavailable"}', { status: 503 }))
      : inner(url, init));
    const c = tab(server, { fetch });
    await c.login({ username: "alice", password: "secret" });
    server.expireAccess();
    await assert.rejects(c.refresh(), (err) => err.status === 503);
    assert.equal(c.isAuthenticated(), true);
    fail = false;
    assert.equal((await c.fetch("/api/protected/")).status, 200);
    c.close();
  });

  test("logout sends Bearer + refresh, clears storage, emits logout, and ends the session", async () => {
    const server = createFakeServer();
    const storage = sharedStorage();
    const c = tab(server, { storage, key: "lo" });
    await c.login({ username: "alice", password: "secret" });
    const { access, refresh } = JSON.parse(storage.getItem("lo:tokens"));
    const events = [];
    c.onLogout((e) => events.push(e));
    const out = await c.logout();
    assert.equal(out.detail, "Successfully logged out.");
    const req = server.requests.at(-1);
    assert.equal(req.path, "/api/auth/logout/");
    assert.equal(req.headers.get("Authorization"), `Bearer ${access}`);
    assert.equal(req.body.refresh, refresh);
    assert.equal(storage.getItem("lo:tokens"), null);
    assert.deepEqual(events.map((e) => e.reason), ["logout"]);
    assert.equal([...server.sessions.values()][0].ended, true);
    c.close();
  });

  test("logout still signs out locally when the server is unreachable", async () => {
    const server = createFakeServer();
    let up = true;
    const c = tab(server, { fetch: (u, i) => (up ? server.fetch(u, i) : Promise.reject(new TypeError("Failed to fetch"))) });
    await c.login({ username: "alice", password: "secret" });
    up = false;
    const out = await c.logout();
    assert.equal(out.ok, false);
    assert.equal(c.isAuthenticated(), false);
    c.close();
  });

  test("logoutAll ends every session and emits logout", async () => {
    const server = createFakeServer();
    const c = tab(server);
    const other = tab(server);
    await c.login({ username: "alice", password: "secret" });
    await other.login({ username: "alice", password: "secret" });
    const reasons = [];
    c.onLogout((e) => reasons.push(e.reason));
    const out = await c.logoutAll();
    assert.equal(out.sessions_ended, 2);
    assert.deepEqual(reasons, ["logout_all"]);
    // the other device's next call fails and it signs out
    const otherReasons = [];
    other.onLogout((e) => otherReasons.push(e.reason));
    await assert.rejects(other.me(), (err) => err.status === 401 && err.reason === "revoked");
    assert.deepEqual(otherReasons, ["session_ended"]);
    c.close();
    other.close();
  });

  test("logout in one tab logs out the other (BroadcastChannel)", async () => {
    const server = createFakeServer();
    const storage = sharedStorage();
    const a = tab(server, { storage, key: "bc" });
    const b = tab(server, { storage, key: "bc" });
    const bLogins = [];
    const bLogouts = [];
    b.onLogin((e) => bLogins.push(e));
    b.onLogout((e) => bLogouts.push(e));
    await a.login({ username: "alice", password: "secret" });
    await tick(20);
    assert.equal(bLogins.length, 1);
    assert.equal(bLogins[0].source, "other_tab");
    await a.logout();
    await tick(20);
    assert.equal(bLogouts.length, 1);
    assert.equal(bLogouts[0].source, "other_tab");
    assert.equal(b.isAuthenticated(), false);
    a.close();
    b.close();
  });

  test("storage events from another tab are honoured", async () => {
    const server = createFakeServer();
    const storage = sharedStorage();
    const target = new EventTarget();
    const a = tab(server, { storage, key: "se", BroadcastChannel: null });
    const b = tab(server, { storage, key: "se", BroadcastChannel: null, eventTarget: target });
    const seen = [];
    b.onLogin(() => seen.push("login"));
    b.onLogout(() => seen.push("logout"));
    await a.login({ username: "alice", password: "secret" });
    const ev = (newValue) => Object.assign(new Event("storage"), { key: "se:tokens", newValue, storageArea: storage });
    target.dispatchEvent(ev(storage.getItem("se:tokens")));
    await a.logout();
    target.dispatchEvent(ev(null));
    assert.deepEqual(seen, ["login", "logout"]);
    a.close();
    b.close();
  });

  test("me() updates the stored user; endSession(current) signs out", async () => {
    const server = createFakeServer();
    const c = tab(server);
    await c.login({ username: "root", password: "toor" });
    const changes = [];
    c.subscribe((e) => changes.push(e.type));
    const me = await c.me();
    assert.equal(me.is_staff, true);
    assert.equal(c.getUser().is_staff, true);
    assert.equal(c.getState().user.is_staff, true);
    assert.ok(changes.includes("user"));
    const list = await c.sessions();
    assert.equal(list.length, 1);
    assert.equal(list[0].current, true);
    const out = await c.invalidateAllTokens();
    assert.equal(out.sessions_ended, 1);
    c.close();
  });

  test("getState() is stable until something changes", async () => {
    const server = createFakeServer();
    const c = tab(server);
    const s1 = c.getState();
    assert.equal(c.getState(), s1);
    assert.equal(s1.isAuthenticated, false);
    await c.login({ username: "alice", password: "secret" });
    const s2 = c.getState();
    assert.notEqual(s2, s1);
    assert.equal(s2.isAuthenticated, true);
    assert.equal(c.getState(), s2);
    c.close();
  });

  test("fetch accepts a Request object and retries it with a fresh body", async () => {
    const server = createFakeServer();
    const c = tab(server);
    await c.login({ username: "alice", password: "secret" });
    server.expireAccess();
    const res = await c.fetch(new Request("http://testserver/api/auth/logout/all/", { method: "POST", body: "{}" }));
    assert.equal(res.status, 200);
    assert.equal(server.count("/api/auth/token/refresh/"), 1);
    c.close();
  });
});

describe("cookie mode", () => {
  test("login asks for cookies and never stores tokens", async () => {
    const server = createFakeServer();
    const storage = sharedStorage();
    const c = tab(server, { mode: "cookie", storage, key: "ck" });
    const data = await c.login({ username: "alice", password: "secret" });
    assert.equal(server.requests[0].body.cookies, true);
    assert.equal(data.access, undefined);
    assert.ok(server.jar.authgate_access);
    const raw = [...storage.map.values()].join(" ");
    assert.ok(!raw.includes(server.jar.authgate_access) && !raw.includes(server.jar.authgate_refresh), "no token in storage");
    assert.equal(c.getAccessToken(), null);
    assert.equal(c.isAuthenticated(), true);
    assert.equal(c.getUser().username, "alice");
    c.close();
  });

  test("unsafe methods carry X-CSRFToken and credentials; safe ones no CSRF; no Authorization", async () => {
    const server = createFakeServer();
    const c = tab(server, { mode: "cookie" });
    await c.login({ username: "alice", password: "secret" });
    const get = await c.fetch("/api/protected/");
    assert.equal(get.status, 200);
    let req = server.requests.at(-1);
    assert.equal(req.credentials, "same-origin");
    assert.equal(req.headers.get("X-CSRFToken"), null);
    assert.equal(req.headers.get("Authorization"), null);
    const post = await c.fetch("/api/auth/logout/all/", { method: "POST" });
    assert.equal(post.status, 200);
    req = server.requests.at(-1);
    assert.equal(req.headers.get("X-CSRFToken"), server.csrf);
    c.close();
  });

  test("refresh posts {} with the CSRF header; single flight across concurrent 401s", async () => {
    const server = createFakeServer({ refreshDelay: 20 });
    const c = tab(server, { mode: "cookie" });
    await c.login({ username: "alice", password: "secret" });
    server.expireAccess();
    const results = await Promise.all(Array.from({ length: 10 }, () => c.fetch("/api/protected/")));
    assert.deepEqual(results.map((r) => r.status), Array(10).fill(200));
    const refreshes = server.requests.filter((r) => r.path === "/api/auth/token/refresh/");
    assert.equal(refreshes.length, 1);
    assert.deepEqual(refreshes[0].body, {});
    assert.equal(refreshes[0].headers.get("X-CSRFToken"), server.csrf);
    assert.equal(refreshes[0].credentials, "same-origin");
    c.close();
  });

  test("two tabs in cookie mode rotate once (rotation marker re-read under the lock)", async () => {
    const server = createFakeServer({ refreshDelay: 20 });
    const storage = sharedStorage();
    const locks = fakeLocks();
    const a = tab(server, { mode: "cookie", storage, locks, key: "ck2" });
    const b = tab(server, { mode: "cookie", storage, locks, key: "ck2" });
    await a.login({ username: "alice", password: "secret" });
    server.expireAccess();
    const all = await Promise.all([a.fetch("/api/protected/"), b.fetch("/api/protected/")]);
    assert.deepEqual(all.map((r) => r.status), [200, 200]);
    assert.equal(server.count("/api/auth/token/refresh/"), 1);
    a.close();
    b.close();
  });

  test("logout posts no body with CSRF; cookie refresh failure emits logout", async () => {
    const server = createFakeServer();
    const c = tab(server, { mode: "cookie" });
    await c.login({ username: "alice", password: "secret" });
    await c.logout();
    const req = server.requests.at(-1);
    assert.equal(req.path, "/api/auth/logout/");
    assert.deepEqual(req.body, {});
    assert.equal(req.headers.get("X-CSRFToken"), server.csrf);
    assert.deepEqual(server.jar, {});
    assert.equal(c.isAuthenticated(), false);

    await c.login({ username: "alice", password: "secret" });
    const reasons = [];
    c.onLogout((e) => reasons.push(e.reason));
    server.endAll();
    server.jar = {}; // cookies gone: refresh answers 400
    await assert.rejects(c.me(), (err) => err.status === 401);
    assert.deepEqual(reasons, ["session_ended"]);
    c.close();
  });
});

describe("account recovery and verification", () => {
  test("requestPasswordReset answers alike for known and unknown addresses", async () => {
    const server = createFakeServer();
    const c = tab(server);
    const known = await c.requestPasswordReset({ email: "ALICE@example.com" });
    const unknown = await c.requestPasswordReset({ email: "nobody@example.com" });
    assert.deepEqual(known, unknown);
    assert.equal(server.mails.length, 1);
    const req = server.requests[0];
    assert.equal(req.path, "/api/auth/password/reset/");
    assert.equal(req.method, "POST");
    assert.equal(req.headers.get("Authorization"), null);
    await assert.rejects(c.requestPasswordReset({}), (err) => err instanceof AuthError && err.status === 400 && Boolean(err.body.email));
  });

  test("confirmPasswordReset: a weak password keeps the link; success ends this tab's session", async () => {
    const server = createFakeServer();
    const c = tab(server);
    await c.login({ username: "alice", password: "secret" });
    const logouts = [];
    c.onLogout((e) => logouts.push(e));
    await c.requestPasswordReset({ email: "alice@example.com" });
    const { uid, token } = server.mails.at(-1);
    await assert.rejects(c.confirmPasswordReset({ uid, token, new_password: "short" }),
      (err) => err.status === 400 && err.code === "invalid" && Array.isArray(err.body.new_password));
    assert.equal(c.isAuthenticated(), true);
    const data = await c.confirmPasswordReset({ uid, token, new_password: "a-long-new-one" });
    assert.equal(data.sessions_ended, 1);
    assert.equal(c.isAuthenticated(), false); // the server ended it; the client noticed
    assert.equal(logouts.length, 1);
    await assert.rejects(c.confirmPasswordReset({ uid, token, new_password: "another-long-one" }),
      (err) => err.status === 400 && err.code === "invalid_link");
    await c.login({ username: "alice", password: "a-long-new-one" });
  });

  test("verifyEmail and resendVerification; me() then says email_verified", async () => {
    const server = createFakeServer();
    const c = tab(server);
    await c.login({ username: "alice", password: "secret" });
    assert.equal((await c.me()).email_verified, false);
    const sent = await c.resendVerification();
    assert.equal(sent.detail, "A new verification link is on its way.");
    const { uid, token } = server.mails.at(-1);
    assert.equal(server.mails.at(-1).kind, "verify");
    await c.verifyEmail({ uid, token });
    assert.equal(c.getUser().email_verified, true); // refreshed after verifying
    await assert.rejects(c.verifyEmail({ uid, token }), (err) => err.code === "invalid_link");
    assert.equal((await c.resendVerification()).detail, "Your email address is already verified.");
  });

  test("an older me() answer that arrives last does not undo a verification", async () => {
    const server = createFakeServer();
    let release;
    const held = new Promise((resolve) => { release = resolve; });
    let holdNext = false;
    const slow = Object.create(server);
    slow.fetch = async (url, init) => {
      const response = await server.fetch(url, init); // answered now, delivered later
      const isMe = String(url).endsWith("/me/") && (!init || !init.method || init.method === "GET");
      if (isMe && holdNext) { holdNext = false; await held; }
      return response;
    };
    const c = tab(slow);
    await c.login({ username: "alice", password: "secret" });
    await c.resendVerification();
    const { uid, token } = server.mails.at(-1);
    holdNext = true;
    const older = c.me(); // the page load's me/: email_verified false, delivered late
    await c.verifyEmail({ uid, token }); // its own me/ answers true first
    release();
    assert.equal((await older).email_verified, true);
    assert.equal(c.getUser().email_verified, true);
  });

  test("changeEmail needs the password, leaves the email pending and updates the stored user", async () => {
    const server = createFakeServer();
    const c = tab(server);
    await c.login({ username: "alice", password: "secret" });
    await assert.rejects(c.changeEmail({ email: "new@example.com", password: "wrong" }),
      (err) => err.status === 400 && Boolean(err.body.password));
    const changes = [];
    c.subscribe((e) => changes.push(e));
    const user = await c.changeEmail({ email: "new@example.com", password: "secret" });
    assert.equal(user.email, "alice@example.com");
    assert.equal(user.pending_email, "new@example.com");
    assert.equal(c.getUser().pending_email, "new@example.com");
    assert.ok(changes.some((e) => e.type === "user"));
    const req = server.requests.at(-1);
    assert.equal(req.method, "PATCH");
    assert.equal(req.path, "/api/auth/me/");
  });

  test("deleteAccount signs out with reason account_deleted", async () => {
    const server = createFakeServer();
    const c = tab(server);
    await c.login({ username: "alice", password: "secret" });
    await assert.rejects(c.deleteAccount({ password: "wrong" }), (err) => err.status === 400);
    assert.equal(c.isAuthenticated(), true);
    const logouts = [];
    c.onLogout((e) => logouts.push(e));
    assert.equal(await c.deleteAccount({ password: "secret" }), null);
    assert.equal(c.isAuthenticated(), false);
    assert.equal(logouts[0].reason, "account_deleted");
    const req = server.requests.at(-1);
    assert.equal(req.method, "DELETE");
    assert.deepEqual(req.body, { password: "secret" });
  });

  test("cookie mode: the signed-in steps carry the CSRF header, the public ones need none", async () => {
    const server = createFakeServer();
    const c = tab(server, { mode: "cookie" });
    await c.requestPasswordReset({ email: "alice@example.com" });
    await c.login({ username: "alice", password: "secret" });
    await c.changeEmail({ email: "alice2@example.com", password: "secret" });
    assert.equal(server.requests.at(-1).headers.get("X-CSRFToken"), server.csrf);
    await c.deleteAccount({ password: "secret" });
    assert.equal(server.requests.at(-1).headers.get("X-CSRFToken"), server.csrf);
    assert.equal(c.isAuthenticated(), false);
    assert.deepEqual(server.jar, {});
  });
});
