// Media type constants and predicates for manifests, indexes, configs and layers.
export const MT = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;

/**
 * Every manifest type we read, in preference order. ECR converts manifests when a type is missing from Accept, so
 * always send all.
 */
export const ACCEPT_MANIFESTS = [MT.ociIndex, MT.dockerList, MT.ociManifest, MT.dockerManifest].join(', ');

export const isIndexType = (mt: string | undefined): boolean => mt === MT.ociIndex || mt === MT.dockerList;
export const isImageType = (mt: string | undefined): boolean => mt === MT.ociManifest || mt === MT.dockerManifest;
export const isSchema1Type = (mt: string | undefined): boolean =>
  mt === MT.dockerSchema1 || mt === MT.dockerSchema1Signed || mt === 'application/json';
