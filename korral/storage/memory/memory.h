// korral/storage/memory/memory.h: an in-memory MVCC backend (tests, single-process setups).
//
// Implements the full storage::Backend contract: every revision is kept until Compact(), so
// range reads and watches can start in the past. Nothing is persisted. Thread-safe; watch
// handlers run on the backend's notifier thread (see internal/watch_hub.h: a watch that falls
// more than max_buffered_watch_events behind ends with ResourceExhausted).
#pragma once

#include <cstddef>
#include <memory>

#include "korral/storage/storage.h"

namespace korral::storage {

struct MemoryOptions {
  size_t max_buffered_watch_events = 100000;
};

std::unique_ptr<Backend> NewMemoryBackend(const MemoryOptions& options = {});

}  // namespace korral::storage
