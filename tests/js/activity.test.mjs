// activity(): the user's own security events through the client, paginated, newest first.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createClient, AuthError } from "../../src/authgate/static/authgate/authgate.js";
import { createFakeServer, sharedStorage } from "./fake-server.mjs";

let seq = 0;
const client = (server) => createClient({
  fetch: server.fetch, storage: sharedStorage(), locks: null, storageKey: `activity-${++seq}`, eventTarget: null,
});

test("activity() lists the signed-in user's events, newest first, page by page", async () => {
  const server = createFakeServer();
  const c = client(server);
  await assert.rejects(c.login({ username: "alice", password: "wrong" }), AuthError);
  await c.login({ username: "alice", password: "secret" });
  await client(server).login({ username: "root", password: "toor" });  // someone else's event

  const first = await c.activity({ pageSize: 1 });
  assert.equal(first.count, 2);
  assert.deepEqual(first.results.map((e) => e.kind), ["login_succeeded"]);
  assert.equal(first.results[0].session_id, c.getSessionId());
  assert.ok(first.next);

  const second = await c.activity({ page: 2, pageSize: 1 });
  assert.deepEqual(second.results.map((e) => e.kind), ["login_failed"]);
  assert.equal(second.next, null);

  const request = server.requests.at(-1);
  assert.equal(request.path, "/api/auth/activity/");
  assert.ok(request.headers.get("Authorization").startsWith("Bearer "));
  c.close();
});

test("activity() without a session is an AuthError, not a crash", async () => {
  const c = client(createFakeServer());
  await assert.rejects(c.activity(), (err) => err instanceof AuthError && err.status === 401);
  c.close();
});
