/**
 * The daemon's control protocol: one JSON object per line over a unix socket, a request from `iser ctl` and one
 * response from `iser daemon`. Requests are checked with zod; anything else gets an error reply, never a crash.
 */
import { z } from 'zod';

/** Longest request line accepted (bytes); a longer one is refused and the connection closed. */
export const MAX_REQUEST_BYTES = 64 * 1024;

const name = z.string().min(1).max(223);

/** `-A`: log in to a target and export its LUNs over NBD. */
export const AddRequest = z.strictObject({
  op: z.literal('add'),
  target: name,
  portal: z.string().min(1).max(300),
  transport: z.enum(['tcp', 'iser']).default('tcp'),
  user: z.string().min(1).max(255).optional(),
  secret: z.string().min(1).max(255).optional(),
  nickname: z.string().min(1).max(64).optional(),
  initiatorName: name.optional(),
  /** Mutual CHAP: the name and secret the target must answer with. */
  mutualUser: z.string().min(1).max(255).optional(),
  mutualSecret: z.string().min(1).max(255).optional(),
});

/** A session id as `-L` shows it. */
const sessionId = z
  .number()
  .int()
  .min(1)
  .max(2 ** 31);

/**
 * `-M`: change a session. Connection fields (target, portal, transport, CHAP, initiator name) log it in again with
 * the merged values, keeping its id and NBD socket; a nickname alone only renames it. Absent fields keep their value.
 */
export const ModifyRequest = z.strictObject({
  op: z.literal('modify'),
  id: sessionId,
  target: name.optional(),
  portal: z.string().min(1).max(300).optional(),
  transport: z.enum(['tcp', 'iser']).optional(),
  user: z.string().min(1).max(255).optional(),
  secret: z.string().min(1).max(255).optional(),
  nickname: z.string().min(1).max(64).optional(),
  initiatorName: name.optional(),
  mutualUser: z.string().min(1).max(255).optional(),
  mutualSecret: z.string().min(1).max(255).optional(),
  /** The request describes the whole session (an iscsi.conf block): absent fields are cleared, not kept. */
  replace: z.boolean().optional(),
});

/** `-R`: log out of one target, a nickname, a session id, or everything. */
export const RemoveRequest = z.strictObject({
  op: z.literal('remove'),
  id: sessionId.optional(),
  target: name.optional(),
  nickname: z.string().min(1).max(64).optional(),
  all: z.boolean().optional(),
});

/** `-L`: list sessions. */
export const ListRequest = z.strictObject({ op: z.literal('list'), verbose: z.boolean().optional() });

/** `-A -d`: SendTargets discovery at a portal, then a session to every target found. */
export const DiscoverRequest = z.strictObject({
  op: z.literal('discover'),
  portal: z.string().min(1).max(300),
  transport: z.enum(['tcp', 'iser']).default('tcp'),
  user: z.string().min(1).max(255).optional(),
  secret: z.string().min(1).max(255).optional(),
  initiatorName: name.optional(),
  mutualUser: z.string().min(1).max(255).optional(),
  mutualSecret: z.string().min(1).max(255).optional(),
});

/** Any request. */
export const Request = z.discriminatedUnion('op', [
  AddRequest,
  DiscoverRequest,
  ModifyRequest,
  RemoveRequest,
  ListRequest,
]);
export type Request = z.infer<typeof Request>;
export type AddRequest = z.infer<typeof AddRequest>;
export type ModifyRequest = z.infer<typeof ModifyRequest>;
export type DiscoverRequest = z.infer<typeof DiscoverRequest>;

/** One LUN of a session, with where its NBD export is served. */
export interface LunInfo {
  readonly lun: number;
  readonly blocks: string;
  readonly blockSize: number;
  readonly nbd: string;
}

/** One session the daemon holds. */
export interface SessionInfo {
  readonly id: number;
  readonly target: string;
  readonly portal: string;
  readonly transport: 'tcp' | 'iser';
  readonly nickname?: string;
  readonly state: string;
  /** How many times ERL 0 recovery logged the session in again (a target restart, a lost connection). */
  readonly reconnects: number;
  readonly luns: readonly LunInfo[];
  /** Negotiated keys (only with verbose). */
  readonly keys?: Readonly<Record<string, string>>;
}

/** Stable codes of error replies. */
export type DaemonReplyCode =
  | 'ERR_DAEMON_BAD_REQUEST'
  | 'ERR_DAEMON_NO_SESSION'
  | 'ERR_DAEMON_EXISTS'
  | 'ERR_DAEMON_BUSY'
  | 'ERR_DAEMON_ISER_UNAVAILABLE'
  | 'ERR_DAEMON_LOGIN'
  | 'ERR_DAEMON_INTERNAL';

/** A response. `exitCode` is what `iser ctl` ends with on an error. */
export type Response =
  | { readonly ok: true; readonly sessions: readonly SessionInfo[] }
  | { readonly ok: false; readonly code: DaemonReplyCode; readonly message: string; readonly exitCode: number };

/** Checks a response line as ctl reads it (the daemon is trusted less than fully: shape only). */
export const ResponseShape = z.union([
  z.object({ ok: z.literal(true), sessions: z.array(z.looseObject({})) }),
  z.object({ ok: z.literal(false), code: z.string(), message: z.string(), exitCode: z.number().int() }),
]);
