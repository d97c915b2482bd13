// Judges one replayed vector against mosquitto's expectation.
//  - fail:     a hang (connection neither closed nor answering within the budget), a budget overrun, or a
//              harness error. Never allow-listable.
//  - same:     byte-for-byte what mosquitto expects, and closed/kept open as mosquitto does.
//  - differs:  the broker behaved correctly enough to be judged (it answered or closed), but not like
//              mosquitto; `category` says how, `observed` pins what it did so a change is noticed.
import { hex } from '../../support/raw-mqtt.js';
import type { VectorRun } from './run.js';

export type DiffCategory =
  /** A CONNACK arrived, with another return code than mosquitto's. */
  | 'connack-differs'
  /** mosquitto answers here; we closed the connection without (all of) the answer. */
  | 'closed-instead-of-reply'
  /** We answered with other bytes than mosquitto. */
  | 'reply-differs'
  /** mosquitto answers here; we stayed silent but kept the connection (it still answers PINGREQ). */
  | 'silent-kept-open'
  /** mosquitto closes the connection; we kept it open (it still answers PINGREQ). */
  | 'kept-open'
  /** mosquitto closes silently; we sent something first, then closed. */
  | 'replied-then-closed'
  /** mosquitto keeps the connection; we closed it. */
  | 'closed-not-kept';

export type Verdict = { kind: 'same' } | { kind: 'differs'; category: DiffCategory; observed: string } | { kind: 'fail'; why: string };

/** Slack over the per-vector budget for timer and event-loop jitter before an overrun counts as a hang. */
export const OVERRUN_SLACK_MS = 500;

const MAX_HEX = 48; // bytes shown in a signature

function bytes(b: Buffer): string {
  if (b.length === 0) return '(nothing)';
  return b.length > MAX_HEX ? `${hex(b.subarray(0, MAX_HEX))}…(${b.length} bytes)` : hex(b);
}

function ending(run: VectorRun): string {
  return run.ending === 'closed' ? 'then closed' : 'connection kept open';
}

export function judge(run: VectorRun, budgetMs: number): Verdict {
  if (run.harnessError !== undefined) return { kind: 'fail', why: `harness: ${run.harnessError}` };
  if (run.ending === 'unresponsive') {
    return {
      kind: 'fail',
      why: `hang: connection neither closed nor answering PINGREQ after ${Math.round(run.elapsedMs)} ms (stopped at step ${run.completed}/${run.script.length}, received ${bytes(run.received)})`,
    };
  }
  if (run.elapsedMs > budgetMs + OVERRUN_SLACK_MS) {
    return { kind: 'fail', why: `overrun: vector took ${Math.round(run.elapsedMs)} ms (budget ${budgetMs} ms)` };
  }

  const m = run.mismatch;
  if (m) {
    const where = m.stepIndex === run.script.length ? 'final PINGREQ' : `step ${m.stepIndex}`;
    if (m.stepIndex === run.script.length) {
      // mosquitto keeps the connection and answers PINGREQ.
      if (m.got.length === 0 && run.ending === 'closed')
        return { kind: 'differs', category: 'closed-not-kept', observed: `closed before the final PINGREQ was answered` };
      return {
        kind: 'differs',
        category: 'reply-differs',
        observed: `${where}: expected ${bytes(m.expected)} got ${bytes(m.got)}, ${ending(run)}`,
      };
    }
    if (m.expected[0] === 0x20 && m.got.length >= 2 && m.got[0] === 0x20) {
      return {
        kind: 'differs',
        category: 'connack-differs',
        observed: `${where}: expected ${bytes(m.expected)} got ${bytes(m.got)}, ${ending(run)}`,
      };
    }
    if (m.got.length === 0) {
      if (run.ending === 'closed')
        return {
          kind: 'differs',
          category: 'closed-instead-of-reply',
          observed: `${where}: expected ${bytes(m.expected)}, closed without reply`,
        };
      return {
        kind: 'differs',
        category: 'silent-kept-open',
        observed: `${where}: expected ${bytes(m.expected)}, no reply, connection kept open`,
      };
    }
    if (m.closed && m.expected.subarray(0, m.got.length).equals(m.got)) {
      return {
        kind: 'differs',
        category: 'closed-instead-of-reply',
        observed: `${where}: expected ${bytes(m.expected)}, got only ${bytes(m.got)} then closed`,
      };
    }
    return {
      kind: 'differs',
      category: 'reply-differs',
      observed: `${where}: expected ${bytes(m.expected)} got ${bytes(m.got)}, ${ending(run)}`,
    };
  }

  if (run.completed < run.script.length) {
    // Stopped at a send: the broker had already closed the connection.
    const next = run.script.slice(run.completed).find((s) => s.kind === 'recv');
    if (next?.kind === 'recv') {
      return {
        kind: 'differs',
        category: 'closed-instead-of-reply',
        observed: `step ${run.completed}: closed before the rest of the script was sent; mosquitto answers ${bytes(next.bytes)}`,
      };
    }
    if (run.vector.expectDisconnect) return { kind: 'same' };
    return { kind: 'differs', category: 'closed-not-kept', observed: `closed at step ${run.completed} of ${run.script.length}` };
  }

  if (run.vector.expectDisconnect) {
    if (run.ending === 'closed') {
      if (run.unexpectedBeforeClose)
        return { kind: 'differs', category: 'replied-then-closed', observed: `sent ${bytes(run.unexpectedBeforeClose)} then closed` };
      return { kind: 'same' };
    }
    return {
      kind: 'differs',
      category: 'kept-open',
      observed: run.unexpectedBeforeClose
        ? `sent ${bytes(run.unexpectedBeforeClose)}, connection kept open`
        : 'connection kept open, silent (answers PINGREQ)',
    };
  }
  // Expected to stay connected, and the final PINGREQ was answered (else `mismatch` would be set).
  return { kind: 'same' };
}
