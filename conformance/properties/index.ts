/** Every property of the suite, in the order they run. */
import type { ConformanceProperty } from '../property.js';
import { abortedWritesAtomic, readYourWrites } from './data.js';
import { recovery } from './faults.js';
import { abortTask, lunReset } from './task-management.js';
import { agreedValues, illegalValues, iserKeys } from './negotiation.js';
import {
  dataSequencing,
  initiatorWindow,
  outOfWindow,
  residuals,
  statSN,
  targetWindow,
  taskTags,
} from './sequencing.js';

/** All properties. */
export const ALL_PROPERTIES: readonly ConformanceProperty[] = [
  agreedValues,
  illegalValues,
  iserKeys,
  initiatorWindow,
  targetWindow,
  statSN,
  taskTags,
  dataSequencing,
  residuals,
  outOfWindow,
  readYourWrites,
  abortedWritesAtomic,
  abortTask,
  lunReset,
  recovery,
];
