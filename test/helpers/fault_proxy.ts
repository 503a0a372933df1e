// A TCP proxy on 127.0.0.1 for network-fault tests (this kernel has no tc netem): put one in
// front of a node's peer port, have the node advertise the proxy (ringkv start --advertise), and
// every connection other nodes open to it runs through here, where the test can
//  - delay every chunk by delayMs, in order (a slow link);
//  - blackhole: nothing crosses in either direction, connections stay open, bytes are held and
//    delivered when the link heals, as TCP's retransmissions would (a partition that does not
//    reset anything; up to heldBytesMax per direction, past which the link is cut, as TCP gives up);
//  - cut every open connection at once (a flapping link; the peers see the close and reconnect).
// It forwards only to 127.0.0.1 and stops every socket and timer on close().
import * as net from 'node:net';

/** Bytes held per direction of one connection while blackholed; past this the connection is cut. */
const heldBytesMax = 16 * 1024 * 1024;

interface Held {
  chunk: Buffer;
  dueMs: number;
}

/** One direction of one proxied connection: an ordered queue of chunks and when each may go. */
class Direction {
  private readonly queue: Held[] = [];
  private bytes = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly proxy: FaultProxy,
    private readonly to: net.Socket,
    private readonly cut: () => void,
  ) {}

  push(chunk: Buffer): void {
    this.queue.push({ chunk, dueMs: Date.now() + this.proxy.delayMs });
    this.bytes += chunk.length;
    if (this.bytes > heldBytesMax) {
      this.cut();
      return;
    }
    this.pump();
  }

  pump(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    while (this.queue.length > 0 && !this.proxy.blackholed && !this.to.destroyed) {
      const waitMs = this.queue[0]!.dueMs - Date.now();
      if (waitMs > 0) {
        this.timer = setTimeout(() => this.pump(), waitMs);
        return;
      }
      const { chunk } = this.queue.shift()!;
      this.bytes -= chunk.length;
      this.to.write(chunk);
    }
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.queue.length = 0;
  }
}

class Link {
  private readonly toUpstream: Direction;
  private readonly toClient: Direction;
  private done = false;

  constructor(
    private readonly proxy: FaultProxy,
    private readonly client: net.Socket,
    private readonly upstream: net.Socket,
  ) {
    const cut = (): void => this.destroy();
    this.toUpstream = new Direction(proxy, upstream, cut);
    this.toClient = new Direction(proxy, client, cut);
    client.on('data', (d: Buffer) => this.toUpstream.push(d));
    upstream.on('data', (d: Buffer) => this.toClient.push(d));
    for (const s of [client, upstream]) {
      s.on('error', cut);
      s.on('close', cut);
    }
  }

  pump(): void {
    this.toUpstream.pump();
    this.toClient.pump();
  }

  destroy(): void {
    if (this.done) return;
    this.done = true;
    this.toUpstream.stop();
    this.toClient.stop();
    // destroy(), not resetAndDestroy(): with bytes queued, the reset (uv_tcp_close_reset) left
    // this process spinning in libuv at times. Either way the peer's connection ends.
    for (const s of [this.client, this.upstream]) s.destroy();
    this.proxy.forget(this);
  }
}

export class FaultProxy {
  /** Added to every chunk's trip, each direction. */
  delayMs = 0;
  private blackhole = false;
  private readonly links = new Set<Link>();
  /** Connections accepted since start (a reconnecting peer opens new ones). */
  accepted = 0;

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
    readonly targetPort: number,
  ) {}

  /** Listens on a free port of 127.0.0.1 and forwards to 127.0.0.1:targetPort. */
  static async start(targetPort: number): Promise<FaultProxy> {
    let proxy: FaultProxy | undefined;
    const server = net.createServer({ noDelay: true }, (client) => proxy!.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    proxy = new FaultProxy(server, (server.address() as net.AddressInfo).port, targetPort);
    return proxy;
  }

  get blackholed(): boolean {
    return this.blackhole;
  }

  get openLinks(): number {
    return this.links.size;
  }

  /** From now on nothing crosses, either way, until heal(). */
  cutOff(): void {
    this.blackhole = true;
  }

  /** Delivers everything held and forwards again. */
  heal(): void {
    this.blackhole = false;
    for (const l of this.links) l.pump();
  }

  /** Resets every open connection now; new ones are let through. */
  resetAll(): void {
    for (const l of [...this.links]) l.destroy();
  }

  forget(l: Link): void {
    this.links.delete(l);
  }

  async close(): Promise<void> {
    this.resetAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    this.accepted++;
    const upstream = net.connect({ host: '127.0.0.1', port: this.targetPort, noDelay: true });
    this.links.add(new Link(this, client, upstream));
  }
}
