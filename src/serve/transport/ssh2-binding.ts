/**
 * What ssh2 gets where it looks for its optional native crypto binding (the build's source patch,
 * scripts/ssh2-patches.ts): chacha20-poly1305@openssh.com and AES-GCM on libcrypto. undefined
 * when libcrypto cannot be loaded; ssh2 then keeps its own node:crypto ciphers, without chacha20.
 */
import { logger } from '../../core/log'
import { AESGCMCipher, AESGCMDecipher } from './aes-gcm'
import { ChaChaPolyCipher, ChaChaPolyDecipher } from './chacha-poly'

export function binding() {
  try {
    new ChaChaPolyCipher(new Uint8Array(64)).free()
    new AESGCMCipher('aes-128-gcm', new Uint8Array(16), new Uint8Array(12)).free()
    return { ChaChaPolyCipher, ChaChaPolyDecipher, AESGCMCipher, AESGCMDecipher }
  } catch (err) {
    logger.debug(`libcrypto ciphers not available: ${(err as Error).message}`)
    return undefined
  }
}
