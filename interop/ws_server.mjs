// A Node `ws` server for sockless-tokio's tokio_client: it chooses the subprotocol "chat"
// when offered, answers every text message with "echo: " + the text, and closes with the
// client's code when the client closes. It prints its port on stdout, then one line per
// event to stderr; on the client's close it writes what it saw to the file named by its
// second argument, so that run.sh can check the exchange from the server's side too.
// Usage: node ws_server.mjs PORT REPORT_FILE
import { WebSocketServer } from "ws";
import { writeFileSync } from "node:fs";

const [port, report] = [Number(process.argv[2]), process.argv[3]];
const server = new WebSocketServer({
  port,
  host: "127.0.0.1",
  handleProtocols: (protocols) => (protocols.has("chat") ? "chat" : false),
});
server.on("listening", () => console.log(`ws server: listening on ${port}`));
server.on("connection", (socket, request) => {
  const seen = { protocol: socket.protocol, extensions: request.headers["sec-websocket-extensions"] ?? "", texts: [] };
  socket.on("message", (data, isBinary) => {
    if (isBinary) return;
    seen.texts.push(data.toString());
    socket.send(`echo: ${data}`);
  });
  socket.on("close", (code) => {
    seen.code = code;
    writeFileSync(report, JSON.stringify(seen));
  });
});
