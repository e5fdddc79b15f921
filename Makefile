# The two commands of the README: `make run` and `make test`. Everything else is a helper.
BUILD_DIR ?= build
PRESET ?= release
DATA_DIR ?= $(CURDIR)/.run/data
PORT ?= 6443
JOBS ?= $(shell nproc)

.PHONY: all deps test-deps configure build run test unit integration bench fuzz format clean

all: build

deps:
	@scripts/install-deps.sh

test-deps:
	@scripts/install-deps.sh --test

$(BUILD_DIR)/build.ninja:
	cmake --preset $(PRESET) >/dev/null

configure: $(BUILD_DIR)/build.ninja

build: deps configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	@mkdir -p $(DATA_DIR)
	@echo "korral: starting server; kubeconfig: $(DATA_DIR)/admin.kubeconfig"
	@echo "korral: in another shell: export KUBECONFIG=$(DATA_DIR)/admin.kubeconfig; kubectl get ns"
	$(BUILD_DIR)/bin/korral server --data-dir $(DATA_DIR) --secure-port $(PORT)

# Unit tests, fuzz drivers (bounded) and integration tests with the real kubectl and Python client.
test: test-deps build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 600

unit: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) -L unit

integration: build test-deps
	cd $(BUILD_DIR) && ctest --output-on-failure -L integration

bench: build
	@bash bench/run.sh $(BUILD_DIR)

fuzz:
	cmake --preset fuzz >/dev/null && cmake --build build-fuzz -j $(JOBS)

format:
	@git ls-files '*.cc' '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR)
