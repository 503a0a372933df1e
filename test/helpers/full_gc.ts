// A full collection on demand, for tests that check what is kept alive (WeakRef) or what a
// collection is timed as: --expose-gc set at run time, and gc() taken from a new context.
import * as v8 from 'node:v8';
import * as vm from 'node:vm';

export function forceFullGc(): void {
  v8.setFlagsFromString('--expose-gc');
  (vm.runInNewContext('gc') as () => void)();
}
