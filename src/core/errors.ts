/**
 * The one user-facing error type. Its message is complete advice in the shape
 * "Failed to <verb> <object>: <reason>" and is printed once, at the top, without a stack.
 */
/** Marks BurrowErrors (subclasses too) across the binary's entrypoints, each with its own copy of this class. */
const BRAND = Symbol.for('burrow.BurrowError')

export class BurrowError extends Error {
  override name = 'BurrowError'
  readonly [BRAND] = true
  constructor(
    message: string,
    /** errno of the underlying failure, when there is one, so callers can react to it */
    readonly errno?: number,
  ) {
    super(message)
  }
}

/** instanceof BurrowError, also for one thrown by another entrypoint's copy (serve, route). */
export function isBurrowError(err: unknown): err is BurrowError {
  return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[BRAND] === true
}

/** A failed libc call; `reason` is strerror's text. Wrapped into a BurrowError by the caller. */
export class SyscallError extends Error {
  override name = 'SyscallError'
  constructor(
    readonly call: string,
    readonly errno: number,
    readonly reason: string,
  ) {
    super(`${call}: ${reason}`)
  }
}

/** Throws "Failed to <what>: <reason>". */
export function fail(what: string, reason: string, errno?: number): never {
  throw new BurrowError(`Failed to ${what}: ${reason}`, errno)
}

/**
 * Re-throws `err` as "Failed to <what>: <reason>", keeping its errno; BurrowErrors that already
 * carry their own context pass through. `hints` adds what to do for specific errnos.
 */
export function failWith(what: string, err: unknown, hints: Record<number, string> = {}): never {
  if (isBurrowError(err)) throw err
  if (err instanceof SyscallError) {
    const hint = hints[err.errno]
    fail(what, hint ? `${err.reason} (${hint})` : err.reason, err.errno)
  }
  fail(what, err instanceof Error ? err.message : String(err))
}
