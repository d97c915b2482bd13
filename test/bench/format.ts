import type { MachineInfo } from './proc.js';

// Figures as both benchmark reports print them ('–' where there is none), and their comparison table.

export const round2 = (v: number): number => Math.round(v * 100) / 100;
export const mb = (bytes: number | undefined): string =>
  bytes === undefined || Number.isNaN(bytes) ? '–' : `${(bytes / 1e6).toFixed(0)} MB`;
export const fmtSeconds = (ms: number | undefined, digits: number): string =>
  ms === undefined || Number.isNaN(ms) ? '–' : `${(ms / 1000).toFixed(digits)} s`;
export const fmtMs = (ms: number | undefined): string => (ms === undefined || Number.isNaN(ms) ? '–' : `${ms.toFixed(1)} ms`);
export const fmtCounts = (c: Record<string, number>): string =>
  Object.keys(c).length === 0
    ? 'none'
    : Object.entries(c)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ');

/** A label and three columns (the two targets and their ratio). */
export type Row = [string, string, string, string];

/** The rows indented by two, the label left-aligned and the figures right-aligned in columns. */
export function table(rows: readonly Row[]): string[] {
  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((row) => row[i as 0 | 1 | 2 | 3].length)));
  return rows.map((row) =>
    `  ${row[0].padEnd(widths[0] ?? 0)}  ${row[1].padStart(widths[1] ?? 0)}  ${row[2].padStart(widths[2] ?? 0)}  ${row[3].padStart(widths[3] ?? 0)}`.trimEnd(),
  );
}

/** The `machine:` line next to every figure; with the open-file limit where it matters to the benchmark. */
export function machineLine(machine: MachineInfo, opts: { fdLimit: boolean }): string {
  const fd = opts.fdLimit ? `ulimit -n ${machine.fdLimit.soft}/${machine.fdLimit.hard}, ` : '';
  return `machine: ${machine.nproc} × ${machine.cpuModel}, ${machine.memTotalGiB} GiB, node ${machine.node}, Linux ${machine.kernel}, ${fd}${machine.date}`;
}

/** The note a report carries when --gateway-env changed the gateway's configuration. */
export function gatewayEnvNote(gatewayEnv: readonly [string, string][]): string {
  return `gateway environment overridden: ${gatewayEnv.map(([k, v]) => `${k}=${v}`).join(' ')} (not the production configuration)`;
}
