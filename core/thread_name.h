// Names the calling thread (as `top -H`, `ps -L`, gdb and perf show it). Linux keeps 15 bytes;
// longer names are cut. Naming is a convenience: a failure is ignored.
#pragma once

#include <pthread.h>

#include <string>

namespace obsmon {

inline void NameThisThread(const std::string& name) {
  pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
}

}  // namespace obsmon
