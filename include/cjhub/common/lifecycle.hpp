// One lifecycle for every long-lived part of the hub: constructors do no I/O; start() opens
// sockets, threads and connections; stop() undoes it. main() starts components in dependency
// order and keeps them on a stack, so they stop in reverse order (input first).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace cjhub {

class Component {
 public:
  virtual ~Component() = default;
  virtual std::string name() const = 0;
  virtual void start() = 0;
  // Stop taking new work, finish what is in hand until `deadline`, then release everything.
  virtual void stop(std::chrono::steady_clock::time_point deadline) = 0;
};

// Names the calling thread (at most 15 characters are kept) so that `top -H`, `ps -L`, gdb and
// perf show which part of the hub a thread belongs to.
void name_this_thread(const std::string& name);

class Lifecycle {
 public:
  // Starts the component now and remembers it for stop_all().
  void start(Component& c);
  // Stops every started component in reverse start order, sharing one deadline.
  void stop_all(std::chrono::milliseconds budget);
  ~Lifecycle();

 private:
  std::vector<Component*> started_;
};

}  // namespace cjhub
