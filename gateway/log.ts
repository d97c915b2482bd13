import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

// Payloads may be health data and secrets must never reach a log line: both are redacted by path,
// whatever module logs them. Security events are one line each with `event: 'security.*'`.
export const REDACT_PATHS = [
  'password',
  'secret',
  'token',
  'payload',
  '*.password',
  '*.secret',
  '*.token',
  '*.payload',
  'packet.payload',
  'req.headers.authorization',
  'req.headers.cookie',
];

export function createLogger(opts: { level: string; destination?: DestinationStream }): Logger {
  return pino(
    {
      level: opts.level,
      base: { svc: 'tryggheim' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    opts.destination,
  );
}
