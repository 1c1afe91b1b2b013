# AkiDB — the commands a user runs. Everything is built with CMake under build/.
#   make run    install missing packages, build, run the demo on ../shared/data
#   make test   install, build and run every test (release, ASan+UBSan, TSan,
#               aarch64 under qemu)
#   make bench  build bench/ann with hnswlib and FAISS and write bench/results/
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps build run test bench clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	@cmake --build build/release -j $(JOBS)

run: build
	./build/release/akidb demo

test: deps
	@scripts/run-tests.sh

bench: deps
	@cmake -S . -B build/bench -DCMAKE_BUILD_TYPE=Release -DAKIDB_BENCH=ON -DAKIDB_TESTS=OFF >/dev/null
	@cmake --build build/bench -j $(JOBS) --target ann
	./build/bench/bench/ann --out bench/results/ann.md

clean:
	rm -rf build
