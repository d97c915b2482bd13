// Norsk bokmål: the dashboard's default language and the shape every other dictionary must match
// (`Messages` = typeof nb; en.ts is typed with it, so a missing or extra key fails the typecheck).
// Pure data and small functions; no DOM.

import type { DurationUnits } from '../format.js';
import type { Outcome, Role, RuleId, Severity, TransitionType } from '../types.js';
import { nbViews } from './nb-views.js';

/** Error codes the dashboard explains in words; anything else gets `errors.generic`. */
export type KnownErrorCode =
  | 'TRY_ERR_NETWORK'
  | 'TRY_ERR_LOGIN_FAILED'
  | 'TRY_ERR_LOCKED'
  | 'TRY_ERR_RATE_LIMITED'
  | 'TRY_ERR_CSRF'
  | 'TRY_ERR_FORBIDDEN'
  | 'TRY_ERR_NOT_FOUND'
  | 'TRY_ERR_ALERT_NOT_FOUND'
  | 'TRY_ERR_ALERT_ALREADY_ACKNOWLEDGED'
  | 'TRY_ERR_ALERT_ALREADY_RESOLVED'
  | 'TRY_ERR_VALIDATION'
  | 'TRY_ERR_ALERT_INVALID_INPUT'
  | 'TRY_ERR_STORAGE_UNAVAILABLE'
  | 'TRY_ERR_DEAD_LETTER_NOT_REPLAYABLE'
  | 'TRY_ERR_ASSIGNMENT_ORDER'
  | 'TRY_ERR_CONFLICT';

export const nb = {
  lang: 'nb',
  locale: 'nb-NO',
  app: {
    name: 'Tryggheim',
    skipToContent: 'Gå til hovedinnhold',
    loading: 'Laster …',
    mainNav: 'Hovedmeny',
    language: 'Språk',
    switchLanguage: 'English',
    switchLanguageLabel: 'Switch to English',
    loggedInAs: (name: string) => `Innlogget som ${name}`,
    logout: 'Logg ut',
  },
  nav: {
    alerts: 'Varsler',
    tavle: 'Tavle',
    homes: 'Hjem',
    devices: 'Enheter',
    deadLetters: 'Avviste meldinger',
    report: 'Oppfølgingsrapport',
  },
  roles: { nurse: 'Sykepleier', team_lead: 'Teamleder', technician: 'Tekniker', admin: 'Administrator' } satisfies Record<Role, string>,
  login: {
    title: 'Logg inn',
    intro: 'Logg inn for å se og følge opp varsler for teamet ditt.',
    username: 'Brukernavn',
    password: 'Passord',
    submit: 'Logg inn',
    submitting: 'Logger inn …',
    missing: 'Fyll inn brukernavn og passord.',
    board: 'Veggskjerm (tavle)',
    boardHint: 'For skjermen på teamrommet: viser bare åpne varsler og forblir innlogget i en uke.',
  },
  connection: {
    lost: 'Forbindelsen er brutt – kobler til igjen …',
    connecting: 'Kobler til …',
  },
  alerts: {
    title: 'Varsler',
    loading: 'Henter varsler …',
    empty: 'Ingen åpne varsler. Bra!',
    count: (n: number) => (n === 1 ? '1 åpent varsel' : `${n} åpne varsler`),
    filters: 'Filter',
    team: 'Team',
    allTeams: 'Alle team',
    minSeverity: 'Alvorlighet',
    allSeverities: 'Alle',
    atLeast: (severity: string) => `${severity} og mer alvorlig`,
    home: (id: string) => `Hjem ${id}`,
    noHome: 'Gatewayen',
    raisedAgo: (duration: string) => `for ${duration} siden`,
    raisedLabel: 'Utløst',
    followUpLabel: 'Oppfølging',
    dueIn: (duration: string) => `frist om ${duration}`,
    overdueBy: (duration: string) => `${duration} over fristen`,
    acknowledge: 'Kvitter',
    acknowledgeLabel: (title: string, home: string) => `Kvitter varselet «${title}», ${home}`,
    acknowledgedBy: (who: string) => `Kvittert av ${who}`,
    sending: 'sender …',
    unacknowledged: 'Ikke kvittert',
    you: 'deg',
    open: 'Detaljer og avslutning',
    openLabel: (title: string, home: string) => `Detaljer og avslutning for «${title}», ${home}`,
    cleared: 'Tilstanden er over',
    repeated: (n: number) => `${n} ganger`,
    announceRaised: (title: string, home: string, severity: string) => `Nytt varsel, ${severity}: ${title}, ${home}`,
    announceResolved: 'Varselet er avsluttet.',
    ackFailed: (reason: string) => `Kvitteringen ble ikke lagret: ${reason}`,
  },
  detail: {
    back: 'Tilbake til varsler',
    loading: 'Henter varselet …',
    notFound: 'Fant ikke varselet. Det kan være avsluttet eller tilhøre et annet team.',
    facts: 'Om varselet',
    severity: 'Alvorlighet',
    kind: 'Type',
    team: 'Team',
    raisedAt: 'Utløst',
    ackDue: 'Frist for kvittering',
    followUpDue: 'Frist for oppfølging',
    state: 'Status',
    evidence: 'Hendelser som utløste varselet',
    noEvidence: 'Ingen hendelser registrert.',
    evidenceDropped: (n: number) => `${n} eldre hendelser er ikke vist.`,
    device: 'Enhet',
    observedAt: 'Registrert',
    timeline: 'Hvem gjorde hva',
    noTimeline: 'Ingen historikk ennå.',
    actorSystem: 'systemet',
    actorRule: (rule: string) => `regel: ${rule}`,
    late: 'etter fristen',
    level: (level: string) => `nivå: ${level}`,
    resolved: 'Varselet er avsluttet.',
  },
  resolve: {
    title: 'Avslutt varselet',
    outcome: 'Utfall',
    outcomeRequired: 'Velg et utfall.',
    note: 'Notat',
    noteHint: 'Ikke skriv navn eller helseopplysninger som ikke trengs. Maks 500 tegn.',
    noteRequired: 'Skriv et notat når utfallet er «Annet».',
    submit: 'Avslutt varselet',
    submitting: 'Avslutter …',
    failed: (reason: string) => `Varselet ble ikke avsluttet: ${reason}`,
  },
  tavle: {
    title: 'Tavle',
    none: 'Ingen åpne varsler',
    acknowledged: 'Kvittert',
    notAcknowledged: 'Ikke kvittert',
    updated: (time: string) => `Oppdatert ${time}`,
    teams: (teams: string) => `Team: ${teams}`,
  },
  ...nbViews,
  notFound: {
    title: 'Fant ikke siden',
    body: 'Adressen finnes ikke i dashbordet.',
    home: 'Gå til varslene',
  },
  errors: {
    generic: 'Noe gikk galt. Prøv igjen.',
    byCode: {
      TRY_ERR_NETWORK: 'Ingen forbindelse med serveren. Prøv igjen.',
      TRY_ERR_LOGIN_FAILED: 'Feil brukernavn eller passord.',
      TRY_ERR_LOCKED: 'Kontoen er midlertidig låst etter for mange forsøk. Vent litt, eller kontakt teamleder.',
      TRY_ERR_RATE_LIMITED: 'For mange forsøk. Vent litt og prøv igjen.',
      TRY_ERR_CSRF: 'Økten er utløpt. Last siden på nytt.',
      TRY_ERR_FORBIDDEN: 'Du har ikke tilgang til dette.',
      TRY_ERR_NOT_FOUND: 'Fant ikke det du ba om.',
      TRY_ERR_ALERT_NOT_FOUND: 'Fant ikke varselet.',
      TRY_ERR_ALERT_ALREADY_ACKNOWLEDGED: 'Noen andre har allerede kvittert varselet.',
      TRY_ERR_ALERT_ALREADY_RESOLVED: 'Varselet er allerede avsluttet.',
      TRY_ERR_VALIDATION: 'Noe i skjemaet er ikke gyldig.',
      TRY_ERR_ALERT_INVALID_INPUT: 'Noe i skjemaet er ikke gyldig.',
      TRY_ERR_STORAGE_UNAVAILABLE: 'Lagringen svarer ikke nå. Prøv igjen om litt.',
      TRY_ERR_DEAD_LETTER_NOT_REPLAYABLE: 'Meldingen er allerede sendt på nytt, eller den ble avkortet.',
      TRY_ERR_ASSIGNMENT_ORDER: 'Enhetens historikk er nyere enn endringen (feil klokke?).',
      TRY_ERR_CONFLICT: 'Det finnes allerede.',
    } satisfies Record<KnownErrorCode, string>,
  },
  units: { underMinute: '<1 min', min: 'min', hour: 't', day: 'd' } satisfies DurationUnits,
  severity: { critical: 'Kritisk', high: 'Høy', medium: 'Middels', low: 'Lav' } satisfies Record<Severity, string>,
  kind: { care: 'Omsorg', technical: 'Teknisk' } satisfies Record<'care' | 'technical', string>,
  outcome: {
    visited_ok: 'Besøkt – alt i orden',
    visited_action_taken: 'Besøkt – tiltak satt i gang',
    contacted_by_phone: 'Kontaktet på telefon',
    false_alarm: 'Falsk alarm',
    technical_fixed: 'Teknisk feil rettet',
    other: 'Annet (forklar i notatet)',
  } satisfies Record<Outcome, string>,
  transition: {
    raised: 'Utløst',
    deduped: 'Gjentatt',
    cleared: 'Tilstanden opphørte',
    acknowledged: 'Kvittert',
    resolved: 'Avsluttet',
    escalated: 'Eskalert',
    reminded: 'Påminnelse sendt',
    overdue: 'Oppfølgingsfristen passert',
  } satisfies Record<TransitionType, string>,
  rule: {
    'missed-dose': 'Dose ikke tatt',
    'dispenser-fault': 'Feil på medisindispenser',
    'door-left-open': 'Dør står åpen',
    'door-night': 'Dør åpnet om natten',
    'door-forced': 'Dør brutt opp',
    'door-unplanned': 'Dør låst opp utenom planlagt besøk',
    'failed-attempts': 'Gjentatte mislykkede opplåsingsforsøk',
    'bed-exit-night': 'Ute av sengen om natten',
    fall: 'Fall',
    panic: 'Alarmknapp trykket',
    smoke: 'Røyk',
    'water-leak': 'Vannlekkasje',
    inactivity: 'Ingen bevegelse',
    temperature: 'Romtemperatur',
    vitals: 'Vitale målinger',
    'device-silent': 'Enhet uten kontakt',
    'low-battery': 'Lavt batteri',
    'gateway-health': 'Gatewayens helse',
    'rule-failure': 'Varslingsregel feilet',
  } satisfies Record<RuleId, string>,
  /**
   * The gateway's alert titles are short generic English (gateway/rules); a translation per known title, and
   * `untranslatedTitle` says what to show for one not listed: the server's title or the rule's name.
   */
  titles: {
    'Dose not taken': 'Dose ikke tatt',
    'Dose not dispensed': 'Dose ikke levert ut',
    'Dispenser offline at dose time: dose status unknown': 'Dispenser frakoblet ved dosetid – ukjent om dosen er tatt',
    'Dispenser jammed': 'Dispenseren har kjørt seg fast',
    'Dispenser empty': 'Dispenseren er tom',
    'Dispenser lost mains power': 'Dispenseren har mistet strøm',
    'Dispenser needs a refill': 'Dispenseren må fylles på',
    'Door left open': 'Dør står åpen',
    'Door opened at night': 'Dør åpnet om natten',
    'Door unlocked at night': 'Dør låst opp om natten',
    'Door forced open': 'Dør brutt opp',
    'Door forced open at night': 'Dør brutt opp om natten',
    'Door unlocked outside planned visits': 'Dør låst opp utenom planlagte besøk',
    'Out of bed at night, not back': 'Ute av sengen om natten, ikke tilbake',
    'Fall detected': 'Fall oppdaget',
    'Panic button pressed': 'Alarmknapp trykket',
    'Smoke detected': 'Røyk oppdaget',
    'Water leak detected': 'Vannlekkasje oppdaget',
    'No movement detected': 'Ingen bevegelse registrert',
    'Room too cold': 'For kaldt i rommet',
    'Room very cold': 'Svært kaldt i rommet',
    'Room too hot': 'For varmt i rommet',
    'Room very hot': 'Svært varmt i rommet',
    'Vital signs in the yellow zone': 'Vitale målinger i gul sone',
    'Vital signs in the red zone': 'Vitale målinger i rød sone',
    'Device not heard from': 'Ingen kontakt med enheten',
    'Device offline': 'Enheten er frakoblet',
    'Dispenser offline during a dose window': 'Dispenser frakoblet i dosevinduet',
    'Bed sensor offline at night': 'Sengesensor frakoblet om natten',
    'Battery low': 'Lavt batteri',
    'Alert rule failed': 'Varslingsregel feilet',
  } as Readonly<Record<string, string>>,
  untranslatedTitle: 'rule' as 'rule' | 'server',
};

export type Messages = typeof nb;
