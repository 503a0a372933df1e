// What each metric /metrics renders by its base name is: a counter or a gauge, and its HELP text.
// The base names are the coordinator's stats() numbers in snake case (`writeStalls` →
// `write_stalls`), the front end's own gauges and its event counters (Metrics.count). A counter
// only grows while the process runs and renders as `ringkv_<base>_total`, a gauge as
// `ringkv_<base>` (Prometheus's naming rules: rate() and increase() are for counters, and the
// suffix is how a reader tells them apart). The families metrics.ts renders itself (requests,
// histograms, memory by thread, hints and clocks by node, SSTables per level, and the stats with
// names other than their stats key's) are not here.
//
// Every number stats() reports must have an entry: one without renders as a gauge whose HELP says
// so, and the exposition lint fails on it (test/process/server-http.test.ts for a single node,
// test/cluster/metrics_exposition.test.ts for a cluster's).

export type MetricType = 'counter' | 'gauge';

export interface CatalogEntry {
  type: MetricType;
  help: string;
}

const counter = (help: string): CatalogEntry => ({ type: 'counter', help });
const gauge = (help: string): CatalogEntry => ({ type: 'gauge', help });

export const metricCatalog: Readonly<Record<string, CatalogEntry>> = {
  // The front end (server/).
  http_inflight_requests: gauge('HTTP requests received and not yet answered.'),
  http_unsent_bytes: gauge('HTTP answer bytes the sockets have not taken yet, all connections together (clients that read slowly; reads past httpUnsentBytesMax are answered busy).'),
  http_connections_closed: counter('HTTP connections the node closed, by reason (slow_reader: an answer not all taken within httpAnswerSendMsMax).'),
  ws_connections: gauge('Open WebSocket connections.'),
  ws_inflight_ops: gauge('WebSocket operations received and not yet answered, all connections together.'),
  ws_send_queue_bytes: gauge('Answer bytes waiting in the WebSocket connections\' send buffers (clients that read slowly).'),
  process_resident_memory_bytes: gauge('The node process\'s resident set: every thread, V8\'s code and the allocator\'s slack together.'),
  request_bytes_held: gauge('Bytes of requests received and still running, HTTP bodies and WebSocket frames together (requests past requestBytesHeldMax are answered busy).'),
  request_bytes_refusals: counter('HTTP PUTs and WebSocket frames answered busy because they did not fit the request bytes the node may hold (requestBytesHeldMax); nothing of them ran.'),
  ws_answer_bytes: gauge('Bytes of read answers (values and contexts) held by WebSocket frames still running, all connections together (wsAnswerBytesMax).'),
  ws_held_bytes: gauge('Bytes WebSocket connections hold for their clients, all together: answers running or waiting, the rest of their send queues, what uWS buffers (wsHeldBytesMax).'),
  ws_answers_refused: counter('WebSocket reads answered busy because their value did not fit what their connection, or all connections, may hold (wsAnswerBytesPerConnectionMax, wsAnswerBytesMax).'),
  ws_frames_refused: counter('WebSocket frames refused whole, by reason (wire-protocol.md): their operations were not run.'),
  ws_connections_closed: counter('WebSocket connections the node closed, by reason (send_queue_full: a client that stopped reading).'),
  ws_upgrades_refused: counter('WebSocket upgrades refused (over the connection cap, or the node stopping).'),
  ws_ops_expired: counter('WebSocket operations not run because they reached the node after their client had given up on them (timeout_ms against sent_at_ms).'),

  // Shards and storage, all shards together (local_coordinator.ts).
  shards: gauge('Shard worker threads.'),
  wal_syncs: counter('WAL fdatasync calls across all shards.'),
  memtable_bytes: gauge('Bytes in memtables (active and immutable) across all shards.'),
  disk_bytes: gauge('Bytes of WAL and SSTable files.'),
  shard_batches: counter('Batches of operations sent to the shard workers.'),
  shard_ops: counter('Operations sent to the shard workers in those batches.'),
  shard_queued_ops: gauge('Operations waiting for their shard worker (queued, not yet in a batch).'),
  shard_busy_rejections: counter('Operations refused busy because their shard\'s queue was full.'),
  shard_timeouts: counter('Operations their shard worker did not answer within the request\'s time.'),
  shard_worker_restarts: counter('Shard worker threads that stopped and were started again.'),
  shard_reads_asked_again: counter("Reads sent to their shard worker again because their batch's answer had no room for their records (shardBatchReadBytesMax)."),
  shard_writes_asked_again: counter("Coordinated writes (which answer with the key's whole sibling set, to replicate) sent to their shard worker again, unapplied, because their batch's answer had no room for their records (shardBatchReadBytesMax)."),
  write_stalls: counter('Writes that waited for a flush or a level-0 compaction before they could go in (too many memtables or level-0 tables).'),
  block_cache_hits: counter('Table blocks read from the block caches.'),
  block_cache_misses: counter('Table blocks read from disk (not in the block caches).'),
  block_cache_blocks_warmed: counter('Table blocks put in the block caches ahead of reads as memtables were flushed.'),
  idempotent_replays: counter('Writes with an idempotency key already applied: answered with their first outcome, not applied again.'),
  siblings_dropped: counter('Versions (siblings) dropped, oldest first, to keep a key within the sibling bounds.'),
  unreadable_records_replaced: counter('Stored records that could not be decoded (past the storage checksums) and were replaced by another replica\'s record.'),
  shards_refusing_writes: gauge('Shards that refuse writes now (a failed WAL or table write; a full disk among them).'),
  shards_out_of_space: gauge('Shards that refuse writes because their disk is full (they take writes again once space is freed).'),
  shards_compactions_held_for_space: gauge('Shards whose compactions wait for free space after one ran out of it (writes go on until level 0 is full).'),
  sstables_quarantined: gauge('Tables found corrupt and taken out of use (moved to quarantine/) since the shards opened.'),
  filesystem_size_bytes: gauge('Size of the filesystem the data dir is on.'),
  filesystem_free_bytes: gauge('Free bytes of the filesystem the data dir is on.'),

  // The cluster coordinator (coordinator/).
  coordinated_writes: counter('Writes this node coordinated.'),
  forwarded_writes: counter('Writes this node passed to a replica of their key to coordinate (this node is not one of the key\'s replicas).'),
  forwards_expired: counter('Forwarded writes this replica did not coordinate because they reached it after the forwarding node had given up on them.'),
  coordinated_reads: counter('Reads this node coordinated.'),
  read_repairs: counter('Read repairs sent.'),
  replication_back_pressure: counter('Writes answered only after all their replicas because the replica writes in flight had reached their cap, by count or by bytes (replicaWritesInflightMax, replicaWriteBytesInflightMax).'),
  handover_forwards: counter('Writes a decommissioning node passed on to the nodes that replicate their key without it.'),
  hint_replay_waits: counter('Times a hint replay batch waited for the replay byte budget.'),
  hint_replay_failures: counter('Hints a replay sent that their node did not take (they stay queued).'),
  replica_reads_asked: counter('Replica reads this node asked for as coordinator, its own replica included.'),
  speculative_reads: counter('Of those, spare replicas asked because a read had waited the p99 of replica round trips.'),
  rebuild_pulls: counter('Keys this rebuilding replica read from their previous owner before answering for them.'),
  rebuild_push_failures: counter('Versions this rebuilding replica issued that their previous owner did not take.'),
  behind_pulls: counter('Writes coordinated here that first read their key from the other replicas because this node was behind.'),
  stream_throttled_seconds: counter('Time range streams waited for the --stream-bytes-per-second budget.'),
  read_repairs_dropped: counter('Read repairs not sent because too many were in flight.'),
  read_repair_failures: counter('Read repairs a stale replica did not take.'),
  replica_write_failures: counter('Replica writes that failed or timed out (hinted when hinted handoff is on).'),
  unavailable_errors: counter('Requests refused unavailable: too few replicas alive or answering for their consistency level.'),
  timeout_errors: counter('Requests answered timeout: their replicas did not answer in time.'),
  anti_entropy_synced_since_age_seconds: gauge('How long ago the range this node replicates that was synced longest ago was last synced whole with another replica; keep it well under ringkv_tombstone_grace_seconds.'),
  tombstone_grace_seconds: gauge('The shortest --tombstone-grace-seconds of the nodes this one knows: when a delete\'s tombstone may first be purged somewhere.'),
  bootstrap_state: gauge('0: the node did not bootstrap; 1: waiting for the ring to settle or streaming its ranges; 2: bootstrap done.'),
  rebuilding: gauge('1 while the node rebuilds its replica from the others (a new data dir under a known id, or a bootstrap), else 0.'),
  rebuild_ranges_left: gauge('Ranges a rebuild has not yet synced (0 when not rebuilding).'),

  // Membership (membership/).
  gossip_rounds: counter('Gossip rounds this node ran.'),
  gossip_exchanges: counter('Gossip exchanges this node started with a peer.'),
  gossip_exchange_failures: counter('Of those, exchanges the peer did not answer.'),
  membership_nodes_joined: counter('Nodes this node heard of for the first time.'),
  membership_to_suspect: counter('Status changes to SUSPECT this node made or heard of.'),
  membership_to_dead: counter('Status changes to DEAD this node made or heard of.'),
  membership_to_alive: counter('Status changes to ALIVE this node made or heard of.'),
  membership_to_left: counter('Status changes to LEFT this node heard of.'),
  membership_nodes_forgotten: counter('LEFT nodes this node forgot, LEFT here longer than the longest tombstone grace a node keeps.'),
  membership_nodes_refused: counter('New nodes this node ignored because its membership table held clusterNodesMax (1024) nodes.'),
  membership_id_conflicts: counter('Processes seen gossiping this node\'s id from a later start than this one.'),
  membership_settings_conflicts: counter('Nodes seen running with cluster settings other than this node\'s.'),
  ring_version: gauge('This node\'s count of ring changes (not comparable across nodes).'),
  ring_digest: gauge('The ring\'s digest as a number, the same on every node holding the same ring: its distinct values over the nodes count the rings they hold.'),

  // Inter-node transport (protocol/).
  peer_connections: gauge('Connections to peers this node keeps (one per peer address it has sent to).'),
  internode_requests: counter('Requests sent to peers.'),
  internode_timeouts: counter('Requests to peers not answered within their timeout.'),
  internode_writes: counter('Socket writes to peers (each carries one or more frames).'),
  internode_frames_written: counter('Frames written to peers.'),
  internode_refusals: counter('Hellos a peer refused (another cluster, or a node id it knows from elsewhere).'),
  internode_connects_restarted: counter('Pending connects to a peer replaced by a new one once gossip heard from it.'),
  internode_requests_refused: counter('Requests to a peer failed as busy at once because what waits to be sent to that peer (internodeUnsentRequestBytesPerPeerMax), or to all peers (internodeUnsentRequestBytesNodeMax), was past its bound.'),
  internode_unsent_request_bytes: gauge('Bytes of requests to peers not yet taken by the kernel (queued, or in the sockets\' buffers), as the connections last saw them.'),
  internode_connections_refused: counter('Peer connections this node refused (another cluster\'s node, a malformed hello).'),
  internode_connections_over_cap: counter('Peer connections closed as they came because the peer port held internodeConnectionsMax already.'),
  internode_connections_without_hello: counter('Peer connections closed for sending no Hello within internodeHelloTimeoutMs.'),
  internode_reads_paused: counter('Times this node stopped reading a peer connection\'s requests because that peer did not read the replies.'),
  internode_replies_refused: counter('Replies to a peer sent as busy instead because its connection held too many reply bytes it had not read (internodeHeldReplyBytesMax), or all peer connections together did (internodeHeldReplyBytesNodeMax).'),
  internode_held_reply_bytes: gauge('Bytes of replies to peers not yet taken by the kernel, over all peer port connections, as each last looked.'),
  replica_batches_sent: counter('Batches of replica writes and reads sent to peers.'),
  replica_batch_items_sent: counter('Replica writes and reads sent in those batches.'),
  replica_reads_asked_again: counter("Replica reads sent again because the peer's reply to their batch had no room for their records (replicaReplyBytesMax)."),

  // Hinted handoff (coordinator/hinted_handoff.ts, docs/hints-format.md).
  hints_queued: gauge('Hinted-handoff writes waiting for their node.'),
  hints_stored: counter('Hints stored for replicas that did not take a write.'),
  hints_dropped: counter('Hints dropped over their bounds (per node, bytes) or for a node that left.'),
  hints_expired: counter('Hints dropped because they were older than the hint age limit.'),
  hints_delivered: counter('Hints their node took.'),
  hints_recovered: counter('Hints read back from disk at start.'),
  hints_disk_bytes: gauge('Bytes of the hint files on disk.'),
  hint_write_failures: counter('Hint file writes or syncs that failed (hints not written are kept in memory only).'),

  // Anti-entropy (coordinator/anti_entropy.ts).
  anti_entropy_syncs: counter('Range syncs with another replica (Merkle tree compares).'),
  anti_entropy_in_sync: counter('Of those, syncs whose trees were equal.'),
  anti_entropy_leaves_differing: counter('Merkle leaves that differed in those syncs.'),
  anti_entropy_pulled: counter('Records a sync changed in this node\'s replica.'),
  anti_entropy_pushed: counter('Records a sync changed in the peer\'s replica.'),
  anti_entropy_failures: counter('Range syncs that failed.'),
};

/** The name a catalogued family renders as: counters carry `_total`. */
export function metricName(base: string, type: MetricType): string {
  return type === 'counter' ? `ringkv_${base}_total` : `ringkv_${base}`;
}
