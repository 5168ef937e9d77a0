// Hostile text from registries (issue 14, items 10 and 12): control characters in labels and error messages never reach
// the terminal raw; a user regex that backtracks forever on a listed tag does not stop SIGTERM from working.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FaultProxy } from '../support/fault-proxy.js';
import { makeImageLayout, seedImage } from '../support/images.js';
import type { RegistryHandle } from '../support/registry.js';
import { runCli, startCli } from '../support/run-cli.js';
import { type ProxiedRegistry, startProxiedRegistry } from '../support/proxied.js';

let reg: RegistryHandle;
let proxy: FaultProxy;
let env: ProxiedRegistry;
let work: string;

/** Retitles the terminal (OSC 0 … BEL), clears it (CSI 2J), and a C1 CSI (U+009B) some terminals obey. */
const HOSTILE = '\u001b]0;pwned\u0007\u001b[2J\u009b31mred';
const ESCAPED = '\\x1b]0;pwned\\x07\\x1b[2J\\x9b31mred';
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;
/** 34 a's and a character `^(a+)+$` cannot match: the backtracking doubles with every a. */
const EVIL_TAG = `${'a'.repeat(34)}_`;

beforeAll(async () => {
  env = await startProxiedRegistry('hostile-text');
  ({ work, reg, proxy } = env);
  const img = await makeImageLayout(join(work, 'img'), { layers: [10_000], seed: 'hostile-text', tag: 'v1' });
  await seedImage(`oci:${img.dir}:v1`, `${reg.host}/lib/app:v1`);
  await seedImage(`oci:${img.dir}:v1`, `${reg.host}/lib/evil:${EVIL_TAG}`);
  const label = ['--label', `title=${HOSTILE}`, '-t', `${reg.host}/lib/app:label`];
  const m = await runCli(['mutate', `${reg.host}/lib/app:v1`, ...label]);
  expect(m.code, m.stderr).toBe(0);
});

afterAll(async () => {
  await env?.stop();
});

describe('control characters from outside are escaped before they reach a terminal', () => {
  it('a label: inspect shows it escaped; --json keeps it as JSON escapes (the same value)', async () => {
    const r = await runCli(['inspect', `${reg.host}/lib/app:label`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(CONTROL);
    expect(r.stdout).toContain(`title=${ESCAPED}`);
    const j = await runCli(['inspect', '--json', `${reg.host}/lib/app:label`]);
    expect(j.code, j.stderr).toBe(0);
    expect(j.stdout).not.toMatch(CONTROL);
    expect(JSON.parse(j.stdout).labels.title).toBe(HOSTILE);
    const c = await runCli(['inspect', '--config', `${reg.host}/lib/app:label`]);
    expect(c.stdout).not.toMatch(CONTROL);
    expect(JSON.parse(c.stdout).config.Labels.title).toBe(HOSTILE);
  });

  it("a registry's error message: one line, escaped", async () => {
    // The distribution spec's error `message` is free text ("a human readable message"); a hostile registry fills it.
    const body = Buffer.from(JSON.stringify({ errors: [{ code: 'DENIED', message: `no ${HOSTILE} way` }] }));
    const headers = { 'content-type': 'application/json', 'content-length': String(body.length) };
    proxy.rewrite('tags', () => ({ status: 403, headers, body }), 10);
    const r = await runCli(['ls', `${proxy.host}/lib/app`], { timeoutMs: 30_000 });
    proxy.clearFaults();
    expect(r.code).toBe(1);
    expect(r.stderr).not.toMatch(CONTROL);
    expect(r.stderr).toContain(`no ${ESCAPED} way`);
  });
});

describe('sync spec variables', () => {
  const SECRET = 'wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY';

  it('${AWS_SECRET_ACCESS_KEY} not in env: is an error: no request carries it, no message shows it', async () => {
    const spec = join(work, 'leak.yaml');
    const target = `${proxy.host}/leak/\${AWS_SECRET_ACCESS_KEY}:v1`;
    await writeFile(spec, `sync:\n  - source: ${reg.host}/lib/app:v1\n    target: ${target}\n`);
    proxy.reset();
    const r = await runCli(['sync', spec], { env: { AWS_SECRET_ACCESS_KEY: SECRET } });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/\$\{AWS_SECRET_ACCESS_KEY\} is not allowed: list it under `env:` in the spec/);
    expect(r.stderr + r.stdout).not.toContain(SECRET);
    expect(proxy.stats).toEqual([]);
  });

  it('--env NAME allows one variable', async () => {
    const spec = join(work, 'allowed.yaml');
    await writeFile(spec, `sync:\n  - source: \${SRC}/lib/app:v1\n    target: ${reg.host}/mirror/app\n`);
    const r = await runCli(['sync', spec, '--dry-run', '--env', 'SRC'], { env: { SRC: reg.host } });
    expect(r.code, r.stderr).toBe(0);
    const refusedRun = await runCli(['sync', spec, '--dry-run', '--env', 'OTHER'], { env: { SRC: reg.host } });
    expect(refusedRun.code).toBe(2);
  });
});

describe('ReDoS: a user regex against a hostile listed tag', () => {
  it('SIGTERM during tag selection with ^(a+)+$ ends the sync promptly (exit 143)', async () => {
    const spec = join(work, 'redos.yaml');
    const entry = `  - source: ${proxy.host}/lib/evil\n    target: ${reg.host}/mirror/evil\n`;
    await writeFile(spec, `sync:\n${entry}    tags: { allow: ["^(a+)+$"] }\n`);
    proxy.reset();
    const cli = await startCli(['sync', spec, '--dry-run'], { timeoutMs: 60_000 });
    // The tag list has been answered: selection (the regex) is what runs next.
    const listed = () => proxy.stats.some((s) => s.kind === 'tags' && s.status === 200);
    for (let i = 0; i < 1500 && !listed(); i++) await new Promise((r) => setTimeout(r, 20));
    expect(listed()).toBe(true);
    cli.child.kill('SIGTERM');
    const r = await cli.result; // rejects (the test fails) if the CLI has to be killed after 60 s
    expect(r.code, r.stderr).toBe(143);
    expect(r.stderr).toContain('regctl: interrupted');
  });
});
