// Events the copy engine emits; the CLI's progress sinks render them, the engine never prints.
import type { Digest } from '../oci/digest.js';

export type CopyEvent =
  | { type: 'resolving' }
  | { type: 'up-to-date'; digest: Digest }
  | { type: 'plan'; blobs: number; bytes: number }
  | { type: 'blob'; digest: Digest; size: number; state: 'exists' | 'mounted' | 'start' | 'done' }
  | { type: 'bytes'; digest: Digest; n: number }
  | { type: 'manifest'; digest: Digest; state: 'exists' | 'pushed' }
  | { type: 'retry'; what: string; attempt: number; delayMs: number; reason: string }
  | { type: 'warning'; message: string };

export type EventSink = (e: CopyEvent) => void;
