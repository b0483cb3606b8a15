// The Gauge panel: memory (weights / KV cache and its type / scratch, and the process against
// RAM; with a partial offload, the GPU's layers and the KV cache the CPU's layers keep in RAM),
// KV cache fill, prefill and decode speed, time to first token (a reasoning reply's thinking
// and answer each with its own speed), and decode speed over the last generation.
pragma ComponentBehavior: Bound
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Hearth

ScrollView {
    id: root

    required property Gauge gauge
    contentWidth: availableWidth
    clip: true

    component Figure: ColumnLayout {
        required property string label
        required property string value
        spacing: 0
        Label { text: parent.label; color: Theme.mutedText; font.pixelSize: 11 }
        Label { text: parent.value; color: Theme.text; font.pixelSize: 15; font.bold: true }
    }
    component Legend: RowLayout {
        required property color swatch
        required property string label
        required property string value
        Rectangle { width: 10; height: 10; radius: 2; color: parent.swatch }
        Label { text: parent.label; color: Theme.text; Layout.fillWidth: true }
        Label { text: parent.value; color: Theme.mutedText }
    }

    ColumnLayout {
        x: Theme.spacing
        width: root.availableWidth - 2 * Theme.spacing
        spacing: Theme.spacing

        Label { text: qsTr("Memory · %1").arg(root.gauge.remote ? qsTr("server") : root.gauge.deviceName); font.bold: true; color: Theme.text; Layout.topMargin: Theme.spacing }
        Label {
            visible: !root.gauge.active
            text: qsTr("No model loaded.")
            color: Theme.mutedText
        }
        Label {
            objectName: "serverMemory"
            visible: root.gauge.active && root.gauge.remote
            Layout.fillWidth: true
            wrapMode: Text.Wrap
            text: root.gauge.serverMemory
            color: Theme.text
        }
        Label {
            objectName: "runningOn"
            visible: root.gauge.active && root.gauge.runningOn !== ""
            text: qsTr("Running on %1").arg(root.gauge.runningOn)
            color: Theme.text
        }
        Label {
            objectName: "deviceNote"
            visible: root.gauge.active && root.gauge.deviceNote !== ""
            Layout.fillWidth: true
            wrapMode: Text.Wrap
            text: root.gauge.deviceNote
            color: root.gauge.deviceFellBack ? Theme.warning : Theme.mutedText
            font.pixelSize: 11
        }
        Label {
            objectName: "gpuLayers"
            visible: root.gauge.active && !root.gauge.remote && root.gauge.partialOffload
            Layout.fillWidth: true
            wrapMode: Text.Wrap
            text: qsTr("GPU layers %1/%2 · the other %3 run on the CPU")
                      .arg(root.gauge.gpuLayers).arg(root.gauge.layerCount)
                      .arg(root.gauge.layerCount - root.gauge.gpuLayers)
            color: Theme.text
        }
        GaugeBar {
            objectName: "memoryBar"
            Layout.fillWidth: true
            visible: root.gauge.active && !root.gauge.remote
            total: root.gauge.planBytes
            parts: [{ value: root.gauge.weightsBytes, color: Theme.weightsColor },
                    { value: root.gauge.kvBytes, color: Theme.kvColor },
                    { value: root.gauge.recurrentBytes, color: Theme.recurrentColor },
                    { value: root.gauge.scratchBytes, color: Theme.scratchColor }]
        }
        Legend {
            Layout.fillWidth: true; visible: root.gauge.active && !root.gauge.remote
            swatch: Theme.weightsColor
            label: root.gauge.partialOffload ? qsTr("Weights (GPU layers)") : qsTr("Weights")
            value: root.gauge.formatBytes(root.gauge.weightsBytes)
        }
        Legend {
            Layout.fillWidth: true; visible: root.gauge.active && !root.gauge.remote
            objectName: "kvLegend"
            swatch: Theme.kvColor
            label: root.gauge.kvType.length > 0 ? qsTr("KV cache (%1, whole context)").arg(root.gauge.kvType)
                                                : qsTr("KV cache (whole context)")
            // The bar is the GPU's; the CPU's layers keep their KV cache in RAM.
            value: root.gauge.partialOffload
                   ? qsTr("%1 + %2 in RAM").arg(root.gauge.formatBytes(root.gauge.kvBytes)).arg(root.gauge.formatBytes(root.gauge.hostKvBytes))
                   : root.gauge.formatBytes(root.gauge.kvBytes)
        }
        Legend {
            // A hybrid model's recurrent layers keep a fixed state instead of a KV cache.
            objectName: "recurrentLegend"
            Layout.fillWidth: true; visible: root.gauge.active && !root.gauge.remote && root.gauge.recurrentBytes > 0
            swatch: Theme.recurrentColor
            label: qsTr("Recurrent state (fixed, any context)")
            value: root.gauge.formatBytes(root.gauge.recurrentBytes)
        }
        Legend {
            Layout.fillWidth: true; visible: root.gauge.active && !root.gauge.remote
            swatch: Theme.scratchColor; label: qsTr("Scratch"); value: root.gauge.formatBytes(root.gauge.scratchBytes)
        }
        Label {
            Layout.fillWidth: true
            wrapMode: Text.Wrap
            color: Theme.mutedText
            font.pixelSize: 12
            objectName: "deviceMemory"
            visible: !root.gauge.remote // the app's own RAM says nothing of a remote model
            text: (root.gauge.onGpu ? qsTr("%1 of %2 GPU memory in use (all processes).")
                                    : qsTr("Hearth's process uses %1 of %2 RAM (resident)."))
                      .arg(root.gauge.formatBytes(root.gauge.residentBytes)).arg(root.gauge.formatBytes(root.gauge.deviceTotalBytes))
        }
        GaugeBar {
            Layout.fillWidth: true
            visible: !root.gauge.remote
            implicitHeight: 6
            total: root.gauge.deviceTotalBytes
            parts: [{ value: root.gauge.residentBytes, color: Theme.accent }]
        }
        // The memory truth: what the plan predicted against what the load made resident.
        Label {
            objectName: "memoryTruth"
            Layout.fillWidth: true
            visible: root.gauge.active && root.gauge.measuredBytes > 0
            wrapMode: Text.Wrap
            color: Math.abs(root.gauge.memoryTruthDifference) <= 0.05 ? Theme.mutedText : Theme.warning
            font.pixelSize: 12
            text: qsTr("Memory truth: the plan said %1, the load made %2 resident (%3%4%). %5")
                      .arg(root.gauge.formatBytes(root.gauge.planBytes))
                      .arg(root.gauge.formatBytes(root.gauge.measuredBytes))
                      .arg(root.gauge.memoryTruthDifference >= 0 ? "+" : "")
                      .arg((100 * root.gauge.memoryTruthDifference).toFixed(1))
                      .arg(root.gauge.memoryTruth)
        }

        // The context window's cost: the KV cache at 2K to 128K tokens.
        Label {
            text: qsTr("Context window's cost (KV cache %1)").arg(root.gauge.kvType)
            font.bold: true
            color: Theme.text
            Layout.topMargin: Theme.spacing
            visible: root.gauge.contextCost.length > 0
        }
        GridLayout {
            objectName: "contextCost"
            Layout.fillWidth: true
            visible: root.gauge.contextCost.length > 0
            columns: 2
            Repeater {
                model: root.gauge.contextCost
                delegate: Figure {
                    required property var modelData
                    Layout.fillWidth: true
                    label: (modelData.tokens / 1024) + "K" + (modelData.beyondTrained ? " *" : "")
                    value: root.gauge.formatBytes(modelData.kvBytes)
                }
            }
        }
        Label {
            Layout.fillWidth: true
            visible: root.gauge.contextCost.some(p => p.beyondTrained)
            text: qsTr("* past the model's trained context")
            color: Theme.mutedText
            font.pixelSize: 11
        }

        Label { text: qsTr("KV cache fill"); font.bold: true; color: Theme.text; Layout.topMargin: Theme.spacing }
        GaugeBar {
            objectName: "kvBar"
            Layout.fillWidth: true
            total: Math.max(1, root.gauge.kvCapacity)
            parts: [{ value: root.gauge.kvUsed, color: Theme.kvColor }]
        }
        Label {
            text: qsTr("%1 of %2 tokens").arg(root.gauge.kvUsed).arg(root.gauge.kvCapacity)
            color: Theme.mutedText
            font.pixelSize: 12
        }

        Label { text: qsTr("Speed"); font.bold: true; color: Theme.text; Layout.topMargin: Theme.spacing }
        GridLayout {
            Layout.fillWidth: true
            columns: 3
            Figure { Layout.fillWidth: true; label: qsTr("Prefill"); value: qsTr("%1 tok/s").arg(root.gauge.prefillTokensPerSecond.toFixed(0)) }
            Figure { Layout.fillWidth: true; label: qsTr("Decode"); value: qsTr("%1 tok/s").arg(root.gauge.decodeTokensPerSecond.toFixed(1)) }
            Figure { Layout.fillWidth: true; label: qsTr("First token"); value: qsTr("%1 ms").arg(root.gauge.ttftMs.toFixed(0)) }
        }
        // A reasoning reply: the thinking's tokens and speed, then the answer's.
        GridLayout {
            objectName: "thinkingFigures"
            visible: root.gauge.thinkingTokens > 0
            Layout.fillWidth: true
            columns: 3
            Figure { Layout.fillWidth: true; label: qsTr("Thinking"); value: qsTr("%1 tokens").arg(root.gauge.thinkingTokens) }
            Figure {
                Layout.fillWidth: true
                label: qsTr("Thinking speed")
                value: root.gauge.thinkingTokensPerSecond > 0 ? qsTr("%1 tok/s").arg(root.gauge.thinkingTokensPerSecond.toFixed(1)) : "…"
            }
            Figure {
                Layout.fillWidth: true
                label: qsTr("Answer speed")
                value: root.gauge.answerTokensPerSecond > 0 ? qsTr("%1 tok/s").arg(root.gauge.answerTokensPerSecond.toFixed(1)) : "…"
            }
        }
        // Speculative decoding: how much of the draft the model kept.
        Figure {
            objectName: "draftAcceptance"
            visible: root.gauge.draftedTokens > 0
            Layout.fillWidth: true
            label: qsTr("Draft accepted")
            value: qsTr("%1% (%2 of %3 tokens)")
                .arg((100 * root.gauge.acceptedDraftTokens / Math.max(root.gauge.draftedTokens, 1)).toFixed(0))
                .arg(root.gauge.acceptedDraftTokens).arg(root.gauge.draftedTokens)
        }
        Label { text: qsTr("Decode speed, last reply"); color: Theme.mutedText; font.pixelSize: 11 }
        Rectangle {
            Layout.fillWidth: true
            Layout.bottomMargin: Theme.spacing
            implicitHeight: 64
            color: Theme.codeBackground
            border.color: Theme.border
            radius: 6
            Sparkline {
                anchors.fill: parent
                anchors.margins: 6
                values: root.gauge.decodeHistory
            }
        }
        // Decode speed as the context fills: one point per reply, by where it ended.
        Label {
            objectName: "speedByPositionLabel"
            Layout.fillWidth: true
            visible: root.gauge.speedByPosition.length > 1
            text: {
                const points = root.gauge.speedByPosition
                if (points.length < 2)
                    return ""
                const first = points[0], last = points[points.length - 1]
                return qsTr("Decode speed as the context fills: %1 tok/s at %2 tokens, %3 tok/s at %4")
                    .arg(first.decode.toFixed(1)).arg(first.position).arg(last.decode.toFixed(1)).arg(last.position)
            }
            color: Theme.mutedText
            font.pixelSize: 11
            wrapMode: Text.Wrap
        }
        Rectangle {
            Layout.fillWidth: true
            Layout.bottomMargin: Theme.spacing
            visible: root.gauge.speedByPosition.length > 1
            implicitHeight: 64
            color: Theme.codeBackground
            border.color: Theme.border
            radius: 6
            Sparkline {
                objectName: "speedByPosition"
                anchors.fill: parent
                anchors.margins: 6
                values: root.gauge.decodeByPosition
                lineColor: Theme.kvColor
            }
        }
    }
}
