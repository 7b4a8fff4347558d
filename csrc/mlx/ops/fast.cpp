// mlx.core.fast ops: argument checks, dtype rules, and the composite fallbacks that
// define each fused primitive's value (used for its vjp/jvp/vmap).
#include "mlx/ops/fast.h"

#include <cmath>
#include <limits>

#include "mlx/ops.h"
#include "mlx/primitives/fast.h"

namespace mlx::core::fast {

namespace {

// The type the fallbacks compute in: float32 for half types, float64 for float64.
Dtype acc_type(Dtype t) { return t == float64 ? float64 : float32; }

array scalar(double v, Dtype t) { return astype(array(v), t); }

// x[..., start:stop:step] along the last axis.
array slice_last(const array& x, int start, int stop, int step, Stream s) {
  int nd = static_cast<int>(x.ndim());
  Shape st(nd, 0), sp = x.shape(), str(nd, 1);
  st[nd - 1] = start;
  sp[nd - 1] = stop;
  str[nd - 1] = step;
  return slice(x, st, sp, str, s);
}

void check_vector(const char* op, const char* name, const array& a, int size, const array& x) {
  if (a.ndim() != 1)
    throw ValueError(msg("[", op, "] ", name, " must be one-dimensional; got ", name, ".shape=", a.shape(), "."));
  if (a.shape(0) != size)
    throw ValueError(msg("[", op, "] ", name, " must have the size of the last axis of x (", size, "); got ",
                         name, ".shape=", a.shape(), " for x.shape=", x.shape(), "."));
}

}  // namespace

// ---------------------------------------------------------------- rms_norm

array rms_norm(const array& x, const std::optional<array>& weight, float eps, SD s_) {
  const char* op = "rms_norm";
  if (x.ndim() == 0)
    throw ValueError(msg("[rms_norm] x must have at least one dimension; got x.shape=", x.shape(), "."));
  Dtype t = x.dtype();
  if (weight) {
    check_vector(op, "weight", *weight, x.shape(-1), x);
    t = promote_types(t, weight->dtype());
  }
  if (!is_floating_point(t))
    throw ValueError(msg("[rms_norm] x and weight must have (or promote to) a floating point type; got ", t, "."));
  Stream s = to_stream(s_);
  bool has_w = weight.has_value();
  Fallback fb = [eps, has_w, s](const std::vector<array>& in) -> std::vector<array> {
    Dtype t = in[0].dtype(), a = acc_type(t);
    array xf = astype(in[0], a, s);
    array ms = mean(square(xf, s), {-1}, true, s);
    array y = multiply(xf, rsqrt(add(ms, scalar(eps, a), s), s), s);
    if (has_w) y = multiply(y, astype(in[1], a, s), s);
    return {astype(y, t, s)};
  };
  std::vector<array> inputs{astype(x, t, s)};
  if (has_w) inputs.push_back(astype(*weight, t, s));
  return array(x.shape(), t, std::make_shared<RMSNorm>(s, fb, eps, has_w), std::move(inputs));
}

// ---------------------------------------------------------------- layer_norm

array layer_norm(const array& x, const std::optional<array>& weight, const std::optional<array>& bias,
                 float eps, SD s_) {
  const char* op = "layer_norm";
  if (x.ndim() == 0)
    throw ValueError(msg("[layer_norm] x must have at least one dimension; got x.shape=", x.shape(), "."));
  Dtype t = x.dtype();
  if (weight) {
    check_vector(op, "weight", *weight, x.shape(-1), x);
    t = promote_types(t, weight->dtype());
  }
  if (bias) check_vector(op, "bias", *bias, x.shape(-1), x);
  if (!is_floating_point(t))
    throw ValueError(msg("[layer_norm] x and weight must have (or promote to) a floating point type; got ", t, "."));
  if (bias && !is_floating_point(bias->dtype()) && !is_integral(bias->dtype()) && bias->dtype() != bool_)
    throw ValueError(msg("[layer_norm] bias must have a real type; got ", bias->dtype(), "."));
  Stream s = to_stream(s_);
  bool has_w = weight.has_value(), has_b = bias.has_value();
  Fallback fb = [eps, has_w, has_b, s](const std::vector<array>& in) -> std::vector<array> {
    Dtype t = in[0].dtype(), a = acc_type(t);
    array xf = astype(in[0], a, s);
    array xc = subtract(xf, mean(xf, {-1}, true, s), s);
    array var = mean(square(xc, s), {-1}, true, s);
    array y = multiply(xc, rsqrt(add(var, scalar(eps, a), s), s), s);
    size_t i = 1;
    if (has_w) y = multiply(y, astype(in[i++], a, s), s);
    if (has_b) y = add(y, astype(in[i++], a, s), s);
    return {astype(y, t, s)};
  };
  std::vector<array> inputs{astype(x, t, s)};
  if (has_w) inputs.push_back(astype(*weight, t, s));
  if (has_b) inputs.push_back(astype(*bias, t, s));
  return array(x.shape(), t, std::make_shared<LayerNorm>(s, fb, eps, has_w, has_b), std::move(inputs));
}

// ---------------------------------------------------------------- rope

array rope(const array& x, int dims, bool traditional, std::optional<float> base, float scale,
           const array& offset_in, const std::optional<array>& freqs, SD s_) {
  if (x.ndim() < 3)
    throw ValueError(msg("[rope] x must have at least 3 dimensions (B, *, T, D); got x.shape=", x.shape(), "."));
  if (!is_floating_point(x.dtype()))
    throw ValueError(msg("[rope] x must have a floating point type; got ", x.dtype(), "."));
  if (dims <= 0) throw ValueError(msg("[rope] dims must be positive; got dims=", dims, "."));
  if (dims % 2 != 0) throw ValueError(msg("[rope] dims must be even; got dims=", dims, "."));
  if (dims > x.shape(-1))
    throw ValueError(msg("[rope] dims must not exceed the last dimension of x (", x.shape(-1), "); got dims=", dims,
                         "."));
  if (base.has_value() && freqs.has_value())
    throw ValueError("[rope] exactly one of base and freqs must be given; got both.");
  if (!base.has_value() && !freqs.has_value())
    throw ValueError("[rope] exactly one of base and freqs must be given; got neither.");
  int half = dims / 2;
  if (freqs) {
    if (freqs->ndim() != 1 || freqs->shape(0) != half)
      throw ValueError(msg("[rope] freqs must be one-dimensional with dims / 2 (", half, ") elements; got freqs.shape=",
                           freqs->shape(), "."));
    if (is_complex(freqs->dtype()) || freqs->dtype() == bool_)
      throw ValueError(msg("[rope] freqs must have a real numeric type; got ", freqs->dtype(), "."));
  }
  if (!is_integral(offset_in.dtype()))
    throw ValueError(msg("[rope] offset must be an integer or an integer array; got dtype ", offset_in.dtype(), "."));
  if (offset_in.ndim() > 1)
    throw ValueError(msg("[rope] offset must be a scalar or a vector; got offset.shape=", offset_in.shape(), "."));
  int B = x.shape(0);
  if (offset_in.ndim() == 1 && offset_in.size() != 1 && static_cast<int>(offset_in.size()) != B)
    throw ValueError(msg("[rope] an offset vector must have one entry per batch element (", B,
                         "); got offset.shape=", offset_in.shape(), "."));
  Stream s = to_stream(s_);
  array offset = astype(offset_in.size() == 1 ? reshape(offset_in, {}, s) : offset_in, int32, s);
  float b = base.value_or(0.0f);
  bool has_f = freqs.has_value();
  Fallback fb = [dims, traditional, b, scale, has_f, s](const std::vector<array>& in) -> std::vector<array> {
    const array& x = in[0];
    const array& off = in[1];
    Dtype t = x.dtype(), a = acc_type(t);
    int nd = static_cast<int>(x.ndim());
    int L = x.shape(-2), D = x.shape(-1), half = dims / 2;
    array inv_freq;
    if (has_f) {
      inv_freq = reciprocal(astype(in[2], a, s), s);
    } else {
      std::vector<double> f(half);
      for (int i = 0; i < half; ++i) f[i] = std::pow(static_cast<double>(b), -2.0 * i / dims);
      inv_freq = array(f.data(), Shape{half}, a);
    }
    array pos = arange(0, L, 1, int32, s);
    if (off.ndim() == 1) {
      pos = add(expand_dims(pos, {0}, s), expand_dims(off, {1}, s), s);  // (B, L)
    } else {
      pos = add(pos, off, s);
    }
    array theta = multiply(expand_dims(multiply(astype(pos, a, s), scalar(scale, a), s), {-1}, s), inv_freq, s);
    if (off.ndim() == 1) {
      Shape sh(nd, 1);
      sh[0] = x.shape(0);
      sh[nd - 2] = L;
      sh[nd - 1] = half;
      theta = reshape(theta, sh, s);
    }
    array c = cos(theta, s), sn = sin(theta, s);
    array xf = astype(x, a, s);
    array x1 = traditional ? slice_last(xf, 0, dims, 2, s) : slice_last(xf, 0, half, 1, s);
    array x2 = traditional ? slice_last(xf, 1, dims, 2, s) : slice_last(xf, half, dims, 1, s);
    array r1 = subtract(multiply(x1, c, s), multiply(x2, sn, s), s);
    array r2 = add(multiply(x1, sn, s), multiply(x2, c, s), s);
    array rot;
    if (traditional) {
      Shape sh = r1.shape();
      sh.back() = dims;
      rot = reshape(stack({r1, r2}, -1, s), sh, s);
    } else {
      rot = concatenate({r1, r2}, -1, s);
    }
    if (dims < D) rot = concatenate({rot, slice_last(xf, dims, D, 1, s)}, -1, s);
    return {astype(rot, t, s)};
  };
  std::vector<array> inputs{x, offset};
  // freqs are used in float32 (float64 for float64 inputs).
  if (has_f) inputs.push_back(astype(*freqs, x.dtype() == float64 ? float64 : float32, s));
  return array(x.shape(), x.dtype(), std::make_shared<RoPE>(s, fb, dims, traditional, b, scale, has_f),
               std::move(inputs));
}

array rope(const array& x, int dims, bool traditional, std::optional<float> base, float scale, int offset,
           const std::optional<array>& freqs, SD s) {
  return rope(x, dims, traditional, base, scale, array(offset, int32), freqs, s);
}

// ---------------------------------------------------------------- attention

array scaled_dot_product_attention(const array& q_in, const array& k_in, const array& v_in, float scale,
                                   const std::string& mask_mode, const std::optional<array>& mask_in,
                                   const std::optional<array>& sinks_in, SD s_) {
  const char* op = "[scaled_dot_product_attention]";
  for (auto* p : {&q_in, &k_in, &v_in})
    if (p->ndim() != 4)
      throw ValueError(msg(op, " q, k and v must have 4 dimensions (B, N, T, D); got q.shape=", q_in.shape(),
                           ", k.shape=", k_in.shape(), ", v.shape=", v_in.shape(), "."));
  int B = q_in.shape(0), Nq = q_in.shape(1), Tq = q_in.shape(2), D = q_in.shape(3);
  int Nkv = k_in.shape(1), Tkv = k_in.shape(2), Dv = v_in.shape(3);
  if (k_in.shape(0) != B || v_in.shape(0) != B)
    throw ValueError(msg(op, " q, k and v must have the same batch size; got q.shape=", q_in.shape(), ", k.shape=",
                         k_in.shape(), ", v.shape=", v_in.shape(), "."));
  if (v_in.shape(1) != Nkv)
    throw ValueError(msg(op, " k and v must have the same number of heads; got k.shape=", k_in.shape(),
                         ", v.shape=", v_in.shape(), "."));
  if (Nkv == 0 ? Nq != 0 : Nq % Nkv != 0)
    throw ValueError(msg(op, " the number of query heads must be a multiple of the number of key/value heads; got ",
                         Nq, " query heads and ", Nkv, " key/value heads."));
  if (k_in.shape(3) != D)
    throw ValueError(msg(op, " q and k must have the same last dimension; got q.shape=", q_in.shape(),
                         ", k.shape=", k_in.shape(), "."));
  if (v_in.shape(2) != Tkv)
    throw ValueError(msg(op, " k and v must have the same sequence length; got k.shape=", k_in.shape(),
                         ", v.shape=", v_in.shape(), "."));
  Dtype t = promote_types(promote_types(q_in.dtype(), k_in.dtype()), v_in.dtype());
  if (!is_floating_point(t))
    throw ValueError(msg(op, " q, k and v must have (or promote to) a floating point type; got ", t, "."));
  MaskMode mode = MaskMode::None;
  if (mask_mode == "causal") {
    mode = MaskMode::Causal;
  } else if (mask_mode == "array") {
    if (!mask_in) throw ValueError(msg(op, " mask_mode 'array' needs a mask array; got none."));
    mode = MaskMode::Array;
  } else if (!mask_mode.empty()) {
    throw ValueError(msg(op, " mask must be 'causal' or an array; got '", mask_mode, "'."));
  }
  if (mode != MaskMode::Array && mask_in)
    throw ValueError(msg(op, " a mask array was given with mask_mode '", mask_mode, "'; got both."));
  Stream s = to_stream(s_);
  Shape target{B, Nq, Tq, Tkv};
  std::vector<array> inputs{astype(q_in, t, s), astype(k_in, t, s), astype(v_in, t, s)};
  if (mode == MaskMode::Array) {
    const array& m = *mask_in;
    if (m.ndim() > 4)
      throw ValueError(msg(op, " the mask must have at most 4 dimensions; got mask.shape=", m.shape(), "."));
    if (m.dtype() != bool_ && (is_complex(m.dtype()) || promote_types(m.dtype(), t) != t))
      throw ValueError(msg(op, " an additive mask's type must promote to the output type ", t, "; got ", m.dtype(),
                           "."));
    bool ok = true;
    for (int i = 0; i < static_cast<int>(m.ndim()); ++i) {
      int d = m.shape(i), want = target[4 - m.ndim() + i];
      ok &= d == want || d == 1;
    }
    if (!ok)
      throw ValueError(msg(op, " the mask must broadcast to (B, N_q, T_q, T_kv) = ", target, "; got mask.shape=",
                           m.shape(), "."));
    inputs.push_back(broadcast_to(m.dtype() == bool_ ? m : astype(m, t, s), target, s));
  }
  bool has_sinks = sinks_in.has_value();
  if (has_sinks) {
    const array& sk = *sinks_in;
    if (sk.ndim() != 1 || sk.shape(0) != Nq)
      throw ValueError(msg(op, " sinks must have shape (N_q,) = (", Nq, ",); got sinks.shape=", sk.shape(), "."));
    if (is_complex(sk.dtype()) || promote_types(sk.dtype(), t) != t)
      throw ValueError(msg(op, " the sinks' type must promote to the output type ", t, "; got ", sk.dtype(), "."));
    inputs.push_back(astype(sk, t, s));
  }
  Fallback fb = [scale, mode, has_sinks, s](const std::vector<array>& in) -> std::vector<array> {
    const array& q = in[0];
    const array& k = in[1];
    const array& v = in[2];
    Dtype t = q.dtype(), a = acc_type(t);
    int B = q.shape(0), Nq = q.shape(1), Tq = q.shape(2), D = q.shape(3);
    int Nkv = k.shape(1), Tkv = k.shape(2), Dv = v.shape(3);
    if (Tkv == 0 || Nq == 0 || B == 0 || Tq == 0) return {zeros({B, Nq, Tq, Dv}, t, s)};
    int G = Nq / Nkv;
    array qf = reshape(astype(q, a, s), {B, Nkv, G, Tq, D}, s);
    array kf = expand_dims(astype(k, a, s), {2}, s);
    array vf = expand_dims(astype(v, a, s), {2}, s);
    array scores = matmul(multiply(qf, scalar(scale, a), s), swapaxes(kf, -1, -2, s), s);  // (B,Nkv,G,Tq,Tkv)
    array neg = scalar(-std::numeric_limits<float>::max(), a);
    if (mode == MaskMode::Causal) {
      array keep = greater_equal(add(expand_dims(arange(0, Tq, 1, int32, s), {1}, s),
                                     array(Tkv - Tq, int32), s),
                                 expand_dims(arange(0, Tkv, 1, int32, s), {0}, s), s);
      scores = where(keep, scores, neg, s);
    } else if (mode == MaskMode::Array) {
      array m = reshape(broadcast_to(in[3], {B, Nq, Tq, Tkv}, s), {B, Nkv, G, Tq, Tkv}, s);
      if (m.dtype() == bool_) scores = where(m, scores, neg, s);
      else scores = add(scores, astype(m, a, s), s);
    }
    if (has_sinks) {
      array sk = reshape(astype(in.back(), a, s), {1, Nkv, G, 1, 1}, s);
      sk = broadcast_to(sk, {B, Nkv, G, Tq, 1}, s);
      array p = softmax(concatenate({scores, sk}, -1, s), {-1}, true, s);
      scores = slice_last(p, 0, Tkv, 1, s);
    } else {
      scores = softmax(scores, {-1}, true, s);
    }
    array o = matmul(scores, vf, s);  // (B,Nkv,G,Tq,Dv)
    return {astype(reshape(o, {B, Nq, Tq, Dv}, s), t, s)};
  };
  return array({B, Nq, Tq, Dv}, t, std::make_shared<ScaledDotProductAttention>(s, fb, scale, mode, has_sinks),
               std::move(inputs));
}

}  // namespace mlx::core::fast
