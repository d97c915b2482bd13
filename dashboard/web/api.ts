// The gateway's HTTP API for the browser (issue 6): cookie session, CSRF header on every state change, errors
// as `{ error: { code, message } }`. A 401 anywhere but the session calls means the session is gone: the app
// is told (onUnauthorized) and goes to the login page.

import type { Alert, AlertDetail, Outcome, Session } from './types.js';

export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface ApiOptions {
  /** The session's CSRF token, sent as `x-csrf-token` on POST/PUT/PATCH/DELETE. */
  csrfToken: () => string | undefined;
  /** A request was refused with 401: the session expired or was ended elsewhere. */
  onUnauthorized: () => void;
}

export interface Api {
  /** `board`: a wall-board session (read-only, no idle timeout: the team room's screen). */
  login(username: string, password: string, board?: boolean): Promise<Session>;
  /** The current session, or undefined when not logged in. */
  session(): Promise<Session | undefined>;
  logout(): Promise<void>;
  /** The open alerts of every team the user may see (the views filter; gateway/http/alert-routes.ts). */
  listAlerts(): Promise<Alert[]>;
  alertDetail(id: string): Promise<AlertDetail>;
  acknowledge(id: string, note?: string): Promise<Alert>;
  resolve(id: string, outcome: Outcome, note?: string): Promise<Alert>;
  /** URL of the live stream of every team the user may see (EventSource sends the session cookie itself). */
  streamUrl(): string;
  /** Any other JSON route (resources.ts): GET, and POST with the CSRF header. */
  get<T>(path: string): Promise<T>;
  post<T>(path: string, body: unknown): Promise<T>;
}

type Method = 'GET' | 'POST' | 'DELETE';

function errorOf(body: unknown, status: number): { code: string; message: string } {
  if (typeof body === 'object' && body !== null && 'error' in body) {
    const error = body.error;
    if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') {
      const message = 'message' in error && typeof error.message === 'string' ? error.message : '';
      return { code: error.code, message };
    }
  }
  // Locked and rate-limited logins may come from a proxy or a plugin without our body.
  if (status === 423) return { code: 'TRY_ERR_LOCKED', message: 'locked' };
  if (status === 429) return { code: 'TRY_ERR_RATE_LIMITED', message: 'rate limited' };
  return { code: `HTTP_${status}`, message: `HTTP ${status}` };
}

export function createApi(opts: ApiOptions): Api {
  async function request<T>(method: Method, path: string, body?: unknown, handle401 = true): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (method !== 'GET') {
      const token = opts.csrfToken();
      if (token !== undefined) headers['x-csrf-token'] = token;
    }
    let res: Response;
    try {
      res = await fetch(path, {
        method,
        headers,
        credentials: 'same-origin',
        cache: 'no-store',
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (cause) {
      throw new ApiError(0, 'TRY_ERR_NETWORK', 'network error', { cause });
    }
    if (res.status === 204) return undefined as T;
    const json: unknown = await res.json().catch(() => undefined);
    if (!res.ok) {
      const { code, message } = errorOf(json, res.status);
      if (res.status === 401 && handle401) opts.onUnauthorized();
      throw new ApiError(res.status, code, message);
    }
    return json as T;
  }

  const alertPath = (id: string) => `/api/v1/alerts/${encodeURIComponent(id)}`;

  return {
    login: (username, password, board = false) => request<Session>('POST', '/api/v1/session', { username, password, board }, false),
    async session() {
      try {
        return await request<Session>('GET', '/api/v1/session', undefined, false);
      } catch (err) {
        if (err instanceof ApiError && err.status === 401) return undefined;
        throw err;
      }
    },
    logout: () => request<undefined>('DELETE', '/api/v1/session', undefined, false),
    listAlerts: async () => (await request<{ alerts: Alert[] }>('GET', '/api/v1/alerts')).alerts,
    alertDetail: (id) => request<AlertDetail>('GET', alertPath(id)),
    acknowledge: async (id, note) =>
      (await request<{ alert: Alert }>('POST', `${alertPath(id)}/ack`, note === undefined ? {} : { note })).alert,
    resolve: async (id, outcome, note) =>
      (await request<{ alert: Alert }>('POST', `${alertPath(id)}/resolve`, note === undefined ? { outcome } : { outcome, note })).alert,
    streamUrl: () => '/api/v1/alerts/stream',
    get: <T>(path: string) => request<T>('GET', path),
    post: <T>(path: string, body: unknown) => request<T>('POST', path, body),
  };
}
