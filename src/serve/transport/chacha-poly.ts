/**
 * chacha20-poly1305@openssh.com (OpenSSH PROTOCOL.chacha20poly1305) on libcrypto's raw ChaCha20
 * and Poly1305, shaped as the `ChaChaPolyCipher`/`ChaChaPolyDecipher` pair of ssh2's optional
 * native binding (ssh2/lib/protocol/crypto.js), which the build plugs in (ssh2-binding.ts).
 *
 * The 64-byte key is K_2 ‖ K_1: K_1 (the second half) encrypts only the 4-byte length; K_2
 * encrypts the payload from block counter 1, and its block 0 gives the one-time Poly1305 key.
 * The nonce is the packet sequence number as a big-endian uint64; the tag covers the encrypted
 * length and payload and is checked (in constant time) before anything is decrypted.
 */
import { timingSafeEqual } from 'node:crypto'
import { ChaCha20, Poly1305 } from '../../core/ffi/libcrypto'

const TAG = 16

/** K_2's state and the length cipher, keyed once per direction and reused for every packet. */
class ChaChaPoly {
  protected main: ChaCha20
  protected len: ChaCha20
  protected poly = new Poly1305()
  /** counter (LE u32) ‖ counter high word ‖ seqno (BE u64): OpenSSL's 16-byte chacha20 IV */
  protected iv = new Uint8Array(16)
  protected ivView = new DataView(this.iv.buffer)
  /** block 0 of K_2's keystream; its first 32 bytes are the Poly1305 key */
  protected block0 = new Uint8Array(64)

  constructor(key: Uint8Array) {
    if (key.length !== 64)
      throw new Error(`chacha20-poly1305 needs a 64-byte key, got ${key.length}`)
    this.main = new ChaCha20(key.subarray(0, 32))
    this.len = new ChaCha20(key.subarray(32, 64))
  }

  /** Points both ciphers at packet `seqno`, block 0, and derives its Poly1305 key. */
  protected begin(seqno: number): void {
    this.ivView.setUint32(12, seqno >>> 0)
    this.len.start(this.iv)
    this.main.start(this.iv)
    this.block0.fill(0)
    // K_2 continues at block 1 after these 64 bytes, which is where the payload starts
    this.main.update(this.block0)
    this.poly.init(this.block0.subarray(0, 32))
  }

  free(): void {
    this.main.free()
    this.len.free()
    this.poly.free()
  }
}

export class ChaChaPolyCipher extends ChaChaPoly {
  /**
   * Encrypts in place: `packet` is length ‖ padding length ‖ payload ‖ padding ‖ 16 free
   * bytes for the tag (ssh2's allocPacket reserves them when the binding is present).
   */
  encrypt(packet: Uint8Array, seqno: number): void {
    const end = packet.length - TAG
    this.begin(seqno)
    this.len.update(packet.subarray(0, 4))
    this.main.update(packet.subarray(4, end))
    this.poly.update(packet.subarray(0, end))
    this.poly.final(packet.subarray(end))
  }
}

export class ChaChaPolyDecipher extends ChaChaPoly {
  #encLen = new Uint8Array(4)
  #plainLen = new Uint8Array(4)
  #tag = new Uint8Array(TAG)

  /** The packet length from its 4 encrypted bytes; kept for the tag check of `decrypt`. */
  decryptLen(encLen: Uint8Array, seqno: number): number {
    this.#encLen.set(encLen.subarray(0, 4))
    this.begin(seqno)
    this.len.update(this.#encLen, this.#plainLen)
    return new DataView(this.#plainLen.buffer).getUint32(0)
  }

  /**
   * Checks `mac` over the encrypted length and `packet`, then decrypts `packet` in place; follows
   * `decryptLen` of the same packet (ssh2 calls them in that order), whose state it continues.
   */
  decrypt(packet: Uint8Array, mac: Uint8Array, _seqno: number): void {
    this.poly.update(this.#encLen)
    this.poly.update(packet)
    this.poly.final(this.#tag)
    if (!timingSafeEqual(this.#tag, mac.subarray(0, TAG))) throw new Error('Invalid MAC')
    this.main.update(packet)
  }
}
