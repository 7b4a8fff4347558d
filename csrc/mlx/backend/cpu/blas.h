// BLAS/LAPACK from the scipy-openblas32 wheel, whose symbols carry a `scipy_` prefix.
#pragma once
#include <cblas.h>

#define MLX_BLAS(name) scipy_##name
#define cblas_sgemm MLX_BLAS(cblas_sgemm)
#define cblas_dgemm MLX_BLAS(cblas_dgemm)
#define cblas_cgemm MLX_BLAS(cblas_cgemm)
#define openblas_set_num_threads MLX_BLAS(openblas_set_num_threads)
