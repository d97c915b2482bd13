import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer } from 'node:tls';
import { WebSocketServer, createWebSocketStream } from 'ws';
import type { BrokerLogger } from './log.js';
import type { BrokerLimits, BrokerListenOptions, ListenerName } from './types.js';

// MQTT over TCP, over TLS (when a certificate and key are configured) and over WebSocket. Every listener
// hands its sockets to the same `accept`, so admission and guards are the same whichever way a client comes.

export interface Listeners {
  address(name: ListenerName): AddressInfo | undefined;
  close(): Promise<void>;
}

type Accept = (conn: Duplex, remote: string, listener: ListenerName) => void;

function listen(server: Server | HttpServer, port: number, host: string, backlog: number): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    // Node's default backlog (511) overflows when a district's devices reconnect at once after a restart;
    // the kernel caps it at net.core.somaxconn.
    server.listen(port, host, backlog, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

function closeServer(server: Server | HttpServer): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => {
      resolve();
    });
  });
}

export async function startListeners(
  opts: BrokerListenOptions,
  limits: BrokerLimits,
  accept: Accept,
  logger: BrokerLogger,
): Promise<Listeners> {
  const servers = new Map<ListenerName, { server: Server | HttpServer; address: AddressInfo; wss?: WebSocketServer }>();
  const closeAll = async (): Promise<void> => {
    for (const { server, wss } of servers.values()) {
      wss?.close();
      await closeServer(server);
    }
  };

  try {
    if (opts.tcp.enabled) {
      const server = createNetServer({ noDelay: true }, (socket) => {
        accept(socket, socket.remoteAddress ?? 'unknown', 'tcp');
      });
      servers.set('tcp', { server, address: await listen(server, opts.tcp.port, opts.host, limits.listenBacklog) });
    }

    if (opts.tls.certFile !== undefined && opts.tls.keyFile !== undefined) {
      const server = createTlsServer(
        {
          cert: readFileSync(opts.tls.certFile),
          key: readFileSync(opts.tls.keyFile),
          ...(opts.tls.caFile !== undefined ? { ca: readFileSync(opts.tls.caFile) } : {}),
          minVersion: 'TLSv1.2',
        },
        (socket) => {
          accept(socket, socket.remoteAddress ?? 'unknown', 'tls');
        },
      );
      server.on('tlsClientError', (err, socket) => {
        logger.debug(
          { event: 'mqtt.tls_error', remote: socket.remoteAddress, code: (err as NodeJS.ErrnoException).code },
          'TLS handshake failed',
        );
      });
      servers.set('tls', { server, address: await listen(server, opts.tls.port, opts.host, limits.listenBacklog) });
    }

    if (opts.ws.enabled) {
      const server = createHttpServer((_req, res) => {
        res.writeHead(426, { 'content-type': 'text/plain' }).end('MQTT over WebSocket only\n');
      });
      const wss = new WebSocketServer({
        server,
        path: opts.ws.path,
        // A frame may carry at most one maximal MQTT packet plus its header; the packet guard does the rest.
        maxPayload: limits.maxPacketBytes + 8,
        handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : protocols.has('mqttv3.1') ? 'mqttv3.1' : false),
      });
      wss.on('connection', (ws, req) => {
        const stream = createWebSocketStream(ws);
        stream.on('error', () => undefined); // surfaced through aedes' own 'error' handling once handed over
        accept(stream, req.socket.remoteAddress ?? 'unknown', 'ws');
      });
      wss.on('error', (err) => {
        logger.warn({ event: 'mqtt.ws_error', err }, 'WebSocket server error');
      });
      servers.set('ws', { server, address: await listen(server, opts.ws.port, opts.host, limits.listenBacklog), wss });
    }
  } catch (err) {
    await closeAll();
    throw err;
  }

  return {
    address: (name) => servers.get(name)?.address,
    close: closeAll,
  };
}
