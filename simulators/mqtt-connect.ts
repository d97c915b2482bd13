import mqtt, { type MqttClient } from 'mqtt';

// One simulated client's MQTT connection, the way the player opens it: username = client id, clean session,
// no automatic reconnect (the player resends what was not acked itself), a retained `offline` will.

// CONNACK return codes that mean "this client is not welcome": retrying would only get the address locked out.
const REFUSALS: Readonly<Record<number, string>> = { 2: 'identifier rejected', 4: 'bad username or password', 5: 'not authorized' };

export type ConnectResult = { ok: true; client: MqttClient } | { ok: false; refused: boolean; reason: string };

/** A short, countable reason: a CONNACK code, an errno code, or the start of the message. */
export function reasonOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'number') return `connack_${code}`;
  if (typeof code === 'string') return code;
  return err instanceof Error ? err.message.slice(0, 60) : 'unknown_error';
}

export function connectClient(o: {
  url: string;
  id: string;
  secret: string;
  /** The status topic: the will publishes a retained `offline` there. */
  will: string;
  timeoutMs: number;
  /** The connection closed after it was established (by the broker, the network, or the caller). */
  onLost: (client: MqttClient, reason: string) => void;
}): Promise<ConnectResult> {
  return new Promise((resolve) => {
    let settled = false;
    let lastError: string | undefined;
    const client = mqtt.connect(o.url, {
      protocolVersion: 4,
      clientId: o.id,
      username: o.id,
      password: o.secret,
      clean: true,
      keepalive: 60,
      reconnectPeriod: 0,
      connectTimeout: o.timeoutMs,
      resubscribe: false,
      will: { topic: o.will, payload: Buffer.from('offline'), qos: 1, retain: true },
    });
    const finish = (r: ConnectResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (!r.ok) client.end(true);
      resolve(r);
    };
    const timer = setTimeout(() => {
      finish({ ok: false, refused: false, reason: 'connect_timeout' });
    }, o.timeoutMs + 1000);
    client.once('connect', () => {
      finish({ ok: true, client });
    });
    // Always listened to: an 'error' without a listener would throw out of the event loop.
    client.on('error', (err) => {
      lastError = reasonOf(err);
      const code = (err as { code?: unknown }).code;
      if (typeof code !== 'number') return;
      const refusal = REFUSALS[code];
      finish({ ok: false, refused: refusal !== undefined, reason: refusal ? `CONNACK ${code}: ${refusal}` : `connack_${code}` });
    });
    client.on('close', () => {
      if (!settled) finish({ ok: false, refused: false, reason: lastError ?? 'closed_before_connack' });
      else o.onLost(client, lastError ?? 'closed_by_server');
    });
  });
}
