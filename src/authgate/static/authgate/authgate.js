/**
 * authgate.js — browser client for the authgate API (plain ES module, no build step).
 *
 *   import { createClient } from "/static/authgate/authgate.js";
 *   const auth = createClient({ mode: "bearer" });          // or "cookie"
 *   await auth.login({ username, password });
 *   const res = await auth.fetch("/api/protected/");        // adds the credential,
 *                                                            // refreshes once on 401
 *   auth.onLogout(({ reason }) => showSignIn(reason));
 *   await auth.logout();
 *
 * Bearer mode keeps {access, refresh, session_id, user} in `storage` (localStorage by
 * default) under "<storageKey>:tokens", so every tab of the origin shares one session.
 * Cookie mode never sees a token: the server keeps them in HttpOnly cookies; the client
 * sends `X-CSRFToken` on unsafe methods and only remembers {session_id, user}.
 *
 * Refresh is single-flight: inside a tab through one shared promise, across tabs through
 * the Web Locks API (when present). After taking the lock the client re-reads storage and,
 * when another tab already rotated, uses the new tokens instead of rotating again.
 * Logins and logouts are announced to the other tabs (BroadcastChannel + storage events).
 */

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS", "TRACE"]);

/** Error thrown by the client for any non-2xx answer (or a network failure, status 0). */
export class AuthError extends Error {
  constructor(message, { status = 0, code = null, detail = null, reason = null, body = null, response = null, retryAfter = null, cause } = {}) {
    super(message, cause ? { cause } : undefined);
    this.name = "AuthError";
    this.status = status;
    this.code = code;
    this.detail = detail;
    this.reason = reason;
    this.body = body;
    this.response = response;
    this.retryAfter = retryAfter;
  }
}

/** Builds an AuthError from a fetch Response (reads the body). */
export async function errorFromResponse(response) {
  let body = null;
  try {
    const text = await response.text();
    body = text ? JSON.parse(text) : null;
  } catch (_) {
    body = null;
  }
  let detail = null;
  let code = null;
  let reason = null;
  if (body && typeof body === "object" && !Array.isArray(body)) {
    detail = typeof body.detail === "string" ? body.detail : null;
    code = typeof body.code === "string" ? body.code : null;
    reason = typeof body.reason === "string" ? body.reason : null;
    if (!detail) detail = firstFieldMessage(body);
  }
  if (!code && response.status === 400 && body && typeof body === "object") code = "invalid";
  const ra = response.headers && response.headers.get("Retry-After");
  const retryAfter = ra != null && ra !== "" && !Number.isNaN(Number(ra)) ? Number(ra) : null;
  return new AuthError(detail || `Request failed with status ${response.status}`, {
    status: response.status, code, detail, reason, body, response, retryAfter,
  });
}

function firstFieldMessage(body) {
  for (const [field, value] of Object.entries(body)) {
    const msg = Array.isArray(value) ? value[0] : value;
    if (typeof msg === "string") return field === "non_field_errors" ? msg : `${field}: ${msg}`;
  }
  return null;
}

function memoryStorage() {
  const map = new Map();
  return {
    getItem: (k) => (map.has(k) ? map.get(k) : null),
    setItem: (k, v) => void map.set(k, String(v)),
    removeItem: (k) => void map.delete(k),
  };
}

function defaultStorage() {
  try {
    const ls = globalThis.localStorage;
    if (ls) {
      const probe = "__authgate_probe__";
      ls.setItem(probe, "1");
      ls.removeItem(probe);
      return ls;
    }
  } catch (_) {
    /* storage disabled (private mode, sandboxed iframe) */
  }
  return null;
}

function readCookie(name) {
  if (typeof document === "undefined" || typeof document.cookie !== "string") return null;
  for (const part of document.cookie.split(";")) {
    const i = part.indexOf("=");
    if (i < 0) continue;
    if (part.slice(0, i).trim() === name) return decodeURIComponent(part.slice(i + 1).trim());
  }
  return null;
}

function randomId() {
  if (globalThis.crypto && typeof globalThis.crypto.randomUUID === "function") return globalThis.crypto.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

function joinUrl(base, path) {
  return base.endsWith("/") ? base + path : `${base}/${path}`;
}

/** The browser's WebAuthn with the Level 3 JSON forms (no hand-written base64 juggling). */
const browserWebAuthn = {
  async create(publicKey) {
    return credentialJSON(() => navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(publicKey) }));
  },
  async get(publicKey) {
    return credentialJSON(() => navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(publicKey) }));
  },
};

async function credentialJSON(ceremony) {
  const PKC = globalThis.PublicKeyCredential;
  if (typeof PKC !== "function" || typeof PKC.parseRequestOptionsFromJSON !== "function") {
    throw new AuthError("This browser cannot use security keys or passkeys here.", { code: "webauthn_unsupported" });
  }
  let credential;
  try {
    credential = await ceremony();
  } catch (err) {
    // NotAllowedError: the person cancelled, or the prompt timed out.
    throw new AuthError(err && err.name === "NotAllowedError" ? "The security key or passkey prompt was cancelled." : `WebAuthn failed: ${err && err.message}`,
      { code: err && err.name === "NotAllowedError" ? "webauthn_cancelled" : "webauthn_failed", cause: err });
  }
  if (!credential) throw new AuthError("No credential was given.", { code: "webauthn_cancelled" });
  return credential.toJSON();
}

/**
 * createClient(options) → client
 *
 * options:
 *   baseUrl         "/api/auth/"  where the authgate endpoints live
 *   mode            "bearer" | "cookie"   (default "bearer")
 *   storage         Storage-like {getItem,setItem,removeItem}; default localStorage (memory if absent)
 *   storageKey      "authgate"    namespace of the storage keys, lock and channel
 *   credentials     fetch credentials for cookie mode ("same-origin"; "include" for a cross-origin API)
 *   csrfCookieName  "csrftoken";  csrfHeaderName "X-CSRFToken"
 *   csrfToken       () => string  override how the CSRF token is read (default: document.cookie)
 *   webauthn        {create(publicKeyJSON), get(publicKeyJSON)} → the credential's toJSON(); default:
 *                   navigator.credentials with PublicKeyCredential.parse*OptionsFromJSON()
 *   fetch, locks, BroadcastChannel, eventTarget, indexedDB   injectable for tests / non-browser
 *                   hosts (locks=null disables the cross-tab lock, BroadcastChannel=null the
 *                   channel, indexedDB=null the rotation hand-off)
 */
export function createClient(options = {}) {
  const {
    baseUrl = "/api/auth/",
    mode = "bearer",
    storageKey = "authgate",
    credentials = mode === "cookie" ? "same-origin" : undefined,
    csrfCookieName = "csrftoken",
    csrfHeaderName = "X-CSRFToken",
  } = options;
  if (mode !== "bearer" && mode !== "cookie") throw new TypeError(`authgate: unknown mode ${mode}`);

  const given = options.storage !== undefined ? options.storage : defaultStorage();
  const privateStorage = !given; // per-tab memory: other tabs cannot see our writes
  const storage = given || memoryStorage();
  const fetchImpl = options.fetch || ((...args) => globalThis.fetch(...args));
  const locks = options.locks !== undefined ? options.locks
    : (typeof navigator !== "undefined" && navigator.locks && typeof navigator.locks.request === "function" ? navigator.locks : null);
  const BC = options.BroadcastChannel !== undefined ? options.BroadcastChannel
    : (typeof globalThis.BroadcastChannel === "function" ? globalThis.BroadcastChannel : null);
  const eventTarget = options.eventTarget !== undefined ? options.eventTarget
    : (typeof window !== "undefined" && typeof window.addEventListener === "function" ? window : null);
  const getCsrf = options.csrfToken || (() => readCookie(csrfCookieName));
  const webauthn = options.webauthn || browserWebAuthn;

  const stateKey = `${storageKey}:${mode === "bearer" ? "tokens" : "session"}`;
  const lockName = `${storageKey}:refresh:${mode}`;
  const tabId = randomId();
  const listeners = { login: new Set(), logout: new Set(), refresh: new Set(), change: new Set() };

  // ---- persisted state -------------------------------------------------------------
  // bearer: {access, refresh, session_id, user}; cookie: {session_id, user, rotation}
  let memoryState = null; // mirror, also used when storage writes fail
  function readState() {
    try {
      const raw = storage.getItem(stateKey);
      return raw ? JSON.parse(raw) : null;
    } catch (_) {
      return memoryState;
    }
  }
  function writeState(state) {
    memoryState = state;
    try {
      if (state) storage.setItem(stateKey, JSON.stringify(state));
      else storage.removeItem(stateKey);
    } catch (_) {
      /* quota / disabled: memoryState keeps this tab working */
    }
    snapshot = null;
  }
  function hasSession(state = readState()) {
    if (!state) return false;
    return mode === "bearer" ? Boolean(state.access || state.refresh) : Boolean(state.session_id || state.user);
  }
  // The token (bearer) or rotation id (cookie) a request was sent with: tells whether
  // someone rotated since.
  function staleKey(state = readState()) {
    if (!state) return null;
    return mode === "bearer" ? state.refresh || null : state.rotation || null;
  }

  let signedIn = hasSession();
  let snapshot = null;

  // ---- events ----------------------------------------------------------------------
  function emit(type, payload) {
    snapshot = null;
    for (const cb of [...listeners[type]]) {
      try { cb(payload); } catch (err) { setTimeout(() => { throw err; }); }
    }
    if (type !== "change") emit("change", { type, ...payload });
  }
  function on(type, cb) {
    listeners[type].add(cb);
    return () => listeners[type].delete(cb);
  }

  // ---- cross-tab -------------------------------------------------------------------
  let channel = null;
  if (BC) {
    try {
      channel = new BC(storageKey);
      if (typeof channel.unref === "function") channel.unref(); // node: do not hold the loop open
      channel.onmessage = (ev) => onRemote(ev && ev.data);
    } catch (_) {
      channel = null;
    }
  }
  function broadcast(msg) {
    if (!channel) return;
    try { channel.postMessage({ ...msg, mode, from: tabId }); } catch (_) { /* closed */ }
  }
  function onRemote(msg) {
    if (!msg || msg.from === tabId || msg.mode !== mode) return;
    if (msg.type === "logout") {
      if (privateStorage && hasSession()) writeState(null); // shared storage is already cleared by the sender
      syncFromStorage(msg.reason || "other_tab");
    } else if (msg.type === "login") {
      if (privateStorage && msg.state && mode === "cookie") writeState(msg.state);
      syncFromStorage();
    } else if (msg.type === "refresh") {
      snapshot = null;
      emit("refresh", { source: "other_tab" });
    }
  }
  // Compare what storage says with what this tab believed, and emit the difference.
  function syncFromStorage(reason = "other_tab") {
    const state = readState();
    const now = hasSession(state);
    snapshot = null;
    if (signedIn && !now) {
      signedIn = false;
      emit("logout", { reason, source: "other_tab" });
    } else if (!signedIn && now) {
      signedIn = true;
      emit("login", { user: state.user || null, session_id: state.session_id || null, source: "other_tab" });
    }
  }
  function onStorage(ev) {
    if (ev.key !== null && ev.key !== stateKey) return;
    if (ev.storageArea && ev.storageArea !== storage) return;
    syncFromStorage("other_tab");
  }
  if (eventTarget) eventTarget.addEventListener("storage", onStorage);

  // ---- local sign-in / sign-out ----------------------------------------------------
  function setSignedIn(state) {
    writeState(state);
    signedIn = true;
    const payload = { user: state.user || null, session_id: state.session_id || null, source: "local" };
    broadcast({ type: "login", state: mode === "cookie" ? state : undefined });
    emit("login", payload);
  }
  function setSignedOut(reason) {
    const was = signedIn || hasSession();
    writeState(null);
    handoff("delete"); // no tokens left behind in IndexedDB either
    signedIn = false;
    if (was) {
      broadcast({ type: "logout", reason });
      emit("logout", { reason, source: "local" });
    }
  }

  // ---- request helpers -------------------------------------------------------------
  /** Headers that carry the credential for a request of `method` (used by the adapters). */
  function credentialHeaders(method = "GET", state = readState()) {
    const h = {};
    if (mode === "bearer") {
      if (state && state.access) h.Authorization = `Bearer ${state.access}`;
    } else if (!SAFE_METHODS.has(String(method).toUpperCase())) {
      const t = getCsrf();
      if (t) h[csrfHeaderName] = t;
    }
    return h;
  }

  // fetch() gives no reason for a failed request: a cross-origin answer without the CORS
  // headers and a server that cannot be reached look the same to the page.
  function networkError(err) {
    const crossOrigin = typeof location !== "undefined" && /^https?:/i.test(String(baseUrl)) && new URL(baseUrl, location.href).origin !== location.origin;
    const text = crossOrigin
      ? `Network error: the request to ${new URL(baseUrl, location.href).origin} was blocked by CORS or the server is unreachable (is this page's origin allowed by the API's CORS settings?).`
      : "Network error: the request was blocked by CORS or the server is unreachable.";
    return new AuthError(text, { status: 0, code: "network_error", cause: err });
  }

  async function rawRequest(url, { method = "GET", body, headers = {}, state } = {}) {
    const h = { Accept: "application/json", ...headers };
    if (body !== undefined) h["Content-Type"] = "application/json";
    if (mode === "cookie" && !SAFE_METHODS.has(method)) {
      const t = getCsrf();
      if (t) h[csrfHeaderName] = t;
    }
    const init = { method, headers: h };
    if (body !== undefined) init.body = JSON.stringify(body);
    if (credentials) init.credentials = credentials;
    try {
      return await fetchImpl(url, init);
    } catch (err) {
      throw networkError(err);
    }
  }

  async function json(response) {
    if (!response.ok) throw await errorFromResponse(response);
    if (response.status === 204) return null;
    const text = await response.text();
    return text ? JSON.parse(text) : null;
  }

  // ---- cross-tab hand-off of a rotation ---------------------------------------------
  // localStorage reaches other tabs asynchronously (Chromium keeps a copy per renderer
  // process), so a tab granted the refresh lock just after another tab rotated may still
  // read the spent refresh token and rotate again. IndexedDB is consistent across
  // processes: the rotating tab records {from, state} there before releasing the lock, and
  // a tab whose storage still shows `from` adopts that state instead of rotating.
  const idb = options.indexedDB !== undefined ? options.indexedDB
    : (locks && !privateStorage && typeof globalThis.indexedDB === "object" && globalThis.indexedDB) || null;
  let idbOpen = null;
  async function handoff(op, value) {
    if (!idb) return null;
    try {
      if (!idbOpen) {
        idbOpen = new Promise((resolve, reject) => {
          const req = idb.open(`${storageKey}:handoff`, 1);
          req.onupgradeneeded = () => req.result.createObjectStore("rotations");
          req.onsuccess = () => resolve(req.result);
          req.onerror = () => reject(req.error);
        });
        idbOpen.catch(() => { idbOpen = null; });
      }
      const db = await idbOpen;
      return await new Promise((resolve, reject) => {
        const tx = db.transaction("rotations", op === "get" ? "readonly" : "readwrite");
        const store = tx.objectStore("rotations");
        const req = op === "get" ? store.get(mode) : op === "put" ? store.put(value, mode) : store.delete(mode);
        tx.oncomplete = () => resolve(op === "get" ? req.result ?? null : null);
        tx.onerror = tx.onabort = () => reject(tx.error);
      });
    } catch (_) {
      return null; // IndexedDB unusable (private mode, quota): localStorage alone
    }
  }

  // ---- refresh (single flight, in tab and across tabs) -----------------------------
  let inflight = null;

  async function withLock(fn) {
    if (!locks) return fn();
    return locks.request(lockName, { mode: "exclusive" }, fn);
  }

  async function doRefresh(stale) {
    return withLock(async () => {
      const state = readState();
      if (!hasSession(state)) {
        if (signedIn) setSignedOut("session_ended");
        throw new AuthError("Not signed in.", { status: 401, code: "not_authenticated" });
      }
      // Another tab (or an earlier flight in this tab) rotated after the failed request
      // was sent: use its result instead of rotating again.
      if (stale !== undefined && stale !== null && staleKey(state) !== stale) {
        return mode === "bearer" ? { access: state.access, refresh: state.refresh } : { detail: "Token refreshed." };
      }
      const handed = await handoff("get");
      if (handed && handed.from != null && handed.from === staleKey(state) && hasSession(handed.state)) {
        writeState(handed.state); // what our copy of localStorage is about to say anyway
        return mode === "bearer" ? { access: handed.state.access, refresh: handed.state.refresh } : { detail: "Token refreshed." };
      }
      if (mode === "bearer" && !state.refresh) {
        setSignedOut("session_ended");
        throw new AuthError("No refresh token.", { status: 401, code: "token_not_valid" });
      }
      const res = await rawRequest(joinUrl(baseUrl, "token/refresh/"), {
        method: "POST",
        body: mode === "bearer" ? { refresh: state.refresh } : {},
      });
      if (!res.ok) {
        const err = await errorFromResponse(res);
        // 401: invalid/spent/revoked; 400: nothing to refresh with (cookie gone). The
        // session is over. 403 (CSRF) or 5xx: keep the session, report the error.
        if (res.status === 401 || res.status === 400) setSignedOut("session_ended");
        throw err;
      }
      const data = await json(res);
      const current = readState() || state;
      const next = mode === "bearer"
        ? { ...current, access: data.access, refresh: data.refresh || current.refresh }
        : { ...current, rotation: randomId() };
      writeState(next);
      await handoff("put", { from: staleKey(state), state: next }); // before the lock is released
      broadcast({ type: "refresh" });
      emit("refresh", { source: "local" });
      return data;
    });
  }

  /**
   * refresh({ stale }) — rotates the session's tokens. Calls made while a refresh is in
   * flight share it. `stale` (internal / adapters) is the staleKey() a failed request was
   * sent with: if storage already moved past it, nothing is rotated.
   */
  function refresh({ stale } = {}) {
    if (!inflight) {
      inflight = doRefresh(stale).finally(() => { inflight = null; });
    }
    return inflight;
  }

  /**
   * fetch(url, options) — window.fetch with the credential added. On a 401 it refreshes
   * once (shared with concurrent callers) and retries once. Returns the Response.
   */
  async function authFetch(input, init = {}) {
    const isRequest = typeof Request !== "undefined" && input instanceof Request;
    const original = isRequest ? input.clone() : null;
    const send = (state) => {
      const method = String(init.method || (isRequest ? input.method : "GET")).toUpperCase();
      const headers = new Headers(isRequest ? input.headers : undefined);
      new Headers(init.headers || {}).forEach((v, k) => headers.set(k, v));
      for (const [k, v] of Object.entries(credentialHeaders(method, state))) {
        if (k === "Authorization" && headers.has("Authorization") && !String(headers.get("Authorization")).startsWith("Bearer ")) continue;
        headers.set(k, v);
      }
      const opts = { ...init, headers };
      if (mode === "cookie" && !opts.credentials && credentials) opts.credentials = credentials;
      const req = isRequest ? (state === first ? input : original.clone()) : input;
      return fetchImpl(req, opts);
    };
    const first = readState();
    const res = await send(first);
    if (res.status !== 401 || !hasSession(first)) return res;
    try {
      await refresh({ stale: staleKey(first) });
    } catch (_) {
      return res; // refresh failed: the caller sees the original 401 (logout was emitted)
    }
    return send(readState());
  }

  /** request(path, {method, body}) — JSON call relative to baseUrl through fetch(); throws AuthError. */
  async function request(path, { method = "GET", body, headers = {} } = {}) {
    const h = { Accept: "application/json", ...headers };
    const init = { method, headers: h };
    if (body !== undefined) {
      h["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await authFetch(joinUrl(baseUrl, path), init);
    } catch (err) {
      if (err instanceof AuthError) throw err;
      throw networkError(err);
    }
    return json(res);
  }

  // ---- public operations -----------------------------------------------------------
  async function login({ username, password, device } = {}) {
    const body = { username, password };
    if (device) body.device = device;
    if (mode === "cookie") body.cookies = true;
    const res = await rawRequest(joinUrl(baseUrl, "login/"), { method: "POST", body });
    return adoptLogin(await json(res));
  }

  /** Signs this client in with a login answer (login/, mfa/verify/, passkey/login/complete/). */
  function adoptLogin(data) {
    const state = mode === "bearer"
      ? { access: data.access, refresh: data.refresh, session_id: data.session_id ?? null, user: data.user ?? null }
      : { session_id: data.session_id ?? null, user: data.user ?? null, rotation: randomId() };
    setSignedIn(state);
    return data;
  }

  // Every field given is sent: a custom user model asks for its USERNAME_FIELD and its
  // REQUIRED_FIELDS (e.g. {email, full_name, password}).
  async function register(fields = {}) {
    const res = await rawRequest(joinUrl(baseUrl, "register/"), { method: "POST", body: { ...fields } });
    return json(res);
  }

  /** Ends this session on the server and locally. Always signs out locally; never throws. */
  async function logout() {
    const state = readState();
    let result = null;
    if (hasSession(state)) {
      try {
        const headers = credentialHeaders("POST", state);
        const res = await rawRequest(joinUrl(baseUrl, "logout/"), {
          method: "POST",
          headers: mode === "bearer" ? (headers.Authorization ? { Authorization: headers.Authorization } : {}) : {},
          body: mode === "bearer" ? { refresh: state.refresh } : undefined,
        });
        result = res.ok ? await json(res) : { ok: false, ...(await errorFromResponse(res)).body };
      } catch (err) {
        result = { ok: false, detail: err.message, code: err.code || "network_error" };
      }
    }
    setSignedOut("logout");
    return result;
  }

  async function logoutAll() {
    const data = await request("logout/all/", { method: "POST", body: {} });
    setSignedOut("logout_all");
    return data;
  }

  // Two me/ calls may overlap (a page load and a verification link): the answer of the one
  // sent last is the newest, whichever arrives last. An older answer arriving after it is
  // not stored; that call returns the newest user instead.
  let meSent = 0;
  let meStored = 0;
  async function me() {
    const sent = ++meSent;
    const user = await request("me/");
    if (sent < meStored) {
      const state = readState();
      return (state && state.user) || user;
    }
    meStored = sent;
    const state = readState();
    if (state && user) writeState({ ...state, user });
    emit("change", { type: "user", user });
    return user;
  }

  const sessions = () => request("sessions/");
  /** activity({page, pageSize}) — the user's own security events, newest first:
   *  {count, next, previous, results: [{id, kind, kind_display, created_at, reason, ip, ...}]}. */
  function activity({ page = 1, pageSize } = {}) {
    const query = new URLSearchParams({ page: String(page) });
    if (pageSize) query.set("page_size", String(pageSize));
    return request(`activity/?${query}`);
  }
  async function endSession(id) {
    const state = readState();
    const result = await request(`sessions/${encodeURIComponent(id)}/`, { method: "DELETE" });
    if (state && state.session_id != null && String(state.session_id) === String(id)) setSignedOut("logout");
    return result;
  }
  const changePassword = ({ old_password, new_password }) =>
    request("password/change/", { method: "POST", body: { old_password, new_password } });
  const invalidateAllTokens = (body = {}) => request("admin/invalidate-all-tokens/", { method: "POST", body });

  // ---- account recovery and verification -------------------------------------------
  const publicPost = async (path, body) => json(await rawRequest(joinUrl(baseUrl, path), { method: "POST", body }));
  // After a step that may have changed this session (ended it, verified its address): ask
  // the server; a 401 whose refresh fails signs this tab out on its own.
  const recheck = () => (hasSession() ? me().catch(() => null) : null);

  /** Mails a reset link; the answer is the same whether or not an account has `email`. */
  const requestPasswordReset = ({ email } = {}) => publicPost("password/reset/", { email });

  /** Sets a new password from a reset link's `uid` and `token`. Every session of that
   *  user ends — this tab's too, if it was signed in as that user. */
  async function confirmPasswordReset({ uid, token, new_password } = {}) {
    const data = await publicPost("password/reset/confirm/", { uid, token, new_password });
    await recheck();
    return data;
  }

  /** Whose password a reset link's `uid` and `token` would reset ({username, email}),
   *  without using the link; an invalid, expired or used link throws `invalid_link`. */
  async function checkPasswordResetLink({ uid, token } = {}) {
    const q = new URLSearchParams({ uid: uid ?? "", token: token ?? "" });
    return json(await rawRequest(joinUrl(baseUrl, `password/reset/confirm/?${q}`)));
  }

  /** Verifies the address from a verification link's `uid` and `token`. */
  async function verifyEmail({ uid, token } = {}) {
    const data = await publicPost("email/verify/", { uid, token });
    await recheck();
    return data;
  }

  /** Mails a new verification link to the signed-in user. */
  const resendVerification = () => request("email/verify/resend/", { method: "POST", body: {} });

  /** Changes the signed-in user's address (the current password is required); the new
   *  address is unverified until its link is used. Returns the user. */
  async function changeEmail({ email, password } = {}) {
    const user = await request("me/", { method: "PATCH", body: { email, password } });
    const state = readState();
    if (state && user) writeState({ ...state, user });
    emit("change", { type: "user", user });
    return user;
  }

  /** Deletes the signed-in user's account (the current password is required): every
   *  session ends, this one included. */
  async function deleteAccount({ password } = {}) {
    const result = await request("me/", { method: "DELETE", body: { password } });
    setSignedOut("account_deleted");
    return result;
  }


  // ---- second factors and passkeys -------------------------------------------------
  // A login of an account with a second factor throws AuthError code "mfa_required";
  // its `body` holds {mfa_token, methods, webauthn?: {publicKey}}: finish with verifyMfa().
  // A sensitive action without a recent proof throws code "reauthentication_required"
  // (same extra fields): prove it with reauthenticate(), then retry the action.
  const mfaStatus = () => request("mfa/");
  const setupTotp = () => request("mfa/totp/", { method: "POST", body: {} });
  const confirmTotp = ({ code } = {}) => request("mfa/totp/confirm/", { method: "POST", body: { code } });
  const disableTotp = () => request("mfa/totp/", { method: "DELETE" });
  const regenerateRecoveryCodes = () => request("mfa/recovery-codes/", { method: "POST", body: {} });

  /** The key's answer to request options (`webauthn.publicKey` of an mfa_required or
   *  reauthentication_required answer): credential.toJSON() of navigator.credentials.get(). */
  const getAssertion = (publicKey) => webauthn.get(publicKey);

  /** Second step of a login: {mfa_token, code} (TOTP or recovery code), {mfa_token,
   *  credential}, or {mfa_token, publicKey} to ask the security key / passkey here. */
  async function verifyMfa({ mfa_token, code, credential, publicKey } = {}) {
    const body = { mfa_token };
    if (code !== undefined) body.code = code;
    else body.credential = credential !== undefined ? credential : await getAssertion(publicKey);
    return adoptLogin(await publicPost("mfa/verify/", body));
  }

  /** Renews this session's recent authentication: {password}, {code}, {credential}, or
   *  {publicKey} to ask the key here. Answers {auth_time, amr}. */
  async function reauthenticate({ password, code, credential, publicKey } = {}) {
    const body = {};
    if (password !== undefined) body.password = password;
    else if (code !== undefined) body.code = code;
    else body.credential = credential !== undefined ? credential : await getAssertion(publicKey);
    return request("reauthenticate/", { method: "POST", body });
  }

  /** Registers a security key or passkey on this device: {id, name, recovery_codes?}
   *  (recovery codes come with the account's first factor, shown this once). */
  async function addPasskey({ name = "" } = {}) {
    const { publicKey } = await request("mfa/webauthn/register/begin/", { method: "POST", body: {} });
    const credential = await webauthn.create(publicKey);
    return request("mfa/webauthn/register/complete/", { method: "POST", body: { credential, name } });
  }

  const removePasskey = (id) => request(`mfa/webauthn/${encodeURIComponent(id)}/`, { method: "DELETE" });

  /** Passwordless login with a passkey of this device (the browser lists the accounts). */
  async function loginWithPasskey({ device } = {}) {
    const { publicKey, challenge_id } = await publicPost("passkey/login/begin/", {});
    const credential = await webauthn.get(publicKey);
    const body = { challenge_id, credential };
    if (device) body.device = device;
    if (mode === "cookie") body.cookies = true;
    return adoptLogin(await publicPost("passkey/login/complete/", body));
  }

  /** Immutable snapshot {mode, isAuthenticated, user, sessionId}; same object until something changes. */
  function getState() {
    if (!snapshot) {
      const state = readState();
      snapshot = Object.freeze({
        mode,
        isAuthenticated: hasSession(state),
        user: (state && state.user) || null,
        sessionId: (state && state.session_id) ?? null,
      });
    }
    return snapshot;
  }

  function close() {
    if (channel) { try { channel.close(); } catch (_) { /* ignore */ } channel = null; }
    if (idbOpen) { idbOpen.then((db) => db.close(), () => {}); idbOpen = null; }
    if (eventTarget) eventTarget.removeEventListener("storage", onStorage);
  }

  return {
    mode,
    baseUrl,
    login,
    register,
    logout,
    logoutAll,
    refresh,
    me,
    fetch: authFetch,
    request,
    sessions,
    activity,
    endSession,
    changePassword,
    invalidateAllTokens,
    requestPasswordReset,
    confirmPasswordReset,
    checkPasswordResetLink,
    verifyEmail,
    resendVerification,
    changeEmail,
    deleteAccount,
    mfaStatus,
    setupTotp,
    confirmTotp,
    disableTotp,
    regenerateRecoveryCodes,
    verifyMfa,
    reauthenticate,
    getAssertion,
    addPasskey,
    removePasskey,
    loginWithPasskey,
    isAuthenticated: () => hasSession(),
    getUser: () => { const s = readState(); return (s && s.user) || null; },
    getSessionId: () => { const s = readState(); return (s && s.session_id) ?? null; },
    getAccessToken: () => { const s = mode === "bearer" ? readState() : null; return (s && s.access) || null; },
    getState,
    subscribe: (cb) => on("change", cb),
    onLogin: (cb) => on("login", cb),
    onLogout: (cb) => on("logout", cb),
    onRefresh: (cb) => on("refresh", cb),
    credentialHeaders: (method) => credentialHeaders(method),
    staleKey: () => staleKey(),
    close,
  };
}

export default createClient;
