# Thin wrapper over the two README commands.
.PHONY: demo test clean

demo:
	scripts/deps.sh
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build build -j
	scripts/demo.sh

test:
	scripts/deps.sh
	scripts/test.sh

clean:
	rm -rf build build-asan build-tsan build-clang build-m32 build-embedded
