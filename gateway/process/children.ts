import type { ChildProcess } from 'node:child_process';

// Child processes this process started (influxd for the demo; gateways in tests). Those still running when
// this process exits are killed, so a crashed demo or test leaves nothing behind. (A SIGKILLed parent cannot
// do this; nothing can, short of a supervisor.)

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

export function trackChild(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of live) c.kill('SIGKILL');
    });
  }
}
