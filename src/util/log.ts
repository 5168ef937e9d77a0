// What a layer that reports progress in words needs from a logger; output/log.ts writes it to stderr.
export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
  debug(msg: string): void;
}
