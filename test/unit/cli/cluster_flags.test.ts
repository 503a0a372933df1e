// Proves how `ringkv start`'s cluster flags become a node's addresses: by default peers are told
// the listen address; --advertise tells them another (a proxy, NAT) while the peer port still
// binds where it listens; a node listening on every interface must say which address to advertise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { clusterPassThrough, parseClusterFlags } from '../../../src/cli/cluster';
import { parseStartConfig } from '../../../src/cli/start';
import { clusterSettingsOf } from '../../../src/coordinator/cluster_options';
import { ErrorCode, isRingkvError } from '../../../src/errors';

const base = { host: '127.0.0.1', port: 7100 };

test('without --advertise, peers are told the listen address', () => {
  const c = parseClusterFlags({ seeds: '127.0.0.1:7100' }, {}, base)!;
  assert.deepEqual([c.host, c.httpPort, c.peerPort], ['127.0.0.1', 7100, 8100]);
  assert.deepEqual(c.peerListen, { host: '127.0.0.1', port: 8100 });
});

test('--vnodes is passed on only when given: without it a node keeps the count its data dir records', () => {
  assert.equal(parseClusterFlags({ seeds: '127.0.0.1:7100' }, {}, base)!.vnodes, undefined);
  assert.equal(parseClusterFlags({ seeds: '127.0.0.1:7100', vnodes: '64' }, {}, base)!.vnodes, 64);
});

test('--advertise names the address peers use; the peer port still binds at --host and --peer-port', () => {
  const c = parseClusterFlags({ seeds: '127.0.0.1:7100', 'peer-port': '9100', advertise: '10.1.2.3:7200:9200' }, {}, { host: '0.0.0.0', port: 7100 })!;
  assert.deepEqual([c.host, c.httpPort, c.peerPort], ['10.1.2.3', 7200, 9200]);
  assert.deepEqual(c.peerListen, { host: '0.0.0.0', port: 9100 });
  const implied = parseClusterFlags({ seeds: '127.0.0.1:7100', advertise: 'db-1.example:7000' }, {}, base)!;
  assert.deepEqual([implied.host, implied.httpPort, implied.peerPort], ['db-1.example', 7000, 8000]);
});

const usage = (f: () => unknown, re: RegExp): void =>
  assert.throws(f, (e: unknown) => isRingkvError(e, ErrorCode.InvalidArgument) && re.test(e.message));

test('a node on every interface without --advertise, or a bad --advertise, is a usage error', () => {
  usage(() => parseClusterFlags({ seeds: '127.0.0.1:7100' }, {}, { host: '0.0.0.0', port: 7100 }), /--host 0\.0\.0\.0 listens on every interface; give --advertise/);
  usage(() => parseClusterFlags({ seeds: '127.0.0.1:7100', advertise: 'nohost' }, {}, base), /--advertise: "nohost" is not host:port/);
  usage(() => parseClusterFlags({ advertise: '10.0.0.1:7000' }, {}, base), /--advertise needs --seeds/);
});

test('--hint-replay-bytes-per-second: the default, a given rate, and a rate under the floor refused', () => {
  assert.equal(parseClusterFlags({ seeds: '127.0.0.1:7100' }, {}, base)!.hintReplayBytesPerSecond, 4 * 1024 * 1024);
  assert.equal(parseClusterFlags({ seeds: '127.0.0.1:7100', 'hint-replay-bytes-per-second': '1048576' }, {}, base)!.hintReplayBytesPerSecond, 1048576);
  assert.throws(() => parseClusterFlags({ seeds: '127.0.0.1:7100', 'hint-replay-bytes-per-second': '1000' }, {}, base), (e: unknown) => isRingkvError(e, ErrorCode.InvalidArgument) && /--hint-replay-bytes-per-second/.test(e.message));
});

test('--stream-bytes-per-second: the default, 0 (unthrottled), a given rate, and a rate under the floor refused', () => {
  const rate = (v?: string) => parseClusterFlags({ seeds: '127.0.0.1:7100', ...(v !== undefined && { 'stream-bytes-per-second': v }) }, {}, base)!.streamBytesPerSecond;
  assert.equal(rate(), 32 * 1024 * 1024);
  assert.equal(rate('0'), 0);
  assert.equal(rate('1048576'), 1048576);
  for (const bad of ['1000', '-1', 'fast']) {
    assert.throws(() => rate(bad), (e: unknown) => isRingkvError(e, ErrorCode.InvalidArgument) && /--stream-bytes-per-second/.test(e.message), bad);
  }
});

test('ringkv cluster passes its cluster options on, and N = min(3, nodes) when --replication is not given', () => {
  assert.deepEqual(clusterPassThrough({}, 1), ['--replication', '1']);
  assert.deepEqual(clusterPassThrough({}, 5), ['--replication', '3']);
  assert.deepEqual(clusterPassThrough({ replication: '2', vnodes: '8' }, 1), ['--vnodes', '8', '--replication', '2']);
  assert.deepEqual(clusterPassThrough({ 'cluster-name': 'dev' }, 3), ['--cluster-name', 'dev', '--replication', '3']);
});

test('--cluster-name: absent (the data dir decides), a given name, and a malformed one refused', () => {
  assert.equal(parseClusterFlags({ seeds: '127.0.0.1:7100' }, {}, base)!.clusterName, undefined);
  assert.equal(parseClusterFlags({ seeds: '127.0.0.1:7100', 'cluster-name': 'prod-eu.1' }, {}, base)!.clusterName, 'prod-eu.1');
  for (const bad of ['', 'has space', 'x'.repeat(65), 'a/b']) {
    usage(() => parseClusterFlags({ seeds: '127.0.0.1:7100', 'cluster-name': bad }, {}, base), /--cluster-name must be 1\.\.64/);
  }
  usage(() => parseClusterFlags({ 'cluster-name': 'prod' }, {}, base), /--cluster-name needs --seeds/);
});

test('--partition-mode: ap by default, cp when asked, anything else refused; only cp shows in the gossiped settings', () => {
  const ap = parseClusterFlags({ seeds: '127.0.0.1:7100' }, {}, base)!;
  const cp = parseClusterFlags({ seeds: '127.0.0.1:7100', 'partition-mode': 'cp' }, {}, base)!;
  assert.deepEqual([ap.partitionMode, cp.partitionMode], ['ap', 'cp']);
  usage(() => parseClusterFlags({ seeds: '127.0.0.1:7100', 'partition-mode': 'CA' }, {}, base), /--partition-mode must be ap or cp, not "CA"/);
  // ap keeps the string nodes gossiped before the option, so they still agree with an ap node.
  assert.equal(clusterSettingsOf(ap), 'replication=3 conflict-mode=vclock');
  assert.equal(clusterSettingsOf(cp), 'replication=3 conflict-mode=vclock partition-mode=cp');
  assert.deepEqual(clusterPassThrough({ 'partition-mode': 'cp' }, 3), ['--partition-mode', 'cp', '--replication', '3']);
});

test('--zone: absent (the data dir decides), a given zone, and a malformed one refused; ringkv cluster gives zones in turn itself', () => {
  assert.equal(parseClusterFlags({ seeds: '127.0.0.1:7100' }, {}, base)!.zone, undefined);
  assert.equal(parseClusterFlags({ seeds: '127.0.0.1:7100', zone: 'us-east-1a' }, {}, base)!.zone, 'us-east-1a');
  for (const bad of ['', 'has space', 'z'.repeat(65), 'a/b', 'a:b']) {
    usage(() => parseClusterFlags({ seeds: '127.0.0.1:7100', zone: bad }, {}, base), /--zone must be 1\.\.64/);
  }
  usage(() => parseClusterFlags({ zone: 'a' }, {}, base), /--zone needs --seeds/);
  assert.ok(!clusterPassThrough({ zone: 'a' }, 3).includes('--zone'), 'a zone is per node, not passed to every node');
});

test('--datacenter: absent, given, malformed refused, only in cluster mode, and per node', () => {
  assert.equal(parseClusterFlags({ seeds: '127.0.0.1:7100' }, {}, base)!.datacenter, undefined);
  assert.equal(parseClusterFlags({ seeds: '127.0.0.1:7100', datacenter: 'eu-west' }, {}, base)!.datacenter, 'eu-west');
  for (const bad of ['', 'has space', 'd'.repeat(65), 'a/b']) {
    usage(() => parseClusterFlags({ seeds: '127.0.0.1:7100', datacenter: bad }, {}, base), /--datacenter must be 1\.\.64/);
  }
  usage(() => parseClusterFlags({ datacenter: 'east' }, {}, base), /--datacenter needs --seeds/);
  assert.ok(!clusterPassThrough({ datacenter: 'east' }, 3).includes('--datacenter'), 'a datacenter is per node');
});

test('--allow-stale-data is off unless given on; anything else is a usage error; ringkv cluster passes it on', () => {
  assert.equal(parseClusterFlags({ seeds: '127.0.0.1:7100' }, {}, base)!.allowStaleData, false);
  assert.equal(parseClusterFlags({ seeds: '127.0.0.1:7100', 'allow-stale-data': 'on' }, {}, base)!.allowStaleData, true);
  usage(() => parseClusterFlags({ seeds: '127.0.0.1:7100', 'allow-stale-data': 'yes' }, {}, base), /--allow-stale-data must be on or off, not "yes"/);
  usage(() => parseClusterFlags({ 'allow-stale-data': 'on' }, {}, base), /--allow-stale-data needs --seeds/);
  assert.deepEqual(clusterPassThrough({ 'allow-stale-data': 'on' }, 3), ['--allow-stale-data', 'on', '--replication', '3']);
});

test('--tombstone-grace-seconds: 10 days by default, a flag or RINGKV_TOMBSTONE_GRACE_SECONDS; 0 on a single node, at least 6 hours with N > 1', () => {
  const grace = (argv: string[], env: NodeJS.ProcessEnv = {}): number => {
    const c = parseStartConfig(argv, env);
    assert.notEqual(c, 'help');
    return c === 'help' ? -1 : c.tombstoneGraceMs;
  };
  assert.equal(grace([]), 10 * 86_400_000);
  assert.equal(grace(['--tombstone-grace-seconds', '0']), 0);
  assert.equal(grace([], { RINGKV_TOMBSTONE_GRACE_SECONDS: '3600' }), 3_600_000);
  assert.equal(grace(['--tombstone-grace-seconds', '7200'], { RINGKV_TOMBSTONE_GRACE_SECONDS: '3600' }), 7_200_000);
  const seeds = ['--port', '7100', '--seeds', '127.0.0.1:7100'];
  assert.equal(grace([...seeds, '--tombstone-grace-seconds', '21600']), 21_600_000);
  assert.equal(grace([...seeds, '--replication', '1', '--tombstone-grace-seconds', '0']), 0);
  usage(() => parseStartConfig([...seeds, '--tombstone-grace-seconds', '21599'], {}), /--tombstone-grace-seconds must be at least 21600 in a cluster with --replication > 1/);
  usage(() => parseStartConfig(seeds, { RINGKV_TOMBSTONE_GRACE_SECONDS: '60' }), /RINGKV_TOMBSTONE_GRACE_SECONDS must be at least 21600/);
  usage(() => parseStartConfig(['--tombstone-grace-seconds', '-1'], {}), /--tombstone-grace-seconds/);
  usage(() => parseStartConfig(['--tombstone-grace-seconds', String(366 * 86_400)], {}), /--tombstone-grace-seconds/);
  assert.deepEqual(clusterPassThrough({ 'tombstone-grace-seconds': '86400' }, 3), ['--tombstone-grace-seconds', '86400', '--replication', '3']);
});

test('--memtable-mib and --block-cache-mib: the engine defaults unless given, a flag or its variable, MiB per shard, passed on by ringkv cluster', () => {
  const memory = (argv: string[], env: NodeJS.ProcessEnv = {}): [number | undefined, number | undefined] => {
    const c = parseStartConfig(argv, env);
    assert.notEqual(c, 'help');
    return c === 'help' ? [-1, -1] : [c.memtableBytes, c.blockCacheBytes];
  };
  const mib = 1024 * 1024;
  assert.deepEqual(memory([]), [undefined, undefined]);
  assert.deepEqual(memory(['--memtable-mib', '8', '--block-cache-mib', '0']), [8 * mib, 0]);
  assert.deepEqual(memory([], { RINGKV_MEMTABLE_MIB: '16', RINGKV_BLOCK_CACHE_MIB: '256' }), [16 * mib, 256 * mib]);
  assert.deepEqual(memory(['--memtable-mib', '4'], { RINGKV_MEMTABLE_MIB: '16' }), [4 * mib, undefined]);
  assert.deepEqual(memory(['--memtable-mib', '1024', '--block-cache-mib', '2047']), [1024 * mib, 2047 * mib]);
  // A shard's block cache is addressed with 32-bit offsets: 2 GiB or more would stop every shard opening.
  usage(() => parseStartConfig(['--block-cache-mib', '2048'], {}), /--block-cache-mib must be/);
  usage(() => parseStartConfig(['--memtable-mib', '0'], {}), /--memtable-mib must be/);
  usage(() => parseStartConfig(['--memtable-mib', '1025'], {}), /--memtable-mib must be/);
  usage(() => parseStartConfig(['--memtable-mib', '0.5'], {}), /--memtable-mib must be/);
  usage(() => parseStartConfig(['--block-cache-mib=-1'], {}), /--block-cache-mib must be/);
  usage(() => parseStartConfig([], { RINGKV_BLOCK_CACHE_MIB: 'lots' }), /RINGKV_BLOCK_CACHE_MIB must be/);
  assert.deepEqual(clusterPassThrough({ 'memtable-mib': '8', 'block-cache-mib': '0' }, 3), ['--memtable-mib', '8', '--block-cache-mib', '0', '--replication', '3']);
});

test('a flag given an empty value is a usage error, not the current directory or every interface; the implied peer port must fit, and the peer port is not the HTTP port', () => {
  usage(() => parseStartConfig(['--data-dir', ''], {}), /--data-dir needs a value, not an empty string/);
  usage(() => parseStartConfig(['--host='], {}), /--host needs a value/);
  usage(() => parseStartConfig(['--seeds', '127.0.0.1:7100', '--port', '7100', '--zone', ''], {}), /--zone needs a value/);
  // An empty variable is still taken as unset.
  const c = parseStartConfig([], { RINGKV_DATA_DIR: '', RINGKV_HOST: '' });
  assert.ok(c !== 'help');
  assert.deepEqual([c.host, c.dataDir.endsWith('/data')], ['127.0.0.1', true]);
  usage(() => parseStartConfig(['--seeds', '127.0.0.1:7100', '--port', '65000'], {}), /--port 65000 puts the peer port at 66000, over 65535: give --peer-port/);
  const high = parseStartConfig(['--seeds', '127.0.0.1:7100', '--port', '65000', '--peer-port', '64000'], {});
  assert.ok(high !== 'help');
  assert.equal(high.cluster!.peerPort, 64000);
  usage(() => parseStartConfig(['--seeds', '127.0.0.1:7100', '--port', '7100', '--peer-port', '7100'], {}), /--peer-port 7100 is --port too: the peer port needs a port of its own/);
});

test('ringkv cluster checks the options it passes on before starting any node, and refuses --bootstrap, which it sets itself', () => {
  const bin = path.resolve(__dirname, '..', '..', '..', '..', 'bin', 'ringkv.js');
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringkv-launcher-flags-'));
  try {
    for (const [flags, why] of [
      [['--shards', '0'], /^ringkv cluster: --shards must be/],
      [['--sync-mode', 'sometimes'], /^ringkv cluster: --sync-mode must be one of always, batch, none/],
      [['--bootstrap', 'on'], /^ringkv cluster: ringkv cluster chooses .*--bootstrap itself/],
    ] as const) {
      // Port 1: were a node started, it could not listen there; nothing must get that far.
      const r = spawnSync(process.execPath, [bin, 'cluster', '--nodes', '2', '--base-port', '1', '--data-dir', dataDir, ...flags], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(r.status, 2, `${flags.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, why);
      assert.doesNotMatch(r.stderr, /node-\d exited/);
      assert.deepEqual(fs.readdirSync(dataDir), [], 'no node was started');
    }
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
