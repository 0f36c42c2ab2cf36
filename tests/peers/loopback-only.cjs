// Preloaded into test peers (node --require) so that every server they start
// listens on 127.0.0.1 only, whatever host the peer asked for: the tests must
// never open a port beyond this machine. When CADRE_PEER_PORT_FILE is set, the
// port actually bound is written there (start peers with PORT=0 to get a free
// one without races).
"use strict";
const net = require("node:net");
const fs = require("node:fs");

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  const callback = typeof args[args.length - 1] === "function" ? args.pop() : undefined;
  let options;
  if (args.length > 0 && typeof args[0] === "object" && args[0] !== null) {
    options = { ...args[0] };
  } else {
    options = { port: args.length > 0 ? Number(args[0]) || 0 : 0 };
  }
  if (options.path === undefined) options.host = "127.0.0.1";
  this.once("listening", () => {
    const file = process.env.CADRE_PEER_PORT_FILE;
    const address = this.address();
    if (file && address && typeof address === "object") {
      fs.writeFileSync(file + ".tmp", String(address.port));
      fs.renameSync(file + ".tmp", file);
    }
  });
  return callback ? listen.call(this, options, callback) : listen.call(this, options);
};
