# Khiên - the two commands a new user needs: `make run` and `make test`.
# Everything else is a step of those two.
BUILD       ?= build
SAN_BUILD   ?= build-sanitize
PREFIX      ?= /usr/local
JOBS        ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

.PHONY: all deps build install run test check check-sanitize fuzz bench clean

all: build

deps:
	bash scripts/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

install: build
	cmake --install $(BUILD)

# The main job on its embedded default: the console on SQLite with the Lai Châu tree and a
# local agent that scans ClamAV's test files and reports (scripts/demo.sh; Ctrl-C stops it).
run: deps build
	bash scripts/demo.sh

# Every test: a normal build, then the same tests under AddressSanitizer + UBSan (clang),
# which also builds the libFuzzer targets and runs each on its corpus.
test: deps
	$(MAKE) check
	$(MAKE) check-sanitize

check: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

check-sanitize:
	cmake -S . -B $(SAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang \
	  -DKH_SANITIZE=ON -DKH_FUZZ=ON $(CMAKE_FLAGS)
	cmake --build $(SAN_BUILD) -j $(JOBS)
	cd $(SAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS)

bench: build
	bash bench/bench_scan.sh

clean:
	rm -rf $(BUILD) $(SAN_BUILD)
