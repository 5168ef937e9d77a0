// `login HOST` / `logout HOST`: check credentials against the registry, then store or drop them.
import { RegctlError, UsageError } from '../errors.js';
import { normalizeRegistry } from '../location/reference.js';
import { rememberLogin } from '../util/secrets.js';
import type { CommandDef } from './types.js';

async function readStdin(stdin: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stdin) text += chunk.toString();
  return text.replace(/\r?\n$/, '');
}

export const loginCommand: CommandDef = {
  name: 'login',
  args: '<host>',
  summary: 'check credentials against a registry and store them (OS keychain where usable, else docker config.json)',
  examples: ['echo "$TOKEN" | regctl login ghcr.io -u me --password-stdin', 'regctl login -u AWS --password-stdin 123456789012.dkr.ecr.us-east-1.amazonaws.com'],
  configure(cmd) {
    cmd.option('-u, --username <user>', 'user name');
    cmd.option('-p, --password <password>', 'password (visible in the process list and shell history: prefer --password-stdin)');
    cmd.option('--password-stdin', 'read the password from standard input');
  },
  async run(ctx, [hostText], opts) {
    const registry = normalizeRegistry(hostText.replace(/^https?:\/\//, '').replace(/\/.*$/, ''));
    const username = opts.username as string | undefined;
    if (!username) throw new UsageError('login needs -u USER');
    let password = opts.password as string | undefined;
    if (password !== undefined && opts.passwordStdin) throw new UsageError('give --password or --password-stdin, not both');
    if (password !== undefined) ctx.log.warn('a password on the command line is visible to other users and kept in shell history: use --password-stdin');
    if (opts.passwordStdin) password = await readStdin(process.stdin);
    if (!password) throw new UsageError('no password given: use --password-stdin');
    rememberLogin(username, password);
    const { verifyLogin, storeLogin } = await import('../credentials/store.js');
    await verifyLogin(ctx, registry, { username, password });
    const where = await storeLogin(ctx, registry, { username, password });
    ctx.log.info(`credentials for ${registry} stored in ${where}`);
    return { stdout: 'Login Succeeded', json: { registry, stored: where } };
  },
};

export const logoutCommand: CommandDef = {
  name: 'logout',
  args: '<host>',
  summary: 'drop the stored credentials of a registry',
  examples: ['regctl logout ghcr.io'],
  async run(ctx, [hostText]) {
    const registry = normalizeRegistry(hostText.replace(/^https?:\/\//, '').replace(/\/.*$/, ''));
    const { removeLogin } = await import('../credentials/store.js');
    const removed = await removeLogin(ctx, registry);
    if (!removed.length) throw new RegctlError('NOT_LOGGED_IN', `no stored credentials for ${registry}`);
    return { stdout: `Removed login credentials for ${registry}`, json: { registry, removedFrom: removed } };
  },
};
