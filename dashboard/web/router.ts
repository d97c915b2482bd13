// History-API routing over paths.ts: links are plain <a href> (they work with a middle click, a screen
// reader's link list and without JavaScript running yet); same-origin clicks on our pages become pushState.

import { useEffect, useState } from 'preact/hooks';
import { parseRoute, type Route } from './paths.js';

const CHANGE = 'tryggheim:navigate';

export function navigate(to: string, opts: { replace?: boolean } = {}): void {
  if (to === location.pathname + location.search) return;
  if (opts.replace === true) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  window.dispatchEvent(new Event(CHANGE));
}

export interface RouterState {
  readonly route: Route;
  readonly pathname: string;
  readonly search: URLSearchParams;
}

function current(): RouterState {
  return { route: parseRoute(location.pathname), pathname: location.pathname, search: new URLSearchParams(location.search) };
}

/** The current page; re-renders on navigation and on back/forward. */
export function useLocation(): RouterState {
  const [loc, setLoc] = useState(current);
  useEffect(() => {
    const onChange = () => setLoc(current());
    window.addEventListener('popstate', onChange);
    window.addEventListener(CHANGE, onChange);
    return () => {
      window.removeEventListener('popstate', onChange);
      window.removeEventListener(CHANGE, onChange);
    };
  }, []);
  return loc;
}

/** Turns clicks on same-origin links to our pages into client-side navigation. Installed once by the app. */
export function interceptLinks(root: HTMLElement): () => void {
  const onClick = (e: MouseEvent) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const a = e.target instanceof Element ? e.target.closest('a') : null;
    if (a === null || a.target !== '' || a.hasAttribute('download')) return;
    const url = new URL(a.href, location.href);
    if (url.origin !== location.origin || parseRoute(url.pathname).name === 'notFound') return;
    e.preventDefault();
    navigate(url.pathname + url.search);
  };
  root.addEventListener('click', onClick);
  return () => root.removeEventListener('click', onClick);
}
