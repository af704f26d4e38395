// Preloaded into the MCP server (`node --require conn_counter.cjs …`): counts the TCP
// connections it accepts, the HTTP requests it serves and the MCP sessions opened (POSTs
// without an `mcp-session-id`), and writes them as JSON to $CONN_LOG when the server exits
// (run.sh stops it with SIGINT, which server-everything turns into process.exit). Counting in
// memory keeps the server's per-request work unchanged.
"use strict";
const fs = require("node:fs");
const net = require("node:net");

const log = process.env.CONN_LOG;
if (log) {
  const counts = { tcp_connections: 0, http_requests: 0, mcp_sessions: 0 };
  const emit = net.Server.prototype.emit;
  net.Server.prototype.emit = function (event, ...args) {
    if (event === "connection") counts.tcp_connections += 1;
    else if (event === "request") {
      counts.http_requests += 1;
      const req = args[0];
      if (req.method === "POST" && !req.headers["mcp-session-id"]) counts.mcp_sessions += 1;
    }
    return emit.call(this, event, ...args);
  };
  process.on("exit", () => fs.writeFileSync(log, JSON.stringify(counts)));
}
