// The Piscina task of bench/thread-hop.bench.ts: answers with what it was given.
export default function echo(x: number): number {
  return x;
}
