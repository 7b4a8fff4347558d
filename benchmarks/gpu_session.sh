#!/bin/bash
# One GPU session on a machine without network: install carried wheels, build with CUDA, then
# run what is asked. Wheels in .whl/, the shared benchmark in .devcarry/gpu.py.
#   bash benchmarks/gpu_session.sh build|gputests|suite|bench [regex]|gdb "python code"
set -o pipefail
OUT=${OUT:-/tmp/out}; mkdir -p $OUT
export PYTHONUNBUFFERED=1
ROOT=$(pwd)
if ls .whl/*.whl >/dev/null 2>&1 && [ ! -d /tmp/site ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl || exit 1
fi
export PYTHONPATH=/tmp/mlxinst:/tmp/site
export CUDACXX=${CUDACXX:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
export CMAKE_BUILD_PARALLEL_LEVEL=16
# nvcc compiles host code with the system g++: build the C++ side with the same compiler, or
# two libstdc++ builds meet in one library (a crash in std::ostream seen on the lent machines).
export CC=/usr/bin/gcc CXX=/usr/bin/g++ CUDAHOSTCXX=/usr/bin/g++
for what in "$@"; do
  case $what in
    build)
      nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
      t0=$(date +%s)
      python3 -m pip install -v --no-build-isolation --no-deps --upgrade -C build-dir=/tmp/skb --target /tmp/mlxinst . > $OUT/build.log 2>&1 || { tail -60 $OUT/build.log; exit 1; }
      echo "build: $(( $(date +%s) - t0 )) s"
      rm -rf /tmp/gtests /tmp/examples && cp -r tests /tmp/gtests && cp -r examples /tmp/examples ;;
    gputests)
      (cd /tmp && timeout -s KILL ${GPUTEST_TIMEOUT:-300} python3 -m pytest -v -p no:cacheprovider --assert=plain --tb=short -rf ${GPUTEST_FILES:-/tmp/gtests/test_gpu*.py} $GPUTEST_ARGS 2>&1 | tee $OUT/test_gpu.log | grep -v "^  File \"/opt\|pluggy\|_pytest" | grep " FAILED\|^FAILED\|passed\|failed" | cut -c1-200 | tail -80) ;;
    suite)
      (cd /tmp && timeout -s KILL ${SUITE_TIMEOUT:-500} python3 -m pytest -q -p no:cacheprovider --assert=plain --tb=line -rf /tmp/gtests --ignore=/tmp/gtests/test_cpp_embedding.py --ignore=/tmp/gtests/test_docs.py --ignore-glob='/tmp/gtests/test_gpu*' $SUITE_ARGS 2>&1 | tee $OUT/suite.log | grep -v "^\.\.\.\.\|^  " | tail -60) ;;
    bench)
      (cd /tmp && timeout 240 python3 $ROOT/.devcarry/gpu.py --fw mlx ${BENCH_ONLY:+--only $BENCH_ONLY} 2>&1 | tee $OUT/bench_mlx.log;
       timeout 240 python3 $ROOT/.devcarry/gpu.py --fw torch ${BENCH_ONLY:+--only $BENCH_ONLY} 2>&1 | tee $OUT/bench_torch.log) ;;
    probe)
      # What the machine has (library folders, cuDNN version) and which nodes of the model
      # workloads still run on the host.
      python3 -c "import nvidia, os; [print(p, sorted(os.listdir(p))) for p in nvidia.__path__]"
      ls /usr/local/cuda/include 2>/dev/null | grep -i "cufft.h\|cusolverDn.h\|cudnn\|curand.h" | tr '\n' ' '; echo
      python3 -c "import torch; print('torch cudnn', torch.backends.cudnn.version())"
      find / -name "cudnn_frontend.h" -not -path "*/proc/*" 2>/dev/null | head -3
      (cd /tmp && MLX_CUDA_LOG_FALLBACK=1 MLX_CUDA_CONV_LOG=1 timeout 200 python3 $ROOT/.devcarry/gpu.py --fw mlx --only "${PROBE_ONLY:-sdpa|conv|mlp|transformer}" 2>&1 | tee $OUT/probe.log | tail -40) ;;
    profile)
      (cd /tmp && MLX_CUDA_LOG_FALLBACK=1 timeout ${PROFILE_TIMEOUT:-120} python3 $ROOT/benchmarks/gpu_block_profile.py 2>&1 | tee $OUT/profile.log | tail -30) ;;
    stepprof)
      # Kernel tables of the transformer-block step: ours (MLX_CUDA_PROFILE) and PyTorch's.
      (cd /tmp && python3 $ROOT/benchmarks/gpu_step_profile.py mlx 2>&1 | tail -3;
       MLX_CUDA_PROFILE=1 timeout 120 python3 $ROOT/benchmarks/gpu_step_profile.py mlx > $OUT/stepprof_mlx.log 2>&1; head -50 $OUT/stepprof_mlx.log;
       if [ "${STEPPROF_TORCH:-1}" != 0 ]; then timeout 120 python3 $ROOT/benchmarks/gpu_step_profile.py torch > $OUT/stepprof_torch.log 2>&1; head -45 $OUT/stepprof_torch.log | cut -c1-200; fi) ;;
    gdb)
      (cd /tmp && printf '%s\n' "$GDB_CODE" > /tmp/snippet.py && cuda-gdb -batch -ex run -ex bt --args python3 /tmp/snippet.py 2>&1 | grep -v "^\[New Thread\|^\[Thread" | tail -30) ;;
  esac
done
