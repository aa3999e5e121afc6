/**
 * crypt(3) from libxcrypt (libcrypt.so.1), for checking shadow hashes: yescrypt ($y$),
 * sha512-crypt ($6$), sha256-crypt ($5$), whatever the system's library knows.
 *
 *   char *crypt(const char *phrase, const char *setting);
 *
 * crypt() returns a pointer to a static buffer, or NULL or a string starting with `*` on
 * failure; JS is single-threaded, so the static buffer is read before anyone else calls it.
 */
import { cstring, libcrypt, type Pointer } from './native'

const cstr = (s: string) => Buffer.from(`${s}\0`, 'utf8')

/** The hash of `phrase` with `setting` (a full hash works as its own setting), or undefined. */
export function crypt(phrase: string, setting: string): string | undefined {
  const p = cstr(phrase)
  const s = cstr(setting)
  const hash = cstring(libcrypt().crypt(p, s) as Pointer | null)
  // wipe the copy of the password C saw
  p.fill(0)
  return hash && !hash.startsWith('*') ? hash : undefined
}
