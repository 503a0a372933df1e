// A minimal WebSocket client for the front-end tests: sends request frames with the `ws` package
// and hands back decoded response frames in arrival order. Tests only; the real client library
// lives in src/client/.
import WebSocket from 'ws';
import { type ClientRequest, encodeRequestFrame } from '../../../src/protocol/client_request';
import { type ClientResult, type DecodedResponseFrame, decodeResponseFrame } from '../../../src/protocol/client_response';

export class WsTestClient {
  readonly frames: DecodedResponseFrame[] = [];
  private waiters: (() => void)[] = [];
  closed: { code: number; reason: string } | null = null;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) throw new Error('the node sent a text frame');
      this.frames.push(decodeResponseFrame(new Uint8Array(data)));
      this.wake();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
    });
  }

  static connect(port: number): Promise<WsTestClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/api/v1/ws`, { maxPayload: 64 * 1024 * 1024 });
      ws.once('open', () => resolve(new WsTestClient(ws)));
      ws.once('error', reject);
    });
  }

  private wake(): void {
    this.waiters.splice(0).forEach((w) => w());
  }

  /** Waits (bounded) until `pred` holds over the frames received so far. */
  async until(pred: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 50);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Stops reading the socket (a client that stopped reading: the node's answers back up). */
  pauseReading(): void {
    (this.ws as unknown as { _socket: { pause(): void } })._socket.pause();
  }

  resumeReading(): void {
    (this.ws as unknown as { _socket: { resume(): void } })._socket.resume();
  }

  sendRaw(data: Uint8Array | string, binary = true): void {
    this.ws.send(data, { binary });
  }

  /**
   * Sends one frame (saying it was sent at `sentAtMs` by this client's clock, when not 0) and
   * resolves with the results for its ids (which may span frames).
   */
  async call(ops: ClientRequest[], timeoutMs = 10_000, sentAtMs = 0): Promise<Map<number, ClientResult>> {
    const want = new Set(ops.map((o) => o.id));
    const start = this.frames.length;
    this.sendRaw(encodeRequestFrame(ops, sentAtMs));
    const got = new Map<number, ClientResult>();
    await this.until(
      () => {
        for (const f of this.frames.slice(start)) for (const r of f.results) if (want.has(r.id)) got.set(r.id, r);
        return got.size === want.size;
      },
      timeoutMs,
      `results for ${want.size} ops`,
    );
    return got;
  }

  /** Sends raw bytes and waits for the next frame, which should be a frame-level error. */
  async rawExpectFrame(data: Uint8Array | string, binary = true): Promise<DecodedResponseFrame> {
    const start = this.frames.length;
    this.sendRaw(data, binary);
    await this.until(() => this.frames.length > start, 10_000, 'a response frame');
    return this.frames[start]!;
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.terminate();
    });
  }
}
