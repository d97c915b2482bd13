// Raw-socket MQTT helpers for protocol-level tests: hand-built packets, a byte-exact reader, and a socket
// wrapper that records when (and how) the peer closed. Deliberately knows nothing about Tryggheim's broker:
// it speaks bytes, so tests can send what a well-behaved client library never would.
import net from 'node:net';
import mqttPacket, { type Packet } from 'mqtt-packet';

// ---------------------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------------------

/**
 * MQTT variable byte integer. Values of 2^28 and above are encoded anyway, with more than four bytes, on
 * purpose: malformed-packet tests need exactly that (a conforming encoder would refuse).
 */
export function encodeVarint(value: number | bigint): Buffer {
  let v = BigInt(value);
  if (v < 0n) throw new RangeError(`varint cannot encode a negative value (${v})`);
  const out: number[] = [];
  for (;;) {
    let byte = Number(v % 128n);
    v /= 128n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
    if (v === 0n) return Buffer.from(out);
  }
}

/** Decodes a variable byte integer of at most four bytes at `offset`; `undefined` while incomplete or invalid. */
export function decodeVarint(buf: Buffer, offset = 0): { value: number; length: number } | undefined {
  let value = 0;
  let multiplier = 1;
  for (let i = 0; i < 4; i++) {
    const byte = buf[offset + i];
    if (byte === undefined) return undefined;
    value += (byte & 0x7f) * multiplier;
    if ((byte & 0x80) === 0) return { value, length: i + 1 };
    multiplier *= 128;
  }
  return undefined;
}

export function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

/** UTF-8 string (or raw bytes) with its two-byte length prefix. */
export function mqttString(s: string | Buffer): Buffer {
  const body = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  return Buffer.concat([u16(body.length), body]);
}

/** Fixed header byte + remaining length + body. */
export function packet(firstByte: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([firstByte]), encodeVarint(body.length), body]);
}

export interface ConnectOptions {
  clientId: string;
  /** 3 = MQTT 3.1 ("MQIsdp"), 4 = MQTT 3.1.1 ("MQTT"). */
  protocolVersion?: 3 | 4;
  keepaliveSec?: number;
  clean?: boolean;
  username?: string;
  password?: Buffer | string;
  will?: { topic: string; payload: Buffer | string; qos?: 0 | 1 | 2; retain?: boolean };
}

export function buildConnect(o: ConnectOptions): Buffer {
  const version = o.protocolVersion ?? 4;
  let flags = 0;
  if (o.clean ?? true) flags |= 0x02;
  const payload: Buffer[] = [mqttString(o.clientId)];
  if (o.will) {
    flags |= 0x04 | ((o.will.qos ?? 0) << 3) | (o.will.retain ? 0x20 : 0);
    payload.push(mqttString(o.will.topic), mqttString(Buffer.from(o.will.payload)));
  }
  if (o.username !== undefined) {
    flags |= 0x80;
    payload.push(mqttString(o.username));
    if (o.password !== undefined) {
      flags |= 0x40;
      payload.push(mqttString(Buffer.from(o.password)));
    }
  }
  const header = Buffer.concat([mqttString(version === 3 ? 'MQIsdp' : 'MQTT'), Buffer.from([version, flags]), u16(o.keepaliveSec ?? 60)]);
  return packet(0x10, Buffer.concat([header, ...payload]));
}

export function buildPublish(o: {
  topic: string;
  payload: Buffer | string;
  qos?: 0 | 1 | 2;
  messageId?: number;
  retain?: boolean;
  dup?: boolean;
}): Buffer {
  const qos = o.qos ?? 0;
  const first = 0x30 | (qos << 1) | (o.retain ? 0x01 : 0) | (o.dup ? 0x08 : 0);
  const parts = [mqttString(o.topic)];
  if (qos > 0) parts.push(u16(o.messageId ?? 1));
  parts.push(Buffer.from(o.payload));
  return packet(first, Buffer.concat(parts));
}

export function buildSubscribe(messageId: number, filters: readonly { filter: string; qos: 0 | 1 | 2 }[]): Buffer {
  return packet(0x82, Buffer.concat([u16(messageId), ...filters.map((f) => Buffer.concat([mqttString(f.filter), Buffer.from([f.qos])]))]));
}

/** PUBACK / PUBREC / PUBREL / PUBCOMP / UNSUBACK-style packet: fixed header + message id. */
export function buildAck(firstByte: number, messageId: number): Buffer {
  return packet(firstByte, u16(messageId));
}

export const PINGREQ: Buffer = Buffer.from([0xc0, 0x00]);
export const PINGRESP: Buffer = Buffer.from([0xd0, 0x00]);
export const DISCONNECT: Buffer = Buffer.from([0xe0, 0x00]);

export const PacketType = {
  CONNECT: 1,
  CONNACK: 2,
  PUBLISH: 3,
  PUBACK: 4,
  PUBREC: 5,
  PUBREL: 6,
  PUBCOMP: 7,
  SUBSCRIBE: 8,
  SUBACK: 9,
  UNSUBSCRIBE: 10,
  UNSUBACK: 11,
  PINGREQ: 12,
  PINGRESP: 13,
  DISCONNECT: 14,
  AUTH: 15,
} as const;

export interface FramedPacket {
  type: number;
  flags: number;
  /** Whole packet, fixed header included (truncated when `complete` is false). */
  bytes: Buffer;
  remainingLength: number;
  complete: boolean;
}

/**
 * Best-effort split of a byte stream into packets by their fixed headers. Stops at the first header whose
 * remaining length is not a valid (≤ 4 byte) varint; the last packet may be incomplete.
 */
export function splitPackets(stream: Buffer): { packets: FramedPacket[]; rest: Buffer } {
  const packets: FramedPacket[] = [];
  let off = 0;
  while (off < stream.length) {
    const first = stream[off];
    if (first === undefined) break;
    const rl = decodeVarint(stream, off + 1);
    if (!rl) break;
    const end = off + 1 + rl.length + rl.value;
    packets.push({
      type: first >> 4,
      flags: first & 0x0f,
      bytes: stream.subarray(off, Math.min(end, stream.length)),
      remainingLength: rl.value,
      complete: end <= stream.length,
    });
    off = Math.min(end, stream.length);
  }
  return { packets, rest: stream.subarray(off) };
}

export function hex(buf: Buffer): string {
  return buf.toString('hex');
}

// ---------------------------------------------------------------------------------------------------------
// Socket wrapper
// ---------------------------------------------------------------------------------------------------------

export interface RawCloseInfo {
  /** ms since the socket connected. */
  atMs: number;
  /** 'end' = orderly FIN from the peer, 'reset' = ECONNRESET/EPIPE, 'local' = we destroyed it. */
  how: 'end' | 'reset' | 'local';
}

/**
 * A TCP connection that buffers everything the peer sends, and remembers when the peer closed it.
 * All waits are bounded by an explicit timeout; nothing here can block forever.
 */
export class RawClient {
  readonly socket: net.Socket;
  /** Every byte received, for transcripts. */
  readonly transcript: Buffer[] = [];
  private pending: Buffer = Buffer.alloc(0);
  private closeInfo: RawCloseInfo | undefined;
  private errorSeen: Error | undefined;
  /** performance.now() when the connection was established; RawCloseInfo.atMs counts from here. */
  readonly connectedAt: number;
  private wakers = new Set<() => void>();

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.connectedAt = performance.now();
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.transcript.push(chunk);
      this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
      this.wake();
    });
    socket.on('end', () => {
      this.markClosed('end');
    });
    socket.on('error', (err: Error) => {
      // ECONNRESET / EPIPE: the peer tore the connection down (aedes destroys sockets with unread data).
      this.errorSeen = err;
      this.markClosed('reset');
    });
    socket.on('close', () => {
      this.markClosed('end');
    });
  }

  /** Opens a TCP connection; rejects after `timeoutMs`. */
  static connect(port: number, host = '127.0.0.1', timeoutMs = 2000): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`TCP connect to ${host}:${port} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      const onError = (err: Error): void => {
        clearTimeout(timer);
        socket.destroy();
        reject(err);
      };
      socket.once('error', onError);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.off('error', onError);
        resolve(new RawClient(socket));
      });
    });
  }

  private markClosed(how: RawCloseInfo['how']): void {
    if (this.closeInfo) return;
    this.closeInfo = { atMs: performance.now() - this.connectedAt, how };
    this.wake();
  }

  private wake(): void {
    const ws = [...this.wakers];
    this.wakers.clear();
    for (const w of ws) w();
  }

  /** Resolves on the next data/close event or after `ms`, whichever is first. */
  private nextEvent(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        this.wakers.delete(finish);
        resolve();
      };
      const timer = setTimeout(finish, Math.max(0, ms));
      this.wakers.add(finish);
    });
  }

  /** Set once the peer closed (FIN or reset), or we destroyed the socket. */
  closedInfo(): RawCloseInfo | undefined {
    return this.closeInfo;
  }

  get lastError(): Error | undefined {
    return this.errorSeen;
  }

  /** ms since connect. */
  elapsedMs(): number {
    return performance.now() - this.connectedAt;
  }

  /** Bytes received but not yet consumed by read(). */
  buffered(): number {
    return this.pending.length;
  }

  receivedAll(): Buffer {
    return Buffer.concat(this.transcript);
  }

  /** Writes if the socket is still writable; returns false when it was not (already closed). */
  write(data: Buffer): boolean {
    if (this.closeInfo || this.socket.destroyed || !this.socket.writable) return false;
    this.socket.write(data);
    return true;
  }

  /**
   * Waits until `n` bytes are buffered, then consumes and returns exactly `n`. On close or timeout it
   * consumes and returns whatever is buffered (possibly fewer bytes, possibly none).
   */
  async read(n: number, timeoutMs: number): Promise<Buffer> {
    const deadline = performance.now() + timeoutMs;
    while (this.pending.length < n && !this.closeInfo) {
      const left = deadline - performance.now();
      if (left <= 0) break;
      await this.nextEvent(left);
    }
    const take = Math.min(n, this.pending.length);
    const out = this.pending.subarray(0, take);
    this.pending = this.pending.subarray(take);
    return out;
  }

  /** Consumes and returns everything buffered right now. */
  drain(): Buffer {
    const out = this.pending;
    this.pending = Buffer.alloc(0);
    return out;
  }

  /** Waits for the next complete MQTT packet (consumed), or undefined on close/timeout. */
  async readPacket(timeoutMs: number): Promise<FramedPacket | undefined> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const first = splitPackets(this.pending).packets[0];
      if (first?.complete) {
        this.pending = this.pending.subarray(first.bytes.length);
        return first;
      }
      const left = deadline - performance.now();
      if (this.closeInfo || left <= 0) return undefined;
      await this.nextEvent(left);
    }
  }

  /** Waits until the peer closed the connection; true if it did within `timeoutMs`. */
  async waitForClose(timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    while (!this.closeInfo) {
      const left = deadline - performance.now();
      if (left <= 0) return false;
      await this.nextEvent(left);
    }
    return true;
  }

  /** Waits until something arrives or the connection closes; true if either happened within `timeoutMs`. */
  async waitForActivity(timeoutMs: number): Promise<boolean> {
    if (this.hasActivity()) return true;
    await this.nextEvent(timeoutMs);
    return this.hasActivity();
  }

  private hasActivity(): boolean {
    return this.pending.length > 0 || this.closeInfo !== undefined;
  }

  destroy(): void {
    this.markClosed('local');
    this.socket.destroy();
  }
}

/** Connects and performs a CONNECT; returns the client and the CONNACK return code (undefined: no CONNACK). */
export async function connectAndHandshake(
  port: number,
  connect: ConnectOptions,
  timeoutMs = 2000,
  host = '127.0.0.1',
): Promise<{ client: RawClient; returnCode: number | undefined }> {
  const client = await RawClient.connect(port, host, timeoutMs);
  client.write(buildConnect(connect));
  const p = await client.readPacket(timeoutMs);
  const returnCode = p && p.type === PacketType.CONNACK && p.bytes.length === 4 ? p.bytes[3] : undefined;
  return { client, returnCode };
}

/**
 * Sends packets over a fresh raw TCP socket and collects what the broker answers until it closes the socket
 * or `waitMs` passes. For the cases a well-behaved client library refuses to produce.
 */
export async function rawExchange(
  port: number,
  ...packetsAndOpts: (Record<string, unknown> | Buffer | { waitMs: number })[]
): Promise<{ packets: Packet[]; closed: boolean }> {
  const last = packetsAndOpts.at(-1);
  const waitMs = last !== undefined && !Buffer.isBuffer(last) && 'waitMs' in last ? (last as { waitMs: number }).waitMs : 2000;
  const toSend = packetsAndOpts.filter((p) => Buffer.isBuffer(p) || !('waitMs' in p));
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  const packets: Packet[] = [];
  parser.on('packet', (p) => packets.push(p));
  const socket = net.connect(port, '127.0.0.1');
  socket.on('data', (d) => parser.parse(d));
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  for (const p of toSend) socket.write(Buffer.isBuffer(p) ? p : mqttPacket.generate(p as unknown as Packet));
  const closed = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), waitMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
  socket.destroy();
  return { packets, closed };
}
