// The C side of `rng_state.rs`: reads and writes the state of libtorch's default random
// generators (the CPU's, and each CUDA device's), which tch does not expose.
//
// Only ATen headers: the CUDA generators are reached through `at::globalContext()`, after
// asking it whether CUDA is there. Each generator is locked while its state is read or
// written, as PyTorch's `torch.get_rng_state`/`set_rng_state` do. No C++ exception crosses
// into Rust: every function returns NULL on success, or an error message allocated with
// malloc that the caller frees with `aecraft_rng_free`.

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <c10/util/Exception.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <new>

namespace {

// A malloc'ed copy of `message` (NULL only when memory is exhausted).
char* copy_message(const char* message) {
  const size_t length = std::strlen(message);
  char* copy = static_cast<char*>(std::malloc(length + 1));
  if (copy != nullptr) {
    std::memcpy(copy, message, length + 1);
  }
  return copy;
}

// Runs `body`, turning any exception into an error message (libtorch's without its trace).
template <typename Body>
char* guarded(Body body) {
  try {
    body();
    return nullptr;
  } catch (const c10::Error& e) {
    return copy_message(e.what_without_backtrace());
  } catch (const std::exception& e) {
    return copy_message(e.what());
  } catch (...) {
    return copy_message("an unknown C++ exception");
  }
}

// The default generator of `device`: the CPU's for -1, else that CUDA device's.
at::Generator default_generator(int64_t device) {
  if (device < 0) {
    return at::detail::getDefaultCPUGenerator();
  }
  TORCH_CHECK(at::hasCUDA() && device < static_cast<int64_t>(at::getNumGPUs()),
              "CUDA device ", device, " is not available");
  return at::globalContext().defaultGenerator(
      c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(device)));
}

}  // namespace

extern "C" {

// Writes the number of CUDA devices libtorch sees (0 without CUDA) into `count`.
char* aecraft_rng_cuda_devices(int64_t* count) {
  return guarded([&] {
    *count = at::hasCUDA() ? static_cast<int64_t>(at::getNumGPUs()) : 0;
  });
}

// Copies the state of `device`'s generator (see `default_generator`) into a malloc'ed
// buffer, stored with its length in `bytes` and `length`; the caller frees it.
char* aecraft_rng_get_state(int64_t device, uint8_t** bytes, size_t* length) {
  return guarded([&] {
    at::Generator generator = default_generator(device);
    at::Tensor state;
    {
      std::lock_guard<std::mutex> lock(generator.mutex());
      state = generator.get_state();
    }
    TORCH_CHECK(state.scalar_type() == at::kByte && state.device().is_cpu() &&
                    state.is_contiguous(),
                "the generator's state is not a contiguous uint8 CPU tensor");
    const size_t size = static_cast<size_t>(state.numel());
    auto* copy = static_cast<uint8_t*>(std::malloc(size > 0 ? size : 1));
    if (copy == nullptr) {
      throw std::bad_alloc();
    }
    std::memcpy(copy, state.data_ptr(), size);
    *bytes = copy;
    *length = size;
  });
}

// Sets the state of `device`'s generator to the `length` bytes at `bytes`; libtorch checks
// them (their size, and for the CPU's Mersenne twister its validity).
char* aecraft_rng_set_state(int64_t device, const uint8_t* bytes, size_t length) {
  return guarded([&] {
    at::Tensor state = at::empty({static_cast<int64_t>(length)}, at::TensorOptions().dtype(at::kByte));
    if (length > 0) {
      std::memcpy(state.data_ptr(), bytes, length);
    }
    at::Generator generator = default_generator(device);
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(state);
  });
}

// Frees what the functions above allocated.
void aecraft_rng_free(void* pointer) { std::free(pointer); }

}  // extern "C"
