/** Every property of the suite, in the order they run. */
import type { ConformanceProperty } from '../property.js';
import { abortedWritesAtomic, readYourWrites } from './data.js';

/** All properties. */
export const ALL_PROPERTIES: readonly ConformanceProperty[] = [readYourWrites, abortedWritesAtomic];
