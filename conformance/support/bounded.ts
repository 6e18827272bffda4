/** Every wait of the suite is bounded on the target's scheduler, so a silent target fails a property, never hangs it. */
import { isObservable, lastValueFrom, timeout, type Observable, type SchedulerLike } from 'rxjs';
import { ConformanceError } from '../errors.js';

/** Resolves with `work`, or rejects with ERR_CONFORMANCE_TIMEOUT after `ms` of scheduler time. */
export function bounded<T>(
  work: Promise<T> | Observable<T>,
  ms: number,
  scheduler: SchedulerLike,
  what: string,
): Promise<T> {
  const source = isObservable(work) ? work : undefined;
  if (source !== undefined) {
    return lastValueFrom(
      source.pipe(
        timeout({
          first: ms,
          scheduler,
          with: () => {
            throw new ConformanceError('ERR_CONFORMANCE_TIMEOUT', `${what}: no answer within ${ms} ms`);
          },
        }),
      ),
    );
  }
  return new Promise<T>((resolve, reject) => {
    const timer = scheduler.schedule(() => {
      reject(new ConformanceError('ERR_CONFORMANCE_TIMEOUT', `${what}: no answer within ${ms} ms`));
    }, ms);
    (work as Promise<T>).then(
      (value) => {
        timer.unsubscribe();
        resolve(value);
      },
      (err: unknown) => {
        timer.unsubscribe();
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

/** Resolves after `ms` of scheduler time. */
export function sleep(ms: number, scheduler: SchedulerLike): Promise<void> {
  return new Promise((resolve) => {
    scheduler.schedule(() => {
      resolve();
    }, ms);
  });
}
