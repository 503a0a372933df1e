// One JSON request to a node's HTTP API over plain node:http (no fetch), so that its timeout and
// the cap on the answer's size are explicit. The client reads cluster status with it and the
// `ringkv` admin commands call the admin endpoints with it. Transport failures are RingkvErrors
// with details.transport set; an HTTP error status is an answer, left to the caller.
import http from 'node:http';
import { ErrorCode, RingkvError } from '../errors';

export interface JsonAnswer {
  status: number;
  /** The parsed body; undefined when it was empty. */
  body: unknown;
}

export function splitAddress(address: string): [string, number] {
  const i = address.lastIndexOf(':');
  const port = Number(address.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new RingkvError(ErrorCode.InvalidArgument, `node address must be host:port, not ${JSON.stringify(address)}`);
  }
  return [address.slice(0, i), port];
}

export function requestJson(address: string, method: 'GET' | 'POST' | 'DELETE', urlPath: string, o: { body?: string; timeoutMs: number; bytesMax: number }): Promise<JsonAnswer> {
  const [host, port] = splitAddress(address);
  const what = `${method} ${urlPath} at ${address}`;
  return new Promise<JsonAnswer>((resolve, reject) => {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (o.body !== undefined) headers['content-type'] = 'application/json';
    const req = http.request({ host, port, method, path: urlPath, timeout: o.timeoutMs, headers }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.byteLength;
        if (size > o.bytesMax) {
          req.destroy(new RingkvError(ErrorCode.MalformedFrame, `${what}: answer larger than ${o.bytesMax} bytes`, { details: { address } }));
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          resolve({ status: res.statusCode ?? 0, body: text.length === 0 ? undefined : JSON.parse(text) });
        } catch (err) {
          reject(new RingkvError(ErrorCode.MalformedFrame, `${what}: invalid JSON (HTTP ${res.statusCode}): ${(err as Error).message}`, { details: { address } }));
        }
      });
      res.on('error', (err) => reject(err));
    });
    req.on('timeout', () => req.destroy(new RingkvError(ErrorCode.Timeout, `${what}: no answer in ${o.timeoutMs} ms`, { details: { address, transport: true } })));
    req.on('error', (err) => {
      reject(err instanceof RingkvError ? err : new RingkvError(ErrorCode.Unavailable, `${what}: ${err.message}`, { cause: err, details: { address, transport: true } }));
    });
    req.end(o.body);
  });
}
