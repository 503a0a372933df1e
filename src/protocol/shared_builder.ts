// One FlatBuffers builder for every frame and message this thread encodes (client responses and
// requests, inter-node messages), cleared between uses. A fresh Builder per frame allocated and
// zero-filled a buffer of the frame's estimated size, plus the builder's own state, only for the
// bytes to be copied out; with small frames that was several percent of a node's main thread and
// much of its garbage. Encodes never nest (nothing encodes inside another encode's callback) and
// nothing yields inside one, so one builder serves them all. A use that grew the builder past
// sharedBuilderBytesMax gives it up, so one large message does not pin its memory.
import { Builder } from 'flatbuffers';
import { assert } from '../errors';

const sharedBuilderBytesInitial = 64 * 1024;
const sharedBuilderBytesMax = 1024 * 1024;
let shared: Builder | null = null;
let inUse = false;

/**
 * Runs `encode` on the shared builder (cleared) and returns what it returns, which must not
 * reference the builder's bytes: copy them out (frame(), slice()) inside `encode`.
 */
export function withSharedBuilder<T>(sizeHint: number, encode: (b: Builder) => T): T {
  assert(!inUse, 'shared builder used from inside its own encode');
  const b = shared ?? new Builder(Math.max(sharedBuilderBytesInitial, sizeHint));
  shared = null;
  inUse = true;
  try {
    b.clear();
    return encode(b);
  } finally {
    inUse = false;
    if (b.dataBuffer().capacity() <= sharedBuilderBytesMax) shared = b;
  }
}
