// korral/api/printers.h: helpers behind the server-side Table printers (upstream's
// pkg/printers/internalversion), exposed for reuse by clients that print locally.
#pragma once

#include <chrono>
#include <string>

#include "korral/api/resource.h"

namespace korral::api::printers {

// "5m" since the RFC 3339 timestamp `ts`, or "<unknown>" when empty/malformed.
std::string TranslateTimestampSince(const Json& ts, std::chrono::system_clock::time_point now);
// "a=b,c=d" (keys sorted) or "<none>" for an empty/missing map.
std::string FormatLabels(const Json& labels);
// Pod Status column ("Running", "Init:0/1", "CrashLoopBackOff", "Terminating", ...).
std::string PodStatusReason(const Json& pod);
// ReadWriteOnce -> "RWO" ..., joined by ",".
std::string AccessModesString(const Json& modes);

}  // namespace korral::api::printers
