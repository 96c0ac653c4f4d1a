#include "hub/core/metrics.hpp"

#include <gtest/gtest.h>

namespace hub {
namespace {

TEST(MetricsTest, RendersPrometheusTextFormat) {
  MetricsRegistry reg;
  reg.counter("hub_requests_total", "Requests.", "code=\"200\"").inc(3);
  reg.gauge("hub_up", "Up.").set(1);
  auto& h = reg.histogram("hub_latency_seconds", "Latency.", {0.1, 1});
  h.observe(0.05);
  h.observe(0.5);
  h.observe(5);
  reg.callback_gauge("hub_queue_depth", "Depth.", [] { return 7.0; }, "queue=\"q\"");
  std::string text = reg.render();
  EXPECT_NE(text.find("# TYPE hub_requests_total counter\nhub_requests_total{code=\"200\"} 3\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("hub_up 1\n"), std::string::npos);
  EXPECT_NE(text.find("hub_latency_seconds_bucket{le=\"0.1\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("hub_latency_seconds_bucket{le=\"1\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("hub_latency_seconds_bucket{le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("hub_latency_seconds_count 3\n"), std::string::npos);
  EXPECT_NE(text.find("hub_queue_depth{queue=\"q\"} 7\n"), std::string::npos);
}

TEST(MetricsTest, SameNameAndLabelsIsTheSameSeries) {
  MetricsRegistry reg;
  reg.counter("c_total", "C.").inc();
  reg.counter("c_total", "C.").inc();
  EXPECT_EQ(reg.counter("c_total", "C.").value(), 2u);
}

}  // namespace
}  // namespace hub
