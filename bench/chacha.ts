#!/usr/bin/env bun
/**
 * bench/chacha: the candidates for chacha20-poly1305@openssh.com under Bun, in MB/s on one core,
 * per 32 KiB SSH packet (what ssh2 sends for bulk data):
 *   libcrypto  OpenSSL's EVP_chacha20 and EVP_MAC POLY1305 through bun:ffi (src/core/ffi/libcrypto.ts)
 *   wasm-simd  bench/chacha/chacha20-simd.c (4 blocks per SIMD pass), built here with clang if present,
 *              and ssh2's own WASM Poly1305 (lib/protocol/crypto/poly1305.js)
 * and, for aes128-gcm, the libcrypto context reused per packet vs node:crypto's new cipher per
 * packet (what ssh2 does without a binding).
 * usage: bun bench/chacha.ts [--mib 256]
 */
import { parseArgs } from 'node:util'
import { ChaCha20, Poly1305 } from '../src/core/ffi/libcrypto'
import { createCipheriv } from 'node:crypto'
import { AESGCMCipher } from '../src/serve/transport/aes-gcm'
import { ChaChaPolyCipher, ChaChaPolyDecipher } from '../src/serve/transport/chacha-poly'

const { values } = parseArgs({ options: { mib: { type: 'string', default: '256' } } })
const PKT = 32768
const ROUNDS = Math.ceil((Number(values.mib) << 20) / PKT)
const key = crypto.getRandomValues(new Uint8Array(64))
const packet = crypto.getRandomValues(new Uint8Array(PKT + 4 + 16))
const iv = new Uint8Array(16)

/** MB/s per wall-clock second and per CPU second of this process (the machine is shared) */
function rate(name: string, fn: (i: number) => void): void {
  for (let i = 0; i < 200; i++) fn(i)
  const t = performance.now()
  const cpu = process.cpuUsage()
  for (let i = 0; i < ROUNDS; i++) fn(i)
  const used = process.cpuUsage(cpu)
  const mb = (ROUNDS * PKT) / 1e6
  const wall = mb / ((performance.now() - t) / 1000)
  const perCpu = mb / ((used.user + used.system) / 1e6)
  console.log(
    `${name.padEnd(52)} ${wall.toFixed(0).padStart(6)} MB/s wall ${perCpu.toFixed(0).padStart(6)} MB/s per CPU s`,
  )
}

async function wasmChacha() {
  const src = new URL('chacha/chacha20-simd.c', import.meta.url).pathname
  const wasm = '/tmp/bsp-bench-chacha20-simd.wasm'
  const cc = Bun.spawnSync([
    'clang',
    '--target=wasm32',
    '-O3',
    '-msimd128',
    '-mbulk-memory',
    '-nostdlib',
    '-Wl,--no-entry',
    '-Wl,--export-all',
    '-o',
    wasm,
    src,
  ])
  if (cc.exitCode !== 0) return undefined
  const { instance } = await WebAssembly.instantiate(await Bun.file(wasm).arrayBuffer())
  const x = instance.exports as {
    memory: WebAssembly.Memory
    state_ptr(): number
    data_ptr(): number
    xor_stream(counter: number, len: number): void
  }
  const mem = () => new Uint8Array(x.memory.buffer)
  const state = new Uint32Array(x.memory.buffer, x.state_ptr(), 16)
  const data = x.data_ptr()
  return {
    key(k: Uint8Array) {
      const w = new DataView(k.buffer, k.byteOffset)
      state.set([0x61707865, 0x3320646e, 0x79622d32, 0x6b206574])
      for (let i = 0; i < 8; i++) state[4 + i] = w.getUint32(i * 4, true)
    },
    /** nonce as RFC 8439's three words; copies in, XORs, copies out (packets live in JS memory) */
    xor(buf: Uint8Array, counter: number, seq: number) {
      state[13] = 0
      state[14] = 0
      state[15] =
        ((seq >>> 24) | ((seq >>> 8) & 0xff00) | ((seq & 0xff00) << 8) | (seq << 24)) >>> 0
      const m = mem()
      m.set(buf, data)
      x.xor_stream(counter, buf.length)
      buf.set(m.subarray(data, data + buf.length))
    },
  }
}

/** the Emscripten module ssh2 ships for Poly1305 (the part this bench calls) */
interface Poly1305Module {
  _malloc(n: number): number
  cwrap(name: string, ret: null, args: string[]): (...a: unknown[]) => void
  HEAPU8: Uint8Array
}

async function wasmPoly() {
  const mod = await (
    require('ssh2/lib/protocol/crypto/poly1305.js') as () => Promise<Poly1305Module>
  )()
  const out = mod._malloc(16)
  const auth = mod.cwrap('poly1305_auth', null, [
    'number',
    'array',
    'number',
    'array',
    'number',
    'array',
  ])
  return (a: Uint8Array, b: Uint8Array, k: Uint8Array, tag: Uint8Array) => {
    auth(out, a, a.length, b, b.length, k)
    tag.set(new Uint8Array(mod.HEAPU8.buffer, out, 16))
  }
}

console.log(`${ROUNDS} packets of ${PKT} bytes, Bun ${Bun.version}`)
const body = packet.subarray(4, 4 + PKT)
const c = new ChaCha20(key.subarray(0, 32))
rate('chacha20     libcrypto (bun:ffi), IV reset per packet', (i) => {
  iv[0] = 1
  iv[15] = i
  c.start(iv)
  c.update(body)
})
const p = new Poly1305()
const tag = new Uint8Array(16)
rate('poly1305     libcrypto EVP_MAC (bun:ffi)', () => {
  p.init(key.subarray(0, 32))
  p.update(body)
  p.final(tag)
})
const enc = new ChaChaPolyCipher(key)
rate('chacha20-poly1305@openssh.com  libcrypto, encrypt', (i) => enc.encrypt(packet, i))
const sealed = packet.slice()
enc.encrypt(sealed, 7)
const dec = new ChaChaPolyDecipher(key)
const work = new Uint8Array(PKT)
rate('chacha20-poly1305@openssh.com  libcrypto, decrypt', () => {
  work.set(sealed.subarray(4, 4 + PKT))
  dec.decryptLen(sealed, 7)
  dec.decrypt(work, sealed.subarray(4 + PKT), 7)
})

const w = await wasmChacha()
const poly = await wasmPoly()
if (!w) console.log('wasm-simd: clang with a wasm32 target not found, skipped')
else {
  w.key(key.subarray(0, 32))
  // the same keystream as libcrypto's, or the comparison means nothing
  const a = crypto.getRandomValues(new Uint8Array(1000))
  const b = a.slice()
  w.xor(a, 1, 5)
  iv.fill(0)
  iv[0] = 1
  iv[15] = 5
  c.start(iv)
  c.update(b)
  if (Buffer.compare(a, b) !== 0) throw new Error('wasm-simd chacha20 disagrees with libcrypto')
  rate('chacha20     wasm-simd (copy in + out)', (i) => w.xor(body, 1, i))
}
rate('poly1305     ssh2 WASM (emscripten)', () => poly(packet.subarray(0, 4), body, key, tag))
if (w) {
  const block0 = new Uint8Array(64)
  rate('chacha20-poly1305@openssh.com  wasm-simd + ssh2 WASM', (i) => {
    block0.fill(0)
    w.xor(block0, 0, i)
    w.xor(body, 1, i)
    poly(packet.subarray(0, 4), body, block0.subarray(0, 32), tag)
  })
}

const gcmKey = key.subarray(0, 16)
const gcmIv = new Uint8Array(12)
const gcm = new AESGCMCipher('aes-128-gcm', gcmKey, gcmIv)
rate('aes128-gcm   libcrypto, one context reused', () => gcm.encrypt(packet))
rate('aes128-gcm   node:crypto, a cipher per packet (ssh2)', () => {
  const c = createCipheriv('aes-128-gcm', gcmKey, gcmIv)
  c.setAAD(packet.subarray(0, 4))
  c.update(body)
  c.final()
  c.getAuthTag()
})
