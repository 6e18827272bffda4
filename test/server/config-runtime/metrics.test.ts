/** TargetMetrics: every kind of event lands in the right series, with the numbers given. */
import { describe, expect, it } from 'vitest';
import { PduDecodeError } from '../../../protocol/pdu/errors.js';
import { TargetSessionError } from '../../../protocol/session/target-errors.js';
import { TargetMetrics } from '../../../server/config-runtime/metrics.js';

const T = 'iqn.2024-01.org.example:m';
const REMOTE = { host: '127.0.0.1', port: 1 };

async function values(metrics: TargetMetrics, name: string): Promise<{ labels: object; value: number }[]> {
  const metric = metrics.registry.getSingleMetric(name);
  if (metric === undefined) throw new Error(`no metric ${name}`);
  return (await metric.get()).values.map((v) => ({ labels: v.labels, value: v.value }));
}

describe('TargetMetrics', () => {
  it('counts commands, bytes and latency per target and LUN', async () => {
    const m = new TargetMetrics();
    const base = { tsih: 1, targetName: T, lun: 2, status: 0, bytesRead: 0, bytesWritten: 0 };
    m.command({ ...base, direction: 'read', bytesRead: 4096, latencyMs: 0.2 });
    m.command({ ...base, direction: 'write', bytesWritten: 8192, latencyMs: 3 });
    m.command({ ...base, direction: 'none', status: 2, latencyMs: 0.01 });
    expect(await values(m, 'iser_target_commands_total')).toEqual([
      { labels: { target: T, lun: '2', op: 'read' }, value: 1 },
      { labels: { target: T, lun: '2', op: 'write' }, value: 1 },
      { labels: { target: T, lun: '2', op: 'other' }, value: 1 },
    ]);
    expect(await values(m, 'iser_target_read_bytes_total')).toEqual([{ labels: { target: T, lun: '2' }, value: 4096 }]);
    expect(await values(m, 'iser_target_written_bytes_total')).toEqual([
      { labels: { target: T, lun: '2' }, value: 8192 },
    ]);
    const text = await m.text();
    expect(text).toContain(`iser_target_command_duration_seconds_bucket{le="0.00025",target="${T}",op="read"} 1`);
    expect(text).toContain(`iser_target_command_duration_seconds_bucket{le="0.0025",target="${T}",op="write"} 0`);
    expect(text).toContain(`iser_target_command_duration_seconds_bucket{le="0.005",target="${T}",op="write"} 1`);
    expect(text).toContain('iser_target_errors_total{kind="check_condition"} 1');
  });

  it('tracks sessions and connections, and counts errors by kind', async () => {
    const m = new TargetMetrics();
    m.event({ kind: 'connection', id: 1, transport: 'tcp', portalGroupTag: 1, remote: REMOTE, local: REMOTE });
    m.event({ kind: 'connection', id: 2, transport: 'iser', portalGroupTag: 1, remote: REMOTE, local: REMOTE });
    m.event({
      kind: 'session-started',
      id: 1,
      cid: 0,
      isid: '800000000001',
      tsih: 5,
      initiatorName: 'iqn.2024-01.org.example:i',
      targetName: T,
      sessionType: 'Normal',
      reinstated: undefined,
    });
    m.event({ kind: 'login-failed', id: 2, remote: REMOTE, error: undefined });
    m.event({ kind: 'session-event', tsih: 5, event: { kind: 'task-aborted', itt: 1, lun: 0, by: 'reset' } });
    m.event({ kind: 'session-event', tsih: 5, event: { kind: 'rejected', cid: 0, reason: 2, pduKind: 'data-out' } });
    m.event({ kind: 'session-event', tsih: 5, event: { kind: 'rejected', cid: 0, reason: 9, pduKind: 'x' } });
    m.connectionClosed({ id: 2, remote: REMOTE, tsih: undefined, cid: undefined, error: undefined });
    m.connectionClosed({
      id: 1,
      remote: REMOTE,
      tsih: 5,
      cid: 0,
      error: new PduDecodeError('ERR_PDU_HEADER_DIGEST', 'header digest mismatch'),
    });
    expect(await values(m, 'iser_target_sessions')).toEqual([{ labels: { target: T }, value: 1 }]);
    m.event({
      kind: 'session-ended',
      tsih: 5,
      reason: new TargetSessionError('ERR_TARGET_SESSION_TRANSPORT', 'gone'),
    });
    expect(await values(m, 'iser_target_sessions')).toEqual([{ labels: { target: T }, value: 0 }]);
    expect(await values(m, 'iser_target_connections')).toEqual([{ labels: {}, value: 0 }]);
    expect(
      Object.fromEntries(
        (await values(m, 'iser_target_errors_total')).map((v) => [(v.labels as { kind: string }).kind, v.value]),
      ),
    ).toEqual({
      login_failure: 1,
      digest_error: 2,
      aborted_task: 1,
      check_condition: 0,
      protocol_reject: 1,
    });
    m.reloaded(true);
    m.reloaded(false);
    m.reloaded(false);
    expect(await m.text()).toContain('iser_target_reloads_total{result="error"} 2');
  });

  it('uses its own registry, not the global one', async () => {
    const { register } = await import('prom-client');
    new TargetMetrics();
    expect(register.getSingleMetric('iser_target_commands_total')).toBeUndefined();
  });
});
