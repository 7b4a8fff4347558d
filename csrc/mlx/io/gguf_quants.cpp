// Dequantization of GGML quantized blocks (the layouts of ggml's block_q5_0 ... block_q6_K).
// Values are computed in float, as ggml's reference dequantizers do, then stored as float16.
#include "mlx/io/gguf_quants.h"

#include <cstring>

#include "mlx/types/half.h"

namespace mlx::core::io::detail {

namespace {

inline float f16(const uint8_t* p) {
  uint16_t b;
  std::memcpy(&b, p, 2);
  return static_cast<float>(float16_t::from_bits(b));
}

// Q5_0 (22 bytes): d, qh[4], qs[16]; x = d * (q - 16). Q5_1 (24 bytes): d, m, qh[4], qs[16];
// x = d * q + m. Element j < 16 is the low nibble of qs[j], element j + 16 the high nibble; the
// fifth bit of element j is bit j of qh.
template <bool kMin>
void deq_q5(const uint8_t* blk, float* y) {
  float d = f16(blk);
  float m = kMin ? f16(blk + 2) : 0.0f;
  const uint8_t* qhp = blk + (kMin ? 4 : 2);
  uint32_t qh = qhp[0] | (qhp[1] << 8) | (qhp[2] << 16) | (static_cast<uint32_t>(qhp[3]) << 24);
  const uint8_t* qs = qhp + 4;
  for (int j = 0; j < 16; ++j) {
    int x0 = (qs[j] & 0x0F) | (((qh >> j) & 1) << 4);
    int x1 = (qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
    if (!kMin) {
      x0 -= 16;
      x1 -= 16;
    }
    y[j] = d * x0 + m;
    y[j + 16] = d * x1 + m;
  }
}

// The 6-bit scale and min of sub-block j (of 8) packed in the 12 scale bytes of Q4_K / Q5_K.
inline void scale_min_k4(int j, const uint8_t* q, int& sc, int& m) {
  if (j < 4) {
    sc = q[j] & 63;
    m = q[j + 4] & 63;
  } else {
    sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

// Q2_K (84 bytes): scales[16], qs[64], d, dmin. 16 sub-blocks of 16 with 4-bit scale and min.
void deq_q2_k(const uint8_t* blk, float* y) {
  const uint8_t* scales = blk;
  const uint8_t* q = blk + 16;
  float d = f16(blk + 80), dmin = f16(blk + 82);
  int is = 0;
  for (int n = 0; n < 256; n += 128) {
    int shift = 0;
    for (int j = 0; j < 4; ++j) {
      for (int half = 0; half < 2; ++half) {
        uint8_t sc = scales[is++];
        float dl = d * (sc & 0xF), ml = dmin * (sc >> 4);
        for (int l = 0; l < 16; ++l) *y++ = dl * ((q[l + 16 * half] >> shift) & 3) - ml;
      }
      shift += 2;
    }
    q += 32;
  }
}

// Q3_K (110 bytes): hmask[32], qs[64], scales[12], d. 16 sub-blocks of 16 with 6-bit scales.
void deq_q3_k(const uint8_t* blk, float* y) {
  const uint8_t* hm = blk;
  const uint8_t* q = blk + 32;
  const uint8_t* sp = blk + 96;
  float d = f16(blk + 108);
  // Scale i: low 4 bits from byte i % 8 (low nibble for i < 8, high nibble after),
  // high 2 bits from byte 8 + i % 4 at bit 2 * (i / 4).
  int8_t scales[16];
  for (int i = 0; i < 16; ++i) {
    int lo = i < 8 ? (sp[i] & 0xF) : (sp[i - 8] >> 4);
    int hi = (sp[8 + (i % 4)] >> (2 * (i / 4))) & 3;
    scales[i] = static_cast<int8_t>((lo | (hi << 4)) - 32);
  }
  int is = 0;
  uint8_t m = 1;
  for (int n = 0; n < 256; n += 128) {
    int shift = 0;
    for (int j = 0; j < 4; ++j) {
      for (int half = 0; half < 2; ++half) {
        float dl = d * scales[is++];
        for (int l = 0; l < 16; ++l) {
          int k = l + 16 * half;
          int v = ((q[k] >> shift) & 3) - ((hm[k] & m) ? 0 : 4);
          *y++ = dl * v;
        }
      }
      shift += 2;
      m <<= 1;
    }
    q += 32;
  }
}

// Q4_K (144 bytes): d, dmin, scales[12], qs[128]. 8 sub-blocks of 32 with 6-bit scale and min.
void deq_q4_k(const uint8_t* blk, float* y) {
  float d = f16(blk), dmin = f16(blk + 2);
  const uint8_t* scales = blk + 4;
  const uint8_t* q = blk + 16;
  for (int j = 0; j < 8; j += 2) {
    int sc, m;
    scale_min_k4(j, scales, sc, m);
    float d1 = d * sc, m1 = dmin * m;
    scale_min_k4(j + 1, scales, sc, m);
    float d2 = d * sc, m2 = dmin * m;
    for (int l = 0; l < 32; ++l) y[l] = d1 * (q[l] & 0xF) - m1;
    for (int l = 0; l < 32; ++l) y[l + 32] = d2 * (q[l] >> 4) - m2;
    y += 64;
    q += 32;
  }
}

// Q5_K (176 bytes): d, dmin, scales[12], qh[32], qs[128]. As Q4_K with a fifth bit per element
// from qh (bit 2 * (j / 2) and 2 * (j / 2) + 1 for the two halves of each 64).
void deq_q5_k(const uint8_t* blk, float* y) {
  float d = f16(blk), dmin = f16(blk + 2);
  const uint8_t* scales = blk + 4;
  const uint8_t* qh = blk + 16;
  const uint8_t* ql = blk + 48;
  uint8_t u1 = 1, u2 = 2;
  for (int j = 0; j < 8; j += 2) {
    int sc, m;
    scale_min_k4(j, scales, sc, m);
    float d1 = d * sc, m1 = dmin * m;
    scale_min_k4(j + 1, scales, sc, m);
    float d2 = d * sc, m2 = dmin * m;
    for (int l = 0; l < 32; ++l) y[l] = d1 * ((ql[l] & 0xF) + ((qh[l] & u1) ? 16 : 0)) - m1;
    for (int l = 0; l < 32; ++l) y[l + 32] = d2 * ((ql[l] >> 4) + ((qh[l] & u2) ? 16 : 0)) - m2;
    y += 64;
    ql += 32;
    u1 <<= 2;
    u2 <<= 2;
  }
}

// Q6_K (210 bytes): ql[128], qh[64], scales[16] (int8), d. 16 sub-blocks of 16.
void deq_q6_k(const uint8_t* blk, float* y) {
  const uint8_t* ql = blk;
  const uint8_t* qh = blk + 128;
  const int8_t* sc = reinterpret_cast<const int8_t*>(blk + 192);
  float d = f16(blk + 208);
  for (int n = 0; n < 256; n += 128) {
    for (int l = 0; l < 32; ++l) {
      int is = l / 16;
      int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
      int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
      int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      y[l] = d * sc[is] * q1;
      y[l + 32] = d * sc[is + 2] * q2;
      y[l + 64] = d * sc[is + 4] * q3;
      y[l + 96] = d * sc[is + 6] * q4;
    }
    y += 128;
    ql += 64;
    qh += 32;
    sc += 8;
  }
}

const GGMLBlockType kQ5_0{32, 22, deq_q5<false>};
const GGMLBlockType kQ5_1{32, 24, deq_q5<true>};
const GGMLBlockType kQ2_K{256, 84, deq_q2_k};
const GGMLBlockType kQ3_K{256, 110, deq_q3_k};
const GGMLBlockType kQ4_K{256, 144, deq_q4_k};
const GGMLBlockType kQ5_K{256, 176, deq_q5_k};
const GGMLBlockType kQ6_K{256, 210, deq_q6_k};

}  // namespace

const GGMLBlockType* ggml_float_type(uint32_t t) {
  switch (t) {
    case 6: return &kQ5_0;
    case 7: return &kQ5_1;
    case 10: return &kQ2_K;
    case 11: return &kQ3_K;
    case 12: return &kQ4_K;
    case 13: return &kQ5_K;
    case 14: return &kQ6_K;
  }
  return nullptr;
}

}  // namespace mlx::core::io::detail
