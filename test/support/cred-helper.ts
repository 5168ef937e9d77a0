// A fake `docker-credential-NAME` helper on a temp PATH dir: get/store/erase/list over a JSON file, every call logged.
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { makeTempDir, removeTempDir } from './lifecycle.js';

export interface HelperCall {
  verb: string;
  /** stdin as received (the server URL for get/erase, JSON for store) */
  input: string;
}

export interface CredHelper {
  name: string;
  /** The directory holding `docker-credential-NAME`: prepend it to PATH. */
  dir: string;
  /** PATH with dir first, for runCli's env. */
  path: string;
  /** server URL → { Username, Secret } as stored now */
  store(): Promise<Record<string, { Username: string; Secret: string }>>;
  /** Seeds a credential as if `docker login` had stored it. */
  put(serverUrl: string, username: string, secret: string): Promise<void>;
  calls(): Promise<HelperCall[]>;
  remove(): Promise<void>;
}

// Runs under this very node (absolute shebang): no dependence on PATH order for `node`.
const script = (storePath: string, logPath: string) => `#!${process.execPath}
const fs = require('node:fs');
const verb = process.argv[2];
let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => (input += d));
process.stdin.on('end', () => {
  fs.appendFileSync(${JSON.stringify(logPath)}, JSON.stringify({ verb, input }) + '\\n');
  const store = JSON.parse(fs.readFileSync(${JSON.stringify(storePath)}, 'utf8'));
  const save = () => fs.writeFileSync(${JSON.stringify(storePath)}, JSON.stringify(store));
  const url = input.trim();
  if (verb === 'get') {
    const c = store[url];
    if (!c) { process.stdout.write('credentials not found in native keychain\\n'); process.exit(1); }
    process.stdout.write(JSON.stringify({ ServerURL: url, Username: c.Username, Secret: c.Secret }));
  } else if (verb === 'store') {
    const c = JSON.parse(input);
    store[c.ServerURL] = { Username: c.Username, Secret: c.Secret };
    save();
  } else if (verb === 'erase') {
    if (!store[url]) { process.stdout.write('credentials not found in native keychain\\n'); process.exit(1); }
    delete store[url];
    save();
  } else if (verb === 'list') {
    process.stdout.write(JSON.stringify(Object.fromEntries(Object.entries(store).map(([k, v]) => [k, v.Username]))));
  } else {
    process.stdout.write('unknown verb ' + verb + '\\n');
    process.exit(1);
  }
});
`;

export async function makeCredHelper(name: string): Promise<CredHelper> {
  const dir = await makeTempDir(`helper-${name}`);
  const storePath = join(dir, 'store.json');
  const logPath = join(dir, 'calls.jsonl');
  await writeFile(storePath, '{}');
  await writeFile(logPath, '');
  const bin = join(dir, `docker-credential-${name}`);
  await writeFile(bin, script(storePath, logPath));
  await chmod(bin, 0o755);
  const store = async () =>
    JSON.parse(await readFile(storePath, 'utf8')) as Record<string, { Username: string; Secret: string }>;
  return {
    name,
    dir,
    path: `${dir}${delimiter}${process.env.PATH ?? ''}`,
    store,
    async put(serverUrl, username, secret) {
      const s = await store();
      s[serverUrl] = { Username: username, Secret: secret };
      await writeFile(storePath, JSON.stringify(s));
    },
    async calls() {
      return (await readFile(logPath, 'utf8'))
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as HelperCall);
    },
    remove: () => removeTempDir(dir),
  };
}
