import { writeFileSync } from 'node:fs';
import { CommanderError, Option, type Command } from 'commander';
import { escalationPolicy } from '../alerting.js';
import { AlertError, ListStateSchema, OUTCOMES, type Alert, type AlertTransition, type Outcome } from '../alerts/model.js';
import { reportToCsv, reportToJson } from '../alerts/report.js';
import { SEVERITIES, type Severity } from '../alerts/signal.js';
import { createAlertStore, type AlertStore } from '../alerts/store.js';
import { DatabaseError, databasePath, openDatabase } from '../db/sqlite.js';
import { RegistryError } from '../devices/model.js';
import { createDeviceRegistry } from '../devices/registry.js';
import { addDays, localToUtc, offsetAt, parseDate } from '../rules/local-time.js';
import type { CliContext } from './context.js';
import { EXIT_FAILURE, printJson, printTable } from './devices.js';

// `tryggheim alerts …`: list, inspect, acknowledge and resolve alerts, and the follow-up report (issue 5 item 4),
// for team leads and technicians until nurses have the dashboard. Writes go through the alert store, so the same
// validation and audit trail as the API; the running gateway polls the outbox and delivers them within seconds.
// Times are shown in the home's time zone with the UTC offset; --json gives the stored ISO UTC times.

/** The zone for alerts without a home (gateway health) and for report dates: homes default to it too. */
const DISTRICT_TIME_ZONE = 'Europe/Oslo';
const WRITES_NOTE = 'The running gateway picks the change up within seconds (dashboards, MQTT, webhooks).';

export interface AlertCommandDeps {
  /** Epoch ms; tests inject their clock. */
  readonly now?: () => number;
}

interface Session {
  store: AlertStore;
  /** IANA time zone of an alert's home (cached per command). */
  zoneOf: (homeId: string | null) => string;
}

function failure(ctx: CliContext, code: string, message: string): never {
  ctx.err(`error: ${message} (${code})`);
  throw new CommanderError(EXIT_FAILURE, code, message);
}

/** Opens the database for one command; expected failures become one line naming the code, and exit code 1. */
function withAlerts<T>(ctx: CliContext, now: () => number, fn: (s: Session) => T): T {
  const config = ctx.config();
  let db: ReturnType<typeof openDatabase> | undefined;
  try {
    db = openDatabase(databasePath(config.dataDir));
    const store = createAlertStore({ db, now, policy: escalationPolicy(config.alerts.escalation) });
    const registry = createDeviceRegistry({ db });
    const zones = new Map<string, string>();
    const zoneOf = (homeId: string | null): string => {
      if (homeId === null) return DISTRICT_TIME_ZONE;
      let zone = zones.get(homeId);
      if (zone === undefined) zones.set(homeId, (zone = registry.getHome(homeId)?.timeZone ?? DISTRICT_TIME_ZONE));
      return zone;
    };
    return fn({ store, zoneOf });
  } catch (err) {
    if (err instanceof AlertError || err instanceof DatabaseError || err instanceof RegistryError) failure(ctx, err.code, err.message);
    throw err;
  } finally {
    db?.close();
  }
}

function notFound(id: string): never {
  throw new AlertError('TRY_ERR_ALERT_NOT_FOUND', `alert ${id} not found`);
}

const pad = (n: number): string => String(n).padStart(2, '0');

/** `2026-03-10 09:00+01:00`: the home's wall clock, with the offset so nobody has to guess the zone. */
function localTime(iso: string, timeZone: string, seconds = false): string {
  const ms = Date.parse(iso);
  const offset = offsetAt(ms, timeZone);
  const t = new Date(ms + offset);
  const hm = `${pad(t.getUTCHours())}:${pad(t.getUTCMinutes())}${seconds ? `:${pad(t.getUTCSeconds())}` : ''}`;
  const abs = Math.abs(offset) / 60_000;
  const sign = offset < 0 ? '-' : '+';
  return `${t.getUTCFullYear()}-${pad(t.getUTCMonth() + 1)}-${pad(t.getUTCDate())} ${hm}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/** Deadlines in a list row: only the time when it is on the day the alert was raised. */
function shortTime(iso: string, raisedAt: string, timeZone: string): string {
  const full = localTime(iso, timeZone);
  const day = localTime(raisedAt, timeZone).slice(0, 10);
  return full.startsWith(day) ? full.slice(11, 16) : full.slice(0, 16);
}

/** What needs attention, judged at `now`: upper case is overdue. */
function followUp(a: Alert, now: number, zone: string): string {
  const late = (done: string | null, due: string) => done !== null && done > due;
  const parts: string[] = [];
  if (!a.open) {
    parts.push(`outcome ${a.outcome ?? '?'}`);
    if (late(a.acknowledgedAt, a.ackDueAt)) parts.push('acked late');
    if (late(a.resolvedAt, a.followUpDueAt)) parts.push('resolved late');
    return parts.join(', ');
  }
  if (a.ack === 'unacknowledged') {
    const due = shortTime(a.ackDueAt, a.raisedAt, zone);
    parts.push(now >= Date.parse(a.ackDueAt) ? `ACK OVERDUE (due ${due})` : `ack due ${due}`);
  } else if (late(a.acknowledgedAt, a.ackDueAt)) parts.push('acked late');
  const due = shortTime(a.followUpDueAt, a.raisedAt, zone);
  parts.push(now >= Date.parse(a.followUpDueAt) ? `FOLLOW-UP OVERDUE (due ${due})` : `follow-up due ${due}`);
  return parts.join(', ');
}

function alertRow(a: Alert, now: number, zone: string): string[] {
  return [
    a.id,
    a.severity,
    a.rule,
    a.homeId ?? '-',
    a.subject,
    a.open ? a.state : 'resolved',
    a.acknowledgedBy === null ? 'no' : `by ${a.acknowledgedBy}`,
    localTime(a.raisedAt, zone),
    followUp(a, now, zone),
  ];
}

/** Detail fields as `key=value`; strings JSON-quoted so a note cannot break the line or the terminal. */
function describeDetail(t: AlertTransition): string {
  // Typed without undefined, but a transition built in this process may still carry `key: undefined`.
  return Object.entries(t.detail as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(' ');
}

function printAlert(ctx: CliContext, a: Alert, timeline: readonly AlertTransition[], s: Session, now: number): void {
  const zone = s.zoneOf(a.homeId);
  const at = (iso: string) => localTime(iso, zone, true);
  const note = (n: string | null) => (n === null ? '' : `, note ${JSON.stringify(n)}`);
  const level = s.store.policy.chain[a.escalationLevel] ?? String(a.escalationLevel);
  ctx.out(`id:            ${a.id}`);
  ctx.out(`title:         ${a.title} (${a.severity}, ${a.kind})`);
  ctx.out(`rule:          ${a.rule}, subject ${a.subject}`);
  ctx.out(`home:          ${a.homeId ?? '-'} (team ${a.teamId}; times in ${zone})`);
  ctx.out(`state:         ${a.open ? `${a.state}, ${a.ack}` : 'resolved'}`);
  ctx.out(`raised:        ${at(a.raisedAt)}; last seen ${at(a.lastSeenAt)}; seen ${a.count} time${a.count === 1 ? '' : 's'}`);
  if (a.clearedAt !== null) ctx.out(`cleared:       ${at(a.clearedAt)}`);
  ctx.out(`ack due:       ${at(a.ackDueAt)}`);
  if (a.acknowledgedAt !== null) ctx.out(`acknowledged:  ${at(a.acknowledgedAt)} by ${a.acknowledgedBy ?? '?'}${note(a.ackNote)}`);
  ctx.out(`follow-up due: ${at(a.followUpDueAt)}`);
  if (a.resolvedAt !== null) {
    ctx.out(`resolved:      ${at(a.resolvedAt)} by ${a.resolvedBy ?? '?'}, outcome ${a.outcome ?? '?'}${note(a.resolveNote)}`);
  }
  ctx.out(`follow-up:     ${followUp(a, now, zone)}`);
  ctx.out(`escalation:    level ${a.escalationLevel} (${level}), ${a.reminders} reminder${a.reminders === 1 ? '' : 's'}`);
  ctx.out(`evidence:      ${a.evidence.length} kept${a.evidenceDropped > 0 ? `, ${a.evidenceDropped} older dropped` : ''}`);
  for (const e of a.evidence) {
    const when = e.observedAt !== undefined && !Number.isNaN(Date.parse(e.observedAt)) ? at(e.observedAt) : '-';
    ctx.out(`  ${when}  ${e.deviceId ?? '-'}  ${e.note === undefined ? '' : JSON.stringify(e.note)}`.trimEnd());
  }
  ctx.out('timeline:');
  printTable(
    ctx,
    ['  AT', 'TYPE', 'ACTOR', 'DETAIL'],
    timeline.map((t) => [`  ${at(t.at)}`, t.type, t.actor, describeDetail(t)]),
  );
}

/**
 * `2026-03-10` is a local date in Europe/Oslo: --from is the start of that day, --to the end of it (so
 * `--from 2026-03-01 --to 2026-03-31` is all of March). A full instant needs Z or an offset and is used as is;
 * the period is [from, to).
 */
function reportTime(flag: '--from' | '--to', text: string): number {
  const date = parseDate(text);
  if (date !== undefined) return localToUtc(flag === '--to' ? addDays(date, 1) : date, 0, DISTRICT_TIME_ZONE);
  const ms = Date.parse(text);
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/.test(text) || Number.isNaN(ms)) {
    throw new AlertError(
      'TRY_ERR_ALERT_INVALID_INPUT',
      `${flag}: expected YYYY-MM-DD or an ISO instant with Z or an offset (got ${JSON.stringify(text.slice(0, 40))})`,
    );
  }
  return ms;
}

export function registerAlertCommands(program: Command, ctx: CliContext, deps: AlertCommandDeps = {}): void {
  const now = deps.now ?? (() => Date.now());
  const alerts = program
    .command('alerts')
    .description('list, inspect, acknowledge and resolve alerts; the follow-up report for supervision');

  alerts
    .command('list')
    .description("alerts, most urgent first; times in each home's time zone (UTC offset shown), upper case = overdue")
    .option('--team <teamId>', 'only alerts routed to this team')
    .option('--home <homeId>', 'only alerts of this home')
    .addOption(new Option('--state <state>', 'which alerts').choices(ListStateSchema.options).default('open'))
    .addOption(new Option('--severity <severity>', 'only this severity').choices(SEVERITIES))
    .option('--json', 'machine-readable output (ISO UTC times)')
    .action(
      (opts: { team?: string; home?: string; state: (typeof ListStateSchema.options)[number]; severity?: Severity; json?: boolean }) => {
        withAlerts(ctx, now, (s) => {
          const list = s.store.list({ teamId: opts.team, homeId: opts.home, state: opts.state, severity: opts.severity });
          if (opts.json) return printJson(ctx, list);
          if (list.length === 0) return ctx.out('no alerts');
          const at = now();
          printTable(
            ctx,
            ['ID', 'SEVERITY', 'RULE', 'HOME', 'SUBJECT', 'STATE', 'ACK', 'RAISED', 'FOLLOW-UP'],
            list.map((a) => alertRow(a, at, s.zoneOf(a.homeId))),
          );
          // The store caps a list at 1000 (ListFilterSchema); say so rather than let it look complete.
          if (list.length >= 1000) ctx.out(`showing the first ${list.length}; narrow with --team, --home, --state or --severity`);
        });
      },
    );

  alerts
    .command('show')
    .description('an alert and its full timeline (every transition: time, type, actor, detail): the audit trail')
    .argument('<id>')
    .option('--json', 'machine-readable output (ISO UTC times)')
    .action((id: string, opts: { json?: boolean }) => {
      withAlerts(ctx, now, (s) => {
        const alert = s.store.get(id) ?? notFound(id);
        const timeline = s.store.timeline(id);
        if (opts.json) printJson(ctx, { alert, timeline });
        else printAlert(ctx, alert, timeline, s, now());
      });
    });

  alerts
    .command('ack')
    .description(`acknowledge an alert: someone has it, escalation and reminders stop. ${WRITES_NOTE}`)
    .argument('<id>')
    .requiredOption('--by <staffId>', 'opaque staff id of who takes it (never a name)')
    .option('--note <text>', 'short note, at most 500 characters (may reach home-service systems)')
    .action((id: string, opts: { by: string; note?: string }) => {
      withAlerts(ctx, now, (s) => {
        const late = s.store.acknowledge(id, { by: opts.by, note: opts.note }).some((t) => t.detail.late === true);
        const alert = s.store.get(id) ?? notFound(id);
        const due = localTime(alert.ackDueAt, s.zoneOf(alert.homeId));
        ctx.out(`Alert ${id} acknowledged by ${opts.by}${late ? `, late (was due ${due})` : ''}.`);
      });
    });

  alerts
    .command('resolve')
    .description(`close an alert with the follow-up outcome (acknowledges it too if nobody had). ${WRITES_NOTE}`)
    .argument('<id>')
    .requiredOption('--by <staffId>', 'opaque staff id of who followed it up (never a name)')
    .addOption(new Option('--outcome <outcome>', 'how the follow-up ended').choices(OUTCOMES).makeOptionMandatory())
    .option('--note <text>', 'short note, at most 500 characters; required with --outcome other')
    .action((id: string, opts: { by: string; outcome: Outcome; note?: string }) => {
      withAlerts(ctx, now, (s) => {
        const transitions = s.store.resolve(id, { by: opts.by, outcome: opts.outcome, note: opts.note });
        const resolved = transitions.find((t) => t.type === 'resolved');
        const extra = [
          transitions.some((t) => t.type === 'acknowledged') ? 'acknowledged at the same time' : '',
          resolved?.detail.late === true ? 'late' : '',
        ].filter((x) => x !== '');
        ctx.out(`Alert ${id} resolved by ${opts.by}: ${opts.outcome}${extra.length > 0 ? ` (${extra.join(', ')})` : ''}.`);
      });
    });

  alerts
    .command('report')
    .description(
      'follow-up report per team: alerts raised in the period, acknowledged/resolved on time, late, never or pending. ' +
        'YYYY-MM-DD is a local date in Europe/Oslo (--to includes that whole day); ISO instants need Z or an offset',
    )
    .requiredOption('--from <date|instant>', 'start: YYYY-MM-DD (start of the day) or e.g. 2026-03-01T00:00:00+01:00')
    .requiredOption('--to <date|instant>', 'end: YYYY-MM-DD (end of the day, inclusive) or an instant (exclusive)')
    .option('--team <teamId>', 'only this team (listed even with no alerts)')
    .addOption(new Option('--format <format>', 'output format').choices(['csv', 'json'] as const).default('csv'))
    .option('--out <file>', 'write to this file instead of standard output')
    .action((opts: { from: string; to: string; team?: string; format: 'csv' | 'json'; out?: string }) => {
      const text = withAlerts(ctx, now, (s) => {
        const report = s.store.followUpReport({
          from: reportTime('--from', opts.from),
          to: reportTime('--to', opts.to),
          teamId: opts.team,
        });
        return opts.format === 'csv' ? reportToCsv(report) : reportToJson(report);
      });
      if (opts.out === undefined) return ctx.out(text.replace(/\r?\n$/, ''));
      try {
        writeFileSync(opts.out, text);
      } catch (cause) {
        failure(ctx, 'TRY_ERR_REPORT_WRITE', `cannot write ${opts.out}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`);
      }
      ctx.out(`Report written to ${opts.out}.`);
    });
}
