/*
 * Raw ChaCha20 (RFC 8439 layout: 32-bit counter, 96-bit nonce) for WebAssembly SIMD, four
 * blocks at a time with clang vector extensions: the comparison candidate for bench/chacha.ts.
 * Build: clang --target=wasm32 -O3 -msimd128 -mbulk-memory -nostdlib -Wl,--no-entry -Wl,--export-all
 */
typedef unsigned int u32;
typedef u32 v4 __attribute__((vector_size(16)));

#define ROTL(v, n) (((v) << (n)) | ((v) >> (32 - (n))))
#define QR(a, b, c, d) \
  a += b; d ^= a; d = ROTL(d, 16); c += d; b ^= c; b = ROTL(b, 12); \
  a += b; d ^= a; d = ROTL(d, 8); c += d; b ^= c; b = ROTL(b, 7);

/* key (8 words), nonce (3 words), then the data to XOR in place */
u32 state[16];
unsigned char data[65536];

u32 *state_ptr(void) { return state; }
unsigned char *data_ptr(void) { return data; }

static void blocks4(u32 counter, v4 out[16]) {
  v4 x[16], in[16];
  for (int i = 0; i < 16; i++) in[i] = (v4){state[i], state[i], state[i], state[i]};
  in[12] = (v4){counter, counter + 1, counter + 2, counter + 3};
  for (int i = 0; i < 16; i++) x[i] = in[i];
  for (int r = 0; r < 10; r++) {
    QR(x[0], x[4], x[8], x[12]) QR(x[1], x[5], x[9], x[13])
    QR(x[2], x[6], x[10], x[14]) QR(x[3], x[7], x[11], x[15])
    QR(x[0], x[5], x[10], x[15]) QR(x[1], x[6], x[11], x[12])
    QR(x[2], x[7], x[8], x[13]) QR(x[3], x[4], x[9], x[14])
  }
  /* transpose 4x4 groups: out[j*4+g] = words 4g..4g+3 of block j */
  for (int g = 0; g < 4; g++) {
    v4 a = x[4 * g] + in[4 * g], b = x[4 * g + 1] + in[4 * g + 1];
    v4 c = x[4 * g + 2] + in[4 * g + 2], d = x[4 * g + 3] + in[4 * g + 3];
    v4 ab0 = __builtin_shufflevector(a, b, 0, 4, 1, 5), ab1 = __builtin_shufflevector(a, b, 2, 6, 3, 7);
    v4 cd0 = __builtin_shufflevector(c, d, 0, 4, 1, 5), cd1 = __builtin_shufflevector(c, d, 2, 6, 3, 7);
    out[0 * 4 + g] = __builtin_shufflevector(ab0, cd0, 0, 1, 4, 5);
    out[1 * 4 + g] = __builtin_shufflevector(ab0, cd0, 2, 3, 6, 7);
    out[2 * 4 + g] = __builtin_shufflevector(ab1, cd1, 0, 1, 4, 5);
    out[3 * 4 + g] = __builtin_shufflevector(ab1, cd1, 2, 3, 6, 7);
  }
}

/* XORs the keystream from block `counter` into data[0..len) */
void xor_stream(u32 counter, u32 len) {
  v4 ks[16];
  u32 p = 0;
  for (; p + 256 <= len; p += 256, counter += 4) {
    blocks4(counter, ks);
    v4 *d = (v4 *)(data + p);
    for (int i = 0; i < 16; i++) d[i] ^= ks[i];
  }
  if (p < len) {
    blocks4(counter, ks);
    unsigned char *k = (unsigned char *)ks;
    for (u32 i = 0; p < len; i++, p++) data[p] ^= k[i];
  }
}
