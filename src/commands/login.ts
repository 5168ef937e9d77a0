// `login HOST` / `logout HOST`: check credentials against the registry, then store or drop them.
import { UsageError } from '../errors.js';
import { normalizeRegistry } from '../location/reference.js';
import { rememberLogin } from '../util/secrets.js';
import type { CommandDef } from './types.js';

async function readStdin(stdin: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stdin) text += chunk.toString();
  return text.replace(/\r?\n$/, '');
}

const ASKS = 'on a terminal, regctl asks for it';

export const loginCommand: CommandDef = {
  name: 'login',
  args: '<host>',
  summary: 'check credentials against a registry and store them (OS keychain where usable, else docker config.json)',
  examples: [
    'regctl login ghcr.io   # on a terminal: asks for the user name and a hidden password',
    'echo "$TOKEN" | regctl login ghcr.io -u me --password-stdin',
    'regctl login -u AWS --password-stdin 123456789012.dkr.ecr.us-east-1.amazonaws.com',
  ],
  configure(cmd) {
    cmd.option('-u, --username <user>', 'user name');
    cmd.option(
      '-p, --password <password>',
      'password (visible in the process list and shell history: prefer --password-stdin)',
    );
    cmd.option('--password-stdin', 'read the password from standard input');
  },
  async run(ctx, [hostText], opts) {
    const registry = normalizeRegistry(hostText.replace(/^https?:\/\//, '').replace(/\/.*$/, ''));
    let password = opts.password as string | undefined;
    if (password !== undefined && opts.passwordStdin)
      throw new UsageError('give --password or --password-stdin, not both');
    if (password !== undefined)
      ctx.log.warn(
        'a password on the command line is visible to other users and kept in shell history: use --password-stdin',
      );
    // As docker, skopeo and crane: on a terminal ask for what is missing; a script gives -u and --password-stdin.
    const { canPrompt, ask } = await import('../output/prompt.js');
    const prompt = canPrompt() && !opts.passwordStdin;
    let username = opts.username as string | undefined;
    if (!username && prompt) username = (await ask('Username: ', { signal: ctx.signal })).trim();
    if (!username) {
      const hint = opts.passwordStdin ? 'give -u USER with --password-stdin' : `give -u USER (${ASKS})`;
      throw new UsageError('login needs a user name', hint);
    }
    if (opts.passwordStdin) {
      password = await readStdin(process.stdin);
      const hint = `pipe it in: echo "$TOKEN" | regctl login -u ${username} --password-stdin ${registry}`;
      if (!password) throw new UsageError('no password on stdin', hint);
    }
    if (password === undefined && prompt) password = await ask('Password: ', { hidden: true, signal: ctx.signal });
    if (!password) throw new UsageError('no password given', `use --password-stdin (${ASKS})`);
    rememberLogin(username, password);
    const [{ verifyLogin }, { storeLogin }] = await Promise.all([
      import('../registry-client/login.js'),
      import('../credentials/store.js'),
    ]);
    const warn = (m: string) => ctx.log.warn(m);
    const check = { hosts: ctx.hosts(), retries: ctx.globals.retries, signal: ctx.signal, warn };
    await verifyLogin(check, registry, { username, password });
    const stored = await storeLogin(ctx, registry, { username, password });
    // One line: which store, and why when it is not the keychain (a warning when the secret is kept unencrypted).
    if (stored.where === 'the OS keychain') ctx.log.info(`credentials for ${registry} stored in the OS keychain`);
    else if (stored.why?.startsWith('the OS keychain is not usable')) {
      const fix = stored.fix ? `; for the keychain: ${stored.fix}` : '';
      ctx.log.warn(`${stored.why}: storing the credentials unencrypted in ${stored.where}${fix}`);
    } else if (stored.where.startsWith('docker-credential-')) {
      ctx.log.info(`credentials for ${registry} stored in ${stored.where} (${stored.why})`);
    } else ctx.log.info(`credentials for ${registry} stored unencrypted in ${stored.where} (${stored.why})`);
    return { stdout: 'Login Succeeded', json: { registry, stored: stored.where } };
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
    // As docker: nothing to drop is not a failure.
    if (!removed.length) {
      return { stdout: `Not logged in to ${registry}: no stored credentials`, json: { registry, removedFrom: [] } };
    }
    return { stdout: `Removed login credentials for ${registry}`, json: { registry, removedFrom: removed } };
  },
};
