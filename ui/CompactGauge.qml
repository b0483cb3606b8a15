// The gauge in the status bar: the device, memory, KV fill and decode speed at a glance.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Hearth

RowLayout {
    id: root

    required property Gauge gauge
    signal clicked()
    spacing: 12

    Label {
        objectName: "compactDevice"
        visible: root.gauge.active
        color: root.gauge.deviceFellBack ? Theme.warning : Theme.mutedText
        font.pixelSize: 12
        // "CPU*" when the GPU was wanted but could not take the model (the Gauge panel says why);
        // "GPU 18/32" when only some layers are on the GPU.
        // "Remote" for a remote server's model.
        text: root.gauge.remote ? qsTr("Remote")
              : (root.gauge.partialOffload ? qsTr("GPU %1/%2").arg(root.gauge.gpuLayers).arg(root.gauge.layerCount)
                 : root.gauge.onGpu ? qsTr("GPU") : qsTr("CPU")) + (root.gauge.deviceFellBack ? "*" : "")
    }
    Label {
        visible: !root.gauge.remote // a remote model's memory is the server's
        color: Theme.mutedText
        font.pixelSize: 12
        text: (root.gauge.onGpu ? qsTr("VRAM %1") : qsTr("RAM %1")).arg(root.gauge.formatBytes(root.gauge.residentBytes))
    }
    Label {
        visible: root.gauge.active && root.gauge.kvCapacity > 0
        color: Theme.mutedText
        font.pixelSize: 12
        text: qsTr("KV %1/%2").arg(root.gauge.kvUsed).arg(root.gauge.kvCapacity)
    }
    Label {
        visible: root.gauge.decodeTokensPerSecond > 0
        color: Theme.mutedText
        font.pixelSize: 12
        text: qsTr("%1 tok/s").arg(root.gauge.decodeTokensPerSecond.toFixed(1))
    }
    Sparkline {
        Layout.preferredWidth: 60
        Layout.preferredHeight: 16
        values: root.gauge.decodeHistory
    }
    TapHandler { onTapped: root.clicked() }
}
