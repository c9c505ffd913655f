import { test } from "node:test";
import assert from "node:assert/strict";
import { serve } from "./harness.mjs";

test("the test server keeps its stdout pipe open and keeps serving until stopped", async () => {
  const server = await serve();
  try {
    assert.equal(server.proc.stdout.destroyed, false, "closing the server's stdout kills it on its next write");
    for (let i = 0; i < 30; i++) {
      const response = await fetch(`${server.url}index.html`);
      assert.equal(response.status, 200);
      await response.arrayBuffer();
    }
    assert.equal(server.proc.exitCode, null, "the server died while serving");
  } finally {
    await server.stop();
  }
  assert.equal(server.proc.signalCode, "SIGTERM");
});

test("a server that cannot start rejects with what it said", async () => {
  await assert.rejects(
    serve("no-such-directory-for-the-server"),
    /server exited \(\d+\) before it started:[^]*--dir no-such-directory-for-the-server: no such directory/,
  );
});
