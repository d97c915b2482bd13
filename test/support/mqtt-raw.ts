import { connect } from 'node:net';
import mqttPacket, { type Packet } from 'mqtt-packet';

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
  const socket = connect(port, '127.0.0.1');
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

/** A CONNECT with clean session 0 and an empty client id: mqtt-packet refuses to build one, so flip the flag. */
export function connectWithEmptyIdUnclean(username: string, password: string): Buffer {
  const bytes = mqttPacket.generate({
    cmd: 'connect',
    clientId: '',
    clean: true,
    keepalive: 60,
    username,
    password: Buffer.from(password),
    protocolId: 'MQTT',
    protocolVersion: 4,
  });
  // Fixed header: 1 byte + remaining-length varint; then "MQTT" (2+4) and the level (1): the flags follow.
  let i = 1;
  while (((bytes[i] as number) & 0x80) !== 0) i += 1;
  const flags = i + 1 + 6 + 1;
  bytes[flags] = (bytes[flags] as number) & ~0x02;
  return bytes;
}
