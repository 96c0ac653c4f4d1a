#pragma once
// The market's callback receiver (common.md "Receipts"): an HTTPS server that takes the
// hub's signed final receipts (POST, body = the receipt JWS), verifies them, deduplicates
// them by hub_ref (delivery is at-least-once) and answers 2xx, or 500 to the first N
// deliveries on purpose, to exercise the hub's retries.
//
// Lifetime: start() runs the server on its own thread until stop() or destruction. The
// event callback is called on that thread, one event at a time. stats() is thread-safe.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "gxm/https_client.hpp"
#include "gxm/receipt.hpp"

namespace gxm {

struct CallbackConfig {
  Endpoint listen{"127.0.0.1", 0};  // port 0: any free port
  std::string cert_file;            // server certificate
  std::string key_file;
  std::string client_ca_file;  // optional: require a client certificate issued by this CA
  int fail_first = 0;          // answer 500 to this many deliveries first
};

struct CallbackEvent {
  uint64_t delivery = 0;  // 1-based, in order of arrival
  int answered = 0;       // HTTP status the receiver gave
  bool failed_on_purpose = false;
  bool duplicate = false;           // this hub_ref was already received and verified
  std::optional<Receipt> receipt;   // when it verified
  std::string error;                // why it was refused, if it was
  std::string target;               // request path
};

struct CallbackStats {
  uint64_t deliveries = 0;
  uint64_t failed_on_purpose = 0;
  uint64_t verified = 0;  // unique hub_refs
  uint64_t duplicates = 0;
  uint64_t refused = 0;   // bad method, bad signature or fields
};

class CallbackServer {
 public:
  CallbackServer(CallbackConfig config, ReceiptVerifier verifier,
                 std::function<void(const CallbackEvent&)> on_event);
  ~CallbackServer();
  CallbackServer(const CallbackServer&) = delete;
  CallbackServer& operator=(const CallbackServer&) = delete;

  // Binds and starts serving; returns the bound port.
  Result<uint16_t> start();
  void stop();
  CallbackStats stats() const;

  struct Impl;  // implementation detail, shared with the connection sessions

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace gxm
