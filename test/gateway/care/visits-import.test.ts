import { describe, expect, it } from 'vitest';
import { CareError } from '../../../gateway/care/inputs.js';
import { formatOf, parseVisits } from '../../../gateway/care/visits-import.js';

function message(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof CareError) {
      expect(err.code).toBe('TRY_ERR_VISITS_IMPORT');
      return err.message;
    }
    throw err;
  }
  throw new Error('expected a CareError');
}

const V1 = { from: '2026-03-02T07:00:00.000Z', to: '2026-03-02T07:30:00.000Z' };
const V2 = { from: '2026-03-02T19:00:00.000Z', to: '2026-03-02T19:20:00.000Z' };

describe('CSV', () => {
  it('reads from,to with a header, in any column order, CRLF, BOM, quotes and extra columns', () => {
    const text =
      '\uFEFFnote,To,From\r\n' +
      '"morning, shower",2026-03-02T08:30:00+01:00,2026-03-02T08:00:00+01:00\r\n' +
      '\r\n' +
      '"said ""hi""","2026-03-02T19:20:00Z",2026-03-02T19:00:00Z\r\n';
    expect(parseVisits(text, 'csv', 'v.csv')).toEqual([V1, V2]);
  });

  it('needs the header line', () => {
    expect(message(() => parseVisits('2026-03-02T08:00:00Z,2026-03-02T08:30:00Z\n', 'csv', 'v.csv'))).toBe(
      'v.csv:1 header: expected the columns from,to (got "2026-03-02T08:00:00Z,2026-03-02T08:30:00Z")',
    );
    expect(message(() => parseVisits('', 'csv', 'v.csv'))).toBe('v.csv:1 header: expected the columns from,to (got "")');
  });

  it('names the line and field of each mistake, counting blank lines', () => {
    const text = [
      'from,to',
      '2026-03-02T08:00:00Z,2026-03-02T08:30:00Z',
      '',
      '2026-03-02T08:00:00,2026-03-02T08:30:00Z',
      '2026-03-02T08:00:00Z',
      '2026-03-02T09:00:00Z,2026-03-02T09:00:00Z',
      '2026-03-02T09:00:00Z,2026-03-04T09:00:00Z',
      '2026-02-30T09:00:00Z,2026-03-04T09:00:00Z',
    ].join('\n');
    expect(message(() => parseVisits(text, 'csv', 'week10.csv'))).toBe(
      'week10.csv:4 from: expected an ISO instant with seconds and Z or an offset, e.g. 2026-03-29T08:00:00+02:00 (got "2026-03-02T08:00:00"); ' +
        'week10.csv:5 to: expected an ISO instant with seconds and Z or an offset, e.g. 2026-03-29T08:00:00+02:00; ' +
        'week10.csv:6 to: a visit must end after it starts (got "2026-03-02T09:00:00Z"); … and 2 more',
    );
  });
});

describe('JSON', () => {
  it('reads an array of {from, to}', () => {
    const text = JSON.stringify([
      { from: '2026-03-02T08:00:00+01:00', to: '2026-03-02T08:30:00+01:00' },
      { from: '2026-03-02T19:00:00Z', to: '2026-03-02T19:20:00Z', note: 'ignored' },
    ]);
    expect(parseVisits(text, 'json', 'v.json')).toEqual([V1, V2]);
  });

  it('names the line and index of a bad entry', () => {
    const text = `[
  { "from": "2026-03-02T08:00:00Z", "to": "2026-03-02T08:30:00Z" },
  {
    "from": "2026-03-02T09:00:00Z",
    "to": "2026-03-02T08:00:00Z"
  },
  "oops", { "from": "2026-03-02T10:00:00Z" }
]`;
    expect(message(() => parseVisits(text, 'json', 'v.json'))).toMatch(
      /^v\.json:3 \[1\]\.to: a visit must end after it starts \(got "2026-03-02T08:00:00Z"\); v\.json:7 \[2\]: expected an object \{"from": …, "to": …\}; v\.json:7 \[3\]\.to: expected an ISO instant/,
    );
  });

  it('names the line of a syntax error, and refuses anything but an array', () => {
    expect(message(() => parseVisits('[\n  {"from": "2026-03-02T08:00:00Z",}\n]', 'json', 'v.json'))).toMatch(
      /^v\.json:2 not valid JSON: /,
    );
    expect(message(() => parseVisits('{"from": "x"}', 'json', 'v.json'))).toBe(
      'v.json:1 expected a JSON array of {"from": …, "to": …} objects',
    );
  });
});

describe('formatOf', () => {
  it('goes by the extension', () => {
    expect([formatOf('a.CSV'), formatOf('dir/a.json'), formatOf('a.txt')]).toEqual(['csv', 'json', undefined]);
  });
});
