// An address that is not one of the dashboard's pages.

import { useT } from '../i18n/context.js';
import { useTitle } from '../load.js';

export function NotFoundPage() {
  const t = useT();
  useTitle(t.notFound.title, t.app.name);
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
