/** Progress of a run: events for callers, and a one-line live display for terminals (TTY only). */
import type { PropertyResult } from './results.js';

/** What `onProgress` receives. */
export type ProgressEvent =
  | { readonly type: 'probe'; readonly target: string }
  | { readonly type: 'property-start'; readonly id: string; readonly index: number; readonly total: number }
  | { readonly type: 'run'; readonly id: string; readonly run: number }
  | { readonly type: 'property-end'; readonly result: PropertyResult; readonly index: number; readonly total: number };

/** A writable terminal stream. */
export interface ProgressStream {
  readonly isTTY?: boolean;
  write(text: string): unknown;
}

/** A handler that keeps one status line up to date on a TTY, and does nothing elsewhere. */
export function ttyProgress(stream: ProgressStream): (event: ProgressEvent) => void {
  if (stream.isTTY !== true) return () => undefined;
  let counts = { passed: 0, failed: 0, skipped: 0 };
  let current = '';
  const draw = (text: string): void => {
    stream.write(`\r\x1b[2K${text.slice(0, 150)}`);
  };
  return (event) => {
    switch (event.type) {
      case 'probe':
        draw(`probing ${event.target}…`);
        return;
      case 'property-start':
        current = `[${event.index + 1}/${event.total}] ${event.id}`;
        draw(`${current} · ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
        return;
      case 'run':
        draw(
          `${current} run ${event.run} · ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`,
        );
        return;
      case 'property-end':
        counts = { ...counts, [event.result.status]: counts[event.result.status] + 1 };
        if (event.index + 1 === event.total) stream.write('\r\x1b[2K');
        return;
    }
  };
}
