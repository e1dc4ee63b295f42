// Drives examples/echo_server with Node's `ws` client in its default configuration, which
// offers permessage-deflate ("permessage-deflate; client_max_window_bits") like browsers do.
// Checks that the extension is accepted, that compressed and uncompressed messages of every
// kind come back unchanged, and that the close handshake completes with the client's code.
// Usage: node ws_client.mjs ws://127.0.0.1:PORT
import WebSocket from "ws";

const url = process.argv[2];
const ws = new WebSocket(url, ["chat"]);
const timer = setTimeout(() => fail("timed out"), 10000);
function fail(why) {
  console.error(`ws interop: FAILED: ${why}`);
  process.exit(1);
}

const messages = [
  "hello",
  "κόσμε ".repeat(2000),
  Buffer.alloc(100000, 7),
  Buffer.from([0, 1, 2, 3]),
  "x".repeat(1 << 20),
  "",
];
let next = 0;

ws.on("open", () => {
  const ext = ws.extensions;
  if (ws.protocol !== "chat") fail(`subprotocol ${JSON.stringify(ws.protocol)}`);
  if (!ext.includes("permessage-deflate")) fail(`extension not negotiated: ${JSON.stringify(ext)}`);
  console.log(`ws interop: connected, extensions: ${ext}`);
  ws.send(messages[0]);
});

ws.on("message", (data, isBinary) => {
  const sent = messages[next];
  const same = typeof sent === "string"
    ? !isBinary && data.toString("utf8") === sent
    : isBinary && Buffer.compare(data, sent) === 0;
  if (!same) fail(`message ${next} came back different`);
  next += 1;
  if (next < messages.length) ws.send(messages[next]);
  else ws.close(4000, "done");
});

ws.on("close", (code, reason) => {
  clearTimeout(timer);
  if (code !== 4000) fail(`close code ${code}`);
  console.log(`ws interop: ${messages.length} messages echoed, closed with ${code} ${reason}`);
  console.log("ws interop: 1 passed, 0 failed");
});

ws.on("error", (e) => fail(e.message));
