// Form pieces the pages share: the error line of a form (focused when it appears, so a screen reader and a
// keyboard land on it) and the team filter.

import { useEffect, useId, useRef } from 'preact/hooks';

/** The form's error, or nothing; focused whenever the message changes. */
export function FormError({ message, testId }: { message: string | undefined; testId?: string }) {
  const ref = useRef<HTMLParagraphElement>(null);
  useEffect(() => {
    if (message !== undefined) ref.current?.focus();
  }, [message]);
  if (message === undefined) return null;
  return (
    <p class="form-error" role="alert" tabIndex={-1} ref={ref} data-testid={testId}>
      {message}
    </p>
  );
}

/** A choice of one of the user's teams, or all of them (undefined). */
export function TeamSelect(props: {
  label: string;
  allLabel: string;
  teams: readonly string[];
  value: string | undefined;
  onChange: (team: string | undefined) => void;
}) {
  const id = useId();
  return (
    <div class="field field--inline">
      <label for={id}>{props.label}</label>
      <select
        id={id}
        value={props.value ?? ''}
        onChange={(e) => props.onChange(props.teams.find((team) => team === e.currentTarget.value))}
      >
        <option value="">{props.allLabel}</option>
        {props.teams.map((team) => (
          <option key={team} value={team}>
            {team}
          </option>
        ))}
      </select>
    </div>
  );
}
