// vjp/jvp/vmap rules of the Convolution primitive; every rule builds more Convolution nodes.
#include "mlx/ops/conv.h"

namespace mlx::core {

namespace {

using Arrs = std::vector<array>;
using VmapOut = std::pair<std::vector<array>, std::vector<int>>;

int64_t dilated(int64_t n, int64_t dil) { return n > 0 ? (n - 1) * dil + 1 : 0; }

// Reverses the given axes of x.
array reverse_axes(const array& x, const std::vector<int>& axes) {
  int nd = static_cast<int>(x.ndim());
  Shape start(nd, 0), stop = x.shape(), strides(nd, 1);
  for (int a : axes) {
    if (x.shape(a) <= 1) continue;
    start[a] = x.shape(a) - 1;
    stop[a] = -x.shape(a) - 1;
    strides[a] = -1;
  }
  return slice(x, start, stop, strides);
}

}  // namespace

bool Convolution::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Convolution*>(&o);
  return p && p->stride_ == stride_ && p->padding_lo_ == padding_lo_ &&
         p->padding_hi_ == padding_hi_ && p->kernel_dilation_ == kernel_dilation_ &&
         p->input_dilation_ == input_dilation_ && p->groups_ == groups_ && p->flip_ == flip_;
}

std::vector<array> Convolution::vjp(const Arrs& p, const Arrs& ct, const std::vector<int>& argnums,
                                    const Arrs&) {
  const array& x = p[0];
  const array& w = p[1];
  const array& cot = ct[0];
  int D = static_cast<int>(x.ndim()) - 2;
  int g = groups_;
  int N = x.shape(0), c_in = x.shape(-1), c_out = w.shape(0);
  int cig = c_in / g, cog = c_out / g;
  Arrs res;
  for (int arg : argnums) {
    if (arg == 0) {
      // d/dx: a convolution of the cotangent (dilated by the stride) with the channel-swapped
      // kernel, flipped the other way, strided by the input dilation.
      Shape wsh{g, cog};
      std::vector<int> perm{0, 2 + D};
      for (int d = 0; d < D; ++d) {
        wsh.push_back(w.shape(1 + d));
        perm.push_back(2 + d);
      }
      wsh.push_back(cig);
      perm.push_back(1);
      Shape w2sh{c_in};
      for (int d = 0; d < D; ++d) w2sh.push_back(w.shape(1 + d));
      w2sh.push_back(cog);
      array w2 = reshape(transpose(reshape(w, wsh), perm), w2sh);
      std::vector<int> lo(D), hi(D);
      for (int d = 0; d < D; ++d) {
        int64_t k_ext = int64_t(w.shape(1 + d) - 1) * kernel_dilation_[d];
        lo[d] = static_cast<int>(k_ext - padding_lo_[d]);
        int64_t total = int64_t(x.shape(1 + d) - 1) * input_dilation_[d] + k_ext + 1;
        hi[d] = static_cast<int>(total - dilated(cot.shape(1 + d), stride_[d]) - lo[d]);
      }
      array gx = detail::convolution(cot, w2, input_dilation_, lo, hi, kernel_dilation_, stride_, g,
                                     !flip_, stream());
      res.push_back(gx);
    } else {
      // d/dw: correlate the input (channels as batch, batch as channels) with the cotangent.
      Shape xsh{N};
      for (int d = 0; d < D; ++d) xsh.push_back(x.shape(1 + d));
      xsh.push_back(g);
      xsh.push_back(cig);
      std::vector<int> perm{D + 2};
      for (int d = 0; d < D; ++d) perm.push_back(1 + d);
      perm.push_back(D + 1);
      perm.push_back(0);
      Shape x2sh{cig};
      for (int d = 0; d < D; ++d) x2sh.push_back(x.shape(1 + d));
      x2sh.push_back(g * N);
      array x2 = reshape(transpose(reshape(x, xsh), perm), x2sh);
      std::vector<int> cperm{D + 1};
      for (int d = 0; d < D; ++d) cperm.push_back(1 + d);
      cperm.push_back(0);
      array c2 = transpose(cot, cperm);  // (C_out, O..., N)
      std::vector<int> hi(D);
      for (int d = 0; d < D; ++d) {
        int64_t total = int64_t(w.shape(1 + d) - 1) * kernel_dilation_[d] +
                        int64_t(cot.shape(1 + d) - 1) * stride_[d] + 1;
        hi[d] = static_cast<int>(total - dilated(x.shape(1 + d), input_dilation_[d]) - padding_lo_[d]);
      }
      array gw = detail::convolution(x2, c2, kernel_dilation_, padding_lo_, hi, stride_,
                                     input_dilation_, g, false, stream());
      // (C_in/g, K..., C_out) -> (C_out, K..., C_in/g)
      std::vector<int> operm{D + 1};
      std::vector<int> spatial;
      for (int d = 0; d < D; ++d) {
        operm.push_back(1 + d);
        spatial.push_back(1 + d);
      }
      operm.push_back(0);
      gw = transpose(gw, operm);
      if (flip_) gw = reverse_axes(gw, spatial);
      res.push_back(gw);
    }
  }
  return res;
}

std::vector<array> Convolution::jvp(const Arrs& p, const Arrs& t, const std::vector<int>& argnums) {
  array acc;
  for (size_t i = 0; i < argnums.size(); ++i) {
    const array& x = argnums[i] == 0 ? t[i] : p[0];
    const array& w = argnums[i] == 0 ? p[1] : t[i];
    array r = detail::convolution(x, w, stride_, padding_lo_, padding_hi_, kernel_dilation_,
                                  input_dilation_, groups_, flip_, stream());
    acc = acc.is_valid() ? add(acc, r) : r;
  }
  return {acc};
}

VmapOut Convolution::vmap(const Arrs& in, const std::vector<int>& axes) {
  array x = in[0], w = in[1];
  int ax = axes[0], aw = axes[1];
  auto conv = [&](const array& a, const array& b, int groups) {
    return detail::convolution(a, b, stride_, padding_lo_, padding_hi_, kernel_dilation_,
                               input_dilation_, groups, flip_, stream());
  };
  if (aw < 0) {
    // Fold the batch into N.
    x = moveaxis(x, ax, 0);
    int B = x.shape(0);
    Shape sh(x.shape().begin() + 1, x.shape().end());
    sh[0] *= B;
    array y = conv(reshape(x, sh), w, groups_);
    Shape ysh = y.shape();
    ysh[0] /= std::max(B, 1);
    if (B == 0) ysh[0] = x.shape(1);
    ysh.insert(ysh.begin(), B);
    return {{reshape(y, ysh)}, {0}};
  }
  // A batched weight: every example becomes its own set of groups.
  w = moveaxis(w, aw, 0);
  int B = w.shape(0);
  int nd = static_cast<int>(w.ndim()) - 1;  // rank of one example
  if (ax >= 0) {
    x = moveaxis(x, ax, 0);  // (B, N, S..., C)
  } else {
    Shape sh = x.shape();
    sh.insert(sh.begin(), B);
    x = broadcast_to(expand_dims(x, {0}), sh);
  }
  // (B, N, S..., C) -> (N, S..., B, C) -> (N, S..., B*C)
  std::vector<int> perm;
  for (int i = 1; i < nd; ++i) perm.push_back(i);
  perm.push_back(0);
  perm.push_back(nd);
  array xt = transpose(x, perm);
  Shape xsh(xt.shape().begin(), xt.shape().end() - 2);
  xsh.push_back(B * x.shape(-1));
  Shape wsh(w.shape().begin() + 1, w.shape().end());
  wsh[0] *= B;
  array y = conv(reshape(xt, xsh), reshape(w, wsh), groups_ * B);
  // (N, O..., B*C_out) -> (B, N, O..., C_out)
  Shape ysh(y.shape().begin(), y.shape().end() - 1);
  ysh.push_back(B);
  ysh.push_back(w.shape(1));
  array yr = reshape(y, ysh);
  return {{moveaxis(yr, nd - 1, 0)}, {0}};
}

}  // namespace mlx::core
