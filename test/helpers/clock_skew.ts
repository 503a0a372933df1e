// Preloaded into a node process by TestCluster (`node --require dist/test/helpers/clock_skew.js`)
// to set its wall clock RINGKV_TEST_CLOCK_SKEW_MS off the machine's: Date.now() and `new Date()`
// read that many ms later (negative: earlier), in the main thread and in every worker thread
// (workers run preloaded modules too). The steady clock (performance.now) is left alone, as a real
// wall-clock step leaves CLOCK_MONOTONIC alone. Test-only: nothing in src/ knows of it.
const skewMs = Number(process.env['RINGKV_TEST_CLOCK_SKEW_MS'] ?? '0');
if (!Number.isSafeInteger(skewMs)) throw new Error(`RINGKV_TEST_CLOCK_SKEW_MS ${process.env['RINGKV_TEST_CLOCK_SKEW_MS']} is not a whole number of ms`);

if (skewMs !== 0) {
  const RealDate = Date;
  const realNow = RealDate.now.bind(RealDate);
  class SkewedDate extends RealDate {
    constructor(...args: ConstructorParameters<DateConstructor> | []) {
      if (args.length === 0) super(realNow() + skewMs);
      else super(...(args as ConstructorParameters<DateConstructor>));
    }

    static override now(): number {
      return realNow() + skewMs;
    }
  }
  globalThis.Date = SkewedDate as DateConstructor;
}
