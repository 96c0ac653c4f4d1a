#pragma once
// Error codes of the queue module. Every expected failure of a broker call is a
// hub::Error with one of these codes and a message naming the broker (host:port) and the
// queue or exchange involved. The codes say what the caller can do:
//   retry later (same or new connection): MQ_UNAVAILABLE, MQ_TIMEOUT, MQ_NACKED
//   fix configuration or data:            MQ_ACCESS_REFUSED, MQ_NOT_FOUND,
//                                         MQ_PRECONDITION_FAILED, MQ_UNROUTABLE,
//                                         MQ_MESSAGE_TOO_LARGE, MQ_INVALID_TOPOLOGY
//   a bug or an incompatible peer:        MQ_PROTOCOL
// Pure values; no thread-safety concerns.

#include "hub/core/result.hpp"

namespace hub::queue {

// The TCP connection or AMQP connection could not be made or was lost.
inline constexpr char kMqUnavailable[] = "MQ_UNAVAILABLE";
// The broker did not answer (handshake, RPC or publisher confirm) in time.
inline constexpr char kMqTimeout[] = "MQ_TIMEOUT";
// The broker refused a publish (basic.nack) on every attempt.
inline constexpr char kMqNacked[] = "MQ_NACKED";
// A mandatory message matched no queue (basic.return, NO_ROUTE).
inline constexpr char kMqUnroutable[] = "MQ_UNROUTABLE";
// The queue or exchange does not exist (AMQP 404 NOT_FOUND).
inline constexpr char kMqNotFound[] = "MQ_NOT_FOUND";
// The object exists with other properties or arguments, or an unknown delivery tag was
// acknowledged (AMQP 406 PRECONDITION_FAILED).
inline constexpr char kMqPreconditionFailed[] = "MQ_PRECONDITION_FAILED";
// Login, vhost or permission refused (AMQP 403 ACCESS_REFUSED, 530 NOT_ALLOWED).
inline constexpr char kMqAccessRefused[] = "MQ_ACCESS_REFUSED";
// A queue is used exclusively by another connection (AMQP 405 RESOURCE_LOCKED).
inline constexpr char kMqResourceLocked[] = "MQ_RESOURCE_LOCKED";
// The broker cancelled our consumer (e.g. its queue was deleted).
inline constexpr char kMqConsumerCancelled[] = "MQ_CONSUMER_CANCELLED";
// A delivery was larger than AmqpSettings::max_message_bytes; it was dead-lettered.
inline constexpr char kMqMessageTooLarge[] = "MQ_MESSAGE_TOO_LARGE";
// A Topology refers to something it does not declare, or repeats a name.
inline constexpr char kMqInvalidTopology[] = "MQ_INVALID_TOPOLOGY";
// A call that is not valid in the object's state (e.g. poll() before consume()).
inline constexpr char kMqInvalidState[] = "MQ_INVALID_STATE";
// The broker sent something we cannot make sense of, or the client library failed.
inline constexpr char kMqProtocol[] = "MQ_PROTOCOL";

// True for the codes after which the same operation may succeed later unchanged.
bool is_retryable(const Error& error);

}  // namespace hub::queue
