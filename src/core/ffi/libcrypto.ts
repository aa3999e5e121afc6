/**
 * Typed wrappers over libcrypto's raw ChaCha20 (EVP_chacha20) and Poly1305 (EVP_MAC "POLY1305"),
 * the two primitives of chacha20-poly1305@openssh.com, and AES-GCM as SSH uses it (RFC 5647). One
 * context per object, reused for every packet: only the IV (or the one-time Poly1305 key)
 * changes per call.
 *
 * OpenSSL's chacha20 IV is 16 bytes: a 32-bit little-endian block counter, then a 96-bit nonce
 * (RFC 8439 layout); djb's 64-bit counter ‖ 64-bit nonce maps onto it as
 * counter (LE, low word) ‖ counter high word ‖ nonce.
 */
import { libcrypto, type Pointer } from './native'

function check(call: string, rc: number): void {
  if (rc !== 1) throw new Error(`Failed to run ${call}: libcrypto returned ${rc}`)
}

export class ChaCha20 {
  #ctx: Pointer
  #outl = new Int32Array(1)

  /** `key`: 32 bytes */
  constructor(key: Uint8Array) {
    const lib = libcrypto()
    const ctx = lib.EVP_CIPHER_CTX_new() as Pointer | null
    if (!ctx) throw new Error('Failed to run EVP_CIPHER_CTX_new: out of memory')
    this.#ctx = ctx
    check('EVP_EncryptInit_ex', lib.EVP_EncryptInit_ex(ctx, lib.EVP_chacha20(), null, key, null))
  }

  /** Restarts the keystream at `iv` (16 bytes, layout above); the key stays. */
  start(iv: Uint8Array): void {
    check('EVP_EncryptInit_ex', libcrypto().EVP_EncryptInit_ex(this.#ctx, null, null, null, iv))
  }

  /** XORs the next `data.length` keystream bytes into `data`, writing to `out` (may be `data`). */
  update(data: Uint8Array, out: Uint8Array = data): void {
    if (data.length === 0) return
    check(
      'EVP_EncryptUpdate',
      libcrypto().EVP_EncryptUpdate(this.#ctx, out, this.#outl, data, data.length),
    )
  }

  free(): void {
    libcrypto().EVP_CIPHER_CTX_free(this.#ctx)
  }
}

let poly1305Mac: Pointer | undefined

export class Poly1305 {
  #ctx: Pointer
  #outl = new BigUint64Array(1)

  constructor() {
    const lib = libcrypto()
    poly1305Mac ??= lib.EVP_MAC_fetch(null, Buffer.from('POLY1305\0'), null) as Pointer
    if (!poly1305Mac) throw new Error('Failed to run EVP_MAC_fetch: no POLY1305 in libcrypto')
    const ctx = lib.EVP_MAC_CTX_new(poly1305Mac) as Pointer | null
    if (!ctx) throw new Error('Failed to run EVP_MAC_CTX_new: out of memory')
    this.#ctx = ctx
  }

  /** Starts a tag under the one-time `key` (32 bytes). */
  init(key: Uint8Array): void {
    check('EVP_MAC_init', libcrypto().EVP_MAC_init(this.#ctx, key, 32, null))
  }

  update(data: Uint8Array): void {
    if (data.length === 0) return
    check('EVP_MAC_update', libcrypto().EVP_MAC_update(this.#ctx, data, data.length))
  }

  /** Writes the 16-byte tag into `out`. */
  final(out: Uint8Array): void {
    check('EVP_MAC_final', libcrypto().EVP_MAC_final(this.#ctx, out, this.#outl, 16))
  }

  free(): void {
    libcrypto().EVP_MAC_CTX_free(this.#ctx)
  }
}

// EVP_CIPHER_CTX_ctrl commands (openssl/evp.h)
const EVP_CTRL_AEAD_SET_IVLEN = 0x9
const EVP_CTRL_AEAD_GET_TAG = 0x10
const EVP_CTRL_AEAD_SET_TAG = 0x11
const EVP_CTRL_GCM_SET_IV_FIXED = 0x12
const EVP_CTRL_GCM_IV_GEN = 0x13

/**
 * AES-GCM for SSH (RFC 5647): a 12-byte IV whose last 8 bytes count packets (OpenSSL's IV_GEN
 * increments them), the 4-byte packet length as AAD, a 16-byte tag.
 */
export class AesGcm {
  #ctx: Pointer
  #outl = new Int32Array(1)
  #lastIv = new Uint8Array(1)
  #encrypt: boolean

  constructor(bits: 128 | 256, key: Uint8Array, iv: Uint8Array, encrypt: boolean) {
    const lib = libcrypto()
    const ctx = lib.EVP_CIPHER_CTX_new() as Pointer | null
    if (!ctx) throw new Error('Failed to run EVP_CIPHER_CTX_new: out of memory')
    this.#ctx = ctx
    this.#encrypt = encrypt
    const cipher = bits === 128 ? lib.EVP_aes_128_gcm() : lib.EVP_aes_256_gcm()
    const init = encrypt ? lib.EVP_EncryptInit_ex : lib.EVP_DecryptInit_ex
    check('EVP_CipherInit_ex', init(ctx, cipher, null, null, null))
    check('EVP_CIPHER_CTX_ctrl', lib.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, 12, null))
    check('EVP_CipherInit_ex', init(ctx, null, null, key, null))
    check('EVP_CIPHER_CTX_ctrl', lib.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IV_FIXED, -1, iv))
  }

  /** Next packet's IV, then `aad` (the packet length). */
  #begin(aad: Uint8Array): void {
    const lib = libcrypto()
    const ctx = this.#ctx
    check('EVP_CIPHER_CTX_ctrl', lib.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_IV_GEN, 1, this.#lastIv))
    const update = this.#encrypt ? lib.EVP_EncryptUpdate : lib.EVP_DecryptUpdate
    check('EVP_CipherUpdate', update(ctx, null, this.#outl, aad, aad.length))
  }

  /** Encrypts `data` in place after `aad`; writes the tag into `tag`. */
  seal(aad: Uint8Array, data: Uint8Array, tag: Uint8Array): void {
    const lib = libcrypto()
    this.#begin(aad)
    const n = data.length
    check('EVP_EncryptUpdate', lib.EVP_EncryptUpdate(this.#ctx, data, this.#outl, data, n))
    check('EVP_EncryptFinal_ex', lib.EVP_EncryptFinal_ex(this.#ctx, null, this.#outl))
    check('EVP_CIPHER_CTX_ctrl', lib.EVP_CIPHER_CTX_ctrl(this.#ctx, EVP_CTRL_AEAD_GET_TAG, 16, tag))
  }

  /** Decrypts `data` in place and checks `tag`; false when the tag does not match. */
  open(aad: Uint8Array, data: Uint8Array, tag: Uint8Array): boolean {
    const lib = libcrypto()
    this.#begin(aad)
    const n = data.length
    check('EVP_DecryptUpdate', lib.EVP_DecryptUpdate(this.#ctx, data, this.#outl, data, n))
    check('EVP_CIPHER_CTX_ctrl', lib.EVP_CIPHER_CTX_ctrl(this.#ctx, EVP_CTRL_AEAD_SET_TAG, 16, tag))
    return lib.EVP_DecryptFinal_ex(this.#ctx, null, this.#outl) === 1
  }

  free(): void {
    libcrypto().EVP_CIPHER_CTX_free(this.#ctx)
  }
}
