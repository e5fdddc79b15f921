// Tests of the event GC on a fake clock.
#include "korral/controllers/eventgc/eventgc.h"

#include <gtest/gtest.h>

#include "korral/controllers/testing.h"

namespace korral::controllers {
namespace {

using client::resources::Events;

TEST(EventGCTest, DeletesEventsOlderThanTheTtl) {
  ControllerTestEnv env;
  env.ctx.options.event_ttl = std::chrono::hours(1);
  auto at = [&](std::chrono::seconds ago) { return FormatTime(env.clock.Now() - ago); };
  ASSERT_TRUE(
      env.client
          .Create(Events(), "default",
                  {{"metadata", {{"name", "old"}}}, {"lastTimestamp", at(std::chrono::hours(2))}})
          .ok());
  ASSERT_TRUE(env.client
                  .Create(Events(), "default",
                          {{"metadata", {{"name", "recent"}}},
                           {"lastTimestamp", at(std::chrono::minutes(10))}})
                  .ok());
  ASSERT_TRUE(env.client
                  .Create(Events(), "other",
                          {{"metadata", {{"name", "series"}}},
                           {"lastTimestamp", at(std::chrono::hours(3))},
                           {"series", {{"lastObservedTime", at(std::chrono::minutes(1))}}}})
                  .ok());
  EventGCController c(env.ctx);
  auto stop_informers = env.StopInformersOnExit();
  auto n = c.Gc();
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1);
  EXPECT_FALSE(env.client.Get(Events(), "default", "old").ok());
  EXPECT_TRUE(env.client.Get(Events(), "default", "recent").ok());
  EXPECT_TRUE(env.client.Get(Events(), "other", "series").ok());
  env.clock.Advance(std::chrono::minutes(55));
  EXPECT_EQ(*c.Gc(), 1);
  EXPECT_FALSE(env.client.Get(Events(), "default", "recent").ok());
  EXPECT_TRUE(env.client.Get(Events(), "other", "series").ok());
}

}  // namespace
}  // namespace korral::controllers
