# AkiDB — the commands a user runs. Everything is built with CMake under build/.
#   make run    install the server's missing packages, build only the `akidb`
#               program, start `akidb serve` on embedded defaults (data under
#               ./data, http://127.0.0.1:8080); the first start prints the
#               admin credentials and a curl quickstart
#   make test   install, build and run every test (release, ASan+UBSan, TSan,
#               aarch64 under qemu)
#   make bench  build bench/ann with hnswlib and FAISS and write bench/results/
#               (ann.md, storage.md from bench/storage, catalog.md from
#               bench/catalog, server.md from bench/server against `akidb serve`,
#               tenants.md from bench/tenants)
#   make fuzz   build the libFuzzer harnesses of tests/fuzz with clang and run
#               each for FUZZ_SECONDS (default 300); `make test` runs a short
#               replay of each (ctest <name>_replay)
#   make crash-long     1,000 kill -9 cycles of the storage crash loop
#   make bench-storage  only the storage benchmark (bench/results/storage.md)
#   make bench-catalog  only the catalog benchmark (bench/results/catalog.md)
#   make bench-server   only the REST server benchmark (bench/results/server.md);
#               its closed-loop part measures AkiDB over REST and over gRPC (when
#               built with gRPC) and, with PGVECTOR_DSN set (a PostgreSQL with
#               pgvector, built outside the project), pgvector in the same run;
#               `build/bench/bench/server --akidb build/bench/akidb --closed-only`
#               runs only that part; the tracing section (tracing off, 10% and
#               100% sampled, side by side) runs in the full run, alone with
#               `build/bench/bench/server --akidb build/bench/akidb --tracing-only --out F`
#   make bench-tenants  only the many-tenants benchmark (bench/results/tenants.md)
#   make bench-grpc     gRPC beside REST against one `akidb serve`: ingest (REST, gRPC
#               unary, gRPC streaming) and search (bench/results/grpc.md; the server
#               on half the CPUs, the clients on the rest; needs the gRPC build:
#               libgrpc-dev, protobuf-c; not part of `make bench`)
#   make bench-text     full-text, embedding and hybrid search through REST: Cranfield
#               quality beside an independent BM25, the built-in embedder's MB/s,
#               text upserts through the stand-in model server vs its ceiling,
#               hybrid vs vector-only latency at 100k points
#               (bench/results/text.md; bench/text.py with Debian's python3-numpy)
#   make bench-objectstore  snapshots, restores, small uploads and the cold tier
#               against s3rver (bench/results/objectstore.md; needs npm for s3rver;
#               not part of `make bench` or `make test`)
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps build run test bench clean crash-long bench-storage bench-catalog bench-server \
        bench-tenants bench-objectstore bench-grpc bench-text fuzz

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	@cmake --build build/release -j $(JOBS)

# Only the server: its packages and the `akidb` target (no tests, no benches),
# in the same build tree as `make build` and `make test`.
run:
	@scripts/install-deps.sh --server
	@cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	@cmake --build build/release -j $(JOBS) --target akidb
	./build/release/akidb serve --data-dir ./data

test: deps
	@scripts/run-tests.sh

bench: deps
	@cmake -S . -B build/bench -DCMAKE_BUILD_TYPE=Release -DAKIDB_BENCH=ON -DAKIDB_TESTS=OFF -DAKIDB_SERVER=ON >/dev/null
	@cmake --build build/bench -j $(JOBS) --target ann storage catalog_bench akidb server_bench \
	  tenants_bench
	./build/bench/bench/ann --out bench/results/ann.md
	./build/bench/bench/storage --out bench/results/storage.md
	./build/bench/bench/catalog --out bench/results/catalog.md
	./build/bench/bench/server --akidb build/bench/akidb --out bench/results/server.md
	./build/bench/bench/tenants --akidb build/bench/akidb --out bench/results/tenants.md

bench-storage: deps
	@cmake -S . -B build/bench -DCMAKE_BUILD_TYPE=Release -DAKIDB_BENCH=ON -DAKIDB_TESTS=OFF >/dev/null
	@cmake --build build/bench -j $(JOBS) --target storage
	./build/bench/bench/storage --out bench/results/storage.md

bench-catalog: deps
	@cmake -S . -B build/bench -DCMAKE_BUILD_TYPE=Release -DAKIDB_BENCH=ON -DAKIDB_TESTS=OFF >/dev/null
	@cmake --build build/bench -j $(JOBS) --target catalog_bench
	./build/bench/bench/catalog --out bench/results/catalog.md

bench-server: deps
	@cmake -S . -B build/bench -DCMAKE_BUILD_TYPE=Release -DAKIDB_BENCH=ON -DAKIDB_TESTS=OFF -DAKIDB_SERVER=ON >/dev/null
	@cmake --build build/bench -j $(JOBS) --target akidb server_bench
	./build/bench/bench/server --akidb build/bench/akidb --out bench/results/server.md

bench-tenants: deps
	@cmake -S . -B build/bench -DCMAKE_BUILD_TYPE=Release -DAKIDB_BENCH=ON -DAKIDB_TESTS=OFF -DAKIDB_SERVER=ON >/dev/null
	@cmake --build build/bench -j $(JOBS) --target akidb tenants_bench
	./build/bench/bench/tenants --akidb build/bench/akidb --out bench/results/tenants.md

bench-grpc: deps
	@cmake -S . -B build/bench -DCMAKE_BUILD_TYPE=Release -DAKIDB_BENCH=ON -DAKIDB_TESTS=OFF -DAKIDB_SERVER=ON >/dev/null
	@cmake --build build/bench -j $(JOBS) --target akidb grpc_bench
	./build/bench/bench/grpc --akidb build/bench/akidb --out bench/results/grpc.md

bench-text: deps
	@cmake -S . -B build/bench -DCMAKE_BUILD_TYPE=Release -DAKIDB_BENCH=ON -DAKIDB_TESTS=OFF -DAKIDB_SERVER=ON >/dev/null
	@cmake --build build/bench -j $(JOBS) --target akidb text_offline
	/usr/bin/python3 bench/text.py --akidb build/bench/akidb --text-offline build/bench/bench/text_offline \
	  --out bench/results/text.md

bench-objectstore: deps
	@cmake -S . -B build/bench -DCMAKE_BUILD_TYPE=Release -DAKIDB_BENCH=ON -DAKIDB_TESTS=OFF -DAKIDB_SERVER=ON >/dev/null
	@cmake --build build/bench -j $(JOBS) --target akidb objectstore_bench
	./build/bench/bench/objectstore --akidb build/bench/akidb --out bench/results/objectstore.md

FUZZ_SECONDS ?= 300
fuzz: deps
	@CC=clang cmake -S . -B build/fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAKIDB_FUZZ=ON \
	  -DAKIDB_SHARED=OFF $(CMAKE_FLAGS) >/dev/null
	@cmake --build build/fuzz -j $(JOBS) --target fuzz_all
	tests/fuzz/run.sh build/fuzz $(FUZZ_SECONDS)

crash-long: deps
	@cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	@cmake --build build/release -j $(JOBS) --target crash_loop crash_writer
	./build/release/tests/crash/crash_loop --writer build/release/tests/crash/crash_writer \
	  --cycles 1000 --dir build/release/tests/crash/crash-long-data

clean:
	rm -rf build
