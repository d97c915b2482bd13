import mqtt, { type MqttClient } from 'mqtt';

// Steady QoS 1 publishers for durability tests: each device sends native-format measurements with an
// increasing `seq` and a device `ts`, and records which (device, seq) the broker acknowledged.

export interface Publishers {
  /** (device → acknowledged seqs). */
  readonly acked: Map<string, Set<number>>;
  sent(): number;
  stop(): Promise<void>;
}

export async function startPublishers(opts: {
  url: string;
  devices: { id: string; secret: string }[];
  ratePerDevice: number;
  /** Device clock of seq 0; seq n is dated start + n ms, so every message has its own time. */
  start?: number;
}): Promise<Publishers> {
  const acked = new Map<string, Set<number>>();
  const clients: MqttClient[] = [];
  const timers: NodeJS.Timeout[] = [];
  let sent = 0;
  const start = opts.start ?? Date.parse('2026-11-23T06:00:00Z');
  for (const d of opts.devices) {
    const set = new Set<number>();
    acked.set(d.id, set);
    const client = await mqtt.connectAsync(opts.url, {
      clientId: d.id,
      username: d.id,
      password: d.secret,
      reconnectPeriod: 200,
      connectTimeout: 5000,
    });
    clients.push(client);
    let seq = 0;
    timers.push(
      setInterval(() => {
        const n = seq++;
        sent += 1;
        const payload = JSON.stringify({
          type: 'measurement',
          ts: new Date(start + n).toISOString(),
          seq: n,
          temperature_c: 20 + (n % 50) / 10,
        });
        client.publish(`tryggheim/v1/devices/${d.id}/up`, payload, { qos: 1 }, (err) => {
          if (!err) set.add(n);
        });
      }, 1000 / opts.ratePerDevice),
    );
  }
  return {
    acked,
    sent: () => sent,
    async stop() {
      for (const t of timers) clearInterval(t);
      // end(false) lets in-flight QoS 1 publishes finish first; bounded, then forced.
      await Promise.all(
        clients.map((c) => Promise.race([c.endAsync(false), new Promise((r) => setTimeout(r, 10_000))]).then(() => c.endAsync(true))),
      );
    },
  };
}

/** Seqs of a device stored in InfluxDB (1.x InfluxQL over /query). */
export async function storedSeqs(influxUrl: string, database: string, deviceId: string): Promise<number[]> {
  const q = `SELECT "seq" FROM "sensor" WHERE "device_id" = '${deviceId.replaceAll("'", "\\'")}'`;
  const res = await fetch(`${influxUrl}/query?db=${encodeURIComponent(database)}&q=${encodeURIComponent(q)}`);
  const body = (await res.json()) as { results: { series?: { values: [string, number][] }[] }[] };
  return (body.results[0]?.series?.[0]?.values ?? []).map((v) => v[1]);
}
