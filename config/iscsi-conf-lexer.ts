/**
 * Tokens of FreeBSD's iscsi.conf(5), as its flex scanner (usr.bin/iscsictl/token.l) splits them: bare words of
 * letters, digits and `. - _ / : [ ]`; double-quoted strings (no escapes); `{ } = ;`; `#` comments to the end
 * of the line. Two deliberate differences: a quoted string may not span lines or be empty, and any other
 * character is an error here rather than a one-character word that fails later with a vaguer message.
 */
import { ConfigError, type SourcePosition } from './errors.js';

/** One token, with where it starts. */
export type ConfToken =
  | (SourcePosition & {
      readonly kind: 'word';
      /** The word, without quotes. */
      readonly text: string;
      /** True when it was written in double quotes. */
      readonly quoted: boolean;
    })
  | (SourcePosition & { readonly kind: '{' | '}' | '=' | ';' | 'eof' });

const BARE = /[A-Za-z0-9._\-/:[\]]/;
const BARE_WORD = /^[A-Za-z0-9._\-/:[\]]+$/;

/** True when `text` can be written as a bare word. */
export function isBareWord(text: string): boolean {
  return BARE_WORD.test(text);
}

/** Splits iscsi.conf text into tokens; the last is `eof`. Throws {@link ConfigError} on a bad character or string. */
export function tokenizeIscsiConf(text: string, file: string): ConfToken[] {
  const tokens: ConfToken[] = [];
  let line = 1;
  let lineStart = 0;
  let i = 0;
  const fail = (at: number, message: string): never => {
    throw new ConfigError(file, { issues: [{ code: 'ERR_CONFIG_SYNTAX', line, column: at - lineStart + 1, message }] });
  };
  while (i < text.length) {
    const char = text[i] ?? '';
    const column = i - lineStart + 1;
    if (char === '\n') {
      line++;
      lineStart = ++i;
    } else if (char === ' ' || char === '\t' || char === '\r') {
      i++;
    } else if (char === '#') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (char === '{' || char === '}' || char === '=' || char === ';') {
      tokens.push({ kind: char, line, column });
      i++;
    } else if (char === '"') {
      const end = text.indexOf('"', i + 1);
      const newline = text.indexOf('\n', i + 1);
      if (end === -1 || (newline !== -1 && newline < end))
        fail(i, 'unterminated quoted string (quotes must close on the same line)');
      if (end === i + 1) fail(i, 'empty quoted string');
      // eslint-disable-next-line no-control-regex
      if (/[\u0000-\u0008\u000a-\u001f\u007f]/u.test(text.slice(i + 1, end)))
        fail(i, 'control character in a quoted string');
      tokens.push({ kind: 'word', text: text.slice(i + 1, end), quoted: true, line, column });
      i = end + 1;
    } else if (BARE.test(char)) {
      const start = i;
      while (i < text.length && BARE.test(text[i] ?? '')) i++;
      tokens.push({ kind: 'word', text: text.slice(start, i), quoted: false, line, column });
    } else {
      const shown = char.charCodeAt(0) < 0x20 ? `\\x${char.charCodeAt(0).toString(16).padStart(2, '0')}` : char;
      fail(i, `unexpected character '${shown}' (put values containing it in double quotes)`);
    }
  }
  tokens.push({ kind: 'eof', line, column: i - lineStart + 1 });
  return tokens;
}
