// The fit badge's decision: where a model would run (a CUDA device or the CPU's RAM) and
// whether its memory plan fits there. The figures of the devices are an argument, so that
// the decision is tested with any machine; the app's DeviceProbe gives this machine's.
#pragma once

#include "hearth/memory_plan.h"
#include "hearth/model_info.h"

#include <QList>
#include <QString>

struct MemoryDevice {
    QString name;           // the GPU's name ("NVIDIA H100 80GB HBM3"), or "RAM"
    quint64 totalBytes = 0; // total memory: the badge is about the machine, not this moment
    bool gpu = false;
};

// Only RAM, of `bytes` (a figure the user or a test chose).
QList<MemoryDevice> ramOnly(quint64 bytes);

struct FitEstimate {
    hearth::Fit fit = hearth::Fit::wont_fit;
    hearth::MemoryPlan plan; // for the chosen device (a GPU's plan counts the CUDA runtime)
    quint64 availableBytes = 0;
    QString device; // where: the GPU's name or "RAM"; empty when `devices` was empty
    bool gpu = false;
};

// The best place among `devices` for a model needing `cpuBytes` in RAM or `gpuBytes` on a
// GPU: the better fit (fits, then tight, then won't fit); on a tie a GPU over RAM (it runs
// faster there) and the larger GPU over a smaller one. One device holds the whole model:
// the engine does not split a model between devices.
FitEstimate chooseDevice(quint64 cpuBytes, quint64 gpuBytes, const QList<MemoryDevice>& devices);

// The memory plan of `info` at `nCtx` tokens (0: the trained context, capped at 8192 as the
// app's default) on the best of `devices`.
FitEstimate fitOnThisMachine(const hearth::ModelInfo& info, uint32_t nCtx,
                             const QList<MemoryDevice>& devices);
// The same from catalog facts alone (file size as the weights, no KV arithmetic possible
// without the header): a first badge, refined by the probe.
FitEstimate roughFit(qint64 fileSize, const QList<MemoryDevice>& devices);
