# Thin wrapper over the two README commands.
.PHONY: demo test clean

demo:
	scripts/deps.sh
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build build -j
	build/examples/demo_partition

test:
	scripts/deps.sh
	scripts/test.sh

clean:
	rm -rf build build-asan build-tsan
