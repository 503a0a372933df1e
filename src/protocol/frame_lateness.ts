// How late a connection's request frames reach this node: a client's WebSocket frames
// (RequestFrame.sent_at_ms, server/ws_api.ts) and a peer node's requests (Message.sent_at_ms,
// internode_server.ts). Each frame says when its sender sent it (by its steady clock); the gap
// between that and this node's steady clock is the two clocks' offset plus the frame's trip, so the
// least gap seen lately is the offset plus the quickest trip, and a frame's gap above it is how
// long it was held on the way: in the network (retransmissions after a partition), or in this
// node's socket while the node was paused (SIGSTOP, a VM stall, a long GC) or busy. The two clocks
// need not agree, only tick at about the same rate: the baseline is the least gap of the last one
// to two windows (frameLatenessWindowMs), and is started anew after a quiet spell
// (frameLatenessQuietMsMax), so drift between them costs a few ms. Cassandra's cross_node_timeout
// compares wall clocks instead, and needs them synchronised.
//
// Why it matters: a client gives up on an attempt after its timeout and retries, maybe through
// another node. An attempt that arrives (or is first read) after that must not run: a write
// would be given a version after its retry was answered, and, written without a context,
// supersede what other clients wrote in between (test/cluster/nemesis.test.ts found acknowledged
// writes lost that way, behind a node paused for two seconds).
import { assert } from '../errors';

export class FrameLateness {
  /** Least gap of the window now open, and of the one before it. */
  private currentMinMs = Infinity;
  private previousMinMs = Infinity;
  private windowStartMs = -Infinity;
  private lastFrameMs = -Infinity;

  constructor(
    private readonly windowMs: number,
    private readonly quietMsMax: number,
  ) {
    assert(windowMs > 0 && quietMsMax >= windowMs, 'a lateness window is positive and shorter than the quiet spell that forgets it');
  }

  /**
   * How many ms later than this connection's quickest frames lately a frame sent at `sentAtMs`
   * (the client's steady clock; 0: not said, then 0) reached this node at `nowMs` (this node's
   * steady clock). Never negative: a quicker frame becomes the baseline.
   */
  of(sentAtMs: number, nowMs: number): number {
    if (sentAtMs === 0) return 0;
    const gapMs = nowMs - sentAtMs;
    if (nowMs - this.lastFrameMs > this.quietMsMax) {
      this.previousMinMs = Infinity;
      this.currentMinMs = Infinity;
      this.windowStartMs = nowMs;
    } else if (nowMs - this.windowStartMs >= this.windowMs) {
      // A frame held through a stall rolls the window: the one it closes still holds the frames
      // from before the stall, so it is measured against them.
      this.previousMinMs = this.currentMinMs;
      this.currentMinMs = Infinity;
      this.windowStartMs = nowMs;
    }
    this.lastFrameMs = nowMs;
    this.currentMinMs = Math.min(this.currentMinMs, gapMs);
    return gapMs - Math.min(this.previousMinMs, this.currentMinMs);
  }
}
