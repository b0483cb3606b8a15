// The engine's doctor API (hearth/preflight.h, diagnosis.h, memory_probe.h) for Qt code: Qt
// defines `slots` as a macro, and SettingsChange has a field of that name, so the headers are
// read with the macro set aside. Include this, not those headers, in the app.
#pragma once

#pragma push_macro("slots")
#undef slots
#include "hearth/diagnosis.h"
#include "hearth/memory_probe.h"
#include "hearth/preflight.h"
#pragma pop_macro("slots")
