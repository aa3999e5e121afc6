/**
 * aes128-gcm@openssh.com / aes256-gcm@openssh.com (RFC 5647) on libcrypto, shaped as the
 * `AESGCMCipher`/`AESGCMDecipher` pair of ssh2's optional native binding. Without it ssh2 builds
 * a new node:crypto cipher for every packet and writes each packet in 3–4 pieces; here one
 * context per direction is reused, packets are sealed in place and written once.
 */
import { AesGcm } from '../../core/ffi/libcrypto'

const bitsOf = (sslName: string): 128 | 256 => {
  if (sslName === 'aes-128-gcm') return 128
  if (sslName === 'aes-256-gcm') return 256
  throw new Error(`aes-gcm binding: unexpected cipher ${sslName}`)
}

export class AESGCMCipher {
  #gcm: AesGcm

  constructor(sslName: string, key: Uint8Array, iv: Uint8Array) {
    this.#gcm = new AesGcm(bitsOf(sslName), key, iv, true)
  }

  /** `packet`: length ‖ padding length ‖ payload ‖ padding ‖ 16 free bytes for the tag */
  encrypt(packet: Uint8Array): void {
    const end = packet.length - 16
    this.#gcm.seal(packet.subarray(0, 4), packet.subarray(4, end), packet.subarray(end))
  }

  free(): void {
    this.#gcm.free()
  }
}

export class AESGCMDecipher {
  #gcm: AesGcm
  #len = new Uint8Array(4)
  #lenView = new DataView(this.#len.buffer)

  constructor(sslName: string, key: Uint8Array, iv: Uint8Array) {
    this.#gcm = new AesGcm(bitsOf(sslName), key, iv, false)
  }

  /** `packet`: everything after the plain length `len`, decrypted in place; throws on a bad tag */
  decrypt(packet: Uint8Array, len: number, tag: Uint8Array): void {
    this.#lenView.setUint32(0, len)
    if (!this.#gcm.open(this.#len, packet, tag)) throw new Error('Invalid MAC')
  }

  free(): void {
    this.#gcm.free()
  }
}
