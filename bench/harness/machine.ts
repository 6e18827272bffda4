/**
 * What machine a benchmark ran on, printed with every result so a reader can judge the noise: cores, CPU model,
 * load average (before and after: other work on the machine moves the figures more than anything we do), Node.
 */
import { availableParallelism, cpus, loadavg } from 'node:os';

/** A snapshot of the machine. */
export interface MachineInfo {
  readonly cores: number;
  readonly cpuModel: string;
  /** 1, 5 and 15 minute load averages. */
  readonly loadAverage: readonly [number, number, number];
  readonly node: string;
  readonly arch: string;
}

/** The machine now. */
export function machineInfo(): MachineInfo {
  const [one = 0, five = 0, fifteen = 0] = loadavg();
  return {
    cores: availableParallelism(),
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown CPU',
    loadAverage: [one, five, fifteen],
    node: process.version,
    arch: process.arch,
  };
}

/** `load average 1.20 0.90 0.80 (1/5/15 min)`. */
export function describeLoad(info: MachineInfo = machineInfo()): string {
  return `load average ${info.loadAverage.map((l) => l.toFixed(2)).join(' ')} (1/5/15 min)`;
}

/** One line: cores, CPU, load, Node. */
export function describeMachine(info: MachineInfo = machineInfo()): string {
  return `machine: ${info.cores} cores (${info.cpuModel}), ${describeLoad(info)}, Node ${info.node} ${info.arch}`;
}
