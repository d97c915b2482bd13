import type { FastifyRequest } from 'fastify';
import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { decodeUtf8, type Adapter } from '../../adapters/contract.js';
import type { AuditLog } from '../auth/audit.js';
import { DeviceIdSchema, TeamIdSchema } from '../devices/ids.js';
import type { Assignment, DeviceDetails } from '../devices/model.js';
import type { DeviceRegistry } from '../devices/registry.js';
import { DEAD_LETTER_REASONS } from '../ingest/decode.js';
import type { DeadLetterFilter, DeadLetters, DeadLetterSummary } from '../ingest/dead-letters.js';
import { errorResponses, HttpError } from './errors.js';
import { auditFor, requireTeams, teamMatches, visibleOr404 } from './scope.js';

// Dead letters and the adapter catalogue for technicians and admins (issue 6 item 1), as `tryggheim deadletters`
// offers them: list, show (the raw payload — text when it is UTF-8, else base64 — capped, never logged), replay
// after the adapter or the registry is fixed. A dead letter belongs to the team of the home its device was in
// when it was received (the payload may be that patient's data), else of the device's home now; one of a device
// that was never in a home is an admin's only. Replay writes to the journal like the CLI does, on the gateway's
// own connection (a short wait for the append thread's lock, fsynced), then wakes the ingest.
//
// These routes run on the gateway's main thread, which is also the MQTT broker's: a list reads no payloads and no
// issues, looks each device and home up once per request, and reads at most SCAN_BUDGET rows however long the
// history is. The journal is its own SQLite file, apart from the registry, so the team filter cannot be a join:
// it is applied here, page by page, and `next` lets a technician page back past what one request reads.

export interface DeadLetterRoutesOptions {
  deadLetters: Pick<DeadLetters, 'list' | 'get' | 'replay'>;
  registry: Pick<DeviceRegistry, 'getHome' | 'getDevice'>;
  /** Called after a replay put something back into the journal (the ingest would notice within a second anyway). */
  afterReplay?: () => void;
  adapters: readonly Pick<Adapter, 'id' | 'version' | 'title' | 'deviceClasses'>[];
}

/** Bytes of a payload an answer carries; the journal keeps up to 64 KiB of each. */
export const PAYLOAD_SHOWN_BYTES = 16 * 1024;
/** Dead letters one list request reads at most when it filters by team (a few milliseconds of the main thread). */
export const SCAN_BUDGET = 5000;
/** Rows read per query while filtering by team: a page found early stops the scan early. */
const SCAN_BATCH = 500;

const ListQuerySchema = z.strictObject({
  team: TeamIdSchema.optional(),
  device: DeviceIdSchema.optional(),
  reason: z.enum(DEAD_LETTER_REASONS).optional(),
  /** `true` includes dead letters already replayed. */
  all: z.enum(['true', 'false']).default('false'),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  /** Only dead letters older than this id: the `next` of the previous page. */
  before: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
});
const ParamsSchema = z.strictObject({ id: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER) });

const IssueSchema = z.object({ path: z.array(z.union([z.string(), z.number()])), code: z.string(), message: z.string() });

export const DeadLetterSchema = z.object({
  id: z.int(),
  receivedAt: z.iso.datetime(),
  deviceId: z.string(),
  principalKind: z.string(),
  /** `up` for a device; the topic below the hub's base topic for a hub (bridge). */
  subtopic: z.string(),
  reason: z.string(),
  adapterId: z.string().nullable(),
  adapterVersion: z.int().nullable(),
  payloadBytes: z.int(),
  /** Only the first 64 KiB were kept (such a dead letter cannot be replayed). */
  truncated: z.boolean(),
  replayedAt: z.iso.datetime().nullable(),
  /** The home the device was in when it was received, else its home now. */
  homeId: z.string().nullable(),
  teamId: z.string().nullable(),
});

export const DeadLetterDetailSchema = DeadLetterSchema.extend({
  issues: z.array(IssueSchema),
  payload: z.object({
    encoding: z.enum(['utf8', 'base64']),
    data: z.string(),
    /** Bytes of the stored payload shown in `data` (at most 16 KiB; the rest is left out). */
    shownBytes: z.int(),
  }),
});

export const AdapterInfoSchema = z.object({
  id: z.string(),
  version: z.int(),
  title: z.string(),
  deviceClasses: z.array(z.string()),
});

export const DeadLetterPageSchema = z.object({
  deadLetters: z.array(DeadLetterSchema),
  /**
   * Not null when older dead letters may match: ask again with `before=next`. A page can hold fewer than `limit`
   * (even none) with `next` set, when a request read SCAN_BUDGET dead letters of other teams first.
   */
  next: z.int().nullable(),
});

type DeadLetterView = z.infer<typeof DeadLetterSchema>;
type Registry = DeadLetterRoutesOptions['registry'];

/** The home of an assignment history at an instant: registry.homeAt's rule (valid_from ≤ at < valid_to). */
function homeAtFrom(assignments: readonly Assignment[], at: string): string | undefined {
  // ISO instants in UTC with milliseconds (both sides, as the registry stores them) compare as text.
  return assignments.find((a) => a.validFrom <= at && (a.validTo === null || at < a.validTo))?.homeId;
}

/**
 * Where dead letters belong, for one request: the home the device was in when each was received, else its home
 * now, and that home's team. The registry is read once per device and per home, not per row: a list's rows
 * mostly come from a few devices, and one device's assignment history answers for all its rows.
 */
function placer(registry: Registry): (d: DeadLetterSummary) => { homeId: string | null; teamId: string | null } {
  const devices = new Map<string, DeviceDetails | undefined>();
  const teams = new Map<string, string | null>();
  const deviceOf = (id: string): DeviceDetails | undefined => {
    if (!devices.has(id)) devices.set(id, registry.getDevice(id));
    return devices.get(id);
  };
  const teamOf = (homeId: string): string | null => {
    let team = teams.get(homeId);
    if (team === undefined) teams.set(homeId, (team = registry.getHome(homeId)?.teamId ?? null));
    return team;
  };
  return (d) => {
    const device = deviceOf(d.deviceId);
    const homeId = (device && homeAtFrom(device.assignments, d.receivedAt)) ?? device?.homeId ?? null;
    return { homeId, teamId: homeId === null ? null : teamOf(homeId) };
  };
}

/** The teams a device's dead letters can belong to: those of every home it has been in (its home now is one). */
function teamsOfDevice(registry: Registry, deviceId: string): (string | null)[] {
  const homes = new Set(registry.getDevice(deviceId)?.assignments.map((a) => a.homeId));
  return [...homes].map((homeId) => registry.getHome(homeId)?.teamId ?? null);
}

/** A dead letter as the routes show it (no issues, no payload), placed in its home and team. */
function viewer(registry: Registry): (d: DeadLetterSummary) => DeadLetterView {
  const place = placer(registry);
  return (d) => ({
    id: d.id,
    receivedAt: d.receivedAt,
    deviceId: d.deviceId,
    principalKind: d.principalKind,
    subtopic: d.subtopic,
    reason: d.reason,
    adapterId: d.adapterId,
    adapterVersion: d.adapterVersion,
    payloadBytes: d.payloadBytes,
    truncated: d.truncated,
    replayedAt: d.replayedAt,
    ...place(d),
  });
}

/**
 * One page, newest first, of the dead letters `keep` accepts (all when it is undefined). Reads in batches and at
 * most `budget` rows; keeps reading past a full page only to learn whether another match exists, so `next` is
 * null at the true end. When the budget runs out first, `next` is the last id read: the next page starts there.
 */
function scanPage(
  list: (filter: DeadLetterFilter) => DeadLetterSummary[],
  filter: Omit<DeadLetterFilter, 'limit'>,
  page: { limit: number; batch: number; budget: number },
  view: (d: DeadLetterSummary) => DeadLetterView,
  keep?: (d: DeadLetterView) => boolean,
): z.infer<typeof DeadLetterPageSchema> {
  const shown: DeadLetterView[] = [];
  let before = filter.before;
  let budget = page.budget;
  while (budget > 0) {
    const want = Math.min(budget, page.batch);
    const rows = list({ ...filter, before, limit: want });
    budget -= rows.length;
    for (const row of rows) {
      const d = view(row);
      if (keep !== undefined && !keep(d)) continue;
      if (shown.length === page.limit) return { deadLetters: shown, next: shown.at(-1)?.id ?? null };
      shown.push(d);
    }
    const last = rows.at(-1);
    if (rows.length < want || last === undefined) return { deadLetters: shown, next: null };
    before = last.id;
  }
  return { deadLetters: shown, next: before ?? null };
}

export const deadLetterRoutes: FastifyPluginCallbackZod<DeadLetterRoutesOptions & { audit: AuditLog }> = (app, opts, done) => {
  /** The dead letter if it exists and is the caller's team's; otherwise 404 (audited as denied). */
  function visible(request: FastifyRequest, id: number, action: 'deadletter.view' | 'deadletter.replay') {
    const letter = opts.deadLetters.get(id);
    const found = letter && { letter, shown: viewer(opts.registry)(letter) };
    const { auth, item } = visibleOr404(request, opts.audit, action, { type: 'dead_letter', id, found, teamOf: (f) => f.shown.teamId });
    return { auth, found: item.letter, shown: item.shown };
  }

  /** The page a list request asks for: everything for an admin, else what the caller's (or the filter's) teams hold. */
  function listPage(q: z.infer<typeof ListQuerySchema>, teams: '*' | readonly string[]): z.infer<typeof DeadLetterPageSchema> {
    const filter = { deviceId: q.device, reason: q.reason, includeReplayed: q.all === 'true', before: q.before };
    const list = (f: DeadLetterFilter) => opts.deadLetters.list(f);
    const view = viewer(opts.registry);
    // An admin's whole list needs no filter: one query of limit + 1 rows (the extra one tells whether more exist).
    if (teams === '*' && q.team === undefined)
      return scanPage(list, filter, { limit: q.limit, batch: q.limit + 1, budget: q.limit + 1 }, view);
    // A device never in a home of these teams has none of their dead letters: its rows (maybe many) need no reading.
    if (q.device !== undefined && !teamsOfDevice(opts.registry, q.device).some((t) => teamMatches(teams, t))) {
      return { deadLetters: [], next: null };
    }
    const page = { limit: q.limit, batch: SCAN_BATCH, budget: SCAN_BUDGET };
    return scanPage(list, filter, page, view, (d) => teamMatches(teams, d.teamId));
  }

  app.get(
    '/api/v1/dead-letters',
    {
      config: { auth: { permission: 'deadletters.read' } },
      schema: {
        summary:
          "Messages that could not be decoded or stored, newest first (the caller's teams); replayed ones with all=true; older pages with before=next",
        tags: ['dead letters'],
        querystring: ListQuerySchema,
        response: { 200: DeadLetterPageSchema, ...errorResponses },
      },
    },
    (request) => {
      const q = request.query;
      const { auth, teams } = requireTeams(request, opts.audit, 'deadletter.list', q.team);
      const result = listPage(q, teams);
      auditFor(opts.audit, auth, 'deadletter.list', 'ok', {
        targetType: 'team',
        targetId: q.team ?? null,
        teamId: q.team ?? null,
        detail: {
          count: result.deadLetters.length,
          ...(q.device === undefined ? {} : { device: q.device }),
          ...(q.before === undefined ? {} : { before: q.before }),
        },
      });
      return result;
    },
  );

  app.get(
    '/api/v1/dead-letters/:id',
    {
      config: { auth: { permission: 'deadletters.read' } },
      schema: {
        summary: "A dead letter with the adapter's issues and its payload (UTF-8 text or base64, at most 16 KiB)",
        tags: ['dead letters'],
        params: ParamsSchema,
        response: { 200: DeadLetterDetailSchema, ...errorResponses },
      },
    },
    (request) => {
      const { auth, found, shown } = visible(request, request.params.id, 'deadletter.view');
      const issues = z.array(IssueSchema).safeParse(found.issues);
      auditFor(opts.audit, auth, 'deadletter.view', 'ok', { targetType: 'dead_letter', targetId: String(found.id), teamId: shown.teamId });
      return { ...shown, issues: issues.success ? issues.data : [], payload: shownPayload(found.payload) };
    },
  );

  app.post(
    '/api/v1/dead-letters/:id/replay',
    {
      config: { auth: { permission: 'deadletters.replay' } },
      schema: {
        summary: 'Put the message back into the journal (after fixing the adapter or the registry); decoded again within a second',
        tags: ['dead letters'],
        params: ParamsSchema,
        response: { 200: z.object({ deadLetter: DeadLetterSchema }), ...errorResponses },
      },
    },
    (request) => {
      const { auth, found, shown } = visible(request, request.params.id, 'deadletter.replay');
      const entry = { targetType: 'dead_letter', targetId: String(found.id), teamId: shown.teamId } as const;
      const result = opts.deadLetters.replay([found.id]);
      const skipped = result.skipped[0];
      if (skipped !== undefined || !result.replayed.includes(found.id)) {
        auditFor(opts.audit, auth, 'deadletter.replay', 'failed', { ...entry, detail: { why: skipped?.why ?? 'not replayed' } });
        throw new HttpError('TRY_ERR_DEAD_LETTER_NOT_REPLAYABLE');
      }
      auditFor(opts.audit, auth, 'deadletter.replay', 'ok', entry);
      opts.afterReplay?.();
      const after = opts.deadLetters.get(found.id);
      return { deadLetter: after === undefined ? shown : viewer(opts.registry)(after) };
    },
  );

  app.get(
    '/api/v1/adapters',
    {
      config: { auth: { permission: 'devices.read' } },
      schema: {
        summary: 'The payload formats the gateway decodes (a device is registered with one of them)',
        tags: ['devices'],
        response: { 200: z.object({ adapters: z.array(AdapterInfoSchema) }), ...errorResponses },
      },
    },
    () => ({
      adapters: opts.adapters.map((a) => ({ id: a.id, version: a.version, title: a.title, deviceClasses: [...a.deviceClasses] })),
    }),
  );

  done();
};

/** UTF-8 text when the whole stored payload is, cut at a character boundary; otherwise base64 of the first bytes. */
export function shownPayload(payload: Buffer): z.infer<typeof DeadLetterDetailSchema>['payload'] {
  if (decodeUtf8(payload) !== undefined) {
    let cut = Math.min(payload.length, PAYLOAD_SHOWN_BYTES);
    while (cut > 0 && cut < payload.length && ((payload[cut] ?? 0) & 0xc0) === 0x80) cut -= 1;
    return { encoding: 'utf8', data: payload.subarray(0, cut).toString('utf8'), shownBytes: cut };
  }
  const shown = payload.subarray(0, PAYLOAD_SHOWN_BYTES);
  return { encoding: 'base64', data: shown.toString('base64'), shownBytes: shown.length };
}
