// User-facing ops: each checks its arguments, promotes dtypes and builds a graph node.
#pragma once
#include <optional>
#include <variant>
#include <vector>

#include "mlx/array.h"
#include "mlx/device.h"
#include "mlx/primitives/primitives.h"

namespace mlx::core {

using SD = StreamOrDevice;

// ---- creation ----
array arange(double start, double stop, double step, Dtype dtype, SD s = {});
array linspace(double start, double stop, int num, Dtype dtype = float32, SD s = {});
array full(Shape shape, array vals, Dtype dtype, SD s = {});
array full(Shape shape, array vals, SD s = {});
array zeros(const Shape& shape, Dtype dtype = float32, SD s = {});
array ones(const Shape& shape, Dtype dtype = float32, SD s = {});
array zeros_like(const array& a, SD s = {});
array ones_like(const array& a, SD s = {});
array eye(int n, int m, int k, Dtype dtype = float32, SD s = {});
array tri(int n, int m, int k, Dtype dtype = float32, SD s = {});
array tril(array x, int k = 0, SD s = {});
array triu(array x, int k = 0, SD s = {});

// ---- elementwise ----
array unary(UnaryOp op, const array& a, SD s = {});
array binary(BinaryOp op, const array& a, const array& b, SD s = {});
#define MLX_UNARY(C, n) array n(const array& a, SD s = {});
#define MLX_BINARY(C, n) array n(const array& a, const array& b, SD s = {});
#include "mlx/primitives/elementwise.def"
#undef MLX_UNARY
#undef MLX_BINARY
std::vector<array> divmod(const array& a, const array& b, SD s = {});
array where(const array& c, const array& x, const array& y, SD s = {});
array astype(array a, Dtype dtype, SD s = {});
array isfinite(const array& a, SD s = {});
array clip(const array& a, const std::optional<array>& lo, const std::optional<array>& hi, SD s = {});
array nan_to_num(const array& a, float nan, std::optional<float> posinf, std::optional<float> neginf, SD s = {});
array degrees(const array& a, SD s = {});
array radians(const array& a, SD s = {});
array allclose_arr(const array& a, const array& b, double rtol, double atol, bool equal_nan, SD s = {});
array isclose(const array& a, const array& b, double rtol, double atol, bool equal_nan, SD s = {});
array array_equal(const array& a, const array& b, bool equal_nan, SD s = {});

// ---- reductions ----
array sum(const array& a, const std::vector<int>& axes, bool keepdims = false, SD s = {});
array prod(const array& a, const std::vector<int>& axes, bool keepdims = false, SD s = {});
array max(const array& a, const std::vector<int>& axes, bool keepdims = false, SD s = {});
array min(const array& a, const std::vector<int>& axes, bool keepdims = false, SD s = {});
array all(const array& a, const std::vector<int>& axes, bool keepdims = false, SD s = {});
array any(const array& a, const std::vector<int>& axes, bool keepdims = false, SD s = {});
array mean(const array& a, const std::vector<int>& axes, bool keepdims = false, SD s = {});
array var(const array& a, const std::vector<int>& axes, bool keepdims = false, int ddof = 0, SD s = {});
array std_dev(const array& a, const std::vector<int>& axes, bool keepdims = false, int ddof = 0, SD s = {});
array logsumexp(const array& a, const std::vector<int>& axes, bool keepdims = false, SD s = {});
array argmax(const array& a, std::optional<int> axis, bool keepdims = false, SD s = {});
array argmin(const array& a, std::optional<int> axis, bool keepdims = false, SD s = {});
array count_nonzero(const array& a, const std::vector<int>& axes, bool keepdims = false, SD s = {});
array softmax(const array& a, const std::vector<int>& axes, bool precise = false, SD s = {});
// All axes of a.
std::vector<int> all_axes(const array& a);

// ---- matmul ----
array matmul(const array& a, const array& b, SD s = {});

// ---- shape ----
array reshape(const array& a, Shape shape, SD s = {});
array flatten(const array& a, int start_axis = 0, int end_axis = -1, SD s = {});
array unflatten(const array& a, int axis, Shape shape, SD s = {});
array transpose(const array& a, std::vector<int> axes, SD s = {});
array transpose(const array& a, SD s = {});
array swapaxes(const array& a, int axis1, int axis2, SD s = {});
array moveaxis(const array& a, int source, int destination, SD s = {});
array expand_dims(const array& a, std::vector<int> axes, SD s = {});
array squeeze(const array& a, std::vector<int> axes, SD s = {});
array squeeze(const array& a, SD s = {});
array broadcast_to(const array& a, const Shape& shape, SD s = {});
std::vector<array> broadcast_arrays(const std::vector<array>& inputs, SD s = {});
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op = "broadcast_shapes");
array concatenate(std::vector<array> arrays, int axis, SD s = {});
array concatenate(std::vector<array> arrays, SD s = {});
array stack(const std::vector<array>& arrays, int axis = 0, SD s = {});
std::vector<array> split(const array& a, int num_splits, int axis = 0, SD s = {});
std::vector<array> split(const array& a, const std::vector<int>& indices, int axis = 0, SD s = {});
array pad(const array& a, const std::vector<std::pair<int, int>>& widths, const array& value,
          const std::string& mode = "constant", SD s = {});
array tile(const array& a, std::vector<int> reps, SD s = {});
array repeat(const array& a, int repeats, std::optional<int> axis, SD s = {});
array roll(const array& a, const std::vector<int>& shift, const std::vector<int>& axes, SD s = {});
array roll(const array& a, int shift, SD s = {});
array as_strided(const array& a, Shape shape, Strides strides, size_t offset, SD s = {});
array contiguous(const array& a, bool allow_col_major = false, SD s = {});
array atleast_1d(const array& a, SD s = {});
array atleast_2d(const array& a, SD s = {});
array atleast_3d(const array& a, SD s = {});
array view(const array& a, Dtype dtype, SD s = {});

// ---- slicing and indexing ----
array slice(const array& a, Shape start, Shape stop, Shape strides, SD s = {});
array slice_update(const array& src, const array& update, Shape start, Shape stop, Shape strides, SD s = {});
array take(const array& a, const array& indices, int axis, SD s = {});
array take(const array& a, const array& indices, SD s = {});
array take_along_axis(const array& a, const array& indices, int axis, SD s = {});
array put_along_axis(const array& a, const array& indices, const array& values, int axis, SD s = {});
array scatter_axis(const array& a, const array& indices, const array& values, int axis, ScatterMode mode, SD s = {});
// a with `updates` scattered along `axis` at `indices` (updates shaped like take(a, indices, axis)).
array scatter(const array& a, const array& indices, const array& updates, int axis, ScatterMode mode, SD s = {});

// ---- helpers shared by ops ----
int normalize_axis(int axis, int ndim, const char* op);
std::vector<int> normalize_axes(const std::vector<int>& axes, int ndim, const char* op);

}  // namespace mlx::core
