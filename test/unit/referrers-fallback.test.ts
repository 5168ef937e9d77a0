// The referrers tag schema: tag names (spec.md's table), the merged index, what a referrer's descriptor says.
import { describe, expect, it } from 'vitest';
import type { Digest } from '../../src/oci/digest.js';
import { encodeManifest, toFetched } from '../../src/oci/manifest.js';
import {
  OCI_INDEX,
  REFERRER_TAG,
  fallbackTag,
  mergeFallback,
  referrerDescriptor,
} from '../../src/referrers/fallback-index.js';

const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

const A = `sha256:${'a'.repeat(64)}` as Digest;
const B = `sha256:${'b'.repeat(64)}` as Digest;
const C = `sha256:${'c'.repeat(64)}` as Digest;

describe('fallbackTag (spec.md, Referrers Tag Schema)', () => {
  it.each([
    [A, `sha256-${'a'.repeat(64)}`],
    [`sha512:${'a'.repeat(128)}`, `sha512-${'a'.repeat(64)}`],
    [
      'test+algorithm+using+algorithm+separators+and+lots+of+characters+to+excercise+overall+truncation:' +
        'alsoSome=InTheEncodedSectionToShowHyphenReplacementAndLotsAndLotsOfCharactersToExcerciseEncodedTruncation',
      'test-algorithm-using-algorithm-s-alsoSome-InTheEncodedSectionToShowHyphenReplacementAndLotsAndLot',
    ],
  ])('%s → %s', (digest, tag) => expect(fallbackTag(digest as Digest)).toBe(tag));

  it('recognises fallback and cosign tags, nothing else', () => {
    const t = fallbackTag(A);
    for (const tag of [t, `${t}.sig`, `${t}.att`, `${t}.sbom`]) expect(REFERRER_TAG.test(tag)).toBe(true);
    for (const t of ['v1', `${fallbackTag(A)}.x`, 'sha256-abc', 'latest']) expect(REFERRER_TAG.test(t)).toBe(false);
  });
});

describe('mergeFallback', () => {
  const entry = (digest: Digest, artifactType: string) => ({ mediaType: MANIFEST, digest, size: 10, artifactType });
  it('starts an index when there is none', () => {
    const m = mergeFallback(undefined, [entry(A, 't')])!;
    expect(m.desc.mediaType).toBe(OCI_INDEX);
    const doc = JSON.parse(Buffer.from(m.bytes).toString());
    expect(doc).toEqual({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [entry(A, 't')] });
  });

  it('keeps every entry and field another tool wrote, adds only what is new, and nothing when nothing is', () => {
    const foreign = { ...entry(A, 'x'), annotations: { 'tool.x': '1' }, 'x-extra': true };
    const stored = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [foreign], annotations: { keep: 'me' } };
    const existing = toFetched(encodeManifest(stored), OCI_INDEX);
    const m = mergeFallback(existing, [entry(A, 'other'), entry(B, 'y'), entry(B, 'y')])!;
    const doc = JSON.parse(Buffer.from(m.bytes).toString());
    expect(doc.annotations).toEqual({ keep: 'me' });
    expect(doc.manifests).toEqual([foreign, entry(B, 'y')]);
    expect(mergeFallback(m, [entry(A, 'x'), entry(B, 'y')])).toBeUndefined();
  });
});

describe('referrerDescriptor (what Listing Referrers lists)', () => {
  const manifest = (extra: object) =>
    toFetched(
      encodeManifest({
        schemaVersion: 2,
        mediaType: MANIFEST,
        config: { mediaType: 'application/vnd.example.cfg', digest: B, size: 2 },
        layers: [],
        subject: { mediaType: 'x', digest: C, size: 1 },
        ...extra,
      }),
      undefined,
    );
  it('artifactType, else the config media type; the annotations', () => {
    const sbom = { artifactType: 'application/spdx+json', annotations: { a: 'b' } };
    expect(referrerDescriptor(manifest(sbom))).toMatchObject(sbom);
    expect(referrerDescriptor(manifest({})).artifactType).toBe('application/vnd.example.cfg');
  });
  it('an index without artifactType has none', () => {
    const subject = { mediaType: 'x', digest: C, size: 1 };
    const doc = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [], subject };
    const idx = toFetched(encodeManifest(doc), undefined);
    expect(referrerDescriptor(idx).artifactType).toBeUndefined();
  });
});
