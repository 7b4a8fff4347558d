"""mx.fast.cuda_kernel: user CUDA source compiled with NVRTC and run on the GPU."""
import numpy as np
import pytest

import mlx.core as mx

pytestmark = pytest.mark.skipif(not mx.cuda.is_available(), reason="no CUDA GPU in this build/machine")

rng = np.random.default_rng(0)


def test_elementwise_exp_with_template():
    k = mx.fast.cuda_kernel(
        name="myexp", input_names=["inp"], output_names=["out"],
        source="""
            auto elem = cooperative_groups::this_grid().thread_rank();
            if (elem < inp_size) { T tmp = inp[elem]; out[elem] = exp(tmp); }
        """.replace("inp_size", "n"),
        header="",
    )
    x = rng.standard_normal(1000).astype(np.float32)
    a = mx.array(x)
    # `n` comes in as a template constant.
    (y,) = k(inputs=[a], template=[("T", mx.float32), ("n", 1000)], grid=(1024, 1, 1), threadgroup=(256, 1, 1),
             output_shapes=[a.shape], output_dtypes=[a.dtype])
    np.testing.assert_allclose(np.array(y), np.exp(x), rtol=1e-5)


def test_shapes_strides_and_non_contiguous_input():
    src = """
        uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
        if (i >= out_size) return;
        // Row-major index -> strided offset of x.
        int64_t rem = i, off = 0;
        for (int d = x_ndim - 1; d >= 0; --d) { off += (rem % x_shape[d]) * x_strides[d]; rem /= x_shape[d]; }
        out[i] = x[off] * 2.0f;
    """.replace("out_size", "N")
    k = mx.fast.cuda_kernel(name="strided_double", input_names=["x"], output_names=["out"], source=src,
                            ensure_row_contiguous=False)
    x = rng.standard_normal((6, 5)).astype(np.float32)
    a = mx.array(x).T  # a transposed view
    (y,) = k(inputs=[a], template=[("N", a.size)], grid=(a.size, 1, 1), threadgroup=(64, 1, 1),
             output_shapes=[a.shape], output_dtypes=[mx.float32])
    np.testing.assert_allclose(np.array(y), x.T * 2, rtol=1e-6)


def test_two_outputs_init_value_half_types_and_ints():
    src = """
        uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
        if (i < 10) { s[i] = __float2half(__half2float(a[i]) + 1.0f); c[i] = (int32_t)i * 3; }
    """
    k = mx.fast.cuda_kernel(name="two_out", input_names=["a"], output_names=["s", "c"], source=src)
    a = mx.arange(12).astype(mx.float16)
    s, c = k(inputs=[a], grid=(12, 1, 1), threadgroup=(32, 1, 1), output_shapes=[(12,), (12,)],
             output_dtypes=[mx.float16, mx.int32], init_value=-1)
    np.testing.assert_array_equal(np.array(s.astype(mx.float32)), [i + 1 for i in range(10)] + [-1, -1])
    np.testing.assert_array_equal(np.array(c), [3 * i for i in range(10)] + [-1, -1])


def test_composes_with_other_ops_and_shared_memory():
    # A block sum in shared memory; the result feeds ordinary ops.
    src = """
        extern __shared__ float buf[];
        int t = threadIdx.x;
        buf[t] = x[blockIdx.x * blockDim.x + t];
        __syncthreads();
        for (int s = blockDim.x / 2; s > 0; s >>= 1) { if (t < s) buf[t] += buf[t + s]; __syncthreads(); }
        if (t == 0) out[blockIdx.x] = buf[0];
    """
    k = mx.fast.cuda_kernel(name="block_sum", input_names=["x"], output_names=["out"], source=src,
                            shared_memory=128 * 4)
    x = rng.standard_normal(128 * 8).astype(np.float32)
    (y,) = k(inputs=[mx.array(x) * 1.0], grid=(128 * 8, 1, 1), threadgroup=(128, 1, 1), output_shapes=[(8,)],
             output_dtypes=[mx.float32])
    np.testing.assert_allclose(np.array(mx.sum(y)), x.sum(), rtol=1e-4)
    np.testing.assert_allclose(np.array(y), x.reshape(8, 128).sum(1), rtol=1e-4)


def test_errors():
    k = mx.fast.cuda_kernel(name="bad", input_names=["x"], output_names=["y"], source="y[0] = x[0] +;")
    with pytest.raises(RuntimeError, match="NVRTC"):
        mx.eval(k(inputs=[mx.ones(3)], grid=(1, 1, 1), threadgroup=(1, 1, 1), output_shapes=[(1,)],
                  output_dtypes=[mx.float32])[0])
    ok = mx.fast.cuda_kernel(name="ok", input_names=["x"], output_names=["y"], source="y[0] = x[0];")
    with pytest.raises(ValueError, match="cuda_kernel"):
        ok(inputs=[mx.ones(3), mx.ones(3)], grid=(1, 1, 1), threadgroup=(1, 1, 1), output_shapes=[(1,)],
           output_dtypes=[mx.float32])
    with pytest.raises(ValueError, match="threadgroup"):
        ok(inputs=[mx.ones(3)], grid=(1, 1, 1), threadgroup=(2048, 1, 1), output_shapes=[(1,)],
           output_dtypes=[mx.float32])
    with pytest.raises(ValueError, match="GPU"):
        ok(inputs=[mx.ones(3)], grid=(1, 1, 1), threadgroup=(1, 1, 1), output_shapes=[(1,)],
           output_dtypes=[mx.float32], stream=mx.cpu)
    with pytest.raises(ValueError, match="identifier"):
        mx.fast.cuda_kernel(name="bad name", input_names=["x"], output_names=["y"], source="")
