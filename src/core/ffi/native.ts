/**
 * The only module that imports bun:ffi: the symbol tables of the C libraries burrow calls, opened
 * lazily, plus the few pointer helpers the typed wrappers (libc.ts, crypt.ts) need.
 */
import { CString, dlopen, FFIType, type Pointer, ptr as bunPtr, read } from 'bun:ffi'

export type { Pointer }

function loadLibc() {
  return dlopen('libc.so.6', {
    __errno_location: { args: [], returns: 'ptr' },
    strerror: { args: ['i32'], returns: 'ptr' },
    socket: { args: ['i32', 'i32', 'i32'], returns: 'i32' },
    socketpair: { args: ['i32', 'i32', 'i32', 'ptr'], returns: 'i32' },
    connect: { args: ['i32', 'ptr', 'u32'], returns: 'i32' },
    shutdown: { args: ['i32', 'i32'], returns: 'i32' },
    close: { args: ['i32'], returns: 'i32' },
    sendmsg: { args: ['i32', 'ptr', 'i32'], returns: FFIType.i64_fast },
    recvmsg: { args: ['i32', 'ptr', 'i32'], returns: FFIType.i64_fast },
    recv: { args: ['i32', 'ptr', 'u64', 'i32'], returns: FFIType.i64_fast },
    send: { args: ['i32', 'ptr', 'u64', 'i32'], returns: FFIType.i64_fast },
    read: { args: ['i32', 'ptr', 'u64'], returns: FFIType.i64_fast },
    write: { args: ['i32', 'ptr', 'u64'], returns: FFIType.i64_fast },
    splice: { args: ['i32', 'ptr', 'i32', 'ptr', 'u64', 'u32'], returns: FFIType.i64_fast },
    poll: { args: ['ptr', 'u64', 'i32'], returns: 'i32' },
    getsockopt: { args: ['i32', 'i32', 'i32', 'ptr', 'ptr'], returns: 'i32' },
    setsockopt: { args: ['i32', 'i32', 'i32', 'ptr', 'u32'], returns: 'i32' },
    fcntl: { args: ['i32', 'i32', 'i32'], returns: 'i32' },
    open: { args: ['ptr', 'i32', 'u32'], returns: 'i32' },
    prctl: { args: ['i32', 'u64', 'u64', 'u64', 'u64'], returns: 'i32' },
    getppid: { args: [], returns: 'i32' },
    inet_pton: { args: ['i32', 'ptr', 'ptr'], returns: 'i32' },
    if_nametoindex: { args: ['ptr'], returns: 'u32' },
    getpwuid: { args: ['u32'], returns: 'ptr' },
    setns: { args: ['i32', 'i32'], returns: 'i32' },
    flock: { args: ['i32', 'i32'], returns: 'i32' },
    // raw syscall(2), for calls old glibc has no wrapper for (openat2, statx: glibc 2.28): the
    // number, then up to five arguments (a pointer in the middle goes as its address)
    syscall: { args: ['i64', 'i64', 'ptr', 'i64', 'i64', 'ptr'], returns: FFIType.i64_fast },
  })
}

let libcLib: ReturnType<typeof loadLibc> | undefined

export const libc = () => (libcLib ??= loadLibc()).symbols

/** libxcrypt, for checking shadow hashes (serve --password-auth) */
function loadLibcrypt() {
  return dlopen('libcrypt.so.1', {
    crypt: { args: ['ptr', 'ptr'], returns: 'ptr' },
  })
}

let libcryptLib: ReturnType<typeof loadLibcrypt> | undefined

export const libcrypt = () => (libcryptLib ??= loadLibcrypt()).symbols

/**
 * OpenSSL's libcrypto (present wherever OpenSSH is), for serve's SSH ciphers: Bun's node:crypto
 * has no raw chacha20 (oven-sh/bun #8072) and no reusable AES-GCM context. Only what libcrypto.ts
 * wraps.
 */
function loadLibcrypto() {
  return dlopen('libcrypto.so.3', {
    EVP_chacha20: { args: [], returns: 'ptr' },
    EVP_CIPHER_CTX_new: { args: [], returns: 'ptr' },
    EVP_CIPHER_CTX_free: { args: ['ptr'], returns: 'void' },
    EVP_EncryptInit_ex: { args: ['ptr', 'ptr', 'ptr', 'ptr', 'ptr'], returns: 'i32' },
    EVP_EncryptUpdate: { args: ['ptr', 'ptr', 'ptr', 'ptr', 'i32'], returns: 'i32' },
    EVP_EncryptFinal_ex: { args: ['ptr', 'ptr', 'ptr'], returns: 'i32' },
    EVP_DecryptInit_ex: { args: ['ptr', 'ptr', 'ptr', 'ptr', 'ptr'], returns: 'i32' },
    EVP_DecryptUpdate: { args: ['ptr', 'ptr', 'ptr', 'ptr', 'i32'], returns: 'i32' },
    EVP_DecryptFinal_ex: { args: ['ptr', 'ptr', 'ptr'], returns: 'i32' },
    EVP_CIPHER_CTX_ctrl: { args: ['ptr', 'i32', 'i32', 'ptr'], returns: 'i32' },
    EVP_aes_128_gcm: { args: [], returns: 'ptr' },
    EVP_aes_256_gcm: { args: [], returns: 'ptr' },
    EVP_MAC_fetch: { args: ['ptr', 'ptr', 'ptr'], returns: 'ptr' },
    EVP_MAC_CTX_new: { args: ['ptr'], returns: 'ptr' },
    EVP_MAC_CTX_free: { args: ['ptr'], returns: 'void' },
    EVP_MAC_init: { args: ['ptr', 'ptr', 'u64', 'ptr'], returns: 'i32' },
    EVP_MAC_update: { args: ['ptr', 'ptr', 'u64'], returns: 'i32' },
    EVP_MAC_final: { args: ['ptr', 'ptr', 'ptr', 'u64'], returns: 'i32' },
  })
}

let libcryptoLib: ReturnType<typeof loadLibcrypto> | undefined

/** Throws when libcrypto.so.3 cannot be opened; callers offer the cipher only if this works. */
export const libcrypto = () => (libcryptoLib ??= loadLibcrypto()).symbols

/** Address of a typed array's memory (plus `offset` bytes), to embed in a C struct. */
export function ptr(buf: Uint8Array, offset = 0): number {
  return bunPtr(buf, offset)
}

export function readI32(p: Pointer): number {
  return read.i32(p, 0)
}

/** The pointer stored at `p + offset` (a `char *` field of a C struct), or null. */
export function readPtr(p: Pointer, offset: number): Pointer | null {
  return read.ptr(p, offset) as Pointer | null
}

/** The NUL-terminated string at `p`, or undefined for NULL. */
export function cstring(p: Pointer | null): string | undefined {
  return p ? new CString(p).toString() : undefined
}
