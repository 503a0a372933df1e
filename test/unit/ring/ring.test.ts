// The ring: balance of 128-vnode rings, minimal movement when a node joins, preference lists of
// distinct physical nodes, and determinism (every node computes the same ring from the same ids).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ring, keyToken, nodeTokens, ringDigestText, tokenFromString, tokenToString } from '../../../src/ring';

const keys = Array.from({ length: 30_000 }, (_, i) => Buffer.from(`user:${i}:profile`));
const tokens = keys.map((k) => keyToken(k));
const ids = (n: number) => Array.from({ length: n }, (_, i) => `node-${i}`);
const ring = (names: string[], vnodes = 128, version = 1) => Ring.build(names.map((nodeId) => ({ nodeId, vnodes })), version);

function primaryShares(r: Ring): Map<string, number> {
  const counts = new Map<string, number>();
  for (const t of tokens) {
    const owner = r.preferenceList(t, 1)[0]!;
    counts.set(owner, (counts.get(owner) ?? 0) + 1);
  }
  return counts;
}

for (const n of [3, 10]) {
  test(`keys spread over ${n} nodes with 128 vnodes stay within 25% of the fair share`, () => {
    // Proves the vnode count is enough for balance: every node's primary share of 30k keys is
    // within [0.75, 1.25] of 1/n, and the token-space ownership agrees with the key counts.
    const r = ring(ids(n));
    const shares = primaryShares(r);
    assert.equal(shares.size, n);
    const fair = keys.length / n;
    for (const [id, count] of shares) {
      assert.ok(count > 0.75 * fair && count < 1.25 * fair, `${id} holds ${count} keys, fair share ${fair.toFixed(0)}`);
    }
    const own = r.ownership();
    const total = [...own.values()].reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(total - 1) < 1e-9, `ownership sums to ${total}`);
    for (const [id, frac] of own) assert.ok(frac > 0.75 / n && frac < 1.25 / n, `${id} owns ${frac}`);
  });
}

for (const n of [3, 10]) {
  test(`adding a node to ${n} moves about 1/(n+1) of the keys, all to the new node`, () => {
    // Proves consistent hashing's promise: only keys the new node takes over change primary.
    const before = ring(ids(n), 128, 1);
    const after = ring([...ids(n), 'node-new'], 128, 2);
    let moved = 0;
    tokens.forEach((t) => {
      const a = before.preferenceList(t, 1)[0];
      const b = after.preferenceList(t, 1)[0];
      if (a !== b) {
        moved++;
        assert.equal(b, 'node-new', 'a key may only move to the node that joined');
      }
    });
    const expected = keys.length / (n + 1);
    assert.ok(moved > 0.7 * expected && moved < 1.3 * expected, `moved ${moved}, expected about ${expected.toFixed(0)}`);
  });
}

test('preference lists never repeat a physical node and have min(N, nodes) entries', () => {
  // Proves the clockwise walk skips further vnodes of nodes already chosen.
  for (const n of [1, 2, 3, 5, 10]) {
    const r = ring(ids(n), 64);
    for (let i = 0; i < 2000; i++) {
      for (const want of [1, 3, 5]) {
        const list = r.preferenceList(tokens[i]!, want);
        assert.equal(list.length, Math.min(want, n));
        assert.equal(new Set(list).size, list.length, `repeated node in ${list.join(',')}`);
      }
    }
  }
});

test('the preference list starts at the first vnode clockwise and wraps past the top', () => {
  // Proves the lookup direction: a token just below a vnode's token belongs to that vnode's node,
  // and a token above the last vnode wraps to the first.
  const r = ring(['a', 'b', 'c'], 4);
  const all = ['a', 'b', 'c'].flatMap((id) => r.tokensOf(id).map((t) => ({ t, id }))).sort((x, y) => (x.t < y.t ? -1 : 1));
  for (const { t, id } of all) {
    assert.equal(r.preferenceList(t, 1)[0], id);
    if (t > 0n) assert.equal(r.preferenceList(t - 1n, 1)[0], id);
  }
  // Tokens a step apart round to the same double: these lookups take the search's exact compare.
  for (const { t } of all) if (t > 0n) assert.equal(Number(t - 1n), Number(t));
  const last = all[all.length - 1]!;
  if (last.t < (1n << 64n) - 1n) assert.equal(r.preferenceList(last.t + 1n, 1)[0], all[0]!.id);
  assert.deepEqual(r.walk(all[0]!.t).length, 3);
});

test('a preference list is walked once per vnode and length, and cannot be changed by a caller', () => {
  // Proves the lookup cache: the same list object for every key of a vnode, a different one per
  // length, and frozen, so a caller that edits its list cannot corrupt the next key's.
  const r = ring(ids(5), 8);
  const t = r.tokensOf('node-0')[0]!;
  assert.equal(r.preferenceList(t, 3), r.preferenceList(t - 1n, 3));
  assert.notEqual(r.preferenceList(t, 3), r.preferenceList(t, 2));
  assert.deepEqual(r.preferenceList(t, 2), r.preferenceList(t, 3).slice(0, 2));
  assert.ok(Object.isFrozen(r.preferenceList(t, 3)));
  assert.throws(() => (r.preferenceList(t, 3) as string[]).push('x'), TypeError);
});

test('rings built from the same members in any order are identical; tokens derive from ids', () => {
  // Proves every node computes the same placement without exchanging token lists.
  const a = Ring.build([{ nodeId: 'x', vnodes: 16 }, { nodeId: 'y', vnodes: 32 }], 7);
  const b = Ring.build([{ nodeId: 'y', vnodes: 32 }, { nodeId: 'x', vnodes: 16 }], 7);
  for (let i = 0; i < 500; i++) assert.deepEqual(a.preferenceList(tokens[i]!, 2), b.preferenceList(tokens[i]!, 2));
  assert.deepEqual(a.tokensOf('x'), [...nodeTokens('x', 16)].sort((p, q) => (p < q ? -1 : 1)));
  assert.equal(a.tokensOf('y').length, 32);
  assert.equal(a.vnodeCount, 48);
  assert.ok(a.sameMembers([{ nodeId: 'x', vnodes: 16 }, { nodeId: 'y', vnodes: 32 }]));
  assert.ok(!a.sameMembers([{ nodeId: 'x', vnodes: 16 }, { nodeId: 'y', vnodes: 31 }]));
  const t = a.tokensOf('x')[0]!;
  assert.equal(tokenFromString(tokenToString(t)), t);
});

test('a ring\'s digest names its members whatever their order or the ring\'s version; any change of placement changes it', () => {
  const base = [{ nodeId: 'x', vnodes: 16 }, { nodeId: 'y', vnodes: 32, zone: 'a' }, { nodeId: 'z', vnodes: 16, datacenter: 'eu' }];
  const d = Ring.build(base, 3).digest;
  assert.equal(Ring.build([...base].reverse(), 9).digest, d, 'another order, another version: the same ring');
  assert.ok(Number.isInteger(d) && d > 0 && d <= 0xffffffff);
  assert.match(ringDigestText(d), /^[0-9a-f]{8}$/);
  assert.equal(ringDigestText(0xabc), '00000abc');
  const changed = [
    base.slice(0, 2),
    [...base, { nodeId: 'w', vnodes: 16 }],
    [{ ...base[0]!, vnodes: 17 }, ...base.slice(1)],
    [base[0]!, { ...base[1]!, zone: 'b' }, base[2]!],
    [...base.slice(0, 2), { ...base[2]!, datacenter: 'us' }],
    [{ nodeId: 'x2', vnodes: 16 }, ...base.slice(1)],
  ];
  const digests = changed.map((m) => Ring.build(m, 3).digest);
  assert.equal(new Set([d, ...digests]).size, changed.length + 1, 'each change gives another digest');
});

test('a node with more vnodes owns proportionally more of the ring', () => {
  // Proves per-node vnode counts weight ownership (design.md §7.1, heterogeneous hardware).
  const r = Ring.build([{ nodeId: 'big', vnodes: 256 }, { nodeId: 's1', vnodes: 128 }, { nodeId: 's2', vnodes: 128 }], 1);
  const own = r.ownership();
  assert.ok(own.get('big')! > 0.4 && own.get('big')! < 0.6, `big owns ${own.get('big')}`);
});

test('building a ring with a duplicate node or zero vnodes is a programmer error', () => {
  // Proves the build asserts its invariants instead of producing a skewed ring.
  assert.throws(() => Ring.build([{ nodeId: 'a', vnodes: 1 }, { nodeId: 'a', vnodes: 1 }], 1), /twice/);
  assert.throws(() => Ring.build([{ nodeId: 'a', vnodes: 0 }], 1), /vnodes/);
});

test('replicatedRanges: each vnode range is held by exactly the N nodes of its preference list', () => {
  // Proves the ranges anti-entropy walks: over all nodes every vnode range appears N times, once
  // per replica, and every key's preference list matches the replicas of the range it falls in.
  const ring = Ring.build(['a', 'b', 'c', 'd'].map((nodeId) => ({ nodeId, vnodes: 16 })), 1);
  const seen = new Map<bigint, number>();
  for (const m of ring.members) {
    for (const r of ring.replicatedRanges(m.nodeId, 3)) {
      assert.ok(r.replicas.includes(m.nodeId));
      assert.equal(r.replicas.length, 3);
      seen.set(r.token, (seen.get(r.token) ?? 0) + 1);
    }
  }
  assert.equal(seen.size, ring.vnodeCount, 'every vnode range is replicated somewhere');
  for (const count of seen.values()) assert.equal(count, 3);
  const ranges = ring.replicatedRanges('a', 3);
  for (let i = 0; i < 200; i++) {
    const t = keyToken(new Uint8Array(Buffer.from(`k${i}`)));
    const inRange = ranges.find((r) => (r.previous < r.token ? t > r.previous && t <= r.token : t > r.previous || t <= r.token));
    const pref = ring.preferenceList(t, 3);
    assert.equal(inRange !== undefined, pref.includes('a'), `key k${i}: held by a exactly when a is in its preference list`);
    if (inRange) assert.deepEqual(inRange.replicas, pref);
  }
  assert.deepEqual(ring.replicatedRanges('nobody', 3), []);
});

test('effective ownership: each node\'s share of the keys it replicates, adding up to min(N, nodes)', () => {
  // Proves effectiveOwnership against the keys themselves: the share of 30,000 keys whose
  // preference list of 3 holds a node is the fraction the ring reports for it.
  const r = ring(ids(5), 32);
  const own = r.effectiveOwnership(3);
  const held = new Map<string, number>();
  for (const t of tokens) for (const id of r.preferenceList(t, 3)) held.set(id, (held.get(id) ?? 0) + 1);
  for (const id of ids(5)) assert.ok(Math.abs(own.get(id)! - held.get(id)! / tokens.length) < 0.02, `${id}: ${own.get(id)} vs ${held.get(id)! / tokens.length}`);
  assert.ok(Math.abs([...own.values()].reduce((a, b) => a + b, 0) - 3) < 1e-9);
  const two = ring(ids(2), 8).effectiveOwnership(3);
  assert.deepEqual([...two.values()].map((x) => Math.round(x * 1e9) / 1e9), [1, 1], 'fewer nodes than N: each holds everything');
});

/** `perZone` nodes in each of `zones`: node-<zone>-<i>. */
function zoned(zones: string[], perZone: number, vnodes = 128): Ring {
  return Ring.build(zones.flatMap((zone) => Array.from({ length: perZone }, (_, i) => ({ nodeId: `node-${zone}-${i}`, vnodes, zone }))), 1);
}
const zoneOf = (id: string): string => id.split('-')[1]!;

test('with zones, a preference list holds min(N, zones) zones, a node of each new zone before a second of any', () => {
  // Proves the rack-aware walk: with 3 zones every 3-list spans 3 zones; with 2 zones every 3-list
  // has both; and the list still has distinct nodes and the primary of the zoneless walk.
  for (const [zones, perZone] of [[['a', 'b', 'c'], 2], [['a', 'b'], 3], [['a', 'b', 'c', 'd'], 1]] as const) {
    const r = zoned([...zones], perZone);
    const plain = ring(r.members.map((m) => m.nodeId));
    for (let i = 0; i < 3000; i++) {
      for (const want of [1, 2, 3, 5]) {
        const list = r.preferenceList(tokens[i]!, want);
        assert.equal(list.length, Math.min(want, zones.length * perZone));
        assert.equal(new Set(list).size, list.length, `repeated node in ${list.join(',')}`);
        const firstZones = list.slice(0, Math.min(want, zones.length)).map(zoneOf);
        assert.equal(new Set(firstZones).size, firstZones.length, `zones ${firstZones.join(',')} of ${list.join(',')}`);
      }
      assert.equal(r.preferenceList(tokens[i]!, 3)[0], plain.preferenceList(tokens[i]!, 1)[0], 'zones do not change a key\'s primary');
    }
  }
});

test('one zone for every node (or none) walks exactly as a ring without zones', () => {
  const names = ids(6);
  const plain = ring(names);
  const oneZone = Ring.build(names.map((nodeId) => ({ nodeId, vnodes: 128, zone: 'us-east-1a' })), 1);
  for (let i = 0; i < 3000; i++) assert.deepEqual(oneZone.preferenceList(tokens[i]!, 3), plain.preferenceList(tokens[i]!, 3));
});

test('zones keep each node\'s share of replicas balanced when zones are equal; a zone of one node holds a replica of every key', () => {
  const r = zoned(['a', 'b', 'c'], 2);
  const own = r.effectiveOwnership(3);
  for (const [id, frac] of own) assert.ok(frac > 0.35 && frac < 0.65, `${id} holds replicas of ${frac} of the keys (fair 0.5)`);
  // A third zone with one node: it must be in every list (Cassandra's rack rule has the same effect).
  const lopsided = Ring.build([...zoned(['a', 'b'], 2).members, { nodeId: 'node-c-0', vnodes: 128, zone: 'c' }], 1);
  assert.ok(Math.abs(lopsided.effectiveOwnership(3).get('node-c-0')! - 1) < 1e-9);
});

test('a zone change is a ring change; a bad zone name is a programmer error', () => {
  const r = zoned(['a', 'b'], 2);
  assert.ok(r.sameMembers(r.members));
  assert.ok(!r.sameMembers(r.members.map((m) => (m.nodeId === 'node-a-0' ? { ...m, zone: 'b' } : m))));
  assert.ok(!ring(ids(2)).sameMembers(ids(2).map((nodeId) => ({ nodeId, vnodes: 128, zone: 'a' }))));
  assert.ok(ring(ids(2)).sameMembers(ids(2).map((nodeId) => ({ nodeId, vnodes: 128, zone: '' }))), "'' is no zone");
  assert.throws(() => Ring.build([{ nodeId: 'n', vnodes: 8, zone: 'a b' }], 1), /zone of n/);
  assert.throws(() => Ring.build([{ nodeId: 'n', vnodes: 8, zone: 'z'.repeat(65) }], 1), /zone of n/);
});

/** `perDc` nodes in each of `dcs`, zones z0..z(zones-1) in turn within each: node-<dc>-<i>. */
function inDatacenters(dcs: string[], perDc: number, zones = 1, vnodes = 64): Ring {
  return Ring.build(dcs.flatMap((datacenter) => Array.from({ length: perDc }, (_, i) => ({ nodeId: `node-${datacenter}-${i}`, vnodes, datacenter, ...(zones > 1 ? { zone: `z${i % zones}` } : {}) }))), 1);
}

test('with datacenters, a preference list holds N nodes of each (all of a smaller one), zone-aware within each', () => {
  // Proves the per-datacenter walk (design.md §8: each datacenter keeps a whole copy): the list
  // has min(N, size) distinct nodes of every datacenter, entry 0 is the key's primary owner, and
  // within a datacenter with zones its first nodes are of different zones.
  const cases: Array<[string[], number, number]> = [[['east', 'west'], 3, 1], [['east', 'west'], 4, 2], [['a', 'b', 'c'], 2, 1]];
  for (const [dcs, perDc, zones] of cases) {
    const r = inDatacenters(dcs, perDc, zones);
    assert.equal(r.datacenters, dcs.length);
    assert.deepEqual([...r.datacenterNames].sort(), [...dcs].sort());
    for (const want of [1, 2, 3]) assert.equal(r.replicaCount(want), dcs.length * Math.min(want, perDc));
    const walkOwner = Ring.build(r.members.map((m) => ({ nodeId: m.nodeId, vnodes: m.vnodes })), 1);
    for (let i = 0; i < 2000; i++) {
      for (const want of [1, 2, 3]) {
        const list = r.preferenceList(tokens[i]!, want);
        assert.equal(list.length, r.replicaCount(want));
        assert.equal(new Set(list).size, list.length, `repeated node in ${list.join(',')}`);
        for (const dc of dcs) {
          const mine = list.filter((id) => r.datacenterOf(id) === dc);
          assert.equal(mine.length, Math.min(want, perDc), `${dc} in ${list.join(',')}`);
          const firstZones = mine.slice(0, Math.min(want, zones)).map((id) => r.zoneOf(id));
          assert.equal(new Set(firstZones).size, firstZones.length, `zones of ${dc} in ${list.join(',')}`);
        }
      }
      assert.equal(r.preferenceList(tokens[i]!, 3)[0], walkOwner.preferenceList(tokens[i]!, 1)[0], 'datacenters do not change a key\'s primary');
    }
    const own = r.effectiveOwnership(2);
    assert.ok(Math.abs([...own.values()].reduce((a, b) => a + b, 0) - r.replicaCount(2)) < 1e-9, 'ownership adds up to the replicas per key');
  }
});

test('zone names are per datacenter; one datacenter (or none) walks exactly as a ring without datacenters', () => {
  const names = ids(6);
  const plain = Ring.build(names.map((nodeId, i) => ({ nodeId, vnodes: 64, zone: `z${i % 3}` })), 1);
  const oneDc = Ring.build(plain.members.map((m) => ({ ...m, datacenter: 'east' })), 1);
  assert.equal(oneDc.datacenters, 1);
  for (let i = 0; i < 2000; i++) assert.deepEqual(oneDc.preferenceList(tokens[i]!, 3), plain.preferenceList(tokens[i]!, 3));
  // Zone 'a' in two datacenters is two zones: with one zone name everywhere, each datacenter's
  // two nodes must both be in every 2-per-datacenter list.
  const r = Ring.build(['e0', 'e1', 'w0', 'w1'].map((nodeId) => ({ nodeId, vnodes: 64, zone: 'a', datacenter: nodeId[0]! })), 1);
  for (let i = 0; i < 500; i++) assert.deepEqual([...r.preferenceList(tokens[i]!, 2)].sort(), ['e0', 'e1', 'w0', 'w1']);
  assert.ok(!r.sameMembers(r.members.map((m) => (m.nodeId === 'e0' ? { ...m, datacenter: 'w' } : m))), 'a datacenter change is a ring change');
  assert.ok(plain.sameMembers(plain.members.map((m) => ({ ...m, datacenter: '' }))), "'' is no datacenter");
  assert.throws(() => Ring.build([{ nodeId: 'n', vnodes: 8, datacenter: 'us east' }], 1), /datacenter of n/);
});

test('replicated token ranges: each node\'s ranges, merged, cover exactly the keys it replicates; N copies of the space in all', () => {
  const r = zoned(['a', 'b', 'c'], 2, 16);
  const tokenCount = (ranges: Array<{ from: bigint; to: bigint }>): bigint => ranges.reduce((n, x) => n + (x.to - x.from + 1n), 0n);
  let total = 0n;
  for (const m of r.members) {
    const ranges = r.replicatedTokenRanges(m.nodeId, 3);
    for (let i = 1; i < ranges.length; i++) assert.ok(ranges[i]!.from > ranges[i - 1]!.to + 1n, 'ascending, disjoint, merged');
    total += tokenCount(ranges);
    const holds = (t: bigint): boolean => ranges.some((x) => x.from <= t && t <= x.to);
    for (let i = 0; i < 2000; i++) assert.equal(holds(tokens[i]!), r.preferenceList(tokens[i]!, 3).includes(m.nodeId), `token ${tokens[i]}`);
  }
  assert.equal(total, 3n * (1n << 64n), 'every token held by exactly N nodes');
  assert.deepEqual(ring(['solo'], 1).replicatedTokenRanges('solo', 3), [{ from: 0n, to: (1n << 64n) - 1n }]);
  assert.deepEqual(ring(ids(3)).replicatedTokenRanges('node-1', 3), [{ from: 0n, to: (1n << 64n) - 1n }], 'N = nodes: everything, one range');
  assert.deepEqual(ring(ids(3)).replicatedTokenRanges('nobody', 3), []);
});

test('without(node): every key of one of its ranges has the preference list it had before the node joined', () => {
  const before = Ring.build([{ nodeId: 'a', vnodes: 16 }, { nodeId: 'b', vnodes: 16 }, { nodeId: 'c', vnodes: 16 }], 4);
  const after = Ring.build([...before.members, { nodeId: 'd', vnodes: 16 }], 5);
  const less = after.without(['d']);
  assert.equal(less.version, after.version);
  assert.equal(after.without(['d']), less, 'built once per ring');
  assert.ok(!less.has('d') && less.size === 3);
  for (const n of [1, 3]) {
    const ranges = after.replicatedRanges('d', n);
    assert.ok(ranges.length >= 16);
    for (let i = 0; i < 2000; i++) {
      const t = keyToken(new TextEncoder().encode(`w-${i}`));
      if (!after.preferenceList(t, n).includes('d')) continue;
      const r = ranges.find((x) => (x.previous < x.token ? t > x.previous && t <= x.token : t > x.previous || t <= x.token))!;
      assert.deepEqual(less.preferenceList(r.token, n), before.preferenceList(t, n), `key w-${i}, N = ${n}`);
    }
  }
});

test('without(several): every key of a range has the preference list of the ring before they all joined', () => {
  const before = Ring.build([{ nodeId: 'a', vnodes: 16 }, { nodeId: 'b', vnodes: 16 }], 1);
  const after = Ring.build([...before.members, { nodeId: 'c', vnodes: 16 }, { nodeId: 'd', vnodes: 16 }], 2);
  const less = after.without(['d', 'c']);
  assert.equal(after.without(['c', 'd']), less, 'the same set, in any order, is built once');
  assert.deepEqual(less.members.map((m) => m.nodeId), ['a', 'b']);
  for (const r of after.replicatedRanges('c', 1)) {
    for (const t of [r.token, r.previous < r.token ? r.previous + 1n : r.token]) assert.deepEqual(less.preferenceList(r.token, 1), before.preferenceList(t, 1));
  }
});

test('firstBeyond finds the first accepted node past a preference list, as the walk of every node would, or none', () => {
  // Proves hinted handoff's stand-in lookup, which looks at lists of growing length rather than
  // the walk of every node: the same node as the walk's first, for rings with and without zones,
  // whichever nodes are down; undefined only when every node is skipped or refused.
  let seed = 7;
  const random = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (const r of [ring(ids(12), 8), zoned(['a', 'b', 'c'], 4, 8)]) {
    const members = r.members.map((m) => m.nodeId);
    for (let i = 0; i < 300; i++) {
      const token = keyToken(new TextEncoder().encode(`stand-in-${i}`));
      const pref = r.preferenceList(token, 3);
      const down = new Set(members.filter(() => random() < 0.4));
      const accept = (id: string): boolean => !down.has(id);
      assert.equal(r.firstBeyond(token, pref, accept), r.walk(token).find((id) => !pref.includes(id) && accept(id)));
    }
    const token = keyToken(new TextEncoder().encode('none'));
    assert.equal(r.firstBeyond(token, r.preferenceList(token, 3), () => false), undefined);
    assert.equal(r.firstBeyond(token, members, () => true), undefined);
  }
});
