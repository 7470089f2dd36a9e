import { test } from "node:test";
import assert from "node:assert/strict";
import React from "react";
import TestRenderer from "react-test-renderer";
import { createClient } from "../../src/authgate/static/authgate/authgate.js";
import { makeUseAuth, useAuth as globalUseAuth } from "../../src/authgate/static/authgate/react.js";
import { createFakeServer, sharedStorage, tick } from "./fake-server.mjs";

globalThis.IS_REACT_ACT_ENVIRONMENT = true;
const { act } = TestRenderer;

function setup(storage = sharedStorage(), key = "react") {
  const server = createFakeServer();
  const client = createClient({
    fetch: server.fetch, storage, storageKey: key, locks: null, eventTarget: null, csrfToken: () => server.csrf,
  });
  return { server, client };
}

function render(client, useAuth) {
  const seen = [];
  function Probe() {
    const auth = useAuth(client);
    seen.push(auth);
    return React.createElement("span", null, auth.isAuthenticated ? `in:${auth.user && auth.user.username}` : "out");
  }
  let r;
  act(() => { r = TestRenderer.create(React.createElement(Probe)); });
  return { r, seen, text: () => r.toJSON().children.join("") };
}

test("useAuth re-renders on login and logout", async () => {
  const { client } = setup();
  const useAuth = makeUseAuth(React);
  assert.equal(makeUseAuth(React), useAuth, "factory is cached per React");
  const { r, seen, text } = render(client, useAuth);
  assert.equal(text(), "out");
  const auth = seen.at(-1);
  for (const k of ["login", "logout", "logoutAll", "register", "refresh", "me", "fetch"]) assert.equal(typeof auth[k], "function");
  assert.equal(auth.mode, "bearer");
  await act(async () => { await auth.login({ username: "alice", password: "secret" }); });
  assert.equal(text(), "in:alice");
  assert.ok(seen.at(-1).sessionId);
  await act(async () => { await seen.at(-1).logout(); });
  assert.equal(text(), "out");
  act(() => r.unmount());
  client.close();
});

test("useAuth follows a logout made in another tab and a session ended on the server", async () => {
  const storage = sharedStorage();
  const { client, server } = setup(storage, "react-tabs");
  const other = createClient({ fetch: server.fetch, storage, storageKey: "react-tabs", locks: null, eventTarget: null });
  await client.login({ username: "alice", password: "secret" });
  const { r, text } = render(client, makeUseAuth(React));
  assert.equal(text(), "in:alice");
  await act(async () => { await other.logout(); await tick(20); });
  assert.equal(text(), "out");

  await act(async () => { await client.login({ username: "alice", password: "secret" }); });
  assert.equal(text(), "in:alice");
  server.endAll();
  await act(async () => { await client.fetch("/api/protected/"); });
  assert.equal(text(), "out");
  act(() => r.unmount());
  client.close();
  other.close();
});

test("useAuth picks up me() user updates; unsubscribes on unmount", async () => {
  const { client } = setup(sharedStorage(), "react-me");
  await client.login({ username: "root", password: "toor" });
  const { r, seen } = render(client, makeUseAuth(React));
  assert.equal(seen.at(-1).user.is_staff, undefined);
  await act(async () => { await client.me(); });
  assert.equal(seen.at(-1).user.is_staff, true);
  act(() => r.unmount());
  const count = seen.length;
  await client.logout();
  assert.equal(seen.length, count, "no render after unmount");
  client.close();
});

test("useAuth without a factory uses globalThis.React", async () => {
  const { client } = setup(sharedStorage(), "react-global");
  assert.throws(() => globalUseAuth(client), /makeUseAuth/);
  globalThis.React = React;
  try {
    const { r, text } = render(client, globalUseAuth);
    assert.equal(text(), "out");
    act(() => r.unmount());
  } finally {
    delete globalThis.React;
    client.close();
  }
});
