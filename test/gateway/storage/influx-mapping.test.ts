import { AbortError, HttpError, RequestTimedOutError } from '@influxdata/influxdb-client';
import { describe, expect, it } from 'vitest';
import { apiVersionFor, toWriteError, v2WritePathToV1 } from '../../../gateway/storage/influx.js';
import { quoteIdent, quoteLiteral, rfc3339ToNs } from '../../../gateway/storage/influxql.js';

// Pure parts of the write path; the same behaviour runs against a real influxd in influx.test.ts.

describe('v2 → v1 write path', () => {
  it('maps bucket to db (and db/rp), ns to n, us to u', () => {
    expect(v2WritePathToV1('/api/v2/write?org=&bucket=tryggheim&precision=ns')).toBe('/write?db=tryggheim&precision=n');
    expect(v2WritePathToV1('/api/v2/write?org=x&bucket=tryggheim%2Fweek&precision=us')).toBe('/write?db=tryggheim&rp=week&precision=u');
    expect(v2WritePathToV1('/api/v2/write?org=&bucket=t&precision=ms')).toBe('/write?db=t&precision=ms');
    expect(v2WritePathToV1('/api/v2/write?org=&bucket=t&precision=s')).toBe('/write?db=t&precision=s');
  });

  it('leaves other paths alone', () => {
    expect(v2WritePathToV1('/ping')).toBe('/ping');
    expect(v2WritePathToV1('/api/v2/query?org=x')).toBe('/api/v2/query?org=x');
  });
});

describe('apiVersionFor (X-Influxdb-Version)', () => {
  it.each([
    ['1.6.7~rc0', 'v1'],
    ['1.7.11', 'v1'],
    ['1.8.10', 'v2'],
    ['v2.7.4', 'v2'],
    ['2.7.4', 'v2'],
    ['3.0.1', 'v2'],
    [undefined, 'v2'],
    ['unknown', 'v2'],
  ] as const)('%s → %s', (version, expected) => {
    expect(apiVersionFor(version)).toBe(expected);
  });
});

describe('toWriteError', () => {
  const http = (status: number, error: string): HttpError =>
    new HttpError(status, 'x', JSON.stringify({ error }), undefined, 'application/json');

  it('a field type conflict is not retryable and names the field', () => {
    const e = toWriteError(
      http(
        400,
        'partial write: field type conflict: input field "temperature_c" on measurement "sensor" is type string, already exists as type float dropped=1',
      ),
      1000,
    );
    expect(e).toMatchObject({ retryable: false, reason: 'field_type_conflict', status: 400, dropped: 1 });
    expect(e.message).toContain('"temperature_c"');
  });

  it('a parse error is not retryable, and the offending line content is not repeated', () => {
    const e = toWriteError(http(400, "unable to parse 'vitals,device_id=d1 heart_rate_bpm=abc 1': invalid number"), 1000);
    expect(e).toMatchObject({ retryable: false, reason: 'parse_error' });
    expect(e.message).toContain("unable to parse 'vitals …': invalid number");
    expect(e.message).not.toContain('heart_rate_bpm');
  });

  it('2.x JSON errors (message) are read too', () => {
    const e = toWriteError(
      new HttpError(
        422,
        'x',
        JSON.stringify({ code: 'unprocessable entity', message: 'failure writing points: field type conflict' }),
        undefined,
        'application/json',
      ),
      1000,
    );
    expect(e).toMatchObject({ retryable: false, reason: 'field_type_conflict', status: 422 });
  });

  it.each([
    [429, 'rate_limited', true],
    [408, 'timeout', true],
    [500, 'server_error', true],
    [503, 'server_error', true],
    [401, 'unauthorized', true],
    [403, 'unauthorized', true],
    [404, 'not_found', true],
    [413, 'too_large', false],
    [400, 'rejected', false],
  ] as const)('HTTP %i → %s, retryable %s', (status, reason, retryable) => {
    expect(toWriteError(http(status, 'something'), 1000)).toMatchObject({ status, reason, retryable });
  });

  it('timeouts and network errors are retryable', () => {
    expect(toWriteError(new RequestTimedOutError(), 500)).toMatchObject({ reason: 'timeout', retryable: true });
    expect(toWriteError(new AbortError(), 500).message).toContain('500 ms');
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    expect(toWriteError(refused, 500)).toMatchObject({ reason: 'unreachable', retryable: true });
    expect(toWriteError(refused, 500).cause).toBe(refused);
  });
});

describe('InfluxQL quoting', () => {
  it('escapes identifiers and string literals', () => {
    expect(quoteIdent('a"b\\c')).toBe('"a\\"b\\\\c"');
    expect(quoteLiteral("o'brien\\")).toBe("'o\\'brien\\\\'");
  });

  it('rfc3339ToNs keeps nanoseconds', () => {
    expect(rfc3339ToNs('2025-03-14T07:30:00.123552957Z')).toBe(1741937400123552957n);
    expect(rfc3339ToNs('2025-03-14T07:30:00Z')).toBe(1741937400000000000n);
    expect(rfc3339ToNs('2025-03-14T07:30:00.5Z')).toBe(1741937400500000000n);
  });
});
