// Ops of the sort/scan family (scans, sorting, diagonals, gathered matmuls, ...).
#pragma once
#include <optional>
#include <vector>

#include "mlx/ops.h"
#include "mlx/primitives/sort_scan.h"

namespace mlx::core {

// ---- scans (axis = nullopt scans the flattened array) ----
array scan(const array& a, ScanType type, std::optional<int> axis, bool reverse, bool inclusive,
           const char* op, SD s = {});
array cumsum(const array& a, std::optional<int> axis = std::nullopt, bool reverse = false,
             bool inclusive = true, SD s = {});
array cumprod(const array& a, std::optional<int> axis = std::nullopt, bool reverse = false,
              bool inclusive = true, SD s = {});
array cummax(const array& a, std::optional<int> axis = std::nullopt, bool reverse = false,
             bool inclusive = true, SD s = {});
array cummin(const array& a, std::optional<int> axis = std::nullopt, bool reverse = false,
             bool inclusive = true, SD s = {});
array logcumsumexp(const array& a, std::optional<int> axis = std::nullopt, bool reverse = false,
                   bool inclusive = true, SD s = {});

// ---- sorting (axis = nullopt works on the flattened array) ----
array sort(const array& a, std::optional<int> axis = -1, SD s = {});
array argsort(const array& a, std::optional<int> axis = -1, SD s = {});
array partition(const array& a, int kth, std::optional<int> axis = -1, SD s = {});
array argpartition(const array& a, int kth, std::optional<int> axis = -1, SD s = {});
array topk(const array& a, int k, std::optional<int> axis = -1, SD s = {});
array searchsorted(const array& sorted, const array& values, bool right = false, SD s = {});

// ---- diagonals ----
array diagonal(const array& a, int offset = 0, int axis1 = 0, int axis2 = 1, SD s = {});
array diag(const array& a, int k = 0, SD s = {});
array trace(const array& a, int offset = 0, int axis1 = 0, int axis2 = 1,
            std::optional<Dtype> dtype = std::nullopt, SD s = {});

// ---- transforms and matmul variants ----
array hadamard_transform(const array& a, std::optional<float> scale = std::nullopt, SD s = {});
array gather_mm(const array& a, const array& b, std::optional<array> lhs_indices,
                std::optional<array> rhs_indices, bool sorted_indices = false, SD s = {});
array segmented_mm(const array& a, const array& b, const array& segments, SD s = {});

// The inputs, unchanged, evaluated only after `dependencies`.
std::vector<array> depends(const std::vector<array>& inputs, const std::vector<array>& dependencies);

}  // namespace mlx::core
