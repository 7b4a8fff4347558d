// BLAS/LAPACK from the scipy-openblas32 wheel, whose symbols carry a `scipy_` prefix.
#pragma once
#include <cblas.h>

#define MLX_BLAS(name) scipy_##name
#define cblas_sgemm MLX_BLAS(cblas_sgemm)
#define cblas_dgemm MLX_BLAS(cblas_dgemm)
#define cblas_cgemm MLX_BLAS(cblas_cgemm)
#define openblas_set_num_threads MLX_BLAS(openblas_set_num_threads)
#define openblas_get_num_threads MLX_BLAS(openblas_get_num_threads)

// LAPACK's Fortran interface from the wheel's <lapack.h>: LAPACK_GLOBAL maps each routine to
// its `scipy_`-prefixed symbol (LAPACK_sgetrf -> scipy_sgetrf_). Routines taking characters are
// called through the header's `scipy_LAPACK_<name>(...)` macros, which append the lengths.
#include <complex>
#ifndef LAPACK_GLOBAL
#define LAPACK_GLOBAL(lcname, UCNAME) MLX_BLAS(lcname##_)
#endif
#define LAPACK_COMPLEX_CUSTOM
#define lapack_complex_float std::complex<float>
#define lapack_complex_double std::complex<double>
#include <lapack.h>
