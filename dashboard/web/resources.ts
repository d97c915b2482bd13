// The homes, devices, dead-letter, series and report routes, over api.ts's request (cookie, CSRF header on
// every POST, `{error:{code}}` → ApiError, 401 → login).

import type { Api } from './api.js';
import type {
  AdapterInfo,
  ChartMeasurement,
  DeadLetter,
  DeadLetterDetail,
  DeadLetterPage,
  DeadLetterReason,
  DeviceFilter,
  DeviceHealth,
  FollowUpReport,
  HomeDetail,
  HomeSummary,
  Series,
  Team,
} from './resource-types.js';

function qs(params: Record<string, string | number | undefined>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s === '' ? '' : `?${s}`;
}

const enc = encodeURIComponent;

export interface DeadLetterFilter {
  reason?: DeadLetterReason | undefined;
  device?: string | undefined;
  all?: boolean | undefined;
}

export interface ReportQuery {
  from: string;
  to: string;
  team?: string | undefined;
}

export function reportCsvUrl(q: ReportQuery): string {
  return `/api/v1/reports/follow-up${qs({ from: q.from, to: q.to, team: q.team, format: 'csv' })}`;
}

export function resources(api: Api) {
  return {
    homes: async () => (await api.get<{ homes: HomeSummary[] }>('/api/v1/homes')).homes,
    home: (id: string) => api.get<HomeDetail>(`/api/v1/homes/${enc(id)}?events=30`),
    series: (id: string, q: { measurement: ChartMeasurement; field: string; from: string; to: string; points: number }) =>
      api.get<Series>(`/api/v1/homes/${enc(id)}/series${qs(q)}`),
    devices: async (status?: DeviceFilter) => (await api.get<{ devices: DeviceHealth[] }>(`/api/v1/devices${qs({ status })}`)).devices,
    setEnabled: async (id: string, enabled: boolean) =>
      (await api.post<{ device: DeviceHealth }>(`/api/v1/devices/${enc(id)}/${enabled ? 'enable' : 'disable'}`, {})).device,
    assign: async (id: string, homeId: string) =>
      (await api.post<{ device: DeviceHealth; changed: boolean }>(`/api/v1/devices/${enc(id)}/assign`, { homeId })).device,
    rotateSecret: (id: string) => api.post<{ device: DeviceHealth; secret: string }>(`/api/v1/devices/${enc(id)}/rotate-secret`, {}),
    teams: async () => (await api.get<{ teams: Team[] }>('/api/v1/teams')).teams,
    /** Newest first, a page at a time: `before` is the previous page's `next`. */
    deadLetters: (f: DeadLetterFilter, before?: number) =>
      api.get<DeadLetterPage>(
        `/api/v1/dead-letters${qs({ reason: f.reason, device: f.device, all: f.all === true ? 'true' : undefined, before })}`,
      ),
    deadLetter: (id: number) => api.get<DeadLetterDetail>(`/api/v1/dead-letters/${id}`),
    replay: async (id: number) => (await api.post<{ deadLetter: DeadLetter }>(`/api/v1/dead-letters/${id}/replay`, {})).deadLetter,
    adapters: async () => (await api.get<{ adapters: AdapterInfo[] }>('/api/v1/adapters')).adapters,
    report: (q: ReportQuery) => api.get<FollowUpReport>(`/api/v1/reports/follow-up${qs({ from: q.from, to: q.to, team: q.team })}`),
  };
}
export type Resources = ReturnType<typeof resources>;
