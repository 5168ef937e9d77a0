// Platforms: parse, format and match `os/arch[/variant]`, and the host's own platform.
export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
}

const ARCH_ALIASES: Record<string, string> = {
  x86_64: 'amd64',
  x64: 'amd64',
  aarch64: 'arm64',
  ia32: '386',
  x86: '386',
};

function normalizeArch(arch: string): string {
  return ARCH_ALIASES[arch] ?? arch;
}

/** Parses `os/arch[/variant]`; returns undefined when the text is not of that form. */
export function parsePlatform(text: string): Platform | undefined {
  const parts = text.trim().toLowerCase().split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === '' || !/^[a-z0-9._-]+$/.test(p)))
    return undefined;
  const p: Platform = { os: parts[0], architecture: normalizeArch(parts[1]) };
  if (parts[2]) p.variant = parts[2];
  return normalizeVariant(p);
}

function normalizeVariant(p: Platform): Platform {
  // arm64 defaults to v8 and arm to v7, as containerd normalises them.
  if (p.architecture === 'arm64' && p.variant === 'v8') return { os: p.os, architecture: p.architecture };
  return p;
}

export function formatPlatform(p: Platform | undefined): string {
  if (!p) return 'unknown';
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

/**
 * True when `have` (from an index) satisfies `want` (from the user). A want without variant matches any variant, but
 * prefers none/default.
 */
export function platformMatches(want: Platform, have: Platform | undefined): boolean {
  if (!have) return false;
  const h = normalizeVariant({ ...have, architecture: normalizeArch(have.architecture) });
  if (h.os !== want.os || h.architecture !== want.architecture) return false;
  if (want.variant === undefined) return true;
  const hv = h.variant ?? (h.architecture === 'arm' ? 'v7' : undefined);
  return hv === want.variant;
}

export function hostPlatform(): Platform {
  const os = process.platform === 'win32' ? 'windows' : process.platform;
  const arch = normalizeArch(process.arch);
  const p: Platform = { os, architecture: arch };
  if (arch === 'arm')
    p.variant = `v${(process.config.variables as { arm_version?: string | number }).arm_version ?? '7'}`;
  return p;
}

/** An index entry that is an attestation or other artifact, not a runnable image (buildx's `unknown/unknown`). */
export function isAttestationEntry(desc: { platform?: Platform; annotations?: Record<string, string> }): boolean {
  return (
    desc.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest' ||
    (desc.platform?.os === 'unknown' && desc.platform?.architecture === 'unknown')
  );
}
