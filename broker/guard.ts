// A byte-level guard in front of aedes' parser. aedes (and mqtt-packet) buffer a packet until its declared
// remaining length has arrived, with no upper bound, and do so even before CONNECT: one socket declaring a
// 256 MiB CONNECT makes the broker hold 256 MiB. The guard reads only each packet's fixed header (type
// byte + remaining-length varint, [MQTT-2.2.3]) and skips the body without copying, so it costs a few
// comparisons per chunk.

export type GuardVerdict =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'too_large' | 'malformed'; readonly declared?: number; readonly limit?: number };

const OK: GuardVerdict = { ok: true };

export interface PacketGuard {
  /** Scans the next chunk of the byte stream. */
  scan(chunk: Buffer): GuardVerdict;
}

/**
 * `limit()` is asked for each packet as its header completes, so the caller can raise the limit once the
 * client has authenticated (CONNECT 16 KiB before, PUBLISH 256 KiB after).
 */
export function createPacketGuard(limit: () => number): PacketGuard {
  // State across chunks: bytes of the current body still to skip, or a header being read.
  let skip = 0;
  let inHeader = false;
  let varint = 0;
  let multiplier = 1;
  let varintBytes = 0;

  return {
    scan(chunk) {
      let i = 0;
      const n = chunk.length;
      while (i < n) {
        if (skip > 0) {
          const step = Math.min(skip, n - i);
          skip -= step;
          i += step;
          continue;
        }
        if (!inHeader) {
          // First byte: packet type and flags. Nothing to check here; aedes rejects unknown types.
          inHeader = true;
          varint = 0;
          multiplier = 1;
          varintBytes = 0;
          i += 1;
          continue;
        }
        const byte = chunk[i] as number;
        i += 1;
        varint += (byte & 0x7f) * multiplier;
        multiplier *= 128;
        varintBytes += 1;
        if (byte & 0x80) {
          // [MQTT-2.2.3] at most four bytes of remaining length.
          if (varintBytes >= 4) return { ok: false, reason: 'malformed' };
          continue;
        }
        inHeader = false;
        const declared = 1 + varintBytes + varint;
        const max = limit();
        if (declared > max) return { ok: false, reason: 'too_large', declared, limit: max };
        skip = varint;
      }
      return OK;
    },
  };
}
