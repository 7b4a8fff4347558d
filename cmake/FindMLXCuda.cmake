# Looks for nvcc and cuBLAS/cuBLASLt; sets MLX_CUDA_FOUND, MLX_CUBLAS_INCLUDE_DIR,
# MLX_CUBLAS_LIB_DIR and MLX_CUBLAS_LIBRARIES, and enables the CUDA language.
include(CheckLanguage)
# nvcc compiles host code with the same compiler as the C++ sources: two different host
# compilers can bring two C++ standard libraries into libmlx (one linked statically), and
# std::ostream then crashes. CUDAHOSTCXX or CMAKE_CUDA_HOST_COMPILER still override this.
if(NOT DEFINED CMAKE_CUDA_HOST_COMPILER AND NOT DEFINED ENV{CUDAHOSTCXX})
  set(CMAKE_CUDA_HOST_COMPILER "${CMAKE_CXX_COMPILER}" CACHE FILEPATH "")
  set(ENV{CUDAHOSTCXX} "${CMAKE_CXX_COMPILER}")
endif()
check_language(CUDA)
if(NOT CMAKE_CUDA_COMPILER)
  return()
endif()
find_package(CUDAToolkit QUIET)
if(NOT CUDAToolkit_FOUND)
  return()
endif()
# cuBLAS: the toolkit's, else the nvidia-cublas wheel's (nvidia/cu13 or nvidia/cublas).
find_path(MLX_CUBLAS_INCLUDE_DIR cublasLt.h HINTS ${CUDAToolkit_INCLUDE_DIRS})
find_library(MLX_CUBLAS_LIB cublas HINTS ${CUDAToolkit_LIBRARY_DIR})
find_library(MLX_CUBLASLT_LIB cublasLt HINTS ${CUDAToolkit_LIBRARY_DIR})
if(NOT MLX_CUBLAS_INCLUDE_DIR OR NOT MLX_CUBLAS_LIB OR NOT MLX_CUBLASLT_LIB)
  execute_process(
    COMMAND "${Python_EXECUTABLE}" -c
      "import nvidia, os; print(';'.join(os.path.join(p, d) for p in nvidia.__path__ for d in ('cu13', 'cublas')))"
    OUTPUT_VARIABLE _nv OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _nv_rc ERROR_QUIET)
  if(_nv_rc EQUAL 0)
    foreach(_d ${_nv})
      if(EXISTS "${_d}/include/cublasLt.h")
        set(MLX_CUBLAS_INCLUDE_DIR "${_d}/include" CACHE PATH "" FORCE)
        find_library(MLX_CUBLAS_LIB NAMES cublas libcublas.so.13 libcublas.so.12 PATHS "${_d}/lib" NO_DEFAULT_PATH)
        find_library(MLX_CUBLASLT_LIB NAMES cublasLt libcublasLt.so.13 libcublasLt.so.12 PATHS "${_d}/lib" NO_DEFAULT_PATH)
        break()
      endif()
    endforeach()
  endif()
endif()
if(NOT MLX_CUBLAS_INCLUDE_DIR OR NOT MLX_CUBLAS_LIB OR NOT MLX_CUBLASLT_LIB)
  message(STATUS "mlx: nvcc found but not cuBLAS; the CUDA backend is not built")
  return()
endif()
enable_language(CUDA)
if(NOT CMAKE_CUDA_ARCHITECTURES OR CMAKE_CUDA_ARCHITECTURES STREQUAL "52")
  set(CMAKE_CUDA_ARCHITECTURES 90)
endif()
set(CMAKE_CUDA_STANDARD 17)
get_filename_component(MLX_CUBLAS_LIB_DIR "${MLX_CUBLAS_LIB}" DIRECTORY)
set(MLX_CUBLAS_LIBRARIES ${MLX_CUBLAS_LIB} ${MLX_CUBLASLT_LIB})
# NVRTC is opened at run time (dlopen); only its header is needed here.
find_path(MLX_NVRTC_INCLUDE_DIR nvrtc.h HINTS ${CUDAToolkit_INCLUDE_DIRS} ${MLX_CUBLAS_INCLUDE_DIR})
if(NOT MLX_NVRTC_INCLUDE_DIR)
  message(STATUS "mlx: nvrtc.h not found; the CUDA backend is not built")
  return()
endif()
list(APPEND MLX_CUBLAS_LIBRARIES ${CMAKE_DL_LIBS})
set(MLX_CUDA_FOUND ON)

# Optional libraries. Each one found adds a compile definition MLX_CUDA_HAS_<NAME>; the kernel
# files that use it are compiled only then (else those primitives keep their other paths).
set(MLX_CUDA_EXTRA_LIBRARIES "")
set(MLX_CUDA_EXTRA_DEFINITIONS "")
set(MLX_CUDA_EXTRA_INCLUDE_DIRS "")
set(MLX_CUDA_EXTRA_LIB_DIRS "")
foreach(_lib cufft cusolver)
  string(TOUPPER ${_lib} _LIB)
  # The toolkit's, else the wheel's beside cuBLAS (nvidia/cu13/lib).
  find_library(MLX_${_LIB}_WHEEL_LIB NAMES lib${_lib}.so.12 lib${_lib}.so.13 lib${_lib}.so.11
               PATHS "${MLX_CUBLAS_LIB_DIR}" NO_DEFAULT_PATH)
  if(TARGET CUDA::${_lib})
    list(APPEND MLX_CUDA_EXTRA_LIBRARIES CUDA::${_lib})
    list(APPEND MLX_CUDA_EXTRA_DEFINITIONS MLX_CUDA_HAS_${_LIB}=1)
    message(STATUS "mlx: CUDA backend uses ${_lib}")
  elseif(MLX_${_LIB}_WHEEL_LIB)
    list(APPEND MLX_CUDA_EXTRA_LIBRARIES ${MLX_${_LIB}_WHEEL_LIB})
    list(APPEND MLX_CUDA_EXTRA_DEFINITIONS MLX_CUDA_HAS_${_LIB}=1)
    message(STATUS "mlx: CUDA backend uses ${MLX_${_LIB}_WHEEL_LIB}")
  else()
    message(STATUS "mlx: ${_lib} not found; its primitives run without it")
  endif()
endforeach()
# cuDNN (the nvidia-cudnn wheel's, or the system's) with the header-only cuDNN frontend (the
# nvidia-cudnn-frontend wheel puts its headers in <site-packages>/include).
execute_process(
  COMMAND "${Python_EXECUTABLE}" -c
"import os, sys
dirs = []
try:
    import nvidia
    dirs += [os.path.join(p, 'cudnn') for p in nvidia.__path__]
except Exception:
    pass
fe = [os.path.join(p, 'include') for p in sys.path if p and os.path.isfile(os.path.join(p, 'include', 'cudnn_frontend.h'))]
print(';'.join(dirs) + '|' + ';'.join(fe))"
  OUTPUT_VARIABLE _cudnn_out OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _cudnn_rc ERROR_QUIET)
set(_cudnn_roots "")
set(_cudnn_fe "")
if(_cudnn_rc EQUAL 0)
  string(REPLACE "|" ";" _parts "${_cudnn_out}|")
  list(GET _parts 0 _cudnn_roots_s)
  list(GET _parts 1 _cudnn_fe_s)
  string(REPLACE "," ";" _cudnn_roots "${_cudnn_roots_s}")
  set(_cudnn_fe "${_cudnn_fe_s}")
endif()
set(_cudnn_inc_hints "")
set(_cudnn_lib_hints "")
foreach(_r ${_cudnn_roots})
  list(APPEND _cudnn_inc_hints "${_r}/include")
  list(APPEND _cudnn_lib_hints "${_r}/lib")
endforeach()
find_path(MLX_CUDNN_INCLUDE_DIR cudnn.h HINTS ${_cudnn_inc_hints} ${CUDAToolkit_INCLUDE_DIRS})
find_library(MLX_CUDNN_LIB NAMES cudnn libcudnn.so.9 HINTS ${_cudnn_lib_hints} ${CUDAToolkit_LIBRARY_DIR})
find_path(MLX_CUDNN_FRONTEND_INCLUDE_DIR cudnn_frontend.h HINTS ${_cudnn_fe})
if(MLX_CUDNN_INCLUDE_DIR AND MLX_CUDNN_LIB AND MLX_CUDNN_FRONTEND_INCLUDE_DIR)
  get_filename_component(_cudnn_lib_dir "${MLX_CUDNN_LIB}" DIRECTORY)
  list(APPEND MLX_CUDA_EXTRA_LIBRARIES ${MLX_CUDNN_LIB})
  list(APPEND MLX_CUDA_EXTRA_DEFINITIONS MLX_CUDA_HAS_CUDNN=1)
  list(APPEND MLX_CUDA_EXTRA_INCLUDE_DIRS ${MLX_CUDNN_INCLUDE_DIR} ${MLX_CUDNN_FRONTEND_INCLUDE_DIR})
  list(APPEND MLX_CUDA_EXTRA_LIB_DIRS ${_cudnn_lib_dir})
  message(STATUS "mlx: CUDA backend uses cuDNN (${MLX_CUDNN_LIB}) and its frontend (${MLX_CUDNN_FRONTEND_INCLUDE_DIR})")
else()
  message(STATUS "mlx: cuDNN or the cuDNN frontend headers not found (cudnn.h: ${MLX_CUDNN_INCLUDE_DIR}, "
                 "frontend: ${MLX_CUDNN_FRONTEND_INCLUDE_DIR}); convolutions and attention use their other paths")
endif()
