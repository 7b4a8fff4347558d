#!/bin/bash
# One GPU session on a machine without network: install carried wheels, build with CUDA,
# run the GPU tests, the suite with the GPU as default device, and the GPU benchmark.
# Usage: bash benchmarks/gpu_session.sh [tests|bench|all] (wheels in .whl/, gpu.py in .devcarry/)
set -o pipefail
what=${1:-all}
OUT=${OUT:-/tmp/out}; mkdir -p $OUT
export PYTHONUNBUFFERED=1
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
export CUDACXX=${CUDACXX:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
export CMAKE_BUILD_PARALLEL_LEVEL=16
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
t0=$(date +%s)
python3 -m pip install -v --no-build-isolation --no-deps --target /tmp/mlxinst . > $OUT/build.log 2>&1 || { tail -60 $OUT/build.log; exit 1; }
echo "build: $(( $(date +%s) - t0 )) s"; grep -E "mlx: CUDA|cuBLAS" $OUT/build.log | head -5
export PYTHONPATH=/tmp/mlxinst:$PYTHONPATH
(cd /tmp && python3 -X faulthandler -c "import mlx.core as mx; print(mx.default_device(), mx.device_info())")
if [ "$what" = tests ] || [ "$what" = all ]; then
  cp -r tests /tmp/gtests
  (cd /tmp && timeout 300 python3 -m pytest -x -q -p no:cacheprovider /tmp/gtests/test_gpu.py 2>&1 | tee $OUT/test_gpu.log | tail -25)
fi
if [ "$what" = suite ] || [ "$what" = all ]; then
  (cd /tmp && timeout 420 python3 -m pytest -q -p no:cacheprovider /tmp/gtests --ignore=/tmp/gtests/test_cpp_embedding.py --ignore=/tmp/gtests/test_docs.py -x -k "not scipy" 2>&1 | tee $OUT/suite.log | tail -25)
fi
if [ "$what" = bench ] || [ "$what" = all ]; then
  (cd /tmp && python3 $OLDPWD/.devcarry/gpu.py --fw mlx 2>&1 | tee $OUT/bench_mlx.log; python3 $OLDPWD/.devcarry/gpu.py --fw torch 2>&1 | tee $OUT/bench_torch.log)
fi
