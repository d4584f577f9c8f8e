/** Logger receives warnings (a lying node named, a login backoff waited out); the SDK logs nothing by default. */
export interface Logger {
  warn(msg: string): void
}
