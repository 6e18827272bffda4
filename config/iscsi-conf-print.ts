/**
 * Writes iscsi.conf(5) text from parsed targets: every setting explicit, values bare where the scanner allows and
 * double-quoted otherwise, so that parsing the output gives back the same targets.
 */
import { ConfigPrintError } from './errors.js';
import type { IscsiConfTarget } from './iscsi-conf.js';
import { isBareWord } from './iscsi-conf-lexer.js';

function word(text: string, what: string): string {
  if (isBareWord(text)) return text;
  // The format has no escapes: a quote, a line break or a control character cannot be written at all.
  // eslint-disable-next-line no-control-regex
  if (text === '' || /["\u0000-\u0008\u000a-\u001f\u007f]/u.test(text)) {
    throw new ConfigPrintError(
      'ERR_CONFIG_UNPRINTABLE',
      `${what} ${JSON.stringify(text)} cannot be written in iscsi.conf`,
    );
  }
  return `"${text}"`;
}

/** Renders targets as iscsi.conf text. Throws {@link ConfigPrintError} for values the format cannot hold. */
export function printIscsiConf(targets: readonly IscsiConfTarget[]): string {
  return targets.map(printTarget).join('\n');
}

function printTarget(target: IscsiConfTarget): string {
  const lines: string[] = [];
  const put = (key: string, value: string | number | undefined): void => {
    if (value !== undefined) lines.push(`\t${key} = ${word(String(value), key)}`);
  };
  put('TargetName', target.targetName);
  put('TargetAddress', target.targetAddress);
  put('InitiatorName', target.initiatorName);
  put('InitiatorAddress', target.initiatorAddress);
  put('InitiatorAlias', target.initiatorAlias);
  put('AuthMethod', target.authMethod);
  put('chapIName', target.chapIName);
  put('chapSecret', target.chapSecret);
  put('tgtChapName', target.tgtChapName);
  put('tgtChapSecret', target.tgtChapSecret);
  put('HeaderDigest', target.headerDigest);
  put('DataDigest', target.dataDigest);
  put('SessionType', target.sessionType);
  put('Protocol', target.protocol);
  put('Offload', target.offload);
  put('Enable', target.enable ? 'on' : 'off');
  put('dscp', target.dscp);
  put('pcp', target.pcp);
  put('PingTimeout', target.pingTimeout);
  put('LoginTimeout', target.loginTimeout);
  return `${word(target.nickname, 'nickname')} {\n${lines.join('\n')}\n}\n`;
}
