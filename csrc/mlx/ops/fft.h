// Ops of mx.fft. Transforms return complex64 (real inputs are promoted); the real inverse
// transforms return float32.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "mlx/ops.h"
#include "mlx/primitives/fft.h"

namespace mlx::core::fft {

// Scaling of a transform pair: "backward" (1 forward, 1/n inverse), "ortho" (1/sqrt(n) both
// ways) or "forward" (1/n forward, 1 inverse).
enum class FFTNorm { Backward, Ortho, Forward };
// Parses "backward" / "ortho" / "forward" (ValueError otherwise).
FFTNorm parse_norm(const std::string& norm, const char* op = "fft");

// n-dimensional transforms over `axes` (default: all axes; with `s` given, `axes` must be too)
// with output sizes `s` along them (inputs are cropped or zero-padded; for irfftn the last
// entry is the real output length, default 2 * (bins - 1)).
array fftn(const array& a, const std::optional<Shape>& s = std::nullopt,
           const std::optional<std::vector<int>>& axes = std::nullopt, FFTNorm norm = FFTNorm::Backward,
           StreamOrDevice st = {});
array ifftn(const array& a, const std::optional<Shape>& s = std::nullopt,
            const std::optional<std::vector<int>>& axes = std::nullopt, FFTNorm norm = FFTNorm::Backward,
            StreamOrDevice st = {});
array rfftn(const array& a, const std::optional<Shape>& s = std::nullopt,
            const std::optional<std::vector<int>>& axes = std::nullopt, FFTNorm norm = FFTNorm::Backward,
            StreamOrDevice st = {});
array irfftn(const array& a, const std::optional<Shape>& s = std::nullopt,
             const std::optional<std::vector<int>>& axes = std::nullopt, FFTNorm norm = FFTNorm::Backward,
             StreamOrDevice st = {});

// One-dimensional transforms along `axis` with optional length n.
array fft(const array& a, std::optional<int> n = std::nullopt, int axis = -1,
          FFTNorm norm = FFTNorm::Backward, StreamOrDevice st = {});
array ifft(const array& a, std::optional<int> n = std::nullopt, int axis = -1,
           FFTNorm norm = FFTNorm::Backward, StreamOrDevice st = {});
array rfft(const array& a, std::optional<int> n = std::nullopt, int axis = -1,
           FFTNorm norm = FFTNorm::Backward, StreamOrDevice st = {});
array irfft(const array& a, std::optional<int> n = std::nullopt, int axis = -1,
            FFTNorm norm = FFTNorm::Backward, StreamOrDevice st = {});

// Rolls the zero-frequency bin to the center (fftshift) or back (ifftshift) along `axes`
// (default: all).
array fftshift(const array& a, const std::optional<std::vector<int>>& axes = std::nullopt,
               StreamOrDevice st = {});
array ifftshift(const array& a, const std::optional<std::vector<int>>& axes = std::nullopt,
                StreamOrDevice st = {});

// Sample frequencies of fft (n bins) and rfft (n/2+1 bins) for sample spacing d, float32.
array fftfreq(int n, double d = 1.0, StreamOrDevice st = {});
array rfftfreq(int n, double d = 1.0, StreamOrDevice st = {});

}  // namespace mlx::core::fft
