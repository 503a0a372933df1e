// Ports for the node processes tests start. Not port 0's pick: the kernel hands those out from the
// ephemeral range, which is also where every outgoing connection (node to node, client to node)
// gets its local port, so a port found free and closed again could be taken by a connection
// before the node bound it (EADDRINUSE, seen in CI). Ports below the ephemeral range are only ever
// bound on purpose; each is checked free here and never handed out twice by one test process.
import * as fs from 'node:fs';
import * as net from 'node:net';

const portLow = 10_000;
const given = new Set<number>();

/**
 * The Fetch standard's "bad ports" above 1024: fetch() (undici) refuses to connect to them
 * ("bad port"), so a node given one cannot be reached by a test that uses fetch. 10080 is in this
 * range: a restart test failed on it in a full run.
 */
const fetchBadPorts = new Set([1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080]);

function ephemeralLow(): number {
  try {
    const low = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > portLow + 1000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

const portHigh = ephemeralLow() - 1;

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A port on 127.0.0.1 that is free now, outside the ephemeral range, new to this process. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = portLow + Math.floor(Math.random() * (portHigh - portLow));
    if (given.has(port) || fetchBadPorts.has(port)) continue;
    given.add(port);
    if (await bindable(port)) return port;
  }
  throw new Error(`no free port found in ${portLow}..${portHigh}`);
}

/** A base port P on 127.0.0.1 with P + o free for every o of `offsets` (a `ringkv cluster` layout). */
export async function freeBasePort(offsets: readonly number[]): Promise<number> {
  const span = Math.max(...offsets);
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = portLow + Math.floor(Math.random() * (portHigh - portLow - span));
    const all = offsets.map((o) => port + o);
    if (all.some((p) => given.has(p) || fetchBadPorts.has(p))) continue;
    for (const p of all) given.add(p);
    if ((await Promise.all(all.map(bindable))).every(Boolean)) return port;
  }
  throw new Error(`no free base port found for offsets ${offsets.join(',')}`);
}
