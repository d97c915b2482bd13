// The payload mini-language of mosquitto's packet-vector table (parse_message() in mosquitto's
// test/broker/msg_sequence_test.py), re-implemented from its description:
//   bare token    hex bytes ("82", "A2", "0000")
//   iN            uint8
//   HN kN mN sN   uint16 big-endian (k = keepalive, m = message id, s = string length prefix)
//   LN            uint32 big-endian
//   'text'        UTF-8 bytes (a quoted run may span several space-separated tokens)
//   vN rN         MQTT variable byte integer (r = remaining length). Values >= 2^28 are encoded anyway,
//                 with more than four bytes, exactly as the original does: that is what the vectors test.
import { encodeVarint } from '../../support/raw-mqtt.js';

export class VectorSyntaxError extends Error {
  override readonly name = 'VectorSyntaxError';
}

function decimal(token: string, max: bigint, what: string, message: string): bigint {
  const digits = token.slice(1);
  if (!/^[0-9]+$/.test(digits))
    throw new VectorSyntaxError(`${what} token ${JSON.stringify(token)} is not a decimal number in ${JSON.stringify(message)}`);
  const v = BigInt(digits);
  if (v > max) throw new VectorSyntaxError(`${what} token ${JSON.stringify(token)} out of range in ${JSON.stringify(message)}`);
  return v;
}

function uint(value: bigint, bytes: 1 | 2 | 4): Buffer {
  const b = Buffer.alloc(bytes);
  b.writeUIntBE(Number(value), 0, bytes);
  return b;
}

export function parsePayload(message: string): Buffer {
  const parts = message.split(' ');
  const out: Buffer[] = [];
  for (let i = 0; i < parts.length; i++) {
    const tok = parts[i] ?? '';
    if (tok.length === 0) continue;
    const head = tok.charAt(0);
    switch (head) {
      case 'i':
        out.push(uint(decimal(tok, 0xffn, 'uint8', message), 1));
        break;
      case 'H':
      case 'k':
      case 'm':
      case 's':
        out.push(uint(decimal(tok, 0xffffn, 'uint16', message), 2));
        break;
      case 'L':
        out.push(uint(decimal(tok, 0xffffffffn, 'uint32', message), 4));
        break;
      case 'v':
      case 'r':
        out.push(encodeVarint(decimal(tok, BigInt(Number.MAX_SAFE_INTEGER), 'varint', message)));
        break;
      case "'": {
        // A quoted string runs until a token that ends with a quote; the spaces between tokens are kept.
        let s = tok.slice(1);
        while (!(s.length > 0 && s.endsWith("'")) && i < parts.length - 1) {
          i++;
          s += ' ' + (parts[i] ?? '');
        }
        if (!(s.length > 0 && s.endsWith("'"))) throw new VectorSyntaxError(`unterminated string in ${JSON.stringify(message)}`);
        out.push(Buffer.from(s.slice(0, -1), 'utf8'));
        break;
      }
      default:
        // Buffer.from(..., 'hex') silently stops at the first bad digit; be strict instead.
        if (!/^(?:[0-9a-fA-F]{2})+$/.test(tok))
          throw new VectorSyntaxError(`invalid hex token ${JSON.stringify(tok)} in ${JSON.stringify(message)}`);
        out.push(Buffer.from(tok, 'hex'));
    }
  }
  return Buffer.concat(out);
}
