// The account page at "/": sign in / register, profile, active sessions, admin, and account
// recovery: "forgot password", the reset and verification links, email change, deletion.
// Everything goes through authgate.js; no inline script or style (strict CSP).
import { createClient } from "./authgate.js";
import { createMfaUi } from "./account-mfa.js";

const $ = (sel, root = document) => root.querySelector(sel);
const body = document.body;

// ---- configuration: ?mode=cookie|bearer wins over <body data-mode> ---------------------
const params = new URLSearchParams(location.search);
const requested = (params.get("mode") || body.dataset.mode || "bearer").toLowerCase();
const mode = requested === "cookie" ? "cookie" : "bearer";
const baseUrl = body.dataset.baseUrl || "/api/auth/";
body.dataset.mode = mode;

const client = createClient({ baseUrl, mode });
window.authgate = client; // handy from the console and for browser tests

// ---- elements --------------------------------------------------------------------------
const el = {
  message: $("#message"),
  signedOut: $("#signed-out"),
  signedIn: $("#signed-in"),
  loginForm: $("#login-form"),
  registerForm: $("#register-form"),
  passwordForm: $("#password-form"),
  userMenu: $("#user-menu"),
  topbarUsername: $("#topbar-username"),
  avatarSmall: $("#avatar-small"),
  avatar: $("#avatar"),
  profileUsername: $("#profile-username"),
  profileEmail: $("#profile-email"),
  profilePendingEmail: $("#profile-pending-email"),
  profileId: $("#profile-id"),
  profileDevice: $("#profile-device"),
  profileMode: $("#profile-mode"),
  staffBadge: $("#staff-badge"),
  sessionsBody: $("#sessions tbody"),
  sessionsEmpty: $("#sessions-empty"),
  logout: $("#logout"),
  logoutAll: $("#logout-all"),
  reloadSessions: $("#reload-sessions"),
  activity: $("#activity"),
  activityEmpty: $("#activity-empty"),
  activityMore: $("#activity-more"),
  admin: $("#admin"),
  invalidateAll: $("#invalidate-all"),
  dialog: $("#confirm-dialog"),
  includeStatic: $("#include-static-tokens"),
  modeBadge: $("#mode-badge"),
  modeSwitch: $("#mode-switch"),
  forgot: $("#forgot-password"),
  backToSignIn: $("#back-to-sign-in"),
  resetBack: $("#reset-back"),
  resetAccount: $("#reset-account"),
  resetUsername: $("#reset-username"),
  resetRequestForm: $("#reset-request-form"),
  resetConfirm: $("#reset-confirm"),
  resetConfirmForm: $("#reset-confirm-form"),
  verifyBanner: $("#verify-banner"),
  verifyBannerEmail: $("#verify-banner-email"),
  resendVerification: $("#resend-verification"),
  emailForm: $("#email-form"),
  deleteForm: $("#delete-form"),
};

const MODE_LABEL = { bearer: "Bearer tokens", cookie: "HttpOnly cookies" };
el.modeBadge.textContent = mode === "cookie" ? "Cookie mode" : "Bearer mode";
el.profileMode.textContent = MODE_LABEL[mode];
el.modeSwitch.textContent = mode === "cookie" ? "Use bearer mode" : "Use cookie mode";
el.modeSwitch.href = `?mode=${mode === "cookie" ? "bearer" : "cookie"}`;

// ---- device label ----------------------------------------------------------------------
export function deviceLabel(ua = navigator.userAgent) {
  const browser = /Edg\//.test(ua) ? "Edge"
    : /OPR\//.test(ua) ? "Opera"
      : /Firefox\//.test(ua) ? "Firefox"
        : /HeadlessChrome\//.test(ua) ? "Headless Chrome"
          : /Chrom(e|ium)\//.test(ua) ? "Chrome"
            : /Safari\//.test(ua) ? "Safari"
              : /curl|python|node/i.test(ua) ? ua.split("/")[0]
                : "Browser";
  const os = /Windows/.test(ua) ? "Windows"
    : /Android/.test(ua) ? "Android"
      : /iPhone|iPad|iPod/.test(ua) ? "iOS"
        : /Mac OS X|Macintosh/.test(ua) ? "macOS"
          : /CrOS/.test(ua) ? "ChromeOS"
            : /Linux/.test(ua) ? "Linux"
              : "";
  return os ? `${browser} on ${os}` : browser;
}
const DEVICE = deviceLabel();
el.profileDevice.textContent = DEVICE;

// ---- messages --------------------------------------------------------------------------
let countdownTimer = null;
function showMessage(text, kind = "info", code = "") {
  clearInterval(countdownTimer);
  for (const b of document.querySelectorAll("[data-locked]")) {
    delete b.dataset.locked;
    b.disabled = false;
  }
  el.message.textContent = text;
  el.message.className = `message is-${kind}`;
  el.message.dataset.kind = kind;
  el.message.dataset.code = code || "";
  el.message.hidden = false;
}
function clearMessage() {
  clearInterval(countdownTimer);
  el.message.hidden = true;
  el.message.textContent = "";
  el.message.dataset.code = "";
}

function describeError(err) {
  if (!err || err.status === undefined) return String(err && err.message ? err.message : err);
  if (err.status === 0) return "Can't reach the server. Check your connection and try again.";
  if (err.code === "invalid_credentials") return "Wrong username or password.";
  if (err.code === "email_unverified") {
    return "Verify your email address first: open the link we sent you. No mail? “Forgot password?” sends a link that verifies it too.";
  }
  if (err.status === 403) return err.detail || "You don't have permission to do that.";
  if (err.status >= 500) return "Something went wrong on the server. Please try again.";
  return err.detail || `Request failed (${err.status}).`;
}

function showThrottled(err, submitButton, what = "Too many failed sign-in attempts.") {
  let left = Number.isFinite(err.retryAfter) && err.retryAfter > 0 ? Math.ceil(err.retryAfter) : null;
  const render = () => {
    el.message.textContent = left
      ? `${what} Try again in ${left} second${left === 1 ? "" : "s"}.`
      : `${what} Try again later.`;
  };
  showMessage("", "warning", "throttled");
  el.message.dataset.retryAfter = left ?? "";
  render();
  if (!left) return;
  if (submitButton) {
    submitButton.dataset.locked = "true";
    submitButton.disabled = true;
  }
  countdownTimer = setInterval(() => {
    left -= 1;
    if (left <= 0) {
      clearInterval(countdownTimer);
      if (submitButton) {
        delete submitButton.dataset.locked;
        submitButton.disabled = false;
      }
      el.message.textContent = "You can try again now.";
      el.message.className = "message is-info";
      return;
    }
    render();
  }, 1000);
}

// ---- helpers ---------------------------------------------------------------------------
async function busy(button, fn) {
  const was = button.disabled;
  button.disabled = true;
  button.classList.add("is-busy");
  button.setAttribute("aria-busy", "true");
  try {
    return await fn();
  } finally {
    button.classList.remove("is-busy");
    button.removeAttribute("aria-busy");
    button.disabled = was || button.dataset.locked === "true";
  }
}

function clearFieldErrors(form) {
  for (const e of form.querySelectorAll(".field-error")) e.textContent = "";
  for (const i of form.querySelectorAll("[aria-invalid]")) i.removeAttribute("aria-invalid");
}
// What a person calls a field: its label on the form, else its name in words.
function fieldLabel(form, field) {
  const input = form.elements.namedItem(field);
  const label = input && input.closest ? input.closest("label") : null;
  const text = label && label.querySelector(".label");
  return text && text.textContent.trim() ? text.textContent.trim() : field.replace(/_/g, " ");
}
function listOf(names) {
  return names.length < 2 ? names.join("") : `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}`;
}
// DRF validation errors {"field": ["msg"]}: under the field, and the message bar names every
// field that has one; an error with no place on the form goes in the message bar whole.
function showFieldErrors(form, err) {
  const b = err && err.body;
  if (!b || typeof b !== "object" || b.code || err.status !== 400) return false;
  const named = [];
  const rest = [];
  let first = null;
  for (const [field, msgs] of Object.entries(b)) {
    const text = Array.isArray(msgs) ? msgs.join(" ") : String(msgs);
    const slot = form.querySelector(`[data-error-for="${CSS.escape(field)}"]`);
    if (slot) {
      slot.textContent = text;
      const input = form.elements.namedItem(field);
      if (input && input.setAttribute) {
        input.setAttribute("aria-invalid", "true");
        first = first || input;
      }
      named.push(fieldLabel(form, field));
    } else {
      rest.push(field === "non_field_errors" || field === "detail" ? text : `${fieldLabel(form, field)}: ${text}`);
    }
  }
  const parts = named.length ? [`Please correct ${listOf(named)}.`] : [];
  showMessage([...parts, ...rest].join(" "), "error", "invalid");
  if (first && first.focus) first.focus();
  return true;
}

function initials(user) {
  const name = (user && (user.username || user.email)) || "?";
  return name.slice(0, 2).toUpperCase();
}

const JUST_NOW = "just now";
const rtf = typeof Intl !== "undefined" && Intl.RelativeTimeFormat ? new Intl.RelativeTimeFormat(undefined, { numeric: "auto" }) : null;
function relativeTime(iso) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return "—";
  const s = Math.round((t - Date.now()) / 1000);
  const abs = Math.abs(s);
  if (abs < 45) return JUST_NOW;
  if (!rtf) return new Date(t).toLocaleString();
  if (abs < 3600) return rtf.format(Math.round(s / 60), "minute");
  if (abs < 86400) return rtf.format(Math.round(s / 3600), "hour");
  if (abs < 86400 * 30) return rtf.format(Math.round(s / 86400), "day");
  return new Date(t).toLocaleDateString();
}
function timeEl(iso, text) {
  const t = document.createElement("time");
  if (iso) {
    t.dateTime = iso;
    const d = new Date(iso);
    if (!Number.isNaN(d.getTime())) t.title = d.toLocaleString();
  }
  t.textContent = text;
  return t;
}
// Day and time: two sign-ins on one day are told apart.
function dateAndTime(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? "—" : d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}
const SVG_NS = "http://www.w3.org/2000/svg";
const ICONS = {
  phone: ["M8 2h8a2 2 0 0 1 2 2v16a2 2 0 0 1-2 2H8a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2z", "M11 18h2"],
  laptop: ["M5 5h14a1 1 0 0 1 1 1v9H4V6a1 1 0 0 1 1-1z", "M2 18h20"],
};
export function deviceKind(text) {
  return /\b(android|ios|iphone|ipad|ipod|mobile|phone)\b/i.test(text || "") ? "phone" : "laptop";
}
function deviceIcon(text) {
  const kind = deviceKind(text);
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", "20");
  svg.setAttribute("height", "20");
  svg.setAttribute("fill", "none");
  svg.setAttribute("stroke", "currentColor");
  svg.setAttribute("stroke-width", "1.8");
  svg.setAttribute("stroke-linecap", "round");
  svg.setAttribute("stroke-linejoin", "round");
  for (const d of ICONS[kind]) {
    const path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", d);
    svg.append(path);
  }
  return svg;
}

// ---- views -----------------------------------------------------------------------------
function setState(state) {
  body.dataset.state = state; // "loading" | "signed-in" | "signed-out" | "reset-password"
  el.signedIn.hidden = state !== "signed-in";
  el.signedOut.hidden = state !== "signed-out";
  el.resetConfirm.hidden = state !== "reset-password";
  el.userMenu.hidden = state !== "signed-in";
}

function renderUser(user) {
  if (!user) return;
  el.topbarUsername.textContent = user.username || "";
  el.avatarSmall.textContent = initials(user);
  el.avatar.textContent = initials(user);
  el.profileUsername.textContent = user.username || "";
  el.profileEmail.textContent = user.email || "";
  if (el.profilePendingEmail) {
    el.profilePendingEmail.hidden = !user.pending_email;
    el.profilePendingEmail.textContent = user.pending_email ? `Pending: ${user.pending_email} — check your inbox` : "";
  }
  el.profileId.textContent = user.id ?? "";
  el.staffBadge.hidden = !user.is_staff;
  el.admin.hidden = !user.is_staff;
  $("#profile").dataset.username = user.username || "";
  const hiddenUser = $("#password-form-username");
  if (hiddenUser) hiddenUser.value = user.username || "";
  // Only a definite `false` shows the banner: a user object without the field says nothing.
  el.verifyBanner.hidden = user.email_verified !== false;
  el.verifyBannerEmail.textContent = user.email || "";
  body.dataset.emailVerified = String(user.email_verified);
}

function renderSessions(list) {
  const rows = [];
  const sorted = [...list].sort((a, b) => (b.current - a.current) || String(b.last_used_at).localeCompare(String(a.last_used_at)));
  for (const s of sorted) {
    const tr = document.createElement("tr");
    tr.dataset.sessionId = s.id;
    if (s.current) tr.classList.add("current");

    const tdDevice = document.createElement("td");
    tdDevice.dataset.label = "Device";
    const wrap = document.createElement("div");
    wrap.className = "device";
    const icon = document.createElement("span");
    icon.className = "device-icon";
    icon.setAttribute("aria-hidden", "true");
    icon.dataset.kind = deviceKind(`${s.device || ""} ${s.user_agent || ""}`);
    icon.append(deviceIcon(`${s.device || ""} ${s.user_agent || ""}`));
    const text = document.createElement("div");
    const name = document.createElement("span");
    name.className = "device-name";
    name.textContent = s.device || (s.user_agent ? deviceLabel(s.user_agent) : "Unknown device");
    text.append(name);
    if (s.current) {
      const badge = document.createElement("span");
      badge.className = "badge badge-current";
      badge.dataset.testid = "this-device";
      badge.textContent = "This device";
      text.append(badge);
    }
    if (s.user_agent) {
      const ua = document.createElement("div");
      ua.className = "device-ua";
      ua.title = s.user_agent;
      ua.textContent = s.user_agent;
      text.append(ua);
    }
    wrap.append(icon, text);
    tdDevice.append(wrap);

    const tdIp = document.createElement("td");
    tdIp.dataset.label = "IP address";
    tdIp.className = "mono nowrap";
    tdIp.textContent = s.ip || "—";

    const tdUsed = document.createElement("td");
    tdUsed.dataset.label = "Last used";
    tdUsed.className = "nowrap";
    tdUsed.append(timeEl(s.last_used_at, s.current ? JUST_NOW : relativeTime(s.last_used_at)));

    const tdCreated = document.createElement("td");
    tdCreated.dataset.label = "Signed in";
    tdCreated.className = "nowrap";
    tdCreated.append(timeEl(s.created_at, dateAndTime(s.created_at)));

    const tdAction = document.createElement("td");
    const btn = document.createElement("button");
    btn.type = "button";
    btn.className = s.current ? "btn btn-small btn-ghost" : "btn btn-small btn-danger-outline";
    btn.dataset.action = "end-session";
    btn.dataset.testid = "end-session";
    btn.textContent = "Sign out";
    btn.setAttribute("aria-label", s.current ? "Sign out this device" : `Sign out ${name.textContent}`);
    tdAction.append(btn);

    tr.append(tdDevice, tdIp, tdUsed, tdCreated, tdAction);
    rows.push(tr);
  }
  el.sessionsBody.replaceChildren(...rows);
  el.sessionsEmpty.hidden = rows.length > 0;
  el.logoutAll.disabled = rows.length === 0;
}

// What each security event says to its user (GET /api/auth/activity/).
const ENDED = {
  logout: "Signed out",
  logout_all: "Signed out everywhere",
  password_changed: "Signed out: the password was changed",
  password_reset: "Signed out: the password was reset",
  user_inactive: "Signed out: the account was deactivated",
  admin: "Signed out by an administrator",
  invalidate_all: "Signed out: every session was invalidated",
  reuse_detected: "Session ended: its sign-in token was used twice",
  account_deleted: "Signed out: the account was deleted",
};
const WARN = new Set(["login_failed", "login_throttled", "refresh_reuse_detected", "mfa_failed", "mfa_removed"]);
const FACTOR = { totp: "Authenticator app", webauthn: "Passkey or security key", recovery_codes: "Recovery code" };
function describeEvent(e) {
  const name = e.details && e.details.name ? ` “${e.details.name}”` : "";
  switch (e.kind) {
    case "login_succeeded": return "Signed in";
    case "login_failed": return "Failed sign-in attempt";
    case "login_throttled": return "Sign-in attempts blocked after too many failures";
    case "refresh_reuse_detected": return "A used sign-in token was presented again; that session was ended";
    case "session_ended": return ENDED[e.reason] || `Signed out (${e.reason || "ended"})`;
    case "static_token_created": return `API token${name} created`;
    case "static_token_revoked": return `API token${name} revoked`;
    case "password_changed": return "Password changed";
    case "password_reset": return "Password reset";
    case "email_verified": return "Email address verified";
    case "mfa_added": return `${FACTOR[e.details && e.details.factor] || "Second factor"} added`;
    case "mfa_removed": return `${FACTOR[e.details && e.details.factor] || "Second factor"} removed${e.reason === "staff" ? " by support" : ""}`;
    case "mfa_used": return `${FACTOR[e.details && e.details.factor] || "Second factor"} used`;
    case "mfa_failed": return "Failed second step (wrong code or key)";
    default: return e.kind_display || e.kind;
  }
}

function activityItem(e) {
  const li = document.createElement("li");
  li.dataset.kind = e.kind;
  if (WARN.has(e.kind)) li.classList.add("warn");
  const what = document.createElement("span");
  what.className = "what";
  what.textContent = describeEvent(e);
  const where = document.createElement("span");
  where.className = "where";
  const device = e.user_agent ? deviceLabel(e.user_agent) : "";
  const here = e.session_id && String(e.session_id).replace(/-/g, "") === String(client.getSessionId() || "").replace(/-/g, "");
  where.textContent = [e.ip, device, here ? "this device" : ""].filter(Boolean).join(" · ") || "—";
  li.append(what, timeEl(e.created_at, relativeTime(e.created_at)), where);
  return li;
}

const ACTIVITY_PAGE = 8;
let activityPage = 1;
function renderActivity(page, { append = false } = {}) {
  const items = page.results.map(activityItem);
  if (append) el.activity.append(...items);
  else el.activity.replaceChildren(...items);
  el.activityEmpty.hidden = el.activity.children.length > 0;
  el.activityMore.hidden = !page.next;
}

async function loadActivity({ more = false } = {}) {
  try {
    const page = await client.activity({ page: more ? activityPage + 1 : 1, pageSize: ACTIVITY_PAGE });
    if (!client.isAuthenticated()) return;
    activityPage = more ? activityPage + 1 : 1;
    renderActivity(page, { append: more });
  } catch (err) {
    if (client.isAuthenticated()) showMessage(describeError(err), "error", err.code);
  }
}

// ---- data ------------------------------------------------------------------------------
let loading = null;
async function loadAccount() {
  if (loading) return loading;
  loading = (async () => {
    try {
      const [user, sessions] = await Promise.all([client.me(), client.sessions(), loadActivity()]);
      if (!client.isAuthenticated()) return; // signed out meanwhile
      // The stored user is the newest: a verification link's own me/ may have answered
      // while sessions and activity were still loading.
      renderUser(client.getUser() || user);
      renderSessions(sessions);
      body.dataset.loaded = "true";
    } catch (err) {
      // A 401 whose refresh failed already signed us out (onLogout shows the sign-in form).
      if (client.isAuthenticated()) showMessage(describeError(err), "error", err.code);
    } finally {
      loading = null;
    }
  })();
  return loading;
}

async function reloadSessions() {
  try {
    const sessions = await client.sessions();
    if (client.isAuthenticated()) renderSessions(sessions);
    if (activityPage === 1) await loadActivity(); // newest events, unless older pages are open
  } catch (err) {
    if (client.isAuthenticated()) showMessage(describeError(err), "error", err.code);
  }
}

function showSignedIn() {
  if (resetLink) return; // choosing a new password comes first
  setState("signed-in");
  renderUser(client.getUser());
  loadAccount();
  mfa.load();
}
// What one visitor typed (a failed sign-in's username included) is not left for the next.
function resetSignedOutForms() {
  for (const form of [el.loginForm, el.registerForm, el.resetRequestForm]) {
    form.reset();
    clearFieldErrors(form);
  }
  showSignInForm();
}
function showSignInForm() {
  el.resetRequestForm.hidden = true;
  el.loginForm.hidden = false;
  el.forgot.setAttribute("aria-expanded", "false");
}
function showSignedOut() {
  if (resetLink) return;
  setState("signed-out");
  delete body.dataset.loaded;
  el.sessionsBody.replaceChildren();
  el.activity.replaceChildren();
  el.activityMore.hidden = true;
  el.admin.hidden = true;
  mfa.reset();
  if (el.dialog.open) el.dialog.close("cancel");
  resetSignedOutForms();
}

// Second factors and passkeys (account-mfa.js): the card, the second step, "confirm it's you".
const mfa = createMfaUi({ client, showMessage, clearMessage, describeError, busy, showThrottled, device: DEVICE });

// ---- client events (this tab, other tabs, ended sessions) ------------------------------
let nextLogoutMessage = null;
client.onLogin(({ source, user }) => {
  resetSignedOutForms();
  if (source === "other_tab") showMessage(`Signed in${user && user.username ? ` as ${user.username}` : ""} in another tab.`, "info", "other_tab_login");
  showSignedIn();
});
client.onLogout(({ reason, source }) => {
  showSignedOut();
  if (nextLogoutMessage) {
    const [text, kind, code] = nextLogoutMessage;
    nextLogoutMessage = null;
    showMessage(text, kind, code);
  } else if (source === "other_tab" && reason !== "session_ended") {
    showMessage("You signed out in another tab.", "info", "other_tab_logout");
  } else if (reason === "logout") {
    showMessage("You have signed out.", "success", "logged_out");
  } else if (reason === "logout_all") {
    showMessage("You have signed out on every device.", "success", "logged_out_all");
  } else {
    showMessage("Your session has ended. Please sign in again.", "warning", "session_ended");
  }
  el.loginForm.elements.namedItem("username").focus();
});

// ---- forms and buttons -----------------------------------------------------------------
el.loginForm.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = ev.currentTarget;
  const submit = form.querySelector("button[type=submit]");
  const username = form.elements.namedItem("username").value.trim();
  const password = form.elements.namedItem("password").value;
  if (!username || !password) {
    showMessage("Enter your username (or email) and password.", "error", "required");
    return;
  }
  await busy(submit, async () => {
    try {
      clearMessage();
      await client.login({ username, password, device: DEVICE });
      form.reset();
    } catch (err) {
      if (err.code === "mfa_required") {
        try {
          await mfa.completeLogin(err.body);
          form.reset();
        } catch (_) { /* cancelled, or the attempt ended: the dialog said so */ }
        return;
      }
      if (err.status === 429) showThrottled(err, submit);
      else showMessage(describeError(err), "error", err.code);
      if (err.code === "invalid_credentials") {
        const pw = form.elements.namedItem("password");
        pw.focus();
        pw.select();
      }
    }
  });
});

// The form's inputs are the fields the server's registration asks for (the user model's
// USERNAME_FIELD, email and REQUIRED_FIELDS, and the password): each is sent under its name.
function registrationFields(form) {
  const fields = {};
  for (const input of form.elements) {
    if (!input.name) continue;
    if (input.type === "checkbox") fields[input.name] = input.checked;
    else if (input.type === "password") fields[input.name] = input.value;
    else if (input.value.trim() !== "" || input.required) fields[input.name] = input.value.trim();
  }
  return fields;
}

el.registerForm.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = ev.currentTarget;
  const submit = form.querySelector("button[type=submit]");
  clearFieldErrors(form);
  const fields = registrationFields(form);
  const username = fields[form.dataset.usernameField || "username"] || "";
  const password = fields.password;
  await busy(submit, async () => {
    try {
      clearMessage();
      await client.register(fields);
    } catch (err) {
      if (!showFieldErrors(form, err)) showMessage(describeError(err), "error", err.code);
      return;
    }
    try {
      await client.login({ username, password, device: DEVICE });
      form.reset();
      showMessage(`Welcome, ${username}! Your account is ready.`, "success", "registered");
    } catch (err) {
      form.reset();
      showMessage(`Account created. ${describeError(err)} Please sign in.`, "warning", err.code);
    }
  });
});

el.passwordForm.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = ev.currentTarget;
  const submit = form.querySelector("button[type=submit]");
  clearFieldErrors(form);
  const old_password = form.elements.namedItem("old_password").value;
  const new_password = form.elements.namedItem("new_password").value;
  await busy(submit, async () => {
    try {
      await mfa.withReauth(() => client.changePassword({ old_password, new_password }));
      form.reset();
      showMessage("Password changed. Every other device has been signed out.", "success", "password_changed");
      await reloadSessions();
    } catch (err) {
      if (!client.isAuthenticated() || err.code === "cancelled") return;
      if (!showFieldErrors(form, err)) showMessage(describeError(err), "error", err.code);
    }
  });
});

el.logout.addEventListener("click", () => busy(el.logout, () => client.logout()));

el.logoutAll.addEventListener("click", () => busy(el.logoutAll, async () => {
  try {
    await client.logoutAll();
  } catch (err) {
    if (client.isAuthenticated()) showMessage(describeError(err), "error", err.code);
  }
}));

el.reloadSessions.addEventListener("click", () => busy(el.reloadSessions, reloadSessions));

el.activityMore.addEventListener("click", () => busy(el.activityMore, () => loadActivity({ more: true })));

el.sessionsBody.addEventListener("click", async (ev) => {
  const btn = ev.target.closest("button[data-action='end-session']");
  if (!btn) return;
  const tr = btn.closest("tr");
  const id = tr.dataset.sessionId;
  const name = tr.querySelector(".device-name").textContent;
  if (tr.classList.contains("current")) {
    await busy(btn, () => client.logout());
    return;
  }
  await busy(btn, async () => {
    try {
      await client.endSession(id);
      showMessage(`Signed out “${name}”.`, "success", "session_ended_other");
    } catch (err) {
      if (!client.isAuthenticated()) return;
      showMessage(err.status === 404 ? "That session had already ended." : describeError(err), err.status === 404 ? "info" : "error", err.code);
    }
  });
  await reloadSessions();
});

// Invalidate all tokens: behind a <dialog> confirmation.
el.invalidateAll.addEventListener("click", () => {
  el.includeStatic.checked = false;
  el.dialog.returnValue = "";
  if (typeof el.dialog.showModal === "function") el.dialog.showModal();
  else el.dialog.setAttribute("open", "");
});
el.dialog.addEventListener("close", async () => {
  if (el.dialog.returnValue !== "confirm") return;
  const include = el.includeStatic.checked;
  await busy(el.invalidateAll, async () => {
    try {
      const res = await client.invalidateAllTokens(include ? { include_static_tokens: true } : {});
      const n = res && typeof res.sessions_ended === "number" ? res.sessions_ended : null;
      nextLogoutMessage = [
        `All tokens were invalidated${n === null ? "" : ` (${n} session${n === 1 ? "" : "s"} ended)`}. Everyone, you included, must sign in again.`,
        "success",
        "invalidated_all",
      ];
      await client.logout(); // our own session is gone too: clear it locally
    } catch (err) {
      nextLogoutMessage = null;
      if (client.isAuthenticated()) showMessage(describeError(err), "error", err.code);
    }
  });
});

// ---- account recovery and verification -------------------------------------------------
const RESET_REQUESTED = "If an account has this email address, we've sent it a link to choose a new password. Check your inbox.";

el.forgot.addEventListener("click", () => {
  el.resetRequestForm.hidden = false;
  el.loginForm.hidden = true;
  el.forgot.setAttribute("aria-expanded", "true");
  const typed = el.loginForm.elements.namedItem("username").value.trim();
  const email = el.resetRequestForm.elements.namedItem("email");
  if (typed.includes("@") && !email.value) email.value = typed;
  email.focus();
});
el.backToSignIn.addEventListener("click", () => {
  showSignInForm();
  el.loginForm.elements.namedItem("username").focus();
});

el.resetRequestForm.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = ev.currentTarget;
  const submit = form.querySelector("button[type=submit]");
  clearFieldErrors(form);
  const email = form.elements.namedItem("email").value.trim();
  await busy(submit, async () => {
    try {
      await client.requestPasswordReset({ email });
      form.reset();
      showSignInForm();
      showMessage(RESET_REQUESTED, "success", "reset_requested");
    } catch (err) {
      if (err.status === 429) showThrottled(err, submit, "Too many emails asked for.");
      else if (!showFieldErrors(form, err)) showMessage(describeError(err), "error", err.code);
    }
  });
});

// The link of a reset or verification mail: ?action=...&uid=...&token=... (the default
// PASSWORD_RESET_URL / EMAIL_VERIFY_URL). Read once, then taken out of the address bar so
// that the token is not left in the history or shown over a shoulder.
const linkParams = ["uid", "token"].every((k) => params.get(k)) ? { uid: params.get("uid"), token: params.get("token") } : null;
const linkAction = linkParams ? params.get("action") : null;
let resetLink = linkAction === "reset-password" ? linkParams : null;
if (linkParams) {
  const clean = new URL(location.href);
  for (const k of ["action", "uid", "token"]) clean.searchParams.delete(k);
  history.replaceState(null, "", clean.pathname + clean.search + clean.hash);
}

function leaveResetView() {
  resetLink = null;
  if (client.isAuthenticated()) showSignedIn();
  else showSignedOut();
}

function invalidLink(err) {
  leaveResetView();
  showMessage(err.code === "invalid_link"
    ? "This link is invalid, expired or already used. Ask for a new one with “Forgot password?”."
    : describeError(err), "error", err.code);
}

// Whose password this is (and whether the link still works) before anything is typed.
async function checkResetLink() {
  try {
    const account = await client.checkPasswordResetLink(resetLink);
    const name = account.username || account.email || "";
    el.resetAccount.textContent = name;
    el.resetUsername.value = name;
  } catch (err) {
    if (err.code === "invalid_link") invalidLink(err);
  }
}

el.resetBack.addEventListener("click", () => {
  el.resetConfirmForm.reset();
  leaveResetView();
});

el.resetConfirmForm.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = ev.currentTarget;
  const submit = form.querySelector("button[type=submit]");
  clearFieldErrors(form);
  const new_password = form.elements.namedItem("new_password").value;
  const again = form.elements.namedItem("new_password_confirm");
  if (new_password !== again.value) {
    showFieldErrors(form, { status: 400, body: { new_password_confirm: ["The two passwords don't match."] } });
    again.focus();
    return;
  }
  await busy(submit, async () => {
    try {
      await client.confirmPasswordReset({ ...resetLink, new_password });
    } catch (err) {
      if (showFieldErrors(form, err)) return; // a weak password: the link still works
      invalidLink(err);
      return;
    }
    form.reset();
    leaveResetView();
    showMessage("Your password has been changed, and every device was signed out. Sign in with the new password.", "success", "password_reset");
  });
});

async function completeVerification(link) {
  try {
    const res = await client.verifyEmail(link);
    // A link to a pending address changed the email: ask for the account as it is now.
    if (client.isAuthenticated()) renderUser(await client.me().catch(() => client.getUser()));
    showMessage((res && res.detail) || "Your email address is verified. Thank you!", "success", "email_verified");
  } catch (err) {
    showMessage(err.code === "invalid_link"
      ? "This verification link is invalid, expired or already used. Sign in to ask for a new one."
      : describeError(err), "error", err.code);
  }
}

el.resendVerification.addEventListener("click", () => busy(el.resendVerification, async () => {
  try {
    const res = await client.resendVerification();
    showMessage((res && res.detail) || "A new verification link is on its way.", "success", "verification_sent");
  } catch (err) {
    if (!client.isAuthenticated()) return;
    if (err.status === 429) showThrottled(err, el.resendVerification, "Too many emails asked for.");
    else showMessage(describeError(err), "error", err.code);
  }
}));

el.emailForm.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = ev.currentTarget;
  const submit = form.querySelector("button[type=submit]");
  clearFieldErrors(form);
  const email = form.elements.namedItem("email").value.trim();
  const password = form.elements.namedItem("password").value;
  await busy(submit, async () => {
    try {
      const user = await mfa.withReauth(() => client.changeEmail({ email, password }));
      form.reset();
      renderUser(user);
      showMessage(`We sent a link to ${user.pending_email}: your email address changes once you open it.`, "success", "email_changed");
    } catch (err) {
      if (!client.isAuthenticated() || err.code === "cancelled") return;
      // 429: too many wrong passwords, or too many mails to that address.
      if (err.status === 429) showThrottled(err, submit, /emails/.test(err.detail || "") ? "Too many emails asked for." : undefined);
      else if (!showFieldErrors(form, err)) showMessage(describeError(err), "error", err.code);
    }
  });
});

el.deleteForm.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = ev.currentTarget;
  const submit = form.querySelector("button[type=submit]");
  clearFieldErrors(form);
  const password = form.elements.namedItem("password").value;
  if (!form.elements.namedItem("confirm").checked) {
    showMessage("Tick the box to confirm that you want to delete your account.", "error", "confirm_required");
    return;
  }
  await busy(submit, async () => {
    nextLogoutMessage = ["Your account has been deleted. Every device was signed out.", "success", "account_deleted"];
    try {
      await mfa.withReauth(() => client.deleteAccount({ password }));
      form.reset();
    } catch (err) {
      nextLogoutMessage = null;
      if (!client.isAuthenticated() || err.code === "cancelled") return;
      if (err.status === 429) showThrottled(err, submit);
      else if (!showFieldErrors(form, err)) showMessage(describeError(err), "error", err.code);
    }
  });
});

// Keep the sessions list fresh, and notice a session ended elsewhere.
let poll = null;
function schedulePoll() {
  clearInterval(poll);
  poll = setInterval(() => {
    if (document.visibilityState === "visible" && client.isAuthenticated() && body.dataset.state === "signed-in") reloadSessions();
  }, 30000);
}
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible" && client.isAuthenticated()) reloadSessions();
});

// ---- start -----------------------------------------------------------------------------
if (params.get("reason") === "session_ended") showMessage("Your session has ended. Please sign in again.", "warning", "session_ended");
if (resetLink) {
  setState("reset-password");
  el.resetConfirmForm.elements.namedItem("new_password").focus();
  checkResetLink();
} else if (client.isAuthenticated()) showSignedIn();
else showSignedOut();
if (linkAction === "verify-email") completeVerification(linkParams);
schedulePoll();
body.dataset.ready = "true";
