// The rule each bound by bytes on what a node holds follows (a shard's queue, a replica's reply, a
// peer connection's unsent replies, a WebSocket connection's answers, the requests a server
// runs): a newcomer fits while what is held stays within the bound, and one always fits where
// nothing is held, so the largest request or answer is never refused for good.

/** Whether `addBytes` more fit beside `heldBytes` under `maxBytes` (always, when nothing is held). */
export function fitsBytes(heldBytes: number, addBytes: number, maxBytes: number): boolean {
  return heldBytes === 0 || heldBytes + addBytes <= maxBytes;
}
