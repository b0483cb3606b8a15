// The headers that most tests parse and that change only with the system: Qt Test, Qt Core, the
// JSON library and the standard library. Compiled once (tests/CMakeLists.txt,
// hearth_test_headers) and reused by every test: parsing them was most of each test's
// compile time. Hearth's own headers stay out, so editing them rebuilds no header image.
#pragma once

#include <QtCore>
#include <QtTest>
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <vector>
