// The dashboard's client-side routes. The server (dashboard/serve.ts) answers exactly these paths with
// index.html and the browser's router parses them, so both read this one list: a page the router knows is
// never a 404 on reload, and the server never claims a path outside it (/api, /docs, /metrics, /healthz…).
// Pure: no DOM, no Node, so the server, the browser and the unit tests share it.

/** Fastify route patterns of the pages, in the order the router tries them. */
export const CLIENT_ROUTES = [
  '/',
  '/login',
  '/alerts',
  '/alerts/:id',
  '/tavle',
  '/homes',
  '/homes/:id',
  '/devices',
  '/deadletters',
  '/report',
] as const;
export type ClientRoutePattern = (typeof CLIENT_ROUTES)[number];

export type Route =
  | { readonly name: 'alerts' }
  | { readonly name: 'alert'; readonly id: string }
  | { readonly name: 'login' }
  | { readonly name: 'tavle' }
  | { readonly name: 'homes' }
  | { readonly name: 'home'; readonly id: string }
  | { readonly name: 'devices' }
  | { readonly name: 'deadLetters' }
  | { readonly name: 'report' }
  | { readonly name: 'notFound' };

// Ids are opaque and URL-safe (gateway/devices/ids.ts; alert ids `al-<uuid>`, the API allows ':' too).
// Anything else in a path segment is not one of ours; nor is one of only dots (a path step, not an id).
const SEGMENT = /^(?!\.+$)[A-Za-z0-9._~:-]{1,128}$/;

function decodeSegment(raw: string): string | undefined {
  try {
    const id = decodeURIComponent(raw);
    return SEGMENT.test(id) ? id : undefined;
  } catch {
    return undefined; // malformed escape
  }
}

/** The page for a pathname (no query, no hash). */
export function parseRoute(pathname: string): Route {
  const parts = pathname.split('/').filter((p) => p !== '');
  const [first, second, ...rest] = parts;
  if (rest.length > 0) return { name: 'notFound' };
  if (first === undefined) return { name: 'alerts' };
  if (second !== undefined) {
    const id = decodeSegment(second);
    if (id === undefined) return { name: 'notFound' };
    if (first === 'alerts') return { name: 'alert', id };
    if (first === 'homes') return { name: 'home', id };
    return { name: 'notFound' };
  }
  switch (first) {
    case 'alerts':
      return { name: 'alerts' };
    case 'login':
      return { name: 'login' };
    case 'tavle':
      return { name: 'tavle' };
    case 'homes':
      return { name: 'homes' };
    case 'devices':
      return { name: 'devices' };
    case 'deadletters':
      return { name: 'deadLetters' };
    case 'report':
      return { name: 'report' };
    default:
      return { name: 'notFound' };
  }
}

/** The pathname of a page. */
export function pathOf(route: Exclude<Route, { name: 'notFound' }>): string {
  switch (route.name) {
    case 'alerts':
      return '/';
    case 'alert':
      return `/alerts/${encodeURIComponent(route.id)}`;
    case 'login':
      return '/login';
    case 'tavle':
      return '/tavle';
    case 'homes':
      return '/homes';
    case 'home':
      return `/homes/${encodeURIComponent(route.id)}`;
    case 'devices':
      return '/devices';
    case 'deadLetters':
      return '/deadletters';
    case 'report':
      return '/report';
  }
}

/**
 * Where to go after logging in: only a page of ours (a path, never another origin), and never back to the
 * login page itself.
 */
export function safeNext(next: string | null | undefined): string {
  if (next === null || next === undefined || !next.startsWith('/') || next.startsWith('//')) return '/';
  const pathname = next.split(/[?#]/)[0] ?? '/';
  const route = parseRoute(pathname);
  return route.name === 'notFound' || route.name === 'login' ? '/' : next;
}
