/**
 * YAML text checked against a zod schema, every problem reported at its line and column: the YAML syntax errors,
 * then the schema's issues located in the document (config/yaml-locate.ts). target.yaml and `iser sim` scenario
 * files share it, so both say `file:line:column: message` the same way.
 */
import { LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError, type ConfigIssue, type ConfigWarning } from './errors.js';
import { locate } from './yaml-locate.js';

/** Options of {@link parseYamlWithSchema}. */
export interface YamlSchemaOptions {
  /** Largest text accepted. */
  readonly maxBytes: number;
  /** What the top level must look like, for the message when it is not a mapping (e.g. `portals:, targets:, ...`). */
  readonly topLevelHint: string;
}

function pathText(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    out += typeof segment === 'number' ? `[${segment}]` : out === '' ? String(segment) : `.${String(segment)}`;
  }
  return out;
}

function firstLine(message: string): string {
  return (message.split('\n')[0] ?? message).replace(/ at line \d+, column \d+:?$/, '');
}

/**
 * Parses `text` as YAML and checks it with `schema`. Throws {@link ConfigError} listing every problem in file
 * order. A custom issue with `params: { at: 'key' }` points at the map key rather than its value.
 */
export function parseYamlWithSchema<S extends z.ZodType>(
  text: string,
  file: string,
  schema: S,
  options: YamlSchemaOptions,
): { readonly value: z.output<S>; readonly warnings: readonly ConfigWarning[] } {
  if (text.length > options.maxBytes) {
    throw new ConfigError(file, {
      issues: [
        { code: 'ERR_CONFIG_TOO_LARGE', line: 1, column: 1, message: `file is larger than ${options.maxBytes} bytes` },
      ],
    });
  }
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  const warnings: ConfigWarning[] = document.warnings.map((w) => ({
    line: w.linePos?.[0].line ?? 1,
    column: w.linePos?.[0].col ?? 1,
    message: firstLine(w.message),
  }));
  if (document.errors.length > 0) {
    throw new ConfigError(file, {
      issues: document.errors.map((err) => ({
        code: err.code === 'DUPLICATE_KEY' ? 'ERR_CONFIG_DUPLICATE' : 'ERR_CONFIG_SYNTAX',
        line: err.linePos?.[0].line ?? 1,
        column: err.linePos?.[0].col ?? 1,
        message: firstLine(err.message),
      })),
    });
  }
  let data: unknown;
  try {
    data = document.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new ConfigError(file, {
      issues: [
        { code: 'ERR_CONFIG_SYNTAX', line: 1, column: 1, message: err instanceof Error ? err.message : String(err) },
      ],
      cause: err,
    });
  }
  const result = schema.safeParse(data ?? {});
  if (result.success) return { value: result.data, warnings };
  const issues: ConfigIssue[] = [];
  for (const zodIssue of result.error.issues) {
    if (zodIssue.code === 'unrecognized_keys') {
      for (const key of zodIssue.keys) {
        const where = locate(document, lineCounter, [...zodIssue.path, key], 'key');
        const inside = pathText(zodIssue.path);
        issues.push({
          code: 'ERR_CONFIG_UNKNOWN_KEY',
          ...where.position,
          message: `unknown key "${key}"${inside === '' ? '' : ` in ${inside}`}`,
        });
      }
      continue;
    }
    const at =
      zodIssue.code === 'custom' && (zodIssue.params as { at?: string } | undefined)?.at === 'key' ? 'key' : 'value';
    const where = locate(document, lineCounter, zodIssue.path, at);
    const name = pathText(zodIssue.path);
    const missing = !where.found && zodIssue.code === 'invalid_type';
    issues.push({
      code: missing ? 'ERR_CONFIG_MISSING' : 'ERR_CONFIG_VALUE',
      ...where.position,
      message: missing
        ? `${name} is required`
        : name === ''
          ? `the file must be a mapping of settings (${options.topLevelHint}): ${zodIssue.message}`
          : `${name}: ${zodIssue.message}`,
    });
  }
  issues.sort((a, b) => a.line - b.line || a.column - b.column);
  throw new ConfigError(file, { issues });
}
