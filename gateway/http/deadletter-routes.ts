import type { FastifyRequest } from 'fastify';
import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { decodeUtf8, type Adapter } from '../../adapters/contract.js';
import type { AuditLog } from '../auth/audit.js';
import { inScope, type AuthContext } from '../auth/guard.js';
import { DeviceIdSchema, TeamIdSchema } from '../devices/ids.js';
import type { DeviceRegistry } from '../devices/registry.js';
import type { DeadLetterReason } from '../ingest/decode.js';
import type { DeadLetter, DeadLetters } from '../ingest/dead-letters.js';
import { errorResponses, HttpError } from './errors.js';
import { auditFor, authOf, refusedDeadLetter, requireTeams, teamMatches } from './scope.js';

// Dead letters and the adapter catalogue for technicians and admins (issue 6 item 1), as `tryggheim deadletters`
// offers them: list, show (the raw payload — text when it is UTF-8, else base64 — capped, never logged), replay
// after the adapter or the registry is fixed. A dead letter belongs to the team of the home its device was in
// when it was received (the payload may be that patient's data), else of the device's home now; one of a device
// that was never in a home is an admin's only. Replay writes to the journal like the CLI does, on the gateway's
// own connection (a short wait for the append thread's lock, fsynced), then wakes the ingest.

export interface DeadLetterRoutesOptions {
  deadLetters: Pick<DeadLetters, 'list' | 'get' | 'replay'>;
  registry: Pick<DeviceRegistry, 'getHome' | 'getDevice' | 'homeAt'>;
  /** Called after a replay put something back into the journal (the ingest would notice within a second anyway). */
  afterReplay?: () => void;
  adapters: readonly Pick<Adapter, 'id' | 'version' | 'title' | 'deviceClasses'>[];
}

/** Bytes of a payload an answer carries; the journal keeps up to 64 KiB of each. */
export const PAYLOAD_SHOWN_BYTES = 16 * 1024;
/** Dead letters read per list request before the team filter (newest first), for a technician. */
const SCAN_LIMIT = 5000;

const REASONS = [
  'unknown_device',
  'no_adapter',
  'unknown_child',
  'oversized',
  'malformed',
  'invalid_payload',
  'unsupported',
  'adapter_bug',
  'storage_rejected',
] as const satisfies readonly DeadLetterReason[];

const ListQuerySchema = z.strictObject({
  team: TeamIdSchema.optional(),
  device: DeviceIdSchema.optional(),
  reason: z.enum(REASONS).optional(),
  /** `true` includes dead letters already replayed. */
  all: z.enum(['true', 'false']).default('false'),
  limit: z.coerce.number().int().min(1).max(500).default(100),
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

export const deadLetterRoutes: FastifyPluginCallbackZod<DeadLetterRoutesOptions & { audit: AuditLog }> = (app, opts, done) => {
  const getHome = (id: string) => opts.registry.getHome(id);

  function placed(d: DeadLetter): { homeId: string | null; teamId: string | null } {
    const then = opts.registry.homeAt(d.deviceId, new Date(d.receivedAt));
    const homeId = then ?? opts.registry.getDevice(d.deviceId)?.homeId ?? null;
    const teamId = homeId === null ? undefined : getHome(homeId)?.teamId;
    return { homeId, teamId: teamId ?? null };
  }

  function view(d: DeadLetter): z.infer<typeof DeadLetterSchema> {
    return {
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
      ...placed(d),
    };
  }

  const visibleTo = (auth: AuthContext, teamId: string | null): boolean => (teamId === null ? auth.scope === '*' : inScope(auth, teamId));

  /** The dead letter if it exists and is the caller's team's; otherwise 404 (audited as denied). */
  function visible(request: FastifyRequest, id: number, action: 'deadletter.view' | 'deadletter.replay') {
    const auth = authOf(request);
    const found = opts.deadLetters.get(id);
    const shown = found && view(found);
    if (found === undefined || shown === undefined || !visibleTo(auth, shown.teamId)) {
      auditFor(opts.audit, auth, action, 'denied', { targetType: 'dead_letter', targetId: String(id), teamId: shown?.teamId ?? null });
      if (found !== undefined) refusedDeadLetter(request, auth, id);
      throw new HttpError('TRY_ERR_NOT_FOUND');
    }
    return { auth, found, shown };
  }

  app.get(
    '/api/v1/dead-letters',
    {
      config: { auth: { permission: 'deadletters.read' } },
      schema: {
        summary: "Messages that could not be decoded or stored, newest first (the caller's teams); replayed ones with all=true",
        tags: ['dead letters'],
        querystring: ListQuerySchema,
        response: { 200: z.object({ deadLetters: z.array(DeadLetterSchema) }), ...errorResponses },
      },
    },
    (request) => {
      const q = request.query;
      const { auth, teams } = requireTeams(request, opts.audit, 'deadletter.list', q.team);
      const everything = teams === '*' && q.team === undefined;
      const rows = opts.deadLetters.list({
        deviceId: q.device,
        reason: q.reason,
        includeReplayed: q.all === 'true',
        limit: everything ? q.limit : SCAN_LIMIT,
      });
      const deadLetters = rows
        .map(view)
        .filter((d) => everything || teamMatches(teams, d.teamId))
        .slice(0, q.limit);
      auditFor(opts.audit, auth, 'deadletter.list', 'ok', {
        targetType: 'team',
        targetId: q.team ?? null,
        teamId: q.team ?? null,
        detail: { count: deadLetters.length, ...(q.device === undefined ? {} : { device: q.device }) },
      });
      return { deadLetters };
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
      return { deadLetter: after === undefined ? shown : view(after) };
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
