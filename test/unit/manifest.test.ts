// Manifests: parsing OCI/Docker images and indexes from bytes, refusing what is unsafe or unsupported, toFetched's
// digest check.
import { describe, expect, it } from 'vitest';
import { RegctlError } from '../../src/errors.js';
import { type Digest, digestOf } from '../../src/oci/digest.js';
import { ManifestError, blobsOf, parseManifest, toFetched } from '../../src/oci/manifest.js';
import { MT } from '../../src/oci/media-types.js';
import { MAX_JSON_BYTES } from '../../src/oci/limits.js';

const enc = (doc: unknown, indent?: number): Uint8Array => new TextEncoder().encode(JSON.stringify(doc, null, indent));
const d = (c: string): string => `sha256:${c.repeat(64)}`;

const config = { mediaType: MT.ociConfig, digest: d('c'), size: 1469 };
const layer = { mediaType: MT.ociLayerGzip, digest: d('1'), size: 3_623_807 };
const layer2 = { mediaType: MT.ociLayerGzip, digest: d('2'), size: 32 };
const amd64 = {
  mediaType: MT.ociManifest,
  digest: d('a'),
  size: 1013,
  platform: { os: 'linux', architecture: 'amd64' },
};
const arm64 = {
  mediaType: MT.ociManifest,
  digest: d('b'),
  size: 1013,
  platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
};

const ociManifest = { schemaVersion: 2, mediaType: MT.ociManifest, config, layers: [layer, layer2] };
const dockerManifest = {
  schemaVersion: 2,
  mediaType: MT.dockerManifest,
  config: { mediaType: MT.dockerConfig, digest: d('c'), size: 1469 },
  layers: [{ mediaType: MT.dockerLayerGzip, digest: d('1'), size: 3_623_807 }],
};
const ociIndex = { schemaVersion: 2, mediaType: MT.ociIndex, manifests: [amd64, arm64] };
const dockerList = {
  schemaVersion: 2,
  mediaType: MT.dockerList,
  manifests: [
    { mediaType: MT.dockerManifest, digest: d('a'), size: 528, platform: { os: 'linux', architecture: 'amd64' } },
    {
      mediaType: MT.dockerManifest,
      digest: d('b'),
      size: 528,
      platform: { os: 'linux', architecture: 'arm', variant: 'v7' },
    },
  ],
};
const { mediaType: _m1, ...ociManifestNoType } = ociManifest;
const { mediaType: _m2, ...ociIndexNoType } = ociIndex;
const { mediaType: _m3, ...dockerManifestNoType } = dockerManifest;
const { mediaType: _m4, ...dockerListNoType } = dockerList;

describe('parseManifest: accepted documents', () => {
  it.each<[string, unknown, string | undefined, 'image' | 'index', string, number]>([
    ['OCI image manifest', ociManifest, MT.ociManifest, 'image', MT.ociManifest, 2],
    ['Docker v2 manifest', dockerManifest, MT.dockerManifest, 'image', MT.dockerManifest, 1],
    ['OCI index', ociIndex, MT.ociIndex, 'index', MT.ociIndex, 2],
    ['Docker manifest list', dockerList, MT.dockerList, 'index', MT.dockerList, 2],
    // The document's own mediaType is enough without a content type.
    ['OCI manifest, no content type', ociManifest, undefined, 'image', MT.ociManifest, 2],
    ['Docker list, no content type', dockerList, undefined, 'index', MT.dockerList, 2],
    // No mediaType in the document: the content type says what it is.
    [
      'OCI manifest without mediaType, content type given',
      ociManifestNoType,
      MT.ociManifest,
      'image',
      MT.ociManifest,
      2,
    ],
    [
      'Docker manifest without mediaType, content type given',
      dockerManifestNoType,
      MT.dockerManifest,
      'image',
      MT.dockerManifest,
      1,
    ],
    ['OCI index without mediaType, content type given', ociIndexNoType, MT.ociIndex, 'index', MT.ociIndex, 2],
    ['Docker list without mediaType, content type given', dockerListNoType, MT.dockerList, 'index', MT.dockerList, 2],
    ['content type with parameters', ociManifestNoType, `${MT.ociManifest}; charset=utf-8`, 'image', MT.ociManifest, 2],
    // Neither: the shape decides, as OCI types.
    ['manifest without mediaType or content type', ociManifestNoType, undefined, 'image', MT.ociManifest, 2],
    ['index without mediaType or content type', ociIndexNoType, undefined, 'index', MT.ociIndex, 2],
    [
      'manifest served as application/octet-stream',
      ociManifestNoType,
      'application/octet-stream',
      'image',
      MT.ociManifest,
      2,
    ],
    [
      'manifest served as application/json with layers',
      ociManifestNoType,
      'application/json',
      'image',
      MT.ociManifest,
      2,
    ],
    ['index served as application/json', ociIndexNoType, 'application/json', 'index', MT.ociIndex, 2],
    // The document's mediaType wins over a disagreeing content type.
    ['declared Docker type wins over OCI content type', dockerManifest, MT.ociManifest, 'image', MT.dockerManifest, 1],
    ['declared index wins over manifest content type', ociIndex, MT.ociManifest, 'index', MT.ociIndex, 2],
    ['empty index', { schemaVersion: 2, mediaType: MT.ociIndex, manifests: [] }, MT.ociIndex, 'index', MT.ociIndex, 0],
    ['image without layers', { ...ociManifest, layers: [] }, MT.ociManifest, 'image', MT.ociManifest, 0],
  ])('%s', (_name, doc, contentType, kind, mediaType, count) => {
    const m = parseManifest(enc(doc), contentType);
    expect(m.kind).toBe(kind);
    expect(m.mediaType).toBe(mediaType);
    expect(m.kind === 'index' ? m.manifests.length : m.layers.length).toBe(count);
  });

  it('keeps the descriptors of an image manifest', () => {
    const m = parseManifest(enc(ociManifest), MT.ociManifest);
    expect(m).toStrictEqual({ kind: 'image', mediaType: MT.ociManifest, config, layers: [layer, layer2] });
    if (m.kind === 'image') expect(blobsOf(m)).toStrictEqual([config, layer, layer2]);
  });

  it('keeps platforms, annotations, urls, artifactType and subject', () => {
    const subject = { mediaType: MT.ociManifest, digest: d('5'), size: 7 };
    const doc = {
      schemaVersion: 2,
      mediaType: MT.ociIndex,
      annotations: { 'org.opencontainers.image.ref.name': '1.0' },
      subject,
      manifests: [
        {
          ...amd64,
          annotations: { a: 'b' },
          urls: ['https://example.com/x', 42],
          artifactType: 'application/x.sig',
          ignored: true,
        },
        { mediaType: MT.ociManifest, digest: d('6'), size: 0, platform: 'linux/amd64' },
      ],
    };
    expect(parseManifest(enc(doc))).toStrictEqual({
      kind: 'index',
      mediaType: MT.ociIndex,
      annotations: { 'org.opencontainers.image.ref.name': '1.0' },
      subject,
      manifests: [
        { ...amd64, annotations: { a: 'b' }, urls: ['https://example.com/x'], artifactType: 'application/x.sig' },
        // A platform that is not an object is dropped.
        { mediaType: MT.ociManifest, digest: d('6'), size: 0 },
      ],
    });
  });

  it('accepts sha512 descriptors', () => {
    const digest = `sha512:${'ab'.repeat(64)}`;
    const m = parseManifest(enc({ ...ociManifest, config: { ...config, digest } }));
    expect(m.kind === 'image' && m.config.digest).toBe(digest);
  });

  it('reads a Uint8Array that is a view into a larger buffer', () => {
    const inner = enc(ociIndex);
    const backing = new Uint8Array(inner.byteLength + 20).fill(0x7b); // '{' around the document
    backing.set(inner, 10);
    expect(parseManifest(backing.subarray(10, 10 + inner.byteLength)).kind).toBe('index');
  });

  it('accepts a manifest of exactly 4 MiB', () => {
    const body = enc(ociManifest);
    const bytes = new Uint8Array(MAX_JSON_BYTES).fill(0x20); // trailing JSON whitespace
    bytes.set(body, 0);
    expect(parseManifest(bytes).kind).toBe('image');
  });
});

describe('parseManifest: refused documents throw MANIFEST_INVALID', () => {
  const schema1 = {
    schemaVersion: 1,
    name: 'library/alpine',
    tag: 'latest',
    architecture: 'amd64',
    fsLayers: [{ blobSum: d('1') }],
    history: [{ v1Compatibility: '{}' }],
  };
  const signed = { ...schema1, signatures: [{ header: {}, signature: 'x', protected: 'y' }] };
  const bad = (desc: Record<string, unknown>): unknown => ({ ...ociManifest, layers: [layer, desc] });
  const text = (s: string): Uint8Array => new TextEncoder().encode(s);

  it.each<[string, Uint8Array, string | undefined, RegExp]>([
    // Docker schema 1, however it is announced.
    ['schema 1 by schemaVersion', enc(schema1), undefined, /schema 1/],
    ['schema 1 signed, by content type', enc(signed), MT.dockerSchema1Signed, /schema 1/],
    ['schema 1 by content type only', enc({ name: 'x', fsLayers: [] }), MT.dockerSchema1, /schema 1/],
    [
      'schema 1 declared in the document',
      enc({ ...ociManifestNoType, mediaType: MT.dockerSchema1 }),
      MT.ociManifest,
      /schema 1/,
    ],
    ['schema 1 with an OCI content type', enc(schema1), MT.ociManifest, /schema 1/],
    // Not JSON, or not an object.
    ['invalid JSON', text('{"schemaVersion": 2,'), MT.ociManifest, /not valid JSON/],
    ['empty body', new Uint8Array(0), MT.ociManifest, /not valid JSON/],
    ['HTML error page', text('<html><body>502</body></html>'), MT.ociManifest, /not valid JSON/],
    ['null', text('null'), undefined, /not a JSON object/],
    ['array', text('[]'), undefined, /not a JSON object/],
    ['string', text('"manifest"'), undefined, /not a JSON object/],
    ['number', text('2'), undefined, /not a JSON object/],
    // Descriptor digests: validated before they become URLs or paths.
    [
      'layer digest with path traversal',
      enc(bad({ ...layer, digest: 'sha256:../../etc' })),
      undefined,
      /layers\[1\]: invalid digest/,
    ],
    [
      'layer digest too short',
      enc(bad({ ...layer, digest: `sha256:${'a'.repeat(63)}` })),
      undefined,
      /layers\[1\]: invalid digest/,
    ],
    [
      'layer digest too long',
      enc(bad({ ...layer, digest: `sha256:${'a'.repeat(65)}` })),
      undefined,
      /layers\[1\]: invalid digest/,
    ],
    [
      'layer digest with bad algorithm',
      enc(bad({ ...layer, digest: `md5:${'a'.repeat(32)}` })),
      undefined,
      /invalid digest/,
    ],
    ['layer digest uppercase', enc(bad({ ...layer, digest: `sha256:${'A'.repeat(64)}` })), undefined, /invalid digest/],
    [
      'layer digest missing',
      enc(bad({ mediaType: MT.ociLayerGzip, size: 1 })),
      undefined,
      /layers\[1\]: invalid digest/,
    ],
    ['layer digest not a string', enc(bad({ ...layer, digest: 42 })), undefined, /invalid digest/],
    [
      'config digest with path traversal',
      enc({ ...ociManifest, config: { ...config, digest: 'sha256:../../etc' } }),
      undefined,
      /config: invalid digest/,
    ],
    [
      'index entry digest',
      enc({ ...ociIndex, manifests: [amd64, { ...arm64, digest: 'sha256:../../etc' }] }),
      undefined,
      /manifests\[1\]: invalid digest/,
    ],
    [
      'subject digest',
      enc({ ...ociManifest, subject: { ...config, digest: 'sha256:nope' } }),
      undefined,
      /subject: invalid digest/,
    ],
    // Descriptor sizes and media types.
    ['negative size', enc(bad({ ...layer, size: -1 })), undefined, /layers\[1\]: invalid size/],
    ['fractional size', enc(bad({ ...layer, size: 1.5 })), undefined, /invalid size/],
    ['size as a string', enc(bad({ ...layer, size: '10' })), undefined, /invalid size/],
    ['size missing', enc(bad({ mediaType: MT.ociLayerGzip, digest: d('1') })), undefined, /invalid size/],
    [
      'size beyond safe integers',
      text(
        `{"mediaType":"${MT.ociManifest}","config":${JSON.stringify(config)},` +
          `"layers":[{"mediaType":"x","digest":"${d('1')}","size":9007199254740993}]}`,
      ),
      undefined,
      /invalid size/,
    ],
    [
      'descriptor without mediaType',
      enc(bad({ digest: d('1'), size: 1 })),
      undefined,
      /layers\[1\]: missing mediaType/,
    ],
    ['descriptor with empty mediaType', enc(bad({ ...layer, mediaType: '' })), undefined, /missing mediaType/],
    [
      'descriptor that is not an object',
      enc({ ...ociManifest, layers: ['sha256:x'] }),
      undefined,
      /layers\[0\]: not a descriptor/,
    ],
    ['descriptor that is null', enc({ ...ociIndex, manifests: [null] }), undefined, /manifests\[0\]: not a descriptor/],
    // Shape.
    [
      'image without config',
      enc({ ...ociManifestNoType, config: undefined }),
      MT.ociManifest,
      /config: not a descriptor/,
    ],
    [
      'image without layers',
      enc({ schemaVersion: 2, mediaType: MT.ociManifest, config }),
      undefined,
      /no layers array/,
    ],
    ['image with layers not an array', enc({ ...ociManifest, layers: {} }), undefined, /no layers array/],
    ['index without manifests', enc({ schemaVersion: 2, mediaType: MT.ociIndex }), undefined, /no manifests array/],
    [
      'Docker list whose manifests is not an array',
      enc({ ...dockerList, manifests: {} }),
      undefined,
      /no manifests array/,
    ],
    [
      'unsupported media type',
      enc({ ...ociManifest, mediaType: 'application/vnd.oci.artifact.manifest.v1+json' }),
      undefined,
      /unsupported manifest media type/,
    ],
    // Size cap.
    ['one byte over 4 MiB', new Uint8Array(MAX_JSON_BYTES + 1).fill(0x20), MT.ociManifest, /over the 4 MiB limit/],
    ['far over 4 MiB', new Uint8Array(8 * 1024 * 1024).fill(0x20), MT.ociManifest, /over the 4 MiB limit/],
  ])('%s', (_name, bytes, contentType, message) => {
    let caught: unknown;
    try {
      parseManifest(bytes, contentType);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ManifestError);
    expect(caught).toBeInstanceOf(RegctlError);
    const err = caught as ManifestError;
    expect(err.code).toBe('MANIFEST_INVALID');
    expect(err.exitCode).toBe(1);
    expect(err.message).toMatch(message);
  });

  it('explains the schema 1 refusal with a hint', () => {
    let caught: ManifestError | undefined;
    try {
      parseManifest(enc(schema1), MT.dockerSchema1Signed);
    } catch (err) {
      caught = err as ManifestError;
    }
    expect(caught?.message).toBe('Docker schema 1 manifests are not supported');
    expect(caught?.hint).toMatch(/re-push/);
  });

  it('does not echo a huge invalid digest in full', () => {
    const digest = `sha256:${'z'.repeat(100_000)}`;
    let message = '';
    try {
      parseManifest(enc(bad({ ...layer, digest })));
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/invalid digest/);
    expect(message.length).toBeLessThan(200);
  });
});

describe('toFetched', () => {
  // Pretty-printed on purpose: the digest is of these exact bytes, never of a re-serialisation.
  const bytes = enc(ociIndex, 3);
  const sha256 = digestOf(bytes);
  const sha512 = digestOf(bytes, 'sha512');

  it.each<[string, Digest | undefined, Digest]>([
    ['no expected digest: sha256 of the bytes', undefined, sha256],
    ['expected sha256 digest that matches', sha256, sha256],
    ['expected sha512 digest that matches', sha512, sha512],
  ])('%s', (_name, expected, digest) => {
    const f = toFetched(bytes, MT.ociIndex, expected);
    expect(f.bytes).toBe(bytes);
    expect(f.desc).toStrictEqual({ mediaType: MT.ociIndex, digest, size: bytes.byteLength });
    expect(f.manifest.kind).toBe('index');
    expect(digest).not.toBe(digestOf(enc(ociIndex)));
  });

  it('takes the media type from the document, not the content type', () => {
    const f = toFetched(enc(dockerList), 'application/octet-stream');
    expect(f.desc.mediaType).toBe(MT.dockerList);
  });

  it.each<[string, Uint8Array, Digest]>([
    ['different bytes', enc(ociIndex), sha256],
    ['one flipped byte', Uint8Array.from(bytes, (b, i) => (i === 20 ? b ^ 1 : b)), sha256],
    ['a truncated, unparseable copy', bytes.subarray(0, bytes.byteLength - 1), sha256],
    ['a sha512 that does not match', enc(ociIndex), sha512],
    [
      'a digest of another algorithm for the same bytes',
      bytes,
      `sha512:${sha256.slice(7)}${sha256.slice(7)}` as Digest,
    ],
  ])('refuses %s with DIGEST_MISMATCH', (_name, got, expected) => {
    let caught: unknown;
    try {
      toFetched(got, MT.ociIndex, expected);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(RegctlError);
    expect((caught as RegctlError).code).toBe('DIGEST_MISMATCH');
    expect((caught as RegctlError).message).toContain(expected);
  });

  it('still refuses an invalid manifest whose digest matches', () => {
    const junk = new TextEncoder().encode('{"schemaVersion":1,"fsLayers":[]}');
    expect(() => toFetched(junk, MT.dockerSchema1, digestOf(junk))).toThrow(ManifestError);
  });
});
