// The gauge: what running the model costs, live. Memory split into weights / KV cache (and
// its type) / a hybrid model's recurrent state / scratch (on a GPU the session's own device arenas,
// on the CPU the engine's MemoryPlan at the session's context) against what the device has in use:
// on the CPU the process's RSS
// (/proc/self/status) against the machine's RAM; on a CUDA device its used memory (cudaMemGetInfo,
// read off the GUI thread by DeviceProbe) against its total; with a partial offload, how many
// layers are on the GPU and the KV cache of the others, in RAM. KV cache fill; prefill and decode
// speed; time to first token; and the decode speed over the last generation, for a sparkline. GUI
// thread only; ChatController feeds it from the worker's signals.
#pragma once

#include <QList>
#include <QObject>
#include <QTimer>
#include <QVariantList>
#include <QtQml/qqmlregistration.h>

struct ModelSummary;
struct GenerationResult;

class Gauge : public QObject {
    Q_OBJECT
    QML_ELEMENT
    QML_UNCREATABLE("Gauge belongs to ChatController")
    Q_PROPERTY(bool active READ active NOTIFY modelChanged)
    // A remote server's model (issue 20): speeds and time to first token measured here, token
    // counts from the server's usage; its memory is the server's, which serverMemory describes
    // (with the server's own figures where its connection test got them).
    Q_PROPERTY(bool remote READ remote NOTIFY modelChanged)
    Q_PROPERTY(QString serverMemory READ serverMemory NOTIFY modelChanged)
    Q_PROPERTY(double weightsBytes READ weightsBytes NOTIFY modelChanged)
    Q_PROPERTY(double kvBytes READ kvBytes NOTIFY modelChanged)
    // The KV cache's type as the engine names it, upper case: "F16" or "Q8_0"; "" unloaded.
    Q_PROPERTY(QString kvType READ kvType NOTIFY modelChanged)
    Q_PROPERTY(double scratchBytes READ scratchBytes NOTIFY modelChanged)
    // A hybrid model's recurrent state: fixed, whatever the context; 0 for other models.
    Q_PROPERTY(double recurrentBytes READ recurrentBytes NOTIFY modelChanged)
    Q_PROPERTY(double planBytes READ planBytes NOTIFY modelChanged)
    Q_PROPERTY(double deviceTotalBytes READ deviceTotalBytes NOTIFY memoryChanged)
    Q_PROPERTY(double residentBytes READ residentBytes NOTIFY memoryChanged)
    Q_PROPERTY(QString deviceName READ deviceName NOTIFY memoryChanged)
    Q_PROPERTY(bool onGpu READ onGpu NOTIFY memoryChanged)
    // Where the model runs ("CPU, 4 threads", "NVIDIA H100 (CUDA 0)") and why ("auto: ...", or
    // that the GPU could not take it and the CPU did); deviceFellBack marks the latter.
    Q_PROPERTY(QString runningOn READ runningOn NOTIFY modelChanged)
    Q_PROPERTY(QString deviceNote READ deviceNote NOTIFY modelChanged)
    Q_PROPERTY(bool deviceFellBack READ deviceFellBack NOTIFY modelChanged)
    // Partial offload: gpuLayers of layerCount layers on the GPU, the rest on the CPU with
    // their KV cache (hostKvBytes) in RAM.
    Q_PROPERTY(int gpuLayers READ gpuLayers NOTIFY modelChanged)
    Q_PROPERTY(int layerCount READ layerCount NOTIFY modelChanged)
    Q_PROPERTY(bool partialOffload READ partialOffload NOTIFY modelChanged)
    Q_PROPERTY(double hostKvBytes READ hostKvBytes NOTIFY modelChanged)
    Q_PROPERTY(int kvUsed READ kvUsed NOTIFY statsChanged)
    Q_PROPERTY(int kvCapacity READ kvCapacity NOTIFY modelChanged)
    Q_PROPERTY(double prefillTokensPerSecond READ prefillTokensPerSecond NOTIFY statsChanged)
    Q_PROPERTY(double decodeTokensPerSecond READ decodeTokensPerSecond NOTIFY statsChanged)
    Q_PROPERTY(double ttftMs READ ttftMs NOTIFY statsChanged)
    Q_PROPERTY(QList<qreal> decodeHistory READ decodeHistory NOTIFY statsChanged)
    // A reasoning reply's thinking, apart from its answer: the thinking's tokens (live while
    // it streams) and, once the reply ends, each part's decode speed. 0 without reasoning.
    Q_PROPERTY(int thinkingTokens READ thinkingTokens NOTIFY statsChanged)
    Q_PROPERTY(double thinkingTokensPerSecond READ thinkingTokensPerSecond NOTIFY statsChanged)
    Q_PROPERTY(double answerTokensPerSecond READ answerTokensPerSecond NOTIFY statsChanged)
    Q_PROPERTY(bool live READ live NOTIFY statsChanged)
    // Speculative decoding in the last reply: draft tokens proposed and accepted (0: off).
    Q_PROPERTY(int draftedTokens READ draftedTokens NOTIFY statsChanged)
    Q_PROPERTY(int acceptedDraftTokens READ acceptedDraftTokens NOTIFY statsChanged)
    // The doctor's figures (issue 21). The context window's cost: the KV cache at 2K, 8K, 32K
    // and 128K tokens, [{tokens, kvBytes, totalBytes, beyondTrained}].
    Q_PROPERTY(QVariantList contextCost READ contextCost NOTIFY modelChanged)
    // The memory truth on the CPU: the process's resident growth over the load against the
    // plan (planBytes), the relative difference, and what explains it ("" on a GPU).
    Q_PROPERTY(double measuredBytes READ measuredBytes NOTIFY modelChanged)
    Q_PROPERTY(double memoryTruthDifference READ memoryTruthDifference NOTIFY modelChanged)
    Q_PROPERTY(QString memoryTruth READ memoryTruth NOTIFY modelChanged)
    // Speed as the context fills: one point per reply of this model, by the position its
    // reply ended at, [{position, decode, prefill}] in position order; decodeByPosition is
    // the decode speeds alone, for the plot.
    Q_PROPERTY(QVariantList speedByPosition READ speedByPosition NOTIFY statsChanged)
    Q_PROPERTY(QList<qreal> decodeByPosition READ decodeByPosition NOTIFY statsChanged)

public:
    explicit Gauge(QObject* parent = nullptr);

    bool active() const { return m_kvCapacity > 0 || m_remote; }
    bool remote() const { return m_remote; }
    QString serverMemory() const { return m_serverMemory; }
    double weightsBytes() const { return m_weightsBytes; }
    double kvBytes() const { return m_kvBytes; }
    QString kvType() const { return m_kvType; }
    double scratchBytes() const { return m_scratchBytes; }
    double recurrentBytes() const { return m_recurrentBytes; }
    double planBytes() const {
        return m_weightsBytes + m_kvBytes + m_recurrentBytes + m_scratchBytes;
    }
    double deviceTotalBytes() const { return m_deviceTotalBytes; }
    double residentBytes() const { return m_residentBytes; }
    QString deviceName() const;
    bool onGpu() const { return m_cudaDevice >= 0; }
    QString runningOn() const { return m_runningOn; }
    QString deviceNote() const { return m_deviceNote; }
    bool deviceFellBack() const { return m_deviceFellBack; }
    int gpuLayers() const { return m_gpuLayers; }
    int layerCount() const { return m_layerCount; }
    bool partialOffload() const { return onGpu() && m_gpuLayers < m_layerCount; }
    double hostKvBytes() const { return m_hostKvBytes; }
    int kvUsed() const { return m_kvUsed; }
    int kvCapacity() const { return m_kvCapacity; }
    double prefillTokensPerSecond() const { return m_prefillTps; }
    double decodeTokensPerSecond() const { return m_decodeTps; }
    double ttftMs() const { return m_ttftMs; }
    QList<qreal> decodeHistory() const { return m_decodeHistory; }
    int thinkingTokens() const { return m_thinkingTokens; }
    double thinkingTokensPerSecond() const { return m_thinkingTps; }
    double answerTokensPerSecond() const { return m_answerTps; }
    int draftedTokens() const { return m_draftedTokens; }
    int acceptedDraftTokens() const { return m_acceptedDraftTokens; }
    bool live() const { return m_live; }
    QVariantList contextCost() const { return m_contextCost; }
    double measuredBytes() const { return m_measuredBytes; }
    double memoryTruthDifference() const { return m_memoryTruthDifference; }
    QString memoryTruth() const { return m_memoryTruth; }
    QVariantList speedByPosition() const;
    QList<qreal> decodeByPosition() const;

    // "1.23 GiB", as the engine spells sizes.
    Q_INVOKABLE static QString formatBytes(double bytes);

    // The figures of a loaded model: on CUDA the session's device arenas (weights, KV cache,
    // scratch), on the CPU the MemoryPlan; also selects the device whose memory is sampled.
    void setModel(const ModelSummary& summary);
    // The CUDA device the model runs on (its runtime index), or -1 for the CPU.
    void setCudaDevice(int index);
    void clearModel();
    void generationStarted();
    // A streamed chunk: `generated` tokens, `thinkingTokens` of them the reasoning's, after
    // `ms` since the request started.
    void progress(int generated, double ms, int thinkingTokens = 0);
    void generationFinished(const GenerationResult& result);
    void setKvUsed(int tokens);

    // VmRSS of this process from /proc/self/status, in bytes; 0 when unreadable.
    static double readResidentBytes();

signals:
    void modelChanged();
    void memoryChanged();
    void statsChanged();

private:
    void sampleMemory();

    QTimer m_memoryTimer;
    bool m_remote = false;
    QString m_serverMemory;
    int m_cudaDevice = -1;
    QString m_cudaName;
    QString m_runningOn;
    QString m_deviceNote;
    bool m_deviceFellBack = false;
    int m_gpuLayers = 0;
    int m_layerCount = 0;
    double m_hostKvBytes = 0;
    double m_weightsBytes = 0;
    double m_kvBytes = 0;
    QString m_kvType;
    double m_scratchBytes = 0;
    double m_recurrentBytes = 0;
    double m_deviceTotalBytes = 0;
    double m_residentBytes = 0;
    int m_kvUsed = 0;
    int m_kvCapacity = 0;
    QVariantList m_contextCost;
    double m_measuredBytes = 0;
    double m_memoryTruthDifference = 0;
    QString m_memoryTruth;
    struct PositionSpeed {
        int position = 0;
        double decode = 0;
        double prefill = 0;
    };
    QList<PositionSpeed> m_positionSpeeds; // in position order
    double m_prefillTps = 0;
    double m_decodeTps = 0;
    double m_ttftMs = 0;
    QList<qreal> m_decodeHistory;
    int m_thinkingTokens = 0;
    double m_thinkingTps = 0;
    double m_answerTps = 0;
    int m_draftedTokens = 0;
    int m_acceptedDraftTokens = 0;
    bool m_live = false;
    // The first streamed chunk marks where decoding starts: speed is measured from it.
    int m_firstGenerated = 0;
    double m_firstMs = 0;
};
