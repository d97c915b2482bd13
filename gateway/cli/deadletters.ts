import { CommanderError, type Command } from 'commander';
import { decodeUtf8 } from '../../adapters/contract.js';
import { createDeadLetters, type DeadLetters } from '../ingest/dead-letters.js';
import { openJournal } from '../ingest/journal.js';
import type { CliContext } from './context.js';
import { EXIT_FAILURE, printJson, printTable } from './devices.js';

// `tryggheim deadletters list|show|replay` — for technicians: what a device sent that could not be decoded
// or stored, why, and a replay once the adapter or the registry is fixed. Works on the gateway's data
// directory while the gateway runs (SQLite WAL); a running gateway picks replayed messages up within a second.

function withDeadLetters<T>(ctx: CliContext, fn: (dl: DeadLetters) => T): T {
  const journal = openJournal(ctx.config().dataDir);
  try {
    return fn(createDeadLetters(journal));
  } finally {
    journal.close();
  }
}

interface ListOptions {
  device?: string;
  reason?: string;
  all?: boolean;
  limit: string;
  json?: boolean;
}

export function registerDeadLetterCommands(program: Command, ctx: CliContext): void {
  const cmd = program.command('deadletters').description('messages that could not be decoded or stored: list, show, replay');

  cmd
    .command('list')
    .description('newest first; replayed ones only with --all')
    .option('--device <id>', 'only this device (or bridge)')
    .option('--reason <reason>', 'only this reason, e.g. invalid_payload')
    .option('--all', 'include dead letters already replayed')
    .option('--limit <n>', 'at most this many', '100')
    .option('--json', 'machine-readable output')
    .action((opts: ListOptions) => {
      withDeadLetters(ctx, (dl) => {
        const rows = dl.list({ deviceId: opts.device, reason: opts.reason, includeReplayed: opts.all, limit: Number(opts.limit) });
        if (opts.json) return printJson(ctx, rows);
        printTable(
          ctx,
          ['ID', 'RECEIVED', 'DEVICE', 'REASON', 'ADAPTER', 'BYTES', 'REPLAYED'],
          rows.map((r) => [
            String(r.id),
            r.receivedAt,
            r.deviceId,
            r.reason,
            r.adapterId === null ? '-' : `${r.adapterId}@${r.adapterVersion ?? '?'}`,
            String(r.payloadBytes),
            r.replayedAt ?? '-',
          ]),
        );
      });
    });

  cmd
    .command('summary')
    .description('dead letters not yet replayed, counted per device and reason')
    .option('--json', 'machine-readable output')
    .action((opts: { json?: boolean }) => {
      withDeadLetters(ctx, (dl) => {
        const rows = dl.counts();
        if (opts.json) return printJson(ctx, rows);
        printTable(
          ctx,
          ['DEVICE', 'REASON', 'COUNT'],
          rows.map((r) => [r.deviceId, r.reason, String(r.count)]),
        );
      });
    });

  cmd
    .command('show')
    .description('one dead letter with its issues and raw payload')
    .argument('<id>', 'dead letter id (from list)')
    .option('--json', 'machine-readable output (payload as base64)')
    .action((id: string, opts: { json?: boolean }) => {
      withDeadLetters(ctx, (dl) => {
        const d = dl.get(Number(id));
        if (!d) {
          ctx.err(`error: dead letter ${id} not found`);
          throw new CommanderError(EXIT_FAILURE, 'TRY_ERR_DEAD_LETTER_NOT_FOUND', `dead letter ${id} not found`);
        }
        const { payload, ...rest } = d;
        if (opts.json) return printJson(ctx, { ...rest, payloadBase64: payload.toString('base64') });
        ctx.out(`id:         ${d.id}`);
        ctx.out(`received:   ${d.receivedAt}`);
        ctx.out(`device:     ${d.deviceId} (${d.principalKind}, topic …/${d.subtopic})`);
        ctx.out(`reason:     ${d.reason}`);
        ctx.out(`adapter:    ${d.adapterId ?? '-'}${d.adapterVersion === null ? '' : ` v${d.adapterVersion}`}`);
        ctx.out(`replayed:   ${d.replayedAt ?? 'no'}`);
        ctx.out('issues:');
        for (const issue of d.issues as { path?: unknown[]; message?: string }[]) {
          ctx.out(`  ${(issue.path ?? []).join('.') || '(payload)'}: ${issue.message ?? ''}`);
        }
        const text = decodeUtf8(payload);
        ctx.out(`payload (${d.payloadBytes} bytes${d.truncated ? ', truncated' : ''}, ${text === undefined ? 'base64' : 'UTF-8'}):`);
        ctx.out(text ?? payload.toString('base64'));
      });
    });

  cmd
    .command('replay')
    .description('put dead letters back into the journal (after fixing the adapter or the registry)')
    .argument('[ids...]', 'dead letter ids')
    .option('--device <id>', 'every dead letter of this device')
    .option('--reason <reason>', 'every dead letter with this reason')
    .option('--json', 'machine-readable output')
    .action((ids: string[], opts: { device?: string; reason?: string; json?: boolean }) => {
      withDeadLetters(ctx, (dl) => {
        if (ids.length === 0 && opts.device === undefined && opts.reason === undefined) {
          ctx.err('error: name dead letter ids, or select with --device and/or --reason');
          throw new CommanderError(EXIT_FAILURE, 'TRY_ERR_USAGE', 'nothing selected');
        }
        const selected = ids.length > 0 ? ids.map(Number) : dl.ids({ deviceId: opts.device, reason: opts.reason });
        const result = dl.replay(selected);
        if (opts.json) return printJson(ctx, result);
        ctx.out(`replayed ${result.replayed.length} dead letter(s)${result.replayed.length > 0 ? `: ${result.replayed.join(', ')}` : ''}`);
        for (const s of result.skipped) ctx.out(`skipped ${s.id}: ${s.why}`);
      });
    });
}
