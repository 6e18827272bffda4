/**
 * Observability without coupling: the initiator publishes what happens on the `iser:initiator` diagnostics
 * channel; the CLI turns it into logs and metrics. Messages carry names, addresses, states and error codes —
 * never CHAP names' secrets, passwords or URLs with credentials.
 */
import diagnosticsChannel from 'node:diagnostics_channel';

/** The channel name. */
export const INITIATOR_CHANNEL = 'iser:initiator';

/** An error as published: its code and message, nothing else (no cause chains with foreign objects). */
export interface PublishedError {
  readonly name: string;
  readonly code: string | undefined;
  readonly message: string;
}

/** What the initiator publishes. */
export type InitiatorDiagnostic =
  | {
      readonly type: 'login';
      readonly phase: 'start' | 'succeeded' | 'failed' | 'redirected';
      readonly host: string;
      readonly port: number;
      readonly targetName: string | undefined;
      readonly sessionType: 'Normal' | 'Discovery';
      readonly error?: PublishedError;
    }
  | {
      readonly type: 'state';
      readonly targetName: string | undefined;
      readonly state: string;
      readonly error?: PublishedError;
    }
  | {
      readonly type: 'event';
      readonly targetName: string | undefined;
      readonly event: string;
      readonly detail: Readonly<Record<string, string | number | boolean | undefined>>;
    };

const channel = diagnosticsChannel.channel(INITIATOR_CHANNEL);

/** Publishes `message` when anyone listens. */
export function publish(message: InitiatorDiagnostic): void {
  if (channel.hasSubscribers) channel.publish(message);
}

/** The parts of an error that are safe to publish. */
export function publishedError(error: unknown): PublishedError {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { name: error.name, code: typeof code === 'string' ? code : undefined, message: error.message };
  }
  return { name: 'Error', code: undefined, message: String(error) };
}
