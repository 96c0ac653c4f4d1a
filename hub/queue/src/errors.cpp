#include "hub/queue/errors.hpp"

namespace hub::queue {

bool is_retryable(const Error& error) {
  return error.code == kMqUnavailable || error.code == kMqTimeout || error.code == kMqNacked;
}

}  // namespace hub::queue
