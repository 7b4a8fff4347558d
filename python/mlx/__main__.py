"""`python -m mlx --cmake-dir` prints where the C++ library's CMake package lives."""

import argparse
import os
import sys


def main():
    parser = argparse.ArgumentParser(prog="python -m mlx")
    parser.add_argument("--version", action="store_true", help="print the version")
    parser.add_argument(
        "--cmake-dir", action="store_true", help="print the CMake package directory"
    )
    parser.add_argument(
        "--include-dir", action="store_true", help="print the C++ include directory"
    )
    args = parser.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    if args.version:
        import mlx

        print(mlx.__version__)
    elif args.cmake_dir:
        print(os.path.join(here, "share", "cmake", "MLX"))
    elif args.include_dir:
        print(os.path.join(here, "include"))
    else:
        parser.print_help()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
