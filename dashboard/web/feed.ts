// The live open-alert list: one per logged-in session (created by the app, not a module singleton). The
// stream comes first: every `hello` (first connect and each reconnect, e.g. after a gateway restart) re-fetches
// the list, and events that arrive while the list is in flight are applied on top of it, in order, so nothing
// between the two is lost. EventSource reconnects by itself (retry 2 s, Last-Event-ID); when it gives up
// (a proxy's 502, a 401) we check the session and open a new one with backoff.

import type { Api } from './api.js';
import { ApiError } from './api.js';
import { applyAlert, applyEvent, emptyState, replaceAll, withPendingAck, withoutPendingAck, type AlertListState } from './alert-state.js';
import type { Alert, AlertEvent, Outcome } from './types.js';

export type Connection = 'connecting' | 'live' | 'lost';

export interface FeedSnapshot {
  readonly state: AlertListState;
  readonly connection: Connection;
  /** The first list has arrived. */
  readonly loaded: boolean;
  /** When the server last confirmed the list or sent an event (epoch ms). */
  readonly updatedAt: number | undefined;
}

export interface AlertFeed {
  snapshot(): FeedSnapshot;
  subscribe(listener: () => void): () => void;
  /** Alerts raised while we watch (not the ones already open when the list was fetched). */
  onRaised(listener: (alert: Alert) => void): () => void;
  /** Optimistic: the list shows it acknowledged at once; rolled back (and the error thrown) if refused. */
  acknowledge(id: string): Promise<void>;
  resolve(id: string, outcome: Outcome, note?: string): Promise<Alert>;
  start(): void;
  stop(): void;
}

export interface AlertFeedDeps {
  readonly api: Api;
  /** The logged-in user's id: the actor of an optimistic acknowledgement. */
  readonly me: string;
  /** The session is gone (the stream was refused and GET /session says 401). */
  readonly onUnauthorized: () => void;
}

const MAX_BACKOFF_MS = 30_000;

export function createAlertFeed(deps: AlertFeedDeps): AlertFeed {
  let snap: FeedSnapshot = { state: emptyState, connection: 'connecting', loaded: false, updatedAt: undefined };
  const listeners = new Set<() => void>();
  const raisedListeners = new Set<(alert: Alert) => void>();
  let source: EventSource | undefined;
  let reopenTimer: number | undefined;
  let refetchTimer: number | undefined;
  let backoff = 2000;
  let running = false;
  /** Events received while a list request is in flight; applied over its answer. */
  let buffer: AlertEvent[] | undefined;
  let fetchGeneration = 0;

  function set(next: Partial<FeedSnapshot>): void {
    snap = { ...snap, ...next };
    for (const l of listeners) {
      try {
        l();
      } catch {
        // One broken view must not stop the others from updating.
      }
    }
  }

  function update(fn: (s: AlertListState) => AlertListState): void {
    set({ state: fn(snap.state) });
  }

  async function fetchList(): Promise<void> {
    const generation = ++fetchGeneration;
    buffer ??= [];
    try {
      const alerts = await deps.api.listAlerts();
      if (generation !== fetchGeneration || !running) return;
      let state = replaceAll(snap.state, alerts);
      for (const e of buffer) state = applyEvent(state, e);
      buffer = undefined;
      set({ state, loaded: true, updatedAt: Date.now() });
    } catch (err) {
      if (generation !== fetchGeneration || !running) return;
      buffer = undefined;
      if (err instanceof ApiError && err.status === 401) return; // the api told the app already
      // The stream is up but the list failed (a hiccup): try again shortly rather than show a stale list.
      window.clearTimeout(refetchTimer);
      refetchTimer = window.setTimeout(() => void fetchList(), 3000);
    }
  }

  function onAlertEvent(ev: MessageEvent<string>): void {
    let event: AlertEvent;
    try {
      event = JSON.parse(ev.data) as AlertEvent;
    } catch {
      return;
    }
    if (event.transition.type === 'raised') {
      for (const l of raisedListeners) l(event.alert);
    }
    if (buffer !== undefined) buffer.push(event);
    else set({ state: applyEvent(snap.state, event), updatedAt: Date.now() });
  }

  function open(): void {
    source?.close();
    const es = new EventSource(deps.api.streamUrl());
    source = es;
    es.addEventListener('hello', () => {
      backoff = 2000;
      set({ connection: 'live' });
      void fetchList();
    });
    es.addEventListener('alert', onAlertEvent);
    // The server could not replay what we missed: reload the list.
    es.addEventListener('reset', () => void fetchList());
    es.addEventListener('error', () => {
      if (source !== es) return;
      set({ connection: 'lost' });
      if (es.readyState === EventSource.CLOSED) void reopenLater();
    });
  }

  async function reopenLater(): Promise<void> {
    source?.close();
    source = undefined;
    window.clearTimeout(reopenTimer);
    try {
      if ((await deps.api.session()) === undefined) {
        deps.onUnauthorized();
        return;
      }
    } catch {
      // Server unreachable: keep trying below.
    }
    if (!running) return;
    reopenTimer = window.setTimeout(() => {
      if (running) open();
    }, backoff);
    backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
  }

  function onVisible(): void {
    // A phone back from the pocket: don't wait for the backoff.
    if (document.visibilityState === 'visible' && running && source === undefined) {
      window.clearTimeout(reopenTimer);
      open();
    }
  }

  return {
    snapshot: () => snap,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    onRaised(listener) {
      raisedListeners.add(listener);
      return () => raisedListeners.delete(listener);
    },
    async acknowledge(id) {
      update((s) => withPendingAck(s, id, { by: deps.me, at: new Date().toISOString() }));
      try {
        const alert = await deps.api.acknowledge(id);
        // Someone may have resolved it meanwhile (the stream removed it): don't bring it back.
        if (snap.state.byId.has(id)) update((s) => applyAlert(s, alert));
      } finally {
        update((s) => withoutPendingAck(s, id));
      }
    },
    async resolve(id, outcome, note) {
      const alert = await deps.api.resolve(id, outcome, note);
      update((s) => applyAlert(s, alert));
      return alert;
    },
    start() {
      if (running) return;
      running = true;
      document.addEventListener('visibilitychange', onVisible);
      open();
    },
    stop() {
      running = false;
      document.removeEventListener('visibilitychange', onVisible);
      window.clearTimeout(reopenTimer);
      window.clearTimeout(refetchTimer);
      source?.close();
      source = undefined;
    },
  };
}
