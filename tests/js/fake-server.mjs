// An in-memory stand-in for the authgate API, enough to unit-test the JS client:
// sessions, access/refresh rotation (spent refresh = theft), logout, cookie mode with a
// cookie jar and CSRF check. Real-server behaviour is covered by the browser tests.

export function createFakeServer({ refreshDelay = 0 } = {}) {
  let n = 0;
  const users = new Map([
    ["alice", { id: 1, username: "alice", email: "alice@example.com", password: "secret", is_staff: false }],
    ["root", { id: 2, username: "root", email: "root@example.com", password: "toor", is_staff: true }],
  ]);
  const sessions = new Map(); // id -> {user, refresh, access:Set, ended}
  const server = {
    users,
    sessions,
    csrf: "csrf-token-1",
    jar: {}, // the "browser" cookie jar of cookie mode: {authgate_access, authgate_refresh}
    refreshDelay,
    requests: [], // {method, path, headers, body, credentials}
    count(path, method) {
      return server.requests.filter((r) => r.path === path && (!method || r.method === method)).length;
    },
    expireAccess() {
      for (const s of sessions.values()) s.access.clear();
    },
    endAll() {
      for (const s of sessions.values()) s.ended = true;
    },
    mails: [], // {to, kind, uid, token}: what the recovery endpoints "sent"
    events: [], // the activity trail: {id, user, kind, session_id, created_at}, oldest first
    record(user, kind, session_id = null) {
      server.events.push({ id: server.events.length + 1, user, kind, session_id, created_at: new Date(Date.UTC(2024, 0, 1, 0, server.events.length)).toISOString() });
    },
    issueLink(username, kind) {
      const u = users.get(username);
      const link = { to: u.email, kind, uid: String(u.id), token: `${kind}-${++n}` };
      server.mails.push(link);
      return link;
    },
    fetch: (input, init) => handle(input, init),
  };

  const json = (status, body, headers = {}) =>
    new Response(body === null ? null : JSON.stringify(body), {
      status,
      headers: { "Content-Type": "application/json", ...headers },
    });
  const tokenError = (reason, detail = "Given token not valid for any token type") =>
    json(401, { detail, code: "token_not_valid", reason }, { "WWW-Authenticate": 'Bearer realm="api"' });

  function newSession(user) {
    const id = `s${++n}`;
    const s = { id, user, refresh: `R${++n}`, access: new Set([`A${++n}`]), ended: false };
    sessions.set(id, s);
    return s;
  }
  function rotate(s) {
    s.refresh = `R${++n}`;
    const access = `A${++n}`;
    s.access.clear();
    s.access.add(access);
    return { access, refresh: s.refresh };
  }
  const currentAccess = (s) => [...s.access][0];
  function findByAccess(token) {
    for (const s of sessions.values()) if (s.access.has(token)) return s;
    return null;
  }
  function findByRefresh(token) {
    for (const s of sessions.values()) if (s.refresh === token) return s;
    return null;
  }

  async function handle(input, init = {}) {
    const url = new URL(typeof input === "string" ? input : input.url, "http://testserver");
    const method = String(init.method || (typeof input === "string" ? "GET" : input.method)).toUpperCase();
    const headers = new Headers(init.headers || (typeof input === "string" ? undefined : input.headers));
    let raw = init.body;
    if (raw === undefined && typeof input !== "string") raw = await input.text();
    const body = raw ? JSON.parse(raw) : {};
    const credentials = init.credentials;
    const path = url.pathname;
    server.requests.push({ method, path, headers, body, credentials });
    const sendsCookies = credentials === "same-origin" || credentials === "include";
    const unsafe = !["GET", "HEAD", "OPTIONS"].includes(method);

    // authentication: header wins, else access cookie (CSRF required on unsafe methods)
    function authenticate() {
      const auth = headers.get("Authorization");
      if (auth && auth.startsWith("Bearer ")) {
        const s = findByAccess(auth.slice(7));
        if (!s) return { error: tokenError("expired") };
        if (s.ended) return { error: tokenError("revoked") };
        return { session: s };
      }
      if (sendsCookies && server.jar.authgate_access) {
        const s = findByAccess(server.jar.authgate_access);
        if (!s) return { error: tokenError("expired") };
        if (s.ended) return { error: tokenError("revoked") };
        if (unsafe && headers.get("X-CSRFToken") !== server.csrf) {
          return { error: json(403, { detail: "CSRF Failed: CSRF token missing.", code: "permission_denied" }) };
        }
        return { session: s, cookie: true };
      }
      return { error: json(401, { detail: "Authentication credentials were not provided.", code: "not_authenticated" }) };
    }

    if (path === "/api/auth/register/" && method === "POST") {
      if (!body.username || !body.email || !body.password) {
        const errs = {};
        for (const f of ["username", "email", "password"]) if (!body[f]) errs[f] = ["This field is required."];
        return json(400, errs);
      }
      if (users.has(body.username)) return json(400, { username: ["A user with that username already exists."] });
      const u = { id: users.size + 1, username: body.username, email: body.email, password: body.password, is_staff: false };
      users.set(u.username, u);
      return json(201, { id: u.id, username: u.username, email: u.email });
    }

    if (path === "/api/auth/login/" && method === "POST") {
      const u = users.get(body.username);
      if (body.username === "throttled") {
        return json(429, { detail: "Too many failed login attempts.", code: "throttled" }, { "Retry-After": "42" });
      }
      if (!u || u.password !== body.password) {
        if (u) server.record(u, "login_failed");
        return json(401, { detail: "No active account found with the given credentials", code: "invalid_credentials" });
      }
      const s = newSession(u);
      s.device = body.device;
      server.record(u, "login_succeeded", s.id);
      const user = { id: u.id, username: u.username, email: u.email };
      if (body.cookies) {
        server.jar.authgate_access = currentAccess(s);
        server.jar.authgate_refresh = s.refresh;
        return json(200, { session_id: s.id, user });
      }
      return json(200, { access: currentAccess(s), refresh: s.refresh, session_id: s.id, user });
    }

    if (path === "/api/auth/token/refresh/" && method === "POST") {
      if (server.refreshDelay) await new Promise((r) => setTimeout(r, server.refreshDelay));
      let token = body.refresh;
      let cookie = false;
      if (!token && sendsCookies && server.jar.authgate_refresh) {
        if (headers.get("X-CSRFToken") !== server.csrf) {
          return json(403, { detail: "CSRF Failed: CSRF token missing.", code: "permission_denied" });
        }
        token = server.jar.authgate_refresh;
        cookie = true;
      }
      if (!token) return json(400, { refresh: ["This field is required."] });
      const s = findByRefresh(token);
      if (!s) {
        // spent token: theft — end the session it belonged to (simplified: all sessions)
        return json(401, { detail: "Token is blacklisted", code: "token_not_valid", reason: "revoked" });
      }
      if (s.ended) return json(401, { detail: "Token is blacklisted", code: "token_not_valid", reason: "revoked" });
      const pair = rotate(s);
      if (cookie) {
        server.jar.authgate_access = pair.access;
        server.jar.authgate_refresh = pair.refresh;
        return json(200, { detail: "Token refreshed." });
      }
      return json(200, pair);
    }

    if (path === "/api/auth/logout/" && method === "POST") {
      let s = null;
      const token = body.refresh || (sendsCookies ? server.jar.authgate_refresh : null);
      if (sendsCookies && !body.refresh && server.jar.authgate_refresh && headers.get("X-CSRFToken") !== server.csrf) {
        return json(403, { detail: "CSRF Failed: CSRF token missing.", code: "permission_denied" });
      }
      if (token) {
        s = findByRefresh(token);
        if (!s || s.ended) return json(400, { detail: "Token is invalid or expired", code: "token_not_valid" });
      } else {
        const a = authenticate();
        if (a.error) return json(400, { detail: "A refresh token is required.", code: "refresh_required" });
        s = a.session;
      }
      s.ended = true;
      if (sendsCookies) server.jar = {};
      return json(200, { detail: "Successfully logged out." });
    }

    // account recovery (public)
    const userById = (uid) => [...users.values()].find((x) => String(x.id) === String(uid));
    const invalidLink = () => json(400, { detail: "This link is invalid or has expired. Ask for a new one.", code: "invalid_link" });
    const useLink = (kind) => {
      const link = server.mails.find((m) => m.kind === kind && m.uid === body.uid && m.token === body.token && !m.used);
      return link ? { link, user: userById(link.uid) } : null;
    };
    if (path === "/api/auth/password/reset/" && method === "POST") {
      if (!body.email) return json(400, { email: ["This field is required."] });
      const u = [...users.values()].find((x) => x.email.toLowerCase() === String(body.email).toLowerCase());
      if (u) server.issueLink(u.username, "reset");
      return json(202, { detail: "If an active account has this email address, a link to reset its password is on its way." });
    }
    if (path === "/api/auth/password/reset/confirm/" && method === "POST") {
      const found = useLink("reset");
      if (!found) return invalidLink();
      if (String(body.new_password || "").length < 8) return json(400, { new_password: ["This password is too short."] });
      found.link.used = true;
      found.user.password = body.new_password;
      let ended = 0;
      for (const x of sessions.values()) if (x.user === found.user && !x.ended) { x.ended = true; ended++; }
      return json(200, { detail: "Your password has been reset. Sign in with the new one.", sessions_ended: ended });
    }
    if (path === "/api/auth/email/verify/" && method === "POST") {
      const pending = useLink("pending");
      if (pending && pending.user.pending_email === pending.link.to) {
        pending.link.used = true;
        Object.assign(pending.user, { email: pending.user.pending_email, pending_email: "", email_verified: true });
        return json(200, { detail: "Your email address is changed and verified." });
      }
      const found = useLink("verify");
      if (!found) return invalidLink();
      found.link.used = true;
      found.user.email_verified = true;
      return json(200, { detail: "Your email address is verified." });
    }

    // authenticated endpoints
    const a = authenticate();
    if (a.error) return a.error;
    const s = a.session;
    const u = s.user;

    const profile = () => ({ id: u.id, username: u.username, email: u.email, email_verified: Boolean(u.email_verified), pending_email: u.pending_email || "", is_staff: u.is_staff });
    if (path === "/api/auth/me/" && method === "GET") return json(200, profile());
    if (path === "/api/auth/me/" && (method === "PATCH" || method === "DELETE")) {
      if (body.password !== u.password) return json(400, { password: ["Your password was entered incorrectly."] });
      if (method === "PATCH") {
        u.pending_email = body.email === u.email ? "" : body.email;
        if (u.pending_email) server.mails.push({ to: u.pending_email, kind: "pending", uid: String(u.id), token: `pending-${server.mails.length + 1}` });
        return json(200, profile());
      }
      for (const x of sessions.values()) if (x.user === u) x.ended = true;
      users.delete(u.username);
      if (a.cookie) server.jar = {};
      return new Response(null, { status: 204 });
    }
    if (path === "/api/auth/email/verify/resend/" && method === "POST") {
      if (!u.email_verified) server.issueLink(u.username, "verify");
      return json(202, { detail: u.email_verified ? "Your email address is already verified." : "A new verification link is on its way." });
    }
    if (path === "/api/protected/" && method === "GET") {
      return json(200, { message: `Hello ${u.username}, you have accessed a protected route!` });
    }
    if (path === "/api/auth/logout/all/" && method === "POST") {
      let ended = 0;
      for (const x of sessions.values()) if (x.user === u && !x.ended) { x.ended = true; ended++; }
      if (a.cookie) server.jar = {};
      return json(200, { detail: "Successfully logged out of all sessions.", sessions_ended: ended });
    }
    if (path === "/api/auth/sessions/" && method === "GET") {
      return json(200, [...sessions.values()].filter((x) => x.user === u && !x.ended).map((x) => ({
        id: x.id, device: x.device || "", ip: "127.0.0.1", user_agent: "node", created_at: "2024-01-01T00:00:00Z",
        last_used_at: "2024-01-01T00:00:00Z", current: x === s,
      })));
    }
    if (path === "/api/auth/activity/" && method === "GET") {  // DRF page-number pagination, newest first
      const mine = server.events.filter((e) => e.user === u).reverse();
      const size = Number(url.searchParams.get("page_size") || 20);
      const page = Number(url.searchParams.get("page") || 1);
      const results = mine.slice((page - 1) * size, page * size);
      if (page > 1 && !results.length) return json(404, { detail: "Invalid page.", code: "not_found" });
      const link = (p) => `http://testserver/api/auth/activity/?page=${p}&page_size=${size}`;
      return json(200, {
        count: mine.length,
        next: page * size < mine.length ? link(page + 1) : null,
        previous: page > 1 ? link(page - 1) : null,
        results: results.map(({ user, ...e }) => ({ ...e, kind_display: e.kind, username: user.username })),
      });
    }
    const m = path.match(/^\/api\/auth\/sessions\/([^/]+)\/$/);
    if (m && method === "DELETE") {
      const x = sessions.get(m[1]);
      if (!x || x.user !== u || x.ended) return json(404, { detail: "Not found.", code: "not_found" });
      x.ended = true;
      return new Response(null, { status: 204 });
    }
    if (path === "/api/auth/admin/invalidate-all-tokens/" && method === "POST") {
      if (!u.is_staff) return json(403, { detail: "You do not have permission to perform this action.", code: "permission_denied" });
      let ended = 0;
      for (const x of sessions.values()) if (!x.ended) { x.ended = true; ended++; }
      return json(200, { detail: "All user sessions invalidated successfully", sessions_ended: ended });
    }
    return json(404, { detail: "Not found.", code: "not_found" });
  }

  return server;
}

// A Storage shared by the "tabs" of one origin.
export function sharedStorage() {
  const map = new Map();
  return {
    map,
    getItem: (k) => (map.has(k) ? map.get(k) : null),
    setItem: (k, v) => void map.set(k, String(v)),
    removeItem: (k) => void map.delete(k),
  };
}

// A minimal Web Locks API: exclusive, FIFO, per name — shared by the "tabs" given it.
export function fakeLocks() {
  const queues = new Map();
  const locks = {
    held: 0,
    requests: 0,
    request(name, options, fn) {
      if (typeof options === "function") fn = options;
      locks.requests++;
      const prev = queues.get(name) || Promise.resolve();
      let release;
      const mine = new Promise((r) => (release = r));
      queues.set(name, prev.then(() => mine));
      return prev.then(async () => {
        locks.held++;
        try {
          return await fn({ name, mode: "exclusive" });
        } finally {
          locks.held--;
          release();
        }
      });
    },
  };
  return locks;
}

export const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));
