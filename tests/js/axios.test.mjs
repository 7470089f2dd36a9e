import { test } from "node:test";
import assert from "node:assert/strict";
import axios from "axios";
import { createClient } from "../../src/authgate/static/authgate/authgate.js";
import { attachAxios } from "../../src/authgate/static/authgate/axios.js";
import { createFakeServer, sharedStorage } from "./fake-server.mjs";

// An axios adapter that sends through the fake server (no sockets).
function fakeAdapter(server) {
  return async (config) => {
    const url = new URL(config.url, config.baseURL || "http://testserver");
    const headers = {};
    const h = config.headers && typeof config.headers.toJSON === "function" ? config.headers.toJSON() : config.headers || {};
    for (const [k, v] of Object.entries(h)) if (v != null && typeof v !== "object") headers[k] = String(v);
    const res = await server.fetch(url.pathname, {
      method: config.method,
      headers,
      body: config.data,
      credentials: config.withCredentials ? "include" : "omit",
    });
    const text = await res.text();
    const response = {
      data: text ? JSON.parse(text) : null,
      status: res.status,
      statusText: res.statusText,
      headers: Object.fromEntries(res.headers),
      config,
      request: {},
    };
    const validate = config.validateStatus;
    if (!validate || validate(res.status)) return response;
    throw new axios.AxiosError(`Request failed with status code ${res.status}`, "ERR_BAD_REQUEST", config, {}, response);
  };
}

function setup(mode = "bearer", serverOpts = {}) {
  const server = createFakeServer(serverOpts);
  const client = createClient({
    mode, fetch: server.fetch, storage: sharedStorage(), locks: null, BroadcastChannel: null,
    eventTarget: null, csrfToken: () => server.csrf,
  });
  const api = axios.create({ baseURL: "http://testserver", adapter: fakeAdapter(server) });
  const detach = attachAxios(api, client);
  return { server, client, api, detach };
}

test("axios: adds the Bearer header", async () => {
  const { server, client, api } = setup();
  await client.login({ username: "alice", password: "secret" });
  const res = await api.get("/api/protected/");
  assert.equal(res.status, 200);
  assert.match(res.data.message, /Hello alice/);
  assert.equal(server.requests.at(-1).headers.get("Authorization"), `Bearer ${client.getAccessToken()}`);
});

test("axios: on 401 refreshes once via the client and retries with the new token", async () => {
  const { server, client, api } = setup();
  await client.login({ username: "alice", password: "secret" });
  server.expireAccess();
  const res = await api.get("/api/protected/");
  assert.equal(res.status, 200);
  assert.equal(server.count("/api/auth/token/refresh/"), 1);
  assert.equal(server.count("/api/protected/"), 2);
  assert.equal(server.requests.at(-1).headers.get("Authorization"), `Bearer ${client.getAccessToken()}`);
});

test("axios: concurrent 401s share one refresh", async () => {
  const { server, client, api } = setup("bearer", { refreshDelay: 20 });
  await client.login({ username: "alice", password: "secret" });
  server.expireAccess();
  const all = await Promise.all(Array.from({ length: 8 }, () => api.get("/api/protected/")));
  assert.deepEqual(all.map((r) => r.status), Array(8).fill(200));
  assert.equal(server.count("/api/auth/token/refresh/"), 1);
});

test("axios: refresh failure rejects with the original 401 and the client logs out", async () => {
  const { server, client, api } = setup();
  await client.login({ username: "alice", password: "secret" });
  const reasons = [];
  client.onLogout((e) => reasons.push(e.reason));
  server.endAll();
  await assert.rejects(api.get("/api/protected/"), (err) => err.response.status === 401);
  assert.equal(server.count("/api/protected/"), 1, "not retried when the refresh failed");
  assert.deepEqual(reasons, ["session_ended"]);
});

test("axios: retries only once", async () => {
  const { server, client, api } = setup();
  await client.login({ username: "alice", password: "secret" });
  server.expireAccess();
  // the protected endpoint keeps saying 401
  const inner = server.fetch;
  server.fetch = async (u, i) => (u === "/api/protected/"
    ? (server.requests.push({ path: u }), new Response('{"code":"token_not_valid"}', { status: 401 }))
    : inner(u, i));
  await assert.rejects(api.get("/api/protected/"), (err) => err.response.status === 401);
  assert.equal(server.count("/api/protected/"), 2);
});

test("axios: an explicit Authorization header set by the caller is kept", async () => {
  const { server, client, api } = setup();
  await client.login({ username: "alice", password: "secret" });
  await api.get("/api/public/", { headers: { Authorization: "Token abc" } }).catch(() => {});
  assert.equal(server.requests.at(-1).headers.get("Authorization"), "Token abc");
});

test("axios: cookie mode sends X-CSRFToken on unsafe methods only, with credentials", async () => {
  const { server, client, api } = setup("cookie");
  await client.login({ username: "alice", password: "secret" });
  await api.get("/api/protected/");
  let req = server.requests.at(-1);
  assert.equal(req.headers.get("X-CSRFToken"), null);
  assert.equal(req.headers.get("Authorization"), null);
  assert.equal(req.credentials, "include");
  const res = await api.post("/api/auth/logout/all/", {});
  assert.equal(res.status, 200);
  req = server.requests.at(-1);
  assert.equal(req.headers.get("X-CSRFToken"), server.csrf);
});

test("axios: detach() removes the interceptors", async () => {
  const { server, client, api, detach } = setup();
  await client.login({ username: "alice", password: "secret" });
  detach();
  await assert.rejects(api.get("/api/protected/"), (err) => err.response.status === 401);
  assert.equal(server.requests.at(-1).headers.get("Authorization"), null);
});
