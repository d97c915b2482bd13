import http from 'node:http';
import { nowMs } from '../proc.js';

// The dashboard's side of GET /api/v1/alerts/stream, as small as a dashboard's: plain node:http, the
// text/event-stream lines parsed here (`id:`, `event:`, `data:`, comments, blank line = dispatch), HTTP Basic
// credentials, and a reconnect with Last-Event-ID when the stream ends — a dropped stream must not lose an
// alert, and the bench counts how often it happened. Every event carries the time its chunk arrived.

export interface SseEvent {
  id: string | undefined;
  event: string;
  data: string;
  /** nowMs() when the chunk that completed the event was read from the socket. */
  receivedAt: number;
}

export interface StreamStats {
  /** Successful (200) connections, the first one included. */
  connects: number;
  events: number;
  bytes: number;
  /** Why a connection ended or failed, counted (`end`, `ECONNRESET`, `status_401`, ...). */
  endings: Record<string, number>;
}

export interface AlertStream {
  /** Resolves when the first connection answered 200; rejects with the status and body otherwise. */
  readonly opened: Promise<void>;
  stats(): StreamStats;
  close(): void;
}

export function openAlertStream(opts: {
  url: string;
  authorization: string;
  onEvent: (e: SseEvent) => void;
  reconnectDelayMs?: number;
}): AlertStream {
  const stats: StreamStats = { connects: 0, events: 0, bytes: 0, endings: {} };
  const agent = new http.Agent({ keepAlive: false });
  let closed = false;
  let lastEventId: string | undefined;
  let current: http.ClientRequest | undefined;
  let first = true;
  let resolveOpened!: () => void;
  let rejectOpened!: (e: Error) => void;
  const opened = new Promise<void>((resolve, reject) => {
    resolveOpened = resolve;
    rejectOpened = reject;
  });
  opened.catch(() => undefined);

  /** Once per connection: counts why it ended and reconnects (not after close(), nor after a refused first attempt). */
  const endedOnce = (): ((why: string) => void) => {
    let done = false;
    return (why) => {
      if (done) return;
      done = true;
      current = undefined;
      if (closed) return;
      stats.endings[why] = (stats.endings[why] ?? 0) + 1;
      setTimeout(connect, opts.reconnectDelayMs ?? 200);
    };
  };

  function connect(): void {
    if (closed) return;
    const headers: Record<string, string> = { accept: 'text/event-stream', authorization: opts.authorization };
    if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
    const ended = endedOnce();
    const req = http.get(opts.url, { agent, headers }, (res) => {
      if (res.statusCode !== 200) {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => {
          if (first) {
            closed = true;
            rejectOpened(new Error(`GET ${opts.url} answered ${res.statusCode}: ${body.slice(0, 300)}`));
          }
          ended(`status_${res.statusCode}`);
        });
        return;
      }
      stats.connects += 1;
      if (first) {
        first = false;
        resolveOpened();
      }
      res.setEncoding('utf8');
      let buf = '';
      let id: string | undefined;
      let event = '';
      let data: string[] = [];
      res.on('data', (chunk: string) => {
        const receivedAt = nowMs();
        stats.bytes += Buffer.byteLength(chunk);
        buf += chunk;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.charCodeAt(nl - 1) === 13 ? buf.slice(0, nl - 1) : buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line === '') {
            if (id !== undefined) lastEventId = id;
            if (data.length > 0) {
              stats.events += 1;
              opts.onEvent({ id, event: event || 'message', data: data.join('\n'), receivedAt });
            }
            id = undefined;
            event = '';
            data = [];
            continue;
          }
          if (line.startsWith(':')) continue; // heartbeat comment
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          let value = colon < 0 ? '' : line.slice(colon + 1);
          if (value.startsWith(' ')) value = value.slice(1);
          if (field === 'id') id = value;
          else if (field === 'event') event = value;
          else if (field === 'data') data.push(value);
        }
      });
      res.on('end', () => {
        ended('end');
      });
      res.on('error', (err: NodeJS.ErrnoException) => {
        ended(err.code ?? 'response_error');
      });
    });
    current = req;
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (first) {
        closed = true;
        rejectOpened(new Error(`GET ${opts.url}: ${err.message}`));
      }
      ended(err.code ?? 'request_error');
    });
  }

  connect();
  return {
    opened,
    stats: () => ({ ...stats, endings: { ...stats.endings } }),
    close() {
      closed = true;
      current?.destroy();
      agent.destroy();
    },
  };
}
