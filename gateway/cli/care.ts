import { readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { CommanderError, type Command } from 'commander';
import { CareError } from '../care/inputs.js';
import type { DoseScheduleEntry } from '../care/model.js';
import { describeWeekdays, parseWeekdays } from '../care/schedule.js';
import { createCareStore, type CareDetails, type CareStore } from '../care/store.js';
import { formatOf } from '../care/visits-import.js';
import { DatabaseError, databasePath, openDatabase } from '../db/sqlite.js';
import type { CliContext } from './context.js';
import { EXIT_FAILURE, printJson } from './devices.js';

// `tryggheim care …`: a home's medication schedule, night window, planned visits and rule overrides, as the
// rules read them (gateway/care/README.md). Exit codes as the other commands: 0, 1 with one line, 2 config.

/** A visit plan is a few hundred KB at most; a bigger file is the wrong file. */
const MAX_VISITS_FILE_BYTES = 2 * 1024 * 1024;
/** `care show` lists this many visits; --json has them all. */
const SHOWN_VISITS = 10;

/** Opens the database for one command; expected failures become one line and exit code 1 (see withRegistry). */
function withCare<T>(ctx: CliContext, fn: (care: CareStore) => T): T {
  const { dataDir } = ctx.config();
  let db: ReturnType<typeof openDatabase> | undefined;
  try {
    db = openDatabase(databasePath(dataDir));
    return fn(createCareStore({ db }));
  } catch (err) {
    if (err instanceof CareError || err instanceof DatabaseError) {
      ctx.err(`error: ${err.message}`);
      throw new CommanderError(EXIT_FAILURE, err.code, err.message);
    }
    throw err;
  } finally {
    db?.close();
  }
}

function invalid(message: string): never {
  throw new CareError('TRY_ERR_INVALID_INPUT', message);
}

/** `--dose 08:00 --dose 20:00`, or `--dose 08:00,20:00`. */
function collect(value: string, previous: string[]): string[] {
  return [...previous, ...value.split(',').map((t) => t.trim())];
}

/** Minutes as typed: digits only, so `15m` or `1.5` is refused rather than read as something else. */
function minutesOption(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d{1,5}$/.test(text)) invalid(`${flag}: expected a whole number of minutes (got ${JSON.stringify(text.slice(0, 20))})`);
  return Number(text);
}

function localTime(iso: string, timeZone: string): string {
  // sv-SE formats as `2026-03-29 08:00`, the ISO-like order technicians read without ambiguity.
  return new Intl.DateTimeFormat('sv-SE', { timeZone, dateStyle: 'short', timeStyle: 'short' }).format(new Date(iso));
}

function doseLine(d: DoseScheduleEntry, i: number, defaulted: ReadonlySet<string>): string {
  const mark = (field: string) => (defaulted.has(`doses.${i}.${field}`) ? ' (default)' : '');
  return `  ${d.time}  ${describeWeekdays(d.weekdays)}  window ${d.windowMinutes} min${mark('windowMinutes')}  grace ${d.graceMinutes} min${mark('graceMinutes')}`;
}

function printDetails(ctx: CliContext, c: CareDetails): void {
  const defaulted = new Set(c.defaulted);
  ctx.out(`home:       ${c.homeId} (team ${c.teamId}, time zone ${c.timeZone})`);
  if (c.doses.length === 0) ctx.out('doses:      none (no medication schedule: no missed-dose alerts)');
  else {
    ctx.out('doses:');
    c.doses.forEach((d, i) => ctx.out(doseLine(d, i, defaulted)));
  }
  ctx.out(`night:      ${c.night.from}–${c.night.to}${defaulted.has('night') ? ' (default)' : ''}`);
  if (c.storedVisits === 0) ctx.out('visits:     none (no visit plan)');
  else {
    ctx.out(`visits:     ${c.storedVisits} stored, ${c.visits.length} recent or coming (times in ${c.timeZone})`);
    for (const v of c.visits.slice(0, SHOWN_VISITS)) ctx.out(`  ${localTime(v.from, c.timeZone)} → ${localTime(v.to, c.timeZone)}`);
    if (c.visits.length > SHOWN_VISITS) ctx.out(`  … and ${c.visits.length - SHOWN_VISITS} more (--json lists them all)`);
  }
  const overrides = Object.entries(c.overrides);
  if (overrides.length === 0) ctx.out('overrides:  none');
  else {
    ctx.out('overrides:');
    for (const [rule, params] of overrides) ctx.out(`  ${rule}  ${JSON.stringify(params)}`);
  }
}

interface DoseOptions {
  dose: string[];
  window?: string;
  grace?: string;
  weekdays?: string;
}

function doseEntries(opts: DoseOptions) {
  if (opts.dose.length === 0) invalid("doses: give at least one --dose HH:MM (to remove the schedule: 'care schedule clear')");
  const windowMinutes = minutesOption('--window', opts.window);
  const graceMinutes = minutesOption('--grace', opts.grace);
  const weekdays = opts.weekdays === undefined ? undefined : parseWeekdays(opts.weekdays);
  return opts.dose.map((time) => ({ time, windowMinutes, graceMinutes, weekdays }));
}

function printSchedule(ctx: CliContext, homeId: string, doses: readonly DoseScheduleEntry[]): void {
  ctx.out(`Medication schedule of home ${homeId}:`);
  doses.forEach((d, i) => ctx.out(doseLine(d, i, new Set())));
}

function readVisitsFile(file: string): { text: string; format: 'csv' | 'json' } {
  const format = formatOf(file) ?? invalid(`${basename(file)}: expected a .csv or .json file`);
  try {
    if (statSync(file).size > MAX_VISITS_FILE_BYTES) invalid(`${basename(file)}: larger than ${MAX_VISITS_FILE_BYTES} bytes`);
    return { text: readFileSync(file, 'utf8'), format };
  } catch (cause) {
    if (cause instanceof CareError) throw cause;
    const code = (cause as NodeJS.ErrnoException).code ?? String(cause);
    throw new CareError('TRY_ERR_VISITS_IMPORT', `cannot read ${file}: ${code}`, { cause });
  }
}

export function registerCareCommands(program: Command, ctx: CliContext): void {
  const care = program.command('care').description("a home's medication schedule, night window, planned visits and rule overrides");

  care
    .command('show')
    .description('show the care plan the rules use for a home, defaults marked')
    .argument('<home>')
    .option('--json', 'machine-readable output')
    .action((homeId: string, opts: { json?: boolean }) => {
      withCare(ctx, (store) => {
        const details = store.details(homeId);
        if (opts.json) printJson(ctx, details);
        else printDetails(ctx, details);
      });
    });

  const schedule = care.command('schedule').description('medication schedule (dose times in the home’s local time)');
  for (const [name, description] of [
    ['set', 'replace the whole medication schedule'],
    ['add', 'add dose times to the schedule (e.g. other times at weekends)'],
  ] as const) {
    schedule
      .command(name)
      .description(description)
      .argument('<home>')
      .option('--dose <HH:MM>', 'dose time, local (repeat, or comma-separate, for each dose)', collect, [])
      .option('--window <minutes>', 'minutes after the dose time within which "taken" is expected (default 60)')
      .option('--grace <minutes>', 'extra minutes before the alert is raised (default 30)')
      .option('--weekdays <days>', 'ISO weekdays, 1 = Monday: 1-5 or 1,3,5 (default every day)')
      .action((homeId: string, opts: DoseOptions) => {
        withCare(ctx, (store) => {
          const entries = doseEntries(opts);
          printSchedule(ctx, homeId, name === 'set' ? store.setSchedule(homeId, entries) : store.addDoses(homeId, entries));
        });
      });
  }
  schedule
    .command('clear')
    .description('remove every dose: no missed-dose alerts for this home')
    .argument('<home>')
    .action((homeId: string) => {
      withCare(ctx, (store) => {
        const removed = store.clearSchedule(homeId);
        ctx.out(`Medication schedule of home ${homeId} cleared (${removed} ${removed === 1 ? 'entry' : 'entries'} removed).`);
      });
    });

  const night = care.command('night').description('night window (door and bed-exit rules)');
  night
    .command('set')
    .description('set the night window, local time; it may cross midnight')
    .argument('<home>')
    .requiredOption('--from <HH:MM>', 'start, e.g. 22:00')
    .requiredOption('--to <HH:MM>', 'end, e.g. 07:00')
    .action((homeId: string, opts: { from: string; to: string }) => {
      withCare(ctx, (store) => {
        const set = store.setNightWindow(homeId, { from: opts.from, to: opts.to });
        ctx.out(`Night window of home ${homeId}: ${set.from}–${set.to}.`);
      });
    });
  night
    .command('clear')
    .description('go back to the default night window (22:00–07:00)')
    .argument('<home>')
    .action((homeId: string) => {
      withCare(ctx, (store) => {
        const had = store.clearNightWindow(homeId);
        ctx.out(had ? `Night window of home ${homeId} back to the default.` : `Home ${homeId} already uses the default night window.`);
      });
    });

  const visits = care.command('visits').description('planned staff visits (the "unlocked with no planned visit" rule)');
  visits
    .command('import')
    .description('import planned visits from CSV (header from,to) or JSON ([{"from","to"}]); all or nothing')
    .argument('<home>')
    .argument('<file>', 'a .csv or .json file; instants with Z or an offset, e.g. 2026-03-29T08:00:00+02:00')
    .option('--replace', "remove the home's planned visits first")
    .action((homeId: string, file: string, opts: { replace?: boolean }) => {
      withCare(ctx, (store) => {
        const { text, format } = readVisitsFile(file);
        const r = store.importVisits(homeId, { text, format, source: basename(file) }, { replace: opts.replace === true });
        const removed = r.removed > 0 ? `, ${r.removed} removed first` : '';
        ctx.out(`Home ${homeId}: ${r.added} visits added, ${r.unchanged} already planned${removed}.`);
      });
    });
  visits
    .command('add')
    .description('add one planned visit')
    .argument('<home>')
    .requiredOption('--from <instant>', 'e.g. 2026-03-29T08:00:00+02:00')
    .requiredOption('--to <instant>', 'e.g. 2026-03-29T08:30:00+02:00')
    .action((homeId: string, opts: { from: string; to: string }) => {
      withCare(ctx, (store) => {
        const added = store.addVisit(homeId, { from: opts.from, to: opts.to });
        ctx.out(added ? `Visit added to home ${homeId}.` : `Home ${homeId} already has this visit; nothing changed.`);
      });
    });
  visits
    .command('clear')
    .description('remove every planned visit: the home has no visit plan')
    .argument('<home>')
    .action((homeId: string) => {
      withCare(ctx, (store) => {
        ctx.out(`Planned visits of home ${homeId} cleared (${store.clearVisits(homeId)} removed).`);
      });
    });

  const override = care.command('override').description("a rule's parameters for one home");
  override
    .command('set')
    .description("replace a rule's parameters for this home")
    .argument('<home>')
    .argument('<rule>', 'rule id')
    .requiredOption('--json <object>', 'the parameters as a JSON object, e.g. \'{"minutes":15}\'')
    .action((homeId: string, ruleId: string, opts: { json: string }) => {
      withCare(ctx, (store) => {
        let params: unknown;
        try {
          params = JSON.parse(opts.json);
        } catch (cause) {
          invalid(`--json: not valid JSON (${cause instanceof Error ? cause.message : String(cause)})`);
        }
        store.setOverride(homeId, ruleId, params);
        ctx.out(`Rule ${ruleId} in home ${homeId} now uses ${JSON.stringify(params)}.`);
      });
    });
  override
    .command('clear')
    .description("go back to the rule's own defaults for this home")
    .argument('<home>')
    .argument('<rule>', 'rule id')
    .action((homeId: string, ruleId: string) => {
      withCare(ctx, (store) => {
        const had = store.clearOverride(homeId, ruleId);
        ctx.out(had ? `Override of rule ${ruleId} in home ${homeId} removed.` : `Home ${homeId} had no override for rule ${ruleId}.`);
      });
    });
}
