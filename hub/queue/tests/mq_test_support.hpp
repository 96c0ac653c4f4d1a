#pragma once
// Shared by the queue module's tests: settings for the project's private RabbitMQ node,
// unique names, and cleanup of what a test declared.

#include <string>
#include <vector>

#include "hub/queue/amqp_connection.hpp"
#include "hub/queue/publisher.hpp"
#include "hub/queue/topology.hpp"

namespace hub::queue::mqtest {

// The private node of hub::testing::services(), with short timeouts for tests.
AmqpSettings broker_settings();

// Options with just a message id (designated initializers would trip
// -Wmissing-field-initializers).
PublishOptions with_id(const std::string& message_id);

// "<prefix>.<10 random hex digits>": one test's names never meet another's.
std::string unique_name(const std::string& prefix);

// The same topology with every exchange and queue name (and the references to them)
// given `suffix`, so that a test can declare the hub's topology without touching the
// real one.
Topology with_suffix(const Topology& topology, const std::string& suffix);

// Deletes the queues and exchanges of a topology when destroyed (on its own connection,
// so that it works whatever state the test left its connections in).
class TopologyCleanup {
 public:
  explicit TopologyCleanup(Topology topology) : topology_(std::move(topology)) {}
  ~TopologyCleanup();
  TopologyCleanup(const TopologyCleanup&) = delete;
  TopologyCleanup& operator=(const TopologyCleanup&) = delete;
  void add_queue(const std::string& name) {
    QueueSpec q;
    q.name = name;
    topology_.queues.push_back(q);
  }

 private:
  Topology topology_;
};

}  // namespace hub::queue::mqtest
