// What every logged-in page needs, handed down by the app (no module-level singletons).

import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Api } from './api.js';
import type { AlertFeed } from './feed.js';
import type { User } from './types.js';

export interface AppContextValue {
  readonly user: User;
  readonly api: Api;
  readonly feed: AlertFeed;
  readonly logout: () => Promise<void>;
  /** Says something to screen-reader users (a polite live region). */
  readonly announce: (text: string) => void;
}

export const AppContext = createContext<AppContextValue | undefined>(undefined);

export function useApp(): AppContextValue {
  const value = useContext(AppContext);
  if (value === undefined) throw new Error('useApp outside a logged-in page');
  return value;
}
