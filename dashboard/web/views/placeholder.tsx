// Pages whose API is not there yet (features.ts), and addresses that are not pages.

import { useEffect } from 'preact/hooks';
import { useT } from '../i18n/context.js';
import type { Messages } from '../i18n/index.js';

export function PlaceholderPage({ which }: { which: keyof Messages['nav'] }) {
  const t = useT();
  useEffect(() => {
    document.title = `${t.nav[which]} – ${t.app.name}`;
  }, [which, t]);
  return (
    <>
      <h1 tabIndex={-1}>{t.nav[which]}</h1>
      <p data-testid="placeholder">{t.placeholder.body}</p>
    </>
  );
}

export function NotFoundPage() {
  const t = useT();
  return (
    <>
      <h1 tabIndex={-1}>{t.notFound.title}</h1>
      <p>{t.notFound.body}</p>
      <p>
        <a href="/">{t.notFound.home}</a>
      </p>
    </>
  );
}
