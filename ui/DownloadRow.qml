// One download in the queue: name, progress bar, bytes / speed / time left, and the
// pause / resume / cancel actions (the controller acts on the row index).
pragma ComponentBehavior: Bound
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Hearth

Rectangle {
    id: root

    required property int index
    required property string name
    required property string status
    required property double received
    required property double total
    required property double progress
    required property double speed
    required property double secondsLeft
    required property string error
    required property DownloadController controller

    implicitHeight: column.implicitHeight + 2 * Theme.spacing
    radius: Theme.radius
    color: Theme.surface
    border.color: Theme.border

    ColumnLayout {
        id: column
        anchors.fill: parent
        anchors.margins: Theme.spacing
        spacing: 4

        RowLayout {
            Layout.fillWidth: true
            Label {
                text: root.name
                color: Theme.text
                elide: Text.ElideMiddle
                Layout.fillWidth: true
            }
            Label { text: root.status; color: Theme.mutedText; font.pixelSize: 11 }
        }
        ProgressBar {
            objectName: "downloadProgress"
            Layout.fillWidth: true
            from: 0
            to: 1
            value: Math.max(0, root.progress)
            indeterminate: root.progress < 0 && root.status === "running"
        }
        RowLayout {
            Layout.fillWidth: true
            Label {
                Layout.fillWidth: true
                color: root.status === "failed" ? Theme.error : Theme.mutedText
                font.pixelSize: 11
                wrapMode: Text.Wrap
                text: root.status === "failed" || root.status === "retrying" ? root.error
                    : root.controller.formatBytes(root.received) + " / "
                      + root.controller.formatBytes(root.total)
                      + (root.status === "running"
                         ? "  ·  " + root.controller.formatBytes(root.speed) + "/s  ·  "
                           + root.controller.formatDuration(root.secondsLeft) + " " + qsTr("left")
                         : "")
            }
            FlatButton {
                objectName: "pauseButton"
                text: qsTr("Pause")
                visible: root.status === "running" || root.status === "retrying" || root.status === "queued"
                onClicked: root.controller.pause(root.index)
            }
            FlatButton {
                objectName: "resumeButton"
                text: qsTr("Resume")
                visible: root.status === "paused" || root.status === "failed"
                onClicked: root.controller.resume(root.index)
            }
            FlatButton {
                objectName: "cancelButton"
                text: qsTr("Cancel")
                visible: root.status !== "finished" && root.status !== "cancelled"
                onClicked: root.controller.cancel(root.index)
            }
            FlatButton {
                text: qsTr("Clear")
                visible: root.status === "finished" || root.status === "cancelled" || root.status === "failed"
                onClicked: root.controller.remove(root.index)
            }
        }
    }
}
