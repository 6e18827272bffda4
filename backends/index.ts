/** LUN storage behind the SBC model: sparse memory, files, and the `mem:`/`file:` spec strings the CLI takes. */
export * from './errors.js';
export * from './file.js';
export * from './memory.js';
export * from './spec.js';
