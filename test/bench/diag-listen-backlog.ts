import { Server } from 'node:net';

// Diagnosis only, never production: preloaded into the gateway with
//   npm run bench -- connections --gateway-node-options "--import ./dist/test/bench/diag-listen-backlog.js" \
//     --gateway-env BENCH_LISTEN_BACKLOG=4096
// it makes every `server.listen(port, host, cb)` use that listen backlog instead of Node's default 511, to
// show what a larger accept queue does in a reconnect storm without touching broker/. The kernel caps
// the value at net.core.somaxconn.

const backlog = Number(process.env.BENCH_LISTEN_BACKLOG ?? '');
if (Number.isInteger(backlog) && backlog > 0) {
  type Listen = (this: Server, ...args: unknown[]) => Server;
  const original = (Server.prototype as unknown as { listen: Listen }).listen;
  (Server.prototype as unknown as { listen: Listen }).listen = function listen(this: Server, ...args: unknown[]): Server {
    const [port, host, cb] = args;
    if (typeof port === 'number' && typeof host === 'string' && (typeof cb === 'function' || cb === undefined)) {
      return original.call(this, port, host, backlog, ...(cb === undefined ? [] : [cb]));
    }
    return original.apply(this, args);
  };
  process.stderr.write(`diag-listen-backlog: listen backlog ${backlog}\n`);
}
